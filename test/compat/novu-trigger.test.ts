import { Novu } from '@novu/api';
import { ErrorDto } from '@novu/api/models/errors/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORES } from '../../src/store/testing.ts';
import { createHarness, type Harness } from '../support/harness.ts';

async function failure(call: Promise<unknown>): Promise<{ error: unknown; status: number; code: unknown }> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'the call should have failed').toBeDefined();
  const { statusCode, body } = error as { statusCode: number; body: string };
  return { error, status: statusCode, code: (JSON.parse(body) as { code?: unknown }).code };
}

const RESET_URL = 'https://app.example.test/reset?token=NOVU-SNIPPET-TOKEN';

/** `@novu/api@3.19.1` triggers workflows and reads the activity of a running Rekey over loopback HTTP. */
for (const factory of STORES) {
  describe(`${factory.name}: Novu SDK triggers and activity`, () => {
    let h: Harness & { url?: string };
    let novu: Novu;
    let n = 0;

    beforeAll(async () => {
      h = await createHarness(factory, { listen: true });
      novu = new Novu({ secretKey: h.secretKey, serverURL: h.url!, retryConfig: { strategy: 'none' } });
    });
    afterAll(() => h.close());

    it("Novu's password-reset snippet works unchanged, and the mail holds the resetUrl", async () => {
      const email = `snippet${++n}@example.com`;
      const { result } = await novu.trigger({
        workflowId: 'password-reset',
        to: { subscriberId: `user-${n}`, email, firstName: 'Ada' },
        payload: { firstName: 'Ada', resetUrl: RESET_URL, expiresInMinutes: 30 },
      });
      expect(result).toMatchObject({ acknowledged: true, status: 'processed' });
      expect(result.transactionId).toBeTypeOf('string');
      await h.deliver();
      const [mail] = await h.mailbox(email);
      expect(mail!.text).toContain(RESET_URL);
      expect(mail!.text).toMatch(/^Hi Ada,/);
      // The trigger made the recipient a subscriber.
      expect((await novu.subscribers.retrieve(`user-${n}`)).result.email).toBe(email);

      // The activity lists it with its step, and never the payload.
      const { result: listed } = await novu.notifications.list({ transactionId: result.transactionId! });
      expect(listed.data).toHaveLength(1);
      const [entry] = listed.data;
      expect(entry).toMatchObject({ subscriberId: `user-${n}`, transactionId: result.transactionId, templateId: 'password-reset' });
      expect(entry!.jobs![0]).toMatchObject({ type: 'email', status: 'sent' });
      const { result: one } = await novu.notifications.retrieve(entry!.id!);
      expect(one.jobs![0]!.executionDetails[0]!.status).toBe('Success');
      const raw = await (await fetch(`${h.url}/v1/notifications?transactionId=${result.transactionId}`, { headers: h.auth })).text();
      expect(raw).not.toContain('NOVU-SNIPPET-TOKEN');
      expect(raw).toContain('"status":"sent"');
    });

    it("a trigger's fields lie over the subscriber as stored: what it leaves out comes from the stored subscriber", async () => {
      const id = `stored-${++n}`;
      await novu.subscribers.create({ subscriberId: id, firstName: 'Grace', email: `old${n}@example.com`, locale: 'fr' });
      const email = `new${n}@example.com`;
      // The address only: the first name and the language are the stored ones; the new address wins and is kept.
      await novu.trigger({ workflowId: 'password-reset', to: { subscriberId: id, email }, payload: { resetUrl: RESET_URL, expiresInMinutes: 30 } });
      // The id only: the stored subscriber, address included.
      await novu.trigger({ workflowId: 'password-reset', to: id, payload: { resetUrl: RESET_URL, expiresInMinutes: 30 } });
      await h.deliver();
      const mails = await h.mailbox(email);
      expect(mails).toHaveLength(2);
      for (const mail of mails) {
        expect(mail.subject).toMatch(/^Réinitialisez votre mot de passe/);
        expect(mail.text).toMatch(/^Bonjour Grace,/);
      }
      expect(await h.mailbox(`old${n}@example.com`)).toHaveLength(0);
      expect((await novu.subscribers.retrieve(id)).result).toMatchObject({ firstName: 'Grace', email, locale: 'fr' });
    });

    it('a repeated transactionId sends nothing more; an idempotency key replays the first answer', async () => {
      const email = `repeat${++n}@example.com`;
      const event = {
        workflowId: 'password-reset-code',
        to: { subscriberId: `user-${n}`, email },
        payload: { code: '123456', expiresInMinutes: 10 },
        transactionId: `tx-${n}`,
      };
      await novu.trigger(event);
      await novu.trigger(event);
      const first = await novu.trigger({ ...event, transactionId: undefined }, `key-${n}`);
      const again = await novu.trigger({ ...event, transactionId: undefined }, `key-${n}`);
      expect(again.result).toEqual(first.result);
      await h.deliver();
      expect(await h.mailbox(email)).toHaveLength(2);
      const reused = await failure(novu.trigger({ ...event, transactionId: undefined, payload: { code: '654321', expiresInMinutes: 10 } }, `key-${n}`));
      expect(reused).toMatchObject({ status: 422, code: 'idempotency_key_reused' });
    });

    it('a bulk trigger answers one result per event', async () => {
      const emails = [`bulk${++n}a@example.com`, `bulk${n}b@example.com`];
      const { result } = await novu.triggerBulk({
        events: emails.map((email, i) => ({
          workflowId: 'password-reset-code',
          to: [{ subscriberId: `bulk-${n}-${i}`, email }],
          payload: { code: '111111', expiresInMinutes: 5 },
        })),
      });
      expect(result.map((r) => r.status)).toEqual(['processed', 'processed']);
      await h.deliver();
      for (const email of emails) expect(await h.mailbox(email)).toHaveLength(1);
    });

    it('a cancel before the step ran marks it canceled and nothing is sent', async () => {
      const email = `cancel${++n}@example.com`;
      const { result } = await novu.trigger({
        workflowId: 'password-reset-code',
        to: { subscriberId: `user-${n}`, email },
        payload: { code: '222222', expiresInMinutes: 5 },
      });
      expect((await novu.cancel(result.transactionId!)).result).toBe(true);
      expect((await novu.cancel(result.transactionId!)).result).toBe(false);
      expect(await failure(novu.cancel('no-such-transaction'))).toMatchObject({ status: 404, code: 'transaction_not_found' });
      await h.deliver();
      expect(await h.mailbox(email)).toEqual([]);
      const { result: listed } = await novu.notifications.list({ transactionId: result.transactionId! });
      expect(listed.data[0]!.jobs![0]!.status).toBe('canceled');
    });

    it("a subscriber's preference skips a non-critical workflow; a critical one still sends", async () => {
      const email = `prefs${++n}@example.com`;
      const subscriberId = `user-${n}`;
      await novu.subscribers.create({ subscriberId, email });
      await novu.subscribers.preferences.update({ workflowId: 'new-sign-in', channels: { email: false } }, subscriberId);
      const signIn = await novu.trigger({
        workflowId: 'new-sign-in',
        to: subscriberId,
        payload: { signedInAt: '2026-11-25T12:00:00Z', ipAddress: '203.0.113.7', userAgent: null, helpUrl: 'https://app.example.test/reset' },
      });
      const changed = await novu.trigger({
        workflowId: 'password-changed',
        to: subscriberId,
        payload: { changedAt: '2026-11-25T12:00:00Z', ipAddress: null, userAgent: null, helpUrl: 'https://app.example.test/reset' },
      });
      await h.deliver();
      expect((await h.mailbox(email)).map((m) => m.subject)).toEqual(['Your Rekey password was changed']);
      const skipped = (await novu.notifications.list({ transactionId: signIn.result.transactionId! })).result.data[0]!;
      expect(skipped.jobs![0]!.status).toBe('skipped');
      const raw = (await (await fetch(`${h.url}/v1/notifications/${skipped.id}`, { headers: h.auth })).json()) as { data: { jobs: unknown[] } };
      expect(raw.data.jobs[0]).toMatchObject({ status: 'skipped', reason: 'preference' });
      const sent = (await novu.notifications.list({ transactionId: changed.result.transactionId! })).result.data[0]!;
      expect(sent.jobs![0]!.status).toBe('sent');
    });

    it('bad input: 4xx with stable codes, in the shapes the SDK raises', async () => {
      const unknown = await failure(novu.trigger({ workflowId: 'no-such-workflow', to: 'someone', payload: {} }));
      expect(unknown.error).toBeInstanceOf(ErrorDto);
      expect(unknown).toMatchObject({ status: 404, code: 'workflow_not_found' });
      const many = Array.from({ length: 101 }, (_, i) => `many-${i}`);
      expect(await failure(novu.trigger({ workflowId: 'password-reset-code', to: many, payload: { code: '123456', expiresInMinutes: 5 } }))).toMatchObject({
        status: 422,
        code: 'trigger_too_many_recipients',
      });
      expect(await failure(novu.trigger({ workflowId: 'password-reset-code', to: { topicKey: 'all', type: 'Topic' }, payload: {} }))).toMatchObject({
        status: 422,
        code: 'topics_not_supported',
      });
      expect(await failure(novu.trigger({ workflowId: 'password-reset', to: 'x', payload: { resetUrl: 'javascript:alert(1)' } }))).toMatchObject({
        status: 400,
        code: 'workflow_payload_invalid',
      });
      expect(
        await failure(
          novu.trigger({ workflowId: 'password-reset-code', to: { subscriberId: 'p', phone: '12345' }, payload: { code: '123456', expiresInMinutes: 5 } }),
        ),
      ).toMatchObject({
        status: 422,
        code: 'invalid_phone',
      });
      expect(
        await failure(novu.trigger({ workflowId: 'password-reset-code', to: 'has spaces', payload: { code: '123456', expiresInMinutes: 5 } })),
      ).toMatchObject({
        status: 422,
        code: 'invalid_subscriber_id',
      });
      const huge = await failure(novu.trigger({ workflowId: 'password-reset-code', to: 'big', payload: { blob: 'x'.repeat(1024 * 1024) } }));
      expect(huge).toMatchObject({ status: 413, code: 'payload_too_large' });
      expect(await failure(novu.notifications.retrieve('exe_nothing'))).toMatchObject({ status: 404, code: 'notification_not_found' });
      const wrong = new Novu({ secretKey: 'sk_test_wrong', serverURL: h.url!, retryConfig: { strategy: 'none' } });
      expect(await failure(wrong.trigger({ workflowId: 'password-reset', to: 'x', payload: {} }))).toMatchObject({ status: 401, code: 'unauthorized' });
      // Bearer works as well as ApiKey.
      const bearer = await fetch(`${h.url}/v1/events/trigger`, {
        method: 'POST',
        headers: { ...h.auth, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'password-reset-code', to: 'bearer-user', payload: { code: '123456', expiresInMinutes: 5 } }),
      });
      expect(bearer.status).toBe(201);
    });
  });
}
