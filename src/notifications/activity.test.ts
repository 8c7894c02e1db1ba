import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Channel, RenderedMail } from '../delivery/index.ts';
import { createHarness, type Harness } from '../../test/support/harness.ts';
import { STORES } from '../store/testing.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const content = { en: { subject: 'Alert for {{ subscriber.firstName }}', body: '<p>{{ payload.message }}</p>' } };
const WORKFLOWS = [
  {
    workflowId: 'mail-then-inbox',
    name: 'Mail then inbox',
    steps: [
      { stepId: 'mail', type: 'email', content },
      { stepId: 'inbox', type: 'in_app', content },
    ],
  },
  {
    workflowId: 'once-an-hour',
    name: 'Once an hour',
    steps: [
      { stepId: 'throttle', type: 'throttle', controls: { type: 'fixed', amount: 1, unit: 'hours', threshold: 1 } },
      { stepId: 'mail', type: 'email', content },
    ],
  },
  {
    workflowId: 'in-two-hours',
    name: 'In two hours',
    steps: [
      { stepId: 'wait', type: 'delay', controls: { amount: 2, unit: 'hours' } },
      { stepId: 'mail', type: 'email', content },
    ],
  },
];

interface Job {
  type: string;
  status: string;
  reason: string | null;
  error: string | null;
  attempts: number;
  updatedAt: string;
  executionDetails: Array<{ status: string; detail: string }>;
}

/** A mail channel that refuses while `down`, as a provider outage does. */
function switchableChannel() {
  const sent: RenderedMail[] = [];
  const state = { down: false };
  const channel: Channel = {
    id: 'switchable',
    async send(mail) {
      if (state.down) throw new Error('provider unavailable');
      sent.push(mail);
      return { providerMessageId: `msg-${sent.length}` };
    },
  };
  return { channel, sent, state };
}

/**
 * The activity (`GET /v1/notifications`) shows every step's final status, on each store: a step whose outbox row
 * expired, was dead-lettered before it ran, or was removed after retention is `dead` with the reason, never
 * `queued` forever; the steps after it `canceled`; throttled and canceled steps as such.
 */
