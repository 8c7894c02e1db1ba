import { Novu } from '@novu/api';
import { ErrorDto, ValidationErrorDto } from '@novu/api/models/errors/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WORKFLOW_FRESHNESS_MS } from '../../src/notifications/index.ts';
import { connect } from '../../src/store/connect.ts';
import { STORES, type StoreFactory, type TestStore } from '../../src/store/testing.ts';
import { createHarness, type Harness } from '../support/harness.ts';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts';

/** The error `@novu/api` raised, with its status, Rekey's stable code and message from the body. */
async function failure(call: Promise<unknown>): Promise<{ error: unknown; status: number; code: unknown; message: string }> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'the call should have failed').toBeDefined();
  const { statusCode, body } = error as { statusCode: number; body: string };
  if (body === undefined) throw error;
  const parsed = JSON.parse(body) as { code?: unknown; message?: string };
  return { error, status: statusCode, code: parsed.code, message: parsed.message ?? '' };
}

/** A second connection to the database of `store`: another node's view of the same data. */
const sameDatabase = (store: TestStore): StoreFactory => ({
  name: store.name,
  open: async () => ({ ...connect(store.url), name: store.name, url: store.url, ...(store.schema ? { schema: store.schema } : {}) }),
});

/** From rekey.config.json: read-only over the API. */
const FROM_CONFIG = {
  workflowId: 'config-notice',
  name: 'Notice from the config file',
  steps: [{ stepId: 'mail', type: 'email', content: { en: { subject: 'Notice', body: '<p>{{ payload.text }}</p>' } } }],
};

const welcome = (subject: string) => ({
  workflowId: 'api-welcome',
  name: 'Welcome (API)',
  description: 'Made over the API',
  tags: ['onboarding'],
  steps: [
    {
      name: 'Welcome mail',
      type: 'email' as const,
      controlValues: { subject, body: '<p>Hello {{ subscriber.firstName }}, your plan is {{ payload.plan }}.</p>' },
    },
  ],
});

