import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../../test/support/harness.ts';
import { RekeyError } from '../errors/index.ts';
import { STORES } from '../store/testing.ts';
import { BUILTIN } from './workflows/builtins.ts';

const RESET_URL = 'https://app.example.test/reset?token=SECRET-TOKEN-123';

/** The engine end to end on each store: a trigger's executions, its steps as outbox jobs, the mail, the records. */
for (const factory of STORES) {
  describe(`${factory.name}: workflow engine`, () => {
    let h: Harness;
    let n = 0;
    beforeAll(async () => {
      h = await createHarness(factory);
    });
    afterAll(() => h.close());

    const executionsOf = (transactionId: string) =>
      h.store.db.selectFrom('notification_executions').selectAll().where('transaction_id', '=', transactionId).execute();
    const stepsOf = (executionId: string) =>
      h.store.db.selectFrom('notification_steps').selectAll().where('execution_id', '=', executionId).orderBy('position').execute();

    it('a trigger writes one execution per subscriber; the step sends the mail and wipes the sealed payload', async () => {
      const email = `engine${++n}@example.com`;
      const triggered = await h.rekey.notifications.trigger({
        workflowId: BUILTIN.passwordReset,
        to: [{ subscriberId: `sub_${n}`, email, firstName: 'Ada' }],
        payload: { resetUrl: RESET_URL, expiresInMinutes: 30 },
      });
      const [row] = await h.store.db.selectFrom('outbox').selectAll().where('payload', 'like', `%${email}%`).execute();
      // At rest the payload is sealed: the link is not in the row.
      expect(row!.payload).not.toContain('SECRET-TOKEN');
      expect(JSON.parse(row!.payload).sealed.run).toBeTypeOf('string');
      await h.deliver();
      const [mail] = await h.mailbox(email);
      expect(mail!.text).toContain(RESET_URL);
      expect(mail!.text).toMatch(/^Hi Ada,/);
      const [execution] = await executionsOf(triggered.transactionId);
      expect(execution).toMatchObject({ status: 'completed', workflow_id: 'password-reset', subscriber_id: `sub_${n}` });
      expect(await stepsOf(execution!.id)).toEqual([expect.objectContaining({ step_id: 'email', status: 'sent', attempts: 1 })]);
      const sent = await h.store.db.selectFrom('outbox').selectAll().where('id', '=', row!.id).executeTakeFirstOrThrow();
      expect(sent.status).toBe('sent');
      expect(JSON.parse(sent.payload)).not.toHaveProperty('sealed');
      // Nothing of the payload rests anywhere else.
      const dump = JSON.stringify([
        await h.store.db.selectFrom('notification_executions').selectAll().execute(),
        await h.store.db.selectFrom('notification_steps').selectAll().execute(),
        await h.store.db.selectFrom('outbox').selectAll().execute(),
      ]);
      expect(dump).not.toContain('SECRET-TOKEN');
    });

    it('a repeated transactionId sends nothing more', async () => {
      const email = `dedupe${++n}@example.com`;
      const input = {
        workflowId: BUILTIN.passwordResetCode,
        to: [{ subscriberId: `sub_${n}`, email }],
        payload: { code: '123456', expiresInMinutes: 10 },
        transactionId: `txn-${n}`,
      };
      await h.rekey.notifications.trigger(input);
      await h.rekey.notifications.trigger(input);
      await h.deliver();
      await h.rekey.notifications.trigger(input);
      await h.deliver();
      expect(await h.mailbox(email)).toHaveLength(1);
      expect(await executionsOf(`txn-${n}`)).toHaveLength(1);
    });

    it('executions of transactions Rekey names sort by time; such a transaction id given back sends nothing more', async () => {
      const email = `order${++n}@example.com`;
      const input = { workflowId: BUILTIN.passwordResetCode, to: [{ subscriberId: `sub_${n}`, email }], payload: { code: '123456', expiresInMinutes: 10 } };
      const first = await h.rekey.notifications.trigger(input);
      const second = await h.rekey.notifications.trigger(input);
      // Led by their transaction's time (a ULID's first ten characters), so they go in at the end of their indexes.
      for (const { transactionId, executionIds } of [first, second]) expect(executionIds[0]!.slice(4, 14)).toBe(transactionId.slice(4, 14));
      expect(first.executionIds[0]!.slice(4, 14) <= second.executionIds[0]!.slice(4, 14)).toBe(true);
      expect(await h.rekey.notifications.trigger({ ...input, transactionId: first.transactionId })).toMatchObject({ executionIds: first.executionIds });
      await h.deliver();
      expect(await h.mailbox(email)).toHaveLength(2);
    });

    it('a step whose condition is false is skipped with the reason', async () => {
      const email = `cond${++n}@example.com`;
      const { transactionId } = await h.rekey.notifications.trigger({
        workflowId: BUILTIN.verificationCode,
        to: [{ subscriberId: `sub_${n}`, email, phone: '+33612345678' }],
        payload: { code: '654321', channel: 'email', expiresInMinutes: 5 },
      });
      await h.deliver();
      expect((await h.mailbox(email))[0]!.text).toContain('654321');
      const [execution] = await executionsOf(transactionId);
      expect((await stepsOf(execution!.id)).map((s) => [s.step_id, s.status, s.reason])).toEqual([
        ['email', 'sent', null],
        ['sms', 'skipped', 'condition'],
      ]);
      expect(execution!.status).toBe('completed');
    });

    it('refuses an unknown workflow and a payload that does not fit, naming the fields', () => {
      const to = [{ subscriberId: 'x', email: 'x@example.com' }];
      expect(() => h.rekey.notifications.triggerWrites({ workflowId: 'no-such-workflow', to, payload: {} })).toThrow(
        expect.objectContaining({ code: 'workflow_not_found' }) as unknown as RekeyError,
      );
      try {
        h.rekey.notifications.triggerWrites({ workflowId: BUILTIN.passwordReset, to, payload: { resetUrl: 'javascript:alert(1)' } });
        expect.unreachable();
      } catch (error) {
        expect(error).toBeInstanceOf(RekeyError);
        expect((error as RekeyError).code).toBe('workflow_payload_invalid');
        expect(JSON.stringify((error as RekeyError).context)).toContain('payload.resetUrl');
        expect(JSON.stringify((error as RekeyError).context)).toContain('payload.expiresInMinutes');
      }
    });

    it('a second-factor code goes out through the verification-code workflow, and rests nowhere in the clear', async () => {
      const { managementApi } = await import('../../test/support/api.ts');
      const email = `factor${++n}@example.com`;
      const user = await managementApi(h).createUser(email, `correct horse battery staple ${n}`);
      await h.rekey.factors.challenge(user.id, 'email', { locale: 'fr' });
      const [row] = await h.store.db.selectFrom('outbox').selectAll().where('kind', '=', 'notification.step').where('payload', 'like', `%${email}%`).execute();
      await h.deliver();
      const [mail] = await h.mailbox(email);
      expect(mail!.subject).toBe('Votre code de vérification Rekey');
      const code = /\b\d{6}\b/.exec(mail!.text)![0];
      expect(row!.payload).not.toContain(code);
      const sent = await h.store.db.selectFrom('outbox').select('payload').where('id', '=', row!.id).executeTakeFirstOrThrow();
      expect(sent.payload).not.toContain(code);
      expect(await h.rekey.factors.verifyResponse(user.id, 'email', code)).toBe(true);
    });

    it('lists the workflows for the preferences, with their channels', () => {
      const listed = h.rekey.notifications.listWorkflows();
      expect(listed.find((w) => w.id === BUILTIN.newSignIn)).toEqual({ id: 'new-sign-in', name: 'New sign-in', critical: false, channels: ['email'] });
      expect(listed.find((w) => w.id === BUILTIN.verificationCode)).toMatchObject({ critical: true, channels: ['email', 'sms'] });
    });
  });
}