for (const factory of STORES) {
  describe(`${factory.name}: the activity shows every step's final status`, () => {
    let h: Harness;
    let n = 0;
    const mail = switchableChannel();
    beforeAll(async () => {
      // One attempt: a failing send is dead at once.
      h = await createHarness(factory, { config: { workflows: WORKFLOWS, deliveryMaxAttempts: 1 }, channel: mail.channel });
    });
    afterAll(() => h.close());

    const trigger = async (workflowId: string, payload: Record<string, unknown> = { message: 'hello' }) => {
      const subscriberId = `act-${++n}`;
      const res = await h.app.inject({
        method: 'POST',
        url: '/v1/events/trigger',
        headers: h.auth,
        payload: { name: workflowId, to: { subscriberId, email: `${subscriberId}@example.com`, firstName: 'Ada' }, payload },
      });
      expect(res.statusCode).toBe(201);
      return (res.json() as { data: { transactionId: string } }).data.transactionId;
    };
    const activity = async (transactionId: string) => {
      const res = await h.app.inject({ method: 'GET', url: `/v1/notifications?transactionId=${transactionId}`, headers: h.auth });
      expect(res.statusCode).toBe(200);
      const [entry] = (res.json() as { data: Array<{ status: string; jobs: Job[] }> }).data;
      return entry!;
    };
    const statuses = async (transactionId: string) => {
      const entry = await activity(transactionId);
      return { execution: entry.status, steps: entry.jobs.map((job) => [job.type, job.status, job.reason ?? job.error]) };
    };
    /** The outbox rows of a transaction's steps. */
    const rowOf = async (transactionId: string) => {
      const execution = await h.store.db
        .selectFrom('notification_executions')
        .select('id')
        .where('transaction_id', '=', transactionId)
        .executeTakeFirstOrThrow();
      return h.store.db.selectFrom('outbox').select(['id', 'status']).where('payload', 'like', `%"execution":"${execution.id}"%`).execute();
    };
    const sealedLifetimeMs = () => Math.max(h.config.resetTokenTtlMinutes, h.config.resetCodeTtlMinutes) * 60_000;

    it('a step whose row expires before it is sent is dead with the reason, the steps after it canceled; a second sweep changes nothing', async () => {
      const transactionId = await trigger('mail-then-inbox');
      expect(await statuses(transactionId)).toEqual({
        execution: 'pending',
        steps: [
          ['email', 'queued', null],
          ['in_app', 'queued', null],
        ],
      });

      // No dispatcher ran in time (every node down): the sealed payload outlives its use and the sweeper expires the row.
      h.clock.advance(sealedLifetimeMs() + 1);
      expect(await h.rekey.dispatcher.sweep()).toMatchObject({ 'outbox.sealed_expired': 1 });
      const expired = await statuses(transactionId);
      expect(expired).toEqual({
        execution: 'failed',
        steps: [
          ['email', 'dead', 'expired before delivery'],
          ['in_app', 'canceled', 'not run: an earlier step failed for good'],
        ],
      });
      const [dead] = (await activity(transactionId)).jobs;
      expect(dead!.executionDetails[0]).toMatchObject({ status: 'Failed', detail: 'Failed for good before it ran: expired before delivery' });

      // Safe to run twice: nothing more changes, not even the times.
      const before = await activity(transactionId);
      h.clock.advance(1_000);
      expect(await h.rekey.dispatcher.sweep()).toMatchObject({ 'outbox.sealed_expired': 0 });
      expect(await activity(transactionId)).toEqual(before);

      // Nothing goes out late, and the record outlives the row once retention removes it.
      await h.deliver();
      expect(mail.sent.filter((m) => m.to === `act-${n}@example.com`)).toEqual([]);
      h.clock.advance(h.config.outboxRetentionDays * DAY + 1);
      await h.rekey.dispatcher.sweep();
      expect(await rowOf(transactionId)).toEqual([]);
      expect(await statuses(transactionId)).toEqual(expired);
    });

    it('a row dead-lettered before its step ran (its seal does not open) shows the step dead', async () => {
      const transactionId = await trigger('mail-then-inbox');
      const [row] = await rowOf(transactionId);
      await h.store.db
        .updateTable('outbox')
        .set({ payload: (eb) => eb.fn('replace', [eb.ref('payload'), eb.val('"run":"'), eb.val('"run":"tampered')]) })
        .where('id', '=', row!.id)
        .execute();
      await h.deliver();
      expect(await statuses(transactionId)).toEqual({
        execution: 'failed',
        steps: [
          ['email', 'dead', 'the sealed payload cannot be unsealed'],
          ['in_app', 'canceled', 'not run: an earlier step failed for good'],
        ],
      });
    });

    it('a dead row whose step was never told is recorded when retention removes it', async () => {
      const transactionId = await trigger('mail-then-inbox');
      const [row] = await rowOf(transactionId);
      // As an earlier version left it: the row dead, the step still queued.
      await h.store.db.updateTable('outbox').set({ status: 'dead', last_error: 'provider said no' }).where('id', '=', row!.id).execute();
      h.clock.advance(h.config.outboxRetentionDays * DAY + 1);
      await h.rekey.dispatcher.sweep();
      expect(await rowOf(transactionId)).toEqual([]);
      expect(await statuses(transactionId)).toEqual({
        execution: 'failed',
        steps: [
          ['email', 'dead', 'provider said no'],
          ['in_app', 'canceled', 'not run: an earlier step failed for good'],
        ],
      });
      await h.rekey.dispatcher.sweep();
      expect((await statuses(transactionId)).steps[0]).toEqual(['email', 'dead', 'provider said no']);
    });

    it('a send that fails for good is dead; an operator retry runs it and the steps its death canceled', async () => {
      const transactionId = await trigger('mail-then-inbox');
      mail.state.down = true;
      await h.deliver();
      mail.state.down = false;
      expect(await statuses(transactionId)).toEqual({
        execution: 'failed',
        steps: [
          ['email', 'dead', 'provider unavailable'],
          ['in_app', 'canceled', 'not run: an earlier step failed for good'],
        ],
      });
      const [row] = await rowOf(transactionId);
      const retried = await h.app.inject({ method: 'POST', url: `/user_management/deliveries/${row!.id}/retry`, headers: h.auth });
      expect(retried.statusCode).toBe(200);
      await h.deliver();
      expect(await statuses(transactionId)).toEqual({
        execution: 'completed',
        steps: [
          ['email', 'sent', null],
          ['in_app', 'sent', null],
        ],
      });
    });

    it('throttled and canceled steps show as such, and stay so when their rows expire or go', async () => {
      const subscriber = { subscriberId: `act-${++n}`, email: `act-${n}@example.com` };
      const throttled: string[] = [];
      for (const message of ['first', 'second']) {
        const res = await h.app.inject({
          method: 'POST',
          url: '/v1/events/trigger',
          headers: h.auth,
          payload: { name: 'once-an-hour', to: subscriber, payload: { message } },
        });
        throttled.push((res.json() as { data: { transactionId: string } }).data.transactionId);
        // One after the other: run in one round, either could be counted first.
        await h.deliver();
      }
      const cancel = async (transactionId: string) =>
        expect((await h.app.inject({ method: 'DELETE', url: `/v1/events/trigger/${transactionId}`, headers: h.auth })).statusCode).toBe(200);
      const canceled = await trigger('in-two-hours');
      const canceledEarly = await trigger('in-two-hours');
      await cancel(canceledEarly);
      await h.deliver();
      await cancel(canceled);

      const expected = {
        first: {
          execution: 'completed',
          steps: [
            ['throttle', 'sent', null],
            ['email', 'sent', null],
          ],
        },
        second: {
          execution: 'completed',
          steps: [
            ['throttle', 'skipped', 'throttled'],
            ['email', 'skipped', 'throttled'],
          ],
        },
        canceled: {
          execution: 'canceled',
          steps: [
            ['delay', 'sent', null],
            ['email', 'canceled', null],
          ],
        },
        canceledEarly: {
          execution: 'canceled',
          steps: [
            ['delay', 'canceled', null],
            ['email', 'canceled', null],
          ],
        },
      };
      expect(await statuses(throttled[0]!)).toEqual(expected.first);
      expect(await statuses(throttled[1]!)).toEqual(expected.second);
      expect(await statuses(canceled)).toEqual(expected.canceled);
      expect(await statuses(canceledEarly)).toEqual(expected.canceledEarly);
      // The canceled mail's row waits behind its delay: it expires in the outbox without making the step dead.
      h.clock.advance(2 * HOUR + sealedLifetimeMs() + 1);
      expect(await h.rekey.dispatcher.sweep()).toMatchObject({ 'outbox.sealed_expired': 1 });
      h.clock.advance(h.config.outboxRetentionDays * DAY + 1);
      await h.rekey.dispatcher.sweep();
      expect(await statuses(throttled[0]!)).toEqual(expected.first);
      expect(await statuses(throttled[1]!)).toEqual(expected.second);
      expect(await statuses(canceled)).toEqual(expected.canceled);
      expect(await statuses(canceledEarly)).toEqual(expected.canceledEarly);
    });
  });
}
