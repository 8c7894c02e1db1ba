import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../../test/support/harness.ts';
import { STORES } from '../store/testing.ts';

const HOUR = 3_600_000;
const email = (stepId = 'email', subject = 'Alert for {{ subscriber.firstName }}') => ({
  stepId,
  type: 'email',
  content: { en: { subject, body: '<p>{{ payload.message }}</p>' }, fr: { subject: 'Alerte', body: '<p>{{ payload.message }}</p>' } },
});
const WORKFLOWS = [
  {
    workflowId: 'throttled-alert',
    name: 'Throttled alert',
    steps: [{ stepId: 'throttle', type: 'throttle', controls: { type: 'fixed', amount: 1, unit: 'hours', threshold: 1 } }, email()],
  },
  { workflowId: 'later', name: 'Later', steps: [{ stepId: 'wait', type: 'delay', controls: { amount: 2, unit: 'hours' } }, email()] },
  // A built-in's content, replaced in English only.
  {
    workflowId: 'password-reset-code',
    name: 'Password reset code',
    steps: [{ stepId: 'email', type: 'email', content: { en: { subject: 'Your code: {{ payload.code }}', body: '<p>{{ payload.code }}</p>' } } }],
  },
];

/** Operator workflows from rekey.config.json, throttle, delay and cancel, on each store. */
for (const factory of STORES) {
  describe(`${factory.name}: operator workflows, throttle, delay and cancel`, () => {
    let h: Harness;
    let n = 0;
    beforeAll(async () => {
      h = await createHarness(factory, { config: { workflows: WORKFLOWS } });
    });
    afterAll(() => h.close());

    const stepsOf = async (transactionId: string) =>
      h.store.db
        .selectFrom('notification_steps')
        .innerJoin('notification_executions', 'notification_executions.id', 'notification_steps.execution_id')
        .select(['notification_steps.step_id', 'notification_steps.status', 'notification_steps.reason'])
        .where('notification_executions.transaction_id', '=', transactionId)
        .orderBy('notification_steps.position')
        .execute();

    it('20 concurrent triggers at threshold 1: exactly 1 sent, 19 skipped as throttled', async () => {
      const address = `throttle${++n}@example.com`;
      const triggered = await Promise.all(
        Array.from({ length: 20 }, () =>
          h.rekey.notifications.trigger({
            workflowId: 'throttled-alert',
            to: [{ subscriberId: `thr-${n}`, email: address, firstName: 'Ada' }],
            payload: { message: 'hello' },
          }),
        ),
      );
      await h.deliver();
      expect(await h.mailbox(address)).toHaveLength(1);
      const outcomes = await Promise.all(
        triggered.map(async (t) => (await stepsOf(t.transactionId)).map((s) => `${s.step_id}:${s.status}:${s.reason ?? ''}`).join(' ')),
      );
      expect(outcomes.filter((o) => o === 'throttle:sent: email:sent:')).toHaveLength(1);
      expect(outcomes.filter((o) => o === 'throttle:skipped:throttled email:skipped:throttled')).toHaveLength(19);
      // The window ends: the next one goes out again.
      h.clock.advance(HOUR);
      await h.rekey.notifications.trigger({ workflowId: 'throttled-alert', to: [{ subscriberId: `thr-${n}`, email: address }], payload: { message: 'again' } });
      await h.deliver();
      expect(await h.mailbox(address)).toHaveLength(2);
    });

    it('a delay holds the next step back; its sealed payload survives the sweep; a cancel stops it', async () => {
      const address = `delay${++n}@example.com`;
      const to = [{ subscriberId: `del-${n}`, email: address, firstName: 'Grace' }];
      const sent = await h.rekey.notifications.trigger({ workflowId: 'later', to, payload: { message: 'two hours on' } });
      const canceled = await h.rekey.notifications.trigger({ workflowId: 'later', to, payload: { message: 'never' } });
      await h.deliver();
      expect(await h.mailbox(address)).toEqual([]);
      expect(await stepsOf(sent.transactionId)).toEqual([
        { step_id: 'wait', status: 'sent', reason: null },
        { step_id: 'email', status: 'queued', reason: null },
      ]);
      expect(await h.rekey.executions.cancelTransaction((await h.rekey.apps.getDefault()).id, canceled.transactionId, h.clock.now())).toBe(1);
      h.clock.advance(2 * HOUR);
      await h.rekey.dispatcher.sweep();
      await h.deliver();
      const mails = await h.mailbox(address);
      expect(mails.map((m) => [m.subject, m.text.trim()])).toEqual([['Alert for Grace', 'two hours on']]);
      expect((await stepsOf(canceled.transactionId)).map((s) => s.status)).toEqual(['sent', 'canceled']);
    });

    it("a built-in's content replaced in English; French stays the shipped one", async () => {
      const address = `override${++n}@example.com`;
      await h.rekey.notifications.trigger({
        workflowId: 'password-reset-code',
        to: [{ subscriberId: `ov-${n}`, email: address }],
        payload: { code: '424242', expiresInMinutes: 5 },
      });
      await h.rekey.notifications.trigger({
        workflowId: 'password-reset-code',
        to: [{ subscriberId: `ov-${n}-fr`, email: address, locale: 'fr' }],
        payload: { code: '434343', expiresInMinutes: 5 },
      });
      await h.deliver();
      const subjects = (await h.mailbox(address)).map((m) => m.subject).sort();
      expect(subjects).toEqual(['Réinitialisez votre mot de passe Rekey', 'Your code: 424242']);
    });
  });
}

describe('rekey.config.json workflows are checked at start', () => {
  const start = async (workflows: unknown[]) => {
    const h = await createHarness(STORES[0]!, { config: { workflows: workflows as Record<string, unknown>[] } }).catch((error: unknown) => error);
    if (!(h instanceof Error)) await (h as Harness).close();
    return h instanceof Error ? h.message : 'started';
  };
  it('a template that does not parse names the workflow, the step, the locale and the part', async () => {
    expect(
      await start([
        { workflowId: 'broken', name: 'Broken', steps: [{ stepId: 'mail', type: 'email', content: { en: { subject: 'Hi {{ payload.name', body: 'x' } } }] },
      ]),
    ).toMatch(/Workflow "broken", step "mail" \(en, subject\): the template does not parse/);
  });
  it('a bad step names the workflow and the step', async () => {
    expect(await start([{ workflowId: 'odd', name: 'Odd', steps: [{ stepId: 'slow', type: 'delay', controls: { amount: -1, unit: 'hours' } }] }])).toMatch(
      /workflow "odd", step "slow"/,
    );
    expect(await start([{ workflowId: 'password-changed', name: 'x', steps: [{ stepId: 'sms', type: 'sms', content: { en: { body: 'x' } } }] }])).toMatch(
      /Workflow "password-changed", step "sms": a built-in's steps cannot change/,
    );
  });
});