/** `@novu/api@3.19.1`'s `workflows.*` against two Rekey nodes on one database, over loopback HTTP. */
for (const factory of STORES) {
  describe(`${factory.name}: Novu SDK workflows API`, () => {
    let a: Harness & { url?: string };
    let b: Harness & { url?: string };
    let novu: Novu;
    let novuB: Novu;
    let sink: SmtpSink;
    const mailTo = (to: string) => sink.messages.filter((mail) => mail.to === to);

    beforeAll(async () => {
      sink = await startSmtpSink();
      const config = { smtpUrl: `smtp://127.0.0.1:${sink.port}`, workflows: [FROM_CONFIG] };
      a = await createHarness(factory, { listen: true, config });
      b = await createHarness(sameDatabase(a.store), { listen: true, config });
      novu = new Novu({ secretKey: a.secretKey, serverURL: a.url!, retryConfig: { strategy: 'none' } });
      novuB = new Novu({ secretKey: b.secretKey, serverURL: b.url!, retryConfig: { strategy: 'none' } });
    });
    afterAll(async () => {
      await b.close();
      await a.close();
      await sink.stop();
    });

    it('creates a workflow, triggers it (the mail reaches the SMTP server), lists, gets, updates and deletes it', async () => {
      const { result: created } = await novu.workflows.create({ ...welcome('Welcome, {{ subscriber.firstName }}'), active: true });
      expect(created).toMatchObject({
        workflowId: 'api-welcome',
        slug: 'api-welcome',
        name: 'Welcome (API)',
        description: 'Made over the API',
        tags: ['onboarding'],
        active: true,
        status: 'ACTIVE',
        origin: 'novu-cloud',
      });
      expect(created.id).toMatch(/^wf_/);
      expect(created.steps).toHaveLength(1);
      expect(created.steps[0]).toMatchObject({ stepId: 'welcome-mail', type: 'email', workflowId: 'api-welcome', workflowDatabaseId: created.id });
      expect(created.steps[0]!.controlValues).toMatchObject({ subject: 'Welcome, {{ subscriber.firstName }}' });

      await novu.trigger({
        workflowId: 'api-welcome',
        to: { subscriberId: 'wf-ada', email: 'wf-ada@example.com', firstName: 'Ada' },
        payload: { plan: 'pro' },
      });
      await a.deliver();
      expect(mailTo('wf-ada@example.com')).toHaveLength(1);
      expect(mailTo('wf-ada@example.com')[0]).toMatchObject({ subject: 'Welcome, Ada' });
      expect(mailTo('wf-ada@example.com')[0]!.body).toContain('your plan is pro');

      const { result: listed } = await novu.workflows.list({ limit: 100 });
      const ids = listed.workflows.map((w) => w.workflowId);
      expect(ids).toEqual(expect.arrayContaining(['api-welcome', 'password-reset', 'config-notice']));
      expect(listed.totalCount).toBe(ids.length);
      const { result: searched } = await novu.workflows.list({ query: 'welcome' });
      expect(searched.workflows.map((w) => w.workflowId)).toEqual(['api-welcome']);
      expect(searched.workflows[0]).toMatchObject({ stepTypeOverviews: ['email'], steps: [{ slug: 'welcome-mail', type: 'email' }] });

      expect((await novu.workflows.get('api-welcome')).result).toEqual(created);
      expect((await novu.workflows.get(created.id)).result.workflowId).toBe('api-welcome');

      const { result: updated } = await novu.workflows.update(
        {
          ...welcome('Hi again, {{ subscriber.firstName }}'),
          active: true,
          preferences: { workflow: { all: { enabled: true, readOnly: true }, channels: {} } },
        },
        'api-welcome',
      );
      expect(updated).toMatchObject({ id: created.id, preferences: { default: { all: { readOnly: true } } } });
      expect(updated.steps[0]!.controlValues).toMatchObject({ subject: 'Hi again, {{ subscriber.firstName }}' });
      await novu.trigger({ workflowId: 'api-welcome', to: 'wf-ada', payload: { plan: 'team' } });
      await a.deliver();
      expect(mailTo('wf-ada@example.com').map((mail) => mail.subject)).toEqual(['Welcome, Ada', 'Hi again, Ada']);

      await novu.workflows.delete('api-welcome');
      expect(await failure(novu.workflows.get('api-welcome'))).toMatchObject({ status: 404, code: 'workflow_not_found' });
      const gone = await failure(novu.trigger({ workflowId: 'api-welcome', to: 'wf-ada', payload: {} }));
      expect(gone.error).toBeInstanceOf(ErrorDto);
      expect(gone).toMatchObject({ status: 404, code: 'workflow_not_found' });
      expect(await failure(novu.workflows.delete('api-welcome'))).toMatchObject({ status: 404, code: 'workflow_not_found' });
    });

    it('a workflow created without `active: true` is inactive, as in Novu: its trigger is acknowledged and sends nothing', async () => {
      const { result: created } = await novu.workflows.create({ ...welcome('Quiet'), workflowId: 'api-quiet' });
      expect(created).toMatchObject({ active: false, status: 'INACTIVE' });
      const { result } = await novu.trigger({ workflowId: 'api-quiet', to: { subscriberId: 'wf-quiet', email: 'wf-quiet@example.com' }, payload: {} });
      expect(result).toMatchObject({ acknowledged: true, status: 'trigger_not_active' });
      await a.deliver();
      expect(mailTo('wf-quiet@example.com')).toEqual([]);
      expect((await novu.workflows.list({ status: ['INACTIVE'] })).result.workflows.map((w) => w.workflowId)).toEqual(['api-quiet']);

      // `workflows.patch` turns it on, its steps untouched.
      const { result: patched } = await novu.workflows.patch({ active: true, tags: ['quiet'] }, 'api-quiet');
      expect(patched).toMatchObject({ active: true, status: 'ACTIVE', tags: ['quiet'], name: 'Welcome (API)' });
      expect(patched.steps.map((step) => step.stepId)).toEqual(['welcome-mail']);
      await novu.trigger({ workflowId: 'api-quiet', to: { subscriberId: 'wf-quiet', email: 'wf-quiet@example.com' }, payload: { plan: 'basic' } });
      await a.deliver();
      expect(mailTo('wf-quiet@example.com').map((mail) => mail.subject)).toEqual(['Quiet']);
      expect(await failure(novu.workflows.patch({ active: false }, 'config-notice'))).toMatchObject({ status: 403, code: 'workflow_read_only' });
    });

    it('takes a workflow whose mail is larger than the 64 KiB other requests are held to', async () => {
      const paragraphs = Array.from({ length: 1_500 }, (_, i) => `<p>Paragraph ${i} for {{ subscriber.firstName }}.</p>`).join('');
      expect(paragraphs.length).toBeGreaterThan(64 * 1024);
      const big = { ...welcome('Long read'), workflowId: 'api-long', active: true };
      big.steps[0]!.controlValues.body = paragraphs;
      const { result } = await novu.workflows.create(big);
      expect(String((result.steps[0]!.controlValues as { body?: string }).body)).toHaveLength(paragraphs.length);
      await novu.trigger({ workflowId: 'api-long', to: { subscriberId: 'wf-long', email: 'wf-long@example.com', firstName: 'Lu' }, payload: {} });
      await a.deliver();
      expect(mailTo('wf-long@example.com')[0]!.body).toContain('Paragraph 1499 for Lu.');
    });

    it('per-language content and a plain-text part, sent over plain HTTP, outlive an update through the SDK', async () => {
      const response = await fetch(`${a.url}/v2/workflows`, {
        method: 'POST',
        headers: { authorization: `ApiKey ${a.secretKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          ...welcome('Welcome, {{ subscriber.firstName }}'),
          workflowId: 'api-bilingual',
          active: true,
          steps: [
            {
              stepId: 'mail',
              name: 'Mail',
              type: 'email',
              controlValues: {
                subject: 'Welcome',
                body: '<p>Hello</p>',
                text: 'Hello in plain text',
                locales: { fr: { subject: 'Bienvenue', body: '<p>Bonjour</p>' } },
              },
            },
          ],
        }),
      });
      expect(response.status).toBe(201);
      await novu.workflows.update(
        {
          name: 'Bilingual',
          active: true,
          steps: [{ stepId: 'mail', name: 'Mail', type: 'email', controlValues: { subject: 'Welcome back', body: '<p>Hello again</p>' } }],
          preferences: {},
        },
        'api-bilingual',
      );
      await novu.trigger({
        workflowId: 'api-bilingual',
        to: [
          { subscriberId: 'wf-fr', email: 'wf-fr@example.com', locale: 'fr-FR' },
          { subscriberId: 'wf-en', email: 'wf-en@example.com' },
        ],
        payload: {},
      });
      await a.deliver();
      expect(mailTo('wf-fr@example.com').map((mail) => mail.subject)).toEqual(['Bienvenue']);
      expect(mailTo('wf-en@example.com').map((mail) => mail.subject)).toEqual(['Welcome back']);
      expect(mailTo('wf-en@example.com')[0]!.body).toContain('Hello again');
    });

    it('refuses a template that does not parse, naming the workflow and the step, and saves nothing', async () => {
      const broken = {
        workflowId: 'api-broken',
        name: 'Broken',
        steps: [
          { name: 'Wait', type: 'delay' as const, controlValues: { type: 'regular', amount: 5, unit: 'minutes' } },
          { stepId: 'bad-mail', name: 'Bad mail', type: 'email' as const, controlValues: { subject: 'Hi', body: '<p>{% if payload.x %}unclosed</p>' } },
        ],
      };
      const refused = await failure(novu.workflows.create(broken));
      expect(refused.error).toBeInstanceOf(ValidationErrorDto);
      expect(refused).toMatchObject({ status: 422, code: 'workflow_template_invalid' });
      expect(refused.message).toContain('Workflow "api-broken", step "bad-mail"');
      expect(await failure(novu.workflows.get('api-broken'))).toMatchObject({ status: 404 });

      const unsupported = await failure(novu.workflows.create({ ...broken, steps: [{ stepId: 'push-1', name: 'Push', type: 'push', controlValues: {} }] }));
      expect(unsupported).toMatchObject({ status: 422, code: 'workflow_invalid' });
      expect(unsupported.message).toContain('step "push-1"');

      const filter = await failure(
        novu.workflows.create({
          ...broken,
          steps: [{ stepId: 'text', name: 'Text', type: 'sms', controlValues: { body: '{{ payload.x | no_such_filter }}' } }],
        }),
      );
      expect(filter).toMatchObject({ status: 422, code: 'workflow_template_invalid' });
      expect(filter.message).toContain('Workflow "api-broken", step "text"');
    });

    it("changes a built-in's content but never deletes it; a config workflow is read-only", async () => {
      const { result: shipped } = await novu.workflows.get('password-reset');
      expect(shipped).toMatchObject({ origin: 'external', preferences: { default: { all: { readOnly: true } } } });
      const denied = await failure(novu.workflows.delete('password-reset'));
      expect(denied).toMatchObject({ status: 403, code: 'workflow_builtin_not_deletable' });
      const newStep = await failure(
        novu.workflows.update(
          { name: 'Password reset link', steps: [{ stepId: 'text', name: 'Text', type: 'sms', controlValues: { body: 'x' } }], preferences: {} },
          'password-reset',
        ),
      );
      expect(newStep).toMatchObject({ status: 422, code: 'workflow_builtin_steps' });

      const { result: changed } = await novu.workflows.update(
        {
          name: 'Password reset link',
          steps: [
            {
              stepId: 'email',
              name: 'Email',
              type: 'email',
              controlValues: { subject: 'Reset it, {{ payload.firstName }}', body: '<a href="{{ payload.resetUrl }}">Reset</a>' },
            },
          ],
          preferences: {},
        },
        'password-reset',
      );
      // Still critical and still its own steps: only the content changed.
      expect(changed).toMatchObject({ workflowId: 'password-reset', preferences: { default: { all: { readOnly: true } } } });
      const resetUrl = 'https://app.example.com/reset?token=wf-builtin-1';
      await novu.trigger({
        workflowId: 'password-reset',
        to: { subscriberId: 'wf-bo', email: 'wf-bo@example.com' },
        payload: { firstName: 'Bo', resetUrl, expiresInMinutes: 30 },
      });
      await a.deliver();
      expect(mailTo('wf-bo@example.com')[0]).toMatchObject({ subject: 'Reset it, Bo' });
      expect(mailTo('wf-bo@example.com')[0]!.body).toContain(resetUrl);

      // What a GET answers can be sent back through the SDK: its control schemas keep `subject`, `body` and `skip`
      // and drop Rekey's `locales` and `text` (it shows them under `additionalProperties`); no language is lost, and
      // the plain-text part of the main one is then made from its body.
      const { result: before } = await novu.workflows.get('verification-code');
      const asUpsert = before.steps.map((step) => ({ stepId: step.stepId, name: step.name, type: step.type, controlValues: step.controlValues }));
      const { result: after } = await novu.workflows.update({ name: before.name, steps: asUpsert as never, preferences: {} }, 'verification-code');
      type Values = { subject?: string; body?: string; skip?: unknown; additionalProperties?: { locales?: unknown; text?: string } };
      const kept = (steps: Array<{ controlValues?: unknown }>) =>
        steps.map((step) => {
          const values = step.controlValues as Values;
          return { subject: values.subject, body: values.body, skip: values.skip, locales: values.additionalProperties?.locales };
        });
      expect(kept(after.steps)).toEqual(kept(before.steps));
      expect(kept(after.steps)[0]!.locales).toHaveProperty('fr');
      expect((before.steps[0]!.controlValues as Values).additionalProperties?.text).toContain('verification code');

      const readOnly = await failure(novu.workflows.update({ name: 'Changed', steps: [], preferences: {} }, 'config-notice'));
      expect(readOnly).toMatchObject({ status: 403, code: 'workflow_read_only' });
      expect(await failure(novu.workflows.delete('config-notice'))).toMatchObject({ status: 403, code: 'workflow_read_only' });
      expect((await novu.workflows.get('config-notice')).result.origin).toBe('external');
    });

    it('previews a step with sample data, the given payload, or control values not yet saved', async () => {
      await novu.workflows.create({ ...welcome('Welcome, {{ subscriber.firstName }}'), workflowId: 'api-preview', active: true });
      const { result: sample } = await novu.workflows.steps.generatePreview({
        workflowId: 'api-preview',
        stepId: 'welcome-mail',
        generatePreviewRequestDto: {},
      });
      expect(sample.result).toMatchObject({ type: 'email', preview: { subject: 'Welcome, Ada' } });
      expect(sample.previewPayloadExample.payload).toEqual({ plan: '{{payload.plan}}' });
      expect((sample.result as { preview: { body: string } }).preview.body).toContain('your plan is {{payload.plan}}');

      const { result: given } = await novu.workflows.steps.generatePreview({
        workflowId: 'api-preview',
        stepId: 'welcome-mail',
        generatePreviewRequestDto: { previewPayload: { payload: { plan: 'enterprise' }, subscriber: { firstName: 'Grace' } } },
      });
      expect(given.result).toMatchObject({ preview: { subject: 'Welcome, Grace' } });
      expect((given.result as { preview: { body: string } }).preview.body).toContain('your plan is enterprise');

      const { result: tried } = await novu.workflows.steps.generatePreview({
        workflowId: 'api-preview',
        stepId: 'welcome-mail',
        generatePreviewRequestDto: { controlValues: { subject: 'Draft for {{ subscriber.lastName }}', body: '<p>draft</p>' } },
      });
      expect(tried.result).toMatchObject({ preview: { subject: 'Draft for Lovelace' } });
      const bad = await failure(
        novu.workflows.steps.generatePreview({
          workflowId: 'api-preview',
          stepId: 'welcome-mail',
          generatePreviewRequestDto: { controlValues: { subject: '{{ unclosed' } },
        }),
      );
      expect(bad).toMatchObject({ status: 422, code: 'workflow_template_invalid' });
      expect(bad.message).toContain('Workflow "api-preview", step "welcome-mail"');
      expect(await failure(novu.workflows.steps.generatePreview({ workflowId: 'api-preview', stepId: 'nope', generatePreviewRequestDto: {} }))).toMatchObject({
        status: 404,
        code: 'workflow_step_not_found',
      });

      const { result: builtin } = await novu.workflows.steps.generatePreview({
        workflowId: 'password-reset-code',
        stepId: 'email',
        generatePreviewRequestDto: { previewPayload: { payload: { code: '123456', expiresInMinutes: 10 } } },
      });
      expect((builtin.result as { preview: { body: string } }).preview.body).toContain('123456');
    });

    it('retrieves one step by its id or its `_id`, as the workflow shows it', async () => {
      const { result: created } = await novu.workflows.create({
        ...welcome('Step, {{ subscriber.firstName }}'),
        workflowId: 'api-steps',
        steps: [
          { name: 'Wait', type: 'delay', controlValues: { type: 'regular', amount: 5, unit: 'minutes' } },
          { name: 'Welcome mail', type: 'email', controlValues: { subject: 'Step, {{ subscriber.firstName }}', body: '<p>Hi</p>' } },
        ],
      });
      const { result: mail } = await novu.workflows.steps.retrieve('api-steps', 'welcome-mail');
      expect(mail).toMatchObject({
        stepId: 'welcome-mail',
        slug: 'welcome-mail',
        name: 'Welcome mail',
        type: 'email',
        origin: 'novu-cloud',
        workflowId: 'api-steps',
        workflowDatabaseId: created.id,
        controlValues: { subject: 'Step, {{ subscriber.firstName }}', body: '<p>Hi</p>' },
      });
      expect(mail.id).toBe(created.steps[1]!.id);
      expect((await novu.workflows.steps.retrieve(created.id, mail.id)).result).toEqual(mail);
      expect((await novu.workflows.steps.retrieve('api-steps', 'wait')).result).toMatchObject({
        type: 'delay',
        controlValues: { type: 'regular', amount: 5, unit: 'minutes' },
      });

      // A built-in's step, with the languages the SDK's workflow answer can only show under `additionalProperties`.
      const { result: builtin } = await novu.workflows.steps.retrieve('password-reset-code', 'email');
      expect(builtin).toMatchObject({ type: 'email', origin: 'external', controlValues: { locales: { fr: expect.any(Object) } } });

      const noStep = await failure(novu.workflows.steps.retrieve('api-steps', 'nope'));
      expect(noStep.error).toBeInstanceOf(ErrorDto);
      expect(noStep).toMatchObject({ status: 404, code: 'workflow_step_not_found' });
      expect(await failure(novu.workflows.steps.retrieve('no-such-workflow', 'email'))).toMatchObject({ status: 404, code: 'workflow_not_found' });
    });

    it('refuses to sync a workflow to another environment, which Rekey does not have', async () => {
      const refused = await failure(novu.workflows.sync({ targetEnvironmentId: 'env_production' }, 'password-reset'));
      expect(refused.error).toBeInstanceOf(ValidationErrorDto);
      expect(refused).toMatchObject({ status: 422, code: 'workflow_sync_not_supported' });
      expect(refused.message).toContain('no environments');
      expect(await failure(novu.workflows.sync({ targetEnvironmentId: 'env_production' }, 'no-such-workflow'))).toMatchObject({
        status: 404,
        code: 'workflow_not_found',
      });
    });

    it('a workflow saved on one node runs on the other: created at once, changed within the freshness window', async () => {
      await novu.workflows.create({ ...welcome('First, {{ subscriber.firstName }}'), workflowId: 'api-shared', active: true });
      // Node B has never heard of it: its trigger checks the revision on the miss.
      await novuB.trigger({ workflowId: 'api-shared', to: { subscriberId: 'wf-cy', email: 'wf-cy@example.com', firstName: 'Cy' }, payload: { plan: 'x' } });
      await b.deliver();
      expect(mailTo('wf-cy@example.com').map((mail) => mail.subject)).toEqual(['First, Cy']);
      expect((await novuB.workflows.get('api-shared')).result.name).toBe('Welcome (API)');

      await novuB.workflows.update({ ...welcome('Second, {{ subscriber.firstName }}'), active: true, preferences: {} }, 'api-shared');
      a.clock.advance(WORKFLOW_FRESHNESS_MS);
      await novu.trigger({ workflowId: 'api-shared', to: 'wf-cy', payload: { plan: 'x' } });
      await a.deliver();
      expect(mailTo('wf-cy@example.com').map((mail) => mail.subject)).toEqual(['First, Cy', 'Second, Cy']);

      await novu.workflows.delete('api-shared');
      b.clock.advance(WORKFLOW_FRESHNESS_MS);
      expect(await failure(novuB.trigger({ workflowId: 'api-shared', to: 'wf-cy', payload: {} }))).toMatchObject({ status: 404, code: 'workflow_not_found' });
      expect((await novuB.workflows.list({ limit: 100 })).result.workflows.map((w) => w.workflowId)).not.toContain('api-shared');
    });
  });
}
