import { Novu } from '@novu/api';
import { ErrorDto, ValidationErrorDto } from '@novu/api/models/errors/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORES } from '../../src/store/testing.ts';
import { createHarness, type Harness } from '../support/harness.ts';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts';

/** The error `@novu/api` raised, with its status and Rekey's stable code from the body. */
async function failure(call: Promise<unknown>): Promise<{ error: unknown; status: number; code: unknown }> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'the call should have failed').toBeDefined();
  const { statusCode, body } = error as { statusCode: number; body: string };
  return { error, status: statusCode, code: (JSON.parse(body) as { code?: unknown }).code };
}

/** `@novu/api@3.19.1`, unchanged, pointed at a running Rekey over loopback HTTP. */
for (const factory of STORES) {
  describe(`${factory.name}: Novu SDK compatibility`, () => {
    let h: Harness & { url?: string };
    let novu: Novu;
    let sink: SmtpSink;
    const mailTo = (to: string) => sink.messages.filter((mail) => mail.to === to);

    beforeAll(async () => {
      sink = await startSmtpSink();
      h = await createHarness(factory, { listen: true, config: { smtpUrl: `smtp://127.0.0.1:${sink.port}` } });
      novu = new Novu({ secretKey: h.secretKey, serverURL: h.url!, retryConfig: { strategy: 'none' } });
    });
    afterAll(async () => {
      await h.close();
      await sink.stop();
    });

    it('creates, reads, patches, searches and deletes a subscriber', async () => {
      const { result: created } = await novu.subscribers.create({
        subscriberId: 'novu-ada',
        firstName: 'Ada',
        lastName: 'Lovelace',
        email: 'ada@example.com',
        phone: '+447700900123',
        locale: 'en-GB',
        timezone: 'Europe/London',
        data: { plan: 'pro' },
      });
      expect(created).toMatchObject({
        subscriberId: 'novu-ada',
        firstName: 'Ada',
        email: 'ada@example.com',
        phone: '+447700900123',
        data: { plan: 'pro' },
        deleted: false,
      });
      expect(created.id).toMatch(/^sub_/);
      expect(created.environmentId).toBeTruthy();
      expect(created.organizationId).toBeTruthy();

      const { result: read } = await novu.subscribers.retrieve('novu-ada');
      expect(read).toEqual(created);

      const { result: patched } = await novu.subscribers.patch({ firstName: 'Augusta', avatar: 'https://example.com/a.png', data: null }, 'novu-ada');
      expect(patched).toMatchObject({ firstName: 'Augusta', lastName: 'Lovelace', avatar: 'https://example.com/a.png', data: null });

      await novu.subscribers.create({ subscriberId: 'novu-bob', firstName: 'Bob', email: 'bob@example.com' });
      const { result: found } = await novu.subscribers.search({ email: 'ada@' });
      expect(found.data.map((s) => s.subscriberId)).toEqual(['novu-ada']);
      expect(found).toMatchObject({ totalCount: 1, totalCountCapped: false, next: null, previous: null });
      const { result: page } = await novu.subscribers.search({ limit: 1, orderDirection: 'ASC' });
      expect(page.data.map((s) => s.subscriberId)).toEqual(['novu-ada']);
      const { result: next } = await novu.subscribers.search({ limit: 1, orderDirection: 'ASC', after: page.next! });
      expect(next.data.map((s) => s.subscriberId)).toEqual(['novu-bob']);

      // An existing subscriber: create merges, unless asked to fail.
      const { result: merged } = await novu.subscribers.create({ subscriberId: 'novu-bob', lastName: 'Builder' });
      expect(merged).toMatchObject({ firstName: 'Bob', lastName: 'Builder' });
      const conflict = await failure(novu.subscribers.create({ subscriberId: 'novu-bob' }, true));
      expect(conflict.status).toBe(409);
      expect(conflict.code).toBe('subscriber_already_exists');

      const { result: removed } = await novu.subscribers.delete('novu-bob');
      expect(removed).toEqual({ acknowledged: true, status: 'deleted' });
      const gone = await failure(novu.subscribers.retrieve('novu-bob'));
      expect(gone.error).toBeInstanceOf(ErrorDto);
      expect(gone).toMatchObject({ status: 404, code: 'subscriber_not_found' });
    });

    it('reads and changes preferences, global and per channel', async () => {
      await novu.subscribers.create({ subscriberId: 'novu-prefs', email: 'prefs@example.com' });
      const { result: initial } = await novu.subscribers.preferences.list({ subscriberId: 'novu-prefs' });
      expect(initial.global).toEqual({ enabled: true, channels: { email: true, sms: true, inApp: true, chat: true } });

      const { result: updated } = await novu.subscribers.preferences.update({ channels: { sms: false, inApp: false } }, 'novu-prefs');
      expect(updated.global.channels).toEqual({ email: true, sms: false, inApp: false, chat: true });
      expect(await h.rekey.subscribers.channelAllowed('novu-prefs', 'any-workflow', 'sms')).toBe(false);
      expect(await h.rekey.subscribers.channelAllowed('novu-prefs', 'any-workflow', 'in_app')).toBe(false);
      expect(await h.rekey.subscribers.channelAllowed('novu-prefs', 'any-workflow', 'email')).toBe(true);

      const unknownWorkflow = await failure(novu.subscribers.preferences.update({ workflowId: 'no-such-workflow', channels: { email: false } }, 'novu-prefs'));
      expect(unknownWorkflow).toMatchObject({ status: 404, code: 'workflow_not_found' });
    });

    it('answers bad input with 4xx and stable codes the SDK parses', async () => {
      const phone = await failure(novu.subscribers.create({ subscriberId: 'novu-phone', phone: '0207 946 0000' }));
      expect(phone.error).toBeInstanceOf(ValidationErrorDto);
      expect(phone).toMatchObject({ status: 422, code: 'invalid_phone' });
      expect((phone.error as ValidationErrorDto).errors.phone?.messages[0]).toMatch(/E\.164/);

      const badId = await failure(novu.subscribers.create({ subscriberId: 'has spaces' }));
      expect(badId).toMatchObject({ status: 422, code: 'invalid_subscriber_id' });
      const badPath = await failure(novu.subscribers.retrieve('a b'));
      expect(badPath).toMatchObject({ status: 422, code: 'invalid_subscriber_id' });

      const missing = await failure(novu.subscribers.patch({ firstName: 'X' }, 'novu-nobody'));
      expect(missing).toMatchObject({ status: 404, code: 'subscriber_not_found' });
      expect(await failure(novu.subscribers.delete('novu-nobody'))).toMatchObject({ status: 404, code: 'subscriber_not_found' });
      expect(await failure(novu.subscribers.preferences.list({ subscriberId: 'novu-nobody' }))).toMatchObject({ status: 404, code: 'subscriber_not_found' });
      expect(await failure(novu.subscribers.patch({ phone: '12345' }, 'novu-nobody'))).toMatchObject({ status: 422, code: 'invalid_phone' });
    });

    it("a non-critical workflow's email turned off in preferences is skipped; a critical one still sends", async () => {
      const email = 'novu-choices@example.com';
      const to = [{ subscriberId: 'novu-choices', email, firstName: 'Pat' }];
      await novu.subscribers.create({ subscriberId: 'novu-choices', email, firstName: 'Pat' });
      const { result: listed } = await novu.subscribers.preferences.list({ subscriberId: 'novu-choices' });
      // Novu lists the non-critical workflows unless asked: of the built-ins, new-sign-in.
      expect(listed.workflows.map((w) => w.workflow.identifier)).toContain('new-sign-in');
      expect(listed.workflows.map((w) => w.workflow.identifier)).not.toContain('password-reset');

      const { result: updated } = await novu.subscribers.preferences.update({ workflowId: 'new-sign-in', channels: { email: false } }, 'novu-choices');
      const signIn = updated.workflows.find((w) => w.workflow.identifier === 'new-sign-in')!;
      expect(signIn).toMatchObject({ enabled: false, channels: { email: false }, overrides: [{ channel: 'email', source: 'subscriber' }] });
      const critical = await failure(novu.subscribers.preferences.update({ workflowId: 'password-reset', channels: { email: false } }, 'novu-choices'));
      expect(critical).toMatchObject({ status: 422, code: 'workflow_critical' });
      // Email off for every workflow: a critical one sends all the same.
      await novu.subscribers.preferences.update({ channels: { email: false } }, 'novu-choices');

      const signedIn = await h.rekey.notifications.trigger({
        workflowId: 'new-sign-in',
        to,
        payload: { signedInAt: '2026-11-25T12:00:00Z', ipAddress: '203.0.113.7', helpUrl: 'https://app.example.com/help' },
      });
      const resetUrl = 'https://app.example.com/reset?token=novu-choices-1';
      await h.rekey.notifications.trigger({ workflowId: 'password-reset', to, payload: { resetUrl, expiresInMinutes: 30, firstName: 'Pat' } });
      await h.deliver();
      expect(mailTo(email)).toHaveLength(1);
      expect(mailTo(email)[0]!.body).toContain(resetUrl);
      const skipped = await h.store.db
        .selectFrom('notification_steps')
        .select(['type', 'status', 'reason'])
        .where('execution_id', 'in', signedIn.executionIds)
        .execute();
      expect(skipped).toEqual([{ type: 'email', status: 'skipped', reason: 'preference' }]);
    });

    it("a wrong key raises the SDK's 401 error", async () => {
      const wrong = new Novu({ secretKey: 'sk_test_wrong', serverURL: h.url!, retryConfig: { strategy: 'none' } });
      const denied = await failure(wrong.subscribers.retrieve('novu-ada'));
      expect(denied.error).toBeInstanceOf(ErrorDto);
      expect(denied).toMatchObject({ status: 401, code: 'unauthorized' });
    });
  });
}
