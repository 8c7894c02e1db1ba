import { Novu } from '@novu/api';
import { ErrorDto, ValidationErrorDto } from '@novu/api/models/errors/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORES } from '../../src/store/testing.ts';
import { managementApi } from '../support/api.ts';
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

/** An operator's workflow from `rekey.config.json`: a delay, then a mail, non-critical. */
const WEEKLY_DIGEST = {
  workflowId: 'weekly-digest',
  name: 'Weekly digest',
  steps: [
    { stepId: 'wait', type: 'delay', controls: { type: 'regular', amount: 1, unit: 'hours' } },
    { stepId: 'mail', type: 'email', content: { en: { subject: 'Your digest, {{ subscriber.firstName }}', body: '<p>{{ payload.count }} new items</p>' } } },
  ],
};

/** `@novu/api@3.19.1`, unchanged, pointed at a running Rekey over loopback HTTP. */
for (const factory of STORES) {
  describe(`${factory.name}: Novu SDK compatibility`, () => {
    let h: Harness & { url?: string };
    let novu: Novu;
    let sink: SmtpSink;
    const mailTo = (to: string) => sink.messages.filter((mail) => mail.to === to);

    beforeAll(async () => {
      sink = await startSmtpSink();
      h = await createHarness(factory, { listen: true, config: { smtpUrl: `smtp://127.0.0.1:${sink.port}`, workflows: [WEEKLY_DIGEST] } });
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

      const signedIn = await novu.trigger({
        workflowId: 'new-sign-in',
        to: 'novu-choices',
        payload: { signedInAt: '2026-11-25T12:00:00Z', ipAddress: '203.0.113.7', helpUrl: 'https://app.example.com/help' },
      });
      const resetUrl = 'https://app.example.com/reset?token=novu-choices-1';
      const reset = await novu.trigger({ workflowId: 'password-reset', to: 'novu-choices', payload: { resetUrl, expiresInMinutes: 30, firstName: 'Pat' } });
      await h.deliver();
      expect(mailTo(email)).toHaveLength(1);
      expect(mailTo(email)[0]!.body).toContain(resetUrl);
      const jobs = async (transactionId: string) =>
        (await novu.notifications.list({ transactionId })).result.data[0]!.jobs!.map((job) => [job.type, job.status]);
      expect(await jobs(signedIn.result.transactionId!)).toEqual([['email', 'skipped']]);
      expect(await jobs(reset.result.transactionId!)).toEqual([['email', 'sent']]);
      const skipped = await h.store.db
        .selectFrom('notification_steps')
        .select(['type', 'status', 'reason'])
        .where(
          'execution_id',
          'in',
          (await novu.notifications.list({ transactionId: signedIn.result.transactionId! })).result.data.map((entry) => entry.id!),
        )
        .execute();
      expect(skipped).toEqual([{ type: 'email', status: 'skipped', reason: 'preference' }]);
    });

    it("Novu's password-reset snippet works unchanged: the mail at the SMTP server holds the resetUrl; a repeated transactionId sends nothing more", async () => {
      const email = 'novu-snippet@example.com';
      const resetUrl = 'https://app.example.com/reset-password?token=novu-snippet-1';
      // As in Novu's docs, unchanged but for serverURL and the key.
      const { result } = await novu.trigger({
        workflowId: 'password-reset',
        to: { subscriberId: 'novu-snippet', email },
        payload: { firstName: 'Ada', resetUrl, expiresInMinutes: 30 },
        transactionId: 'novu-snippet-tx',
      });
      expect(result).toEqual({ acknowledged: true, status: 'processed', transactionId: 'novu-snippet-tx' });
      await h.deliver();
      expect(mailTo(email)).toHaveLength(1);
      expect(mailTo(email)[0]!.body).toContain(resetUrl);
      expect(mailTo(email)[0]!.body).toContain('Ada');

      await novu.trigger({ workflowId: 'password-reset', to: 'novu-snippet', payload: { resetUrl, expiresInMinutes: 30 }, transactionId: 'novu-snippet-tx' });
      await h.deliver();
      expect(mailTo(email)).toHaveLength(1);

      const { result: activity } = await novu.notifications.list({ transactionId: 'novu-snippet-tx' });
      expect(activity.data).toHaveLength(1);
      expect(activity.data[0]).toMatchObject({ subscriberId: 'novu-snippet', transactionId: 'novu-snippet-tx', templateId: 'password-reset' });
      expect(activity.data[0]!.jobs!.map((job) => [job.type, job.status])).toEqual([['email', 'sent']]);
    });

    it('triggers an operator-defined workflow, a bulk trigger, and cancels a delayed one; the activity shows each status', async () => {
      const emails = ['digest-a@example.com', 'digest-b@example.com'];
      await novu.subscribers.create({ subscriberId: 'digest-a', email: emails[0], firstName: 'Ann' });
      await novu.subscribers.create({ subscriberId: 'digest-b', email: emails[1], firstName: 'Ben' });

      const { result: bulk } = await novu.triggerBulk({
        events: [
          { workflowId: 'weekly-digest', to: 'digest-a', payload: { count: 3 }, transactionId: 'digest-kept' },
          { workflowId: 'weekly-digest', to: 'digest-b', payload: { count: 5 }, transactionId: 'digest-canceled' },
        ],
      });
      expect(bulk.map((r) => [r.status, r.transactionId])).toEqual([
        ['processed', 'digest-kept'],
        ['processed', 'digest-canceled'],
      ]);
      await h.deliver();
      expect(emails.flatMap(mailTo)).toEqual([]);
      const waiting = (await novu.notifications.list({ transactionId: 'digest-canceled' })).result.data[0]!;
      expect(waiting.jobs!.map((job) => [job.type, job.status])).toEqual([
        ['delay', 'sent'],
        ['email', 'queued'],
      ]);

      expect((await novu.cancel('digest-canceled')).result).toBe(true);
      h.clock.advance(61 * 60_000);
      await h.deliver();
      expect(mailTo(emails[0]!)).toHaveLength(1);
      expect(mailTo(emails[0]!)[0]).toMatchObject({ subject: 'Your digest, Ann' });
      expect(mailTo(emails[0]!)[0]!.body).toContain('3 new items');
      expect(mailTo(emails[1]!)).toEqual([]);

      const status = async (transactionId: string) =>
        (await novu.notifications.list({ transactionId })).result.data[0]!.jobs!.map((job) => [job.type, job.status]);
      expect(await status('digest-kept')).toEqual([
        ['delay', 'sent'],
        ['email', 'sent'],
      ]);
      expect(await status('digest-canceled')).toEqual([
        ['delay', 'sent'],
        ['email', 'canceled'],
      ]);
    });

    it("a Rekey user's sign-in from a new browser triggers new-sign-in; with its email turned off through the SDK, it is skipped", async () => {
      const email = 'novu-signer@example.com';
      const password = 'correct horse battery staple novu';
      const created = await managementApi(h).createUser(email, password);
      const signIn = async (userAgent: string) => {
        const res = await h.app.inject({
          method: 'POST',
          url: '/user_management/authenticate',
          payload: { grant_type: 'password', client_id: h.clientId, client_secret: h.secretKey, email, password, user_agent: userAgent },
        });
        expect(res.statusCode).toBe(200);
        await h.deliver();
      };
      await signIn('Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0');
      await signIn('Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36');
      expect(mailTo(email).map((mail) => mail.subject)).toEqual(['New sign-in to your Rekey account']);
      expect(mailTo(email)[0]!.body).toContain('Chrome on Windows');

      // The user is a subscriber under its id now; its own choice turns the notice's email off.
      await novu.subscribers.preferences.update({ workflowId: 'new-sign-in', channels: { email: false } }, created.id);
      await signIn('Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15');
      expect(mailTo(email)).toHaveLength(1);
      const { result } = await novu.notifications.list({ subscriberIds: [created.id], templates: ['new-sign-in'] });
      expect(result.data.map((entry) => entry.jobs!.map((job) => [job.type, job.status])).sort()).toEqual([[['email', 'sent']], [['email', 'skipped']]]);
    });

    it('an unknown workflow is a 4xx the SDK raises', async () => {
      const unknown = await failure(novu.trigger({ workflowId: 'no-such-workflow', to: 'novu-ada', payload: {} }));
      expect(unknown.error).toBeInstanceOf(ErrorDto);
      expect(unknown).toMatchObject({ status: 404, code: 'workflow_not_found' });
    });

    it("a wrong key raises the SDK's 401 error", async () => {
      const wrong = new Novu({ secretKey: 'sk_test_wrong', serverURL: h.url!, retryConfig: { strategy: 'none' } });
      const denied = await failure(wrong.subscribers.retrieve('novu-ada'));
      expect(denied.error).toBeInstanceOf(ErrorDto);
      expect(denied).toMatchObject({ status: 401, code: 'unauthorized' });
    });
  });
}
