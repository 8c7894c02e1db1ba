import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { STORES, type TestStore } from '../../src/store/testing.ts';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts';
import { cluster, type Cluster } from './nodes.ts';
import { fireTriggers, settled } from './triggers.ts';

const TRIGGERS = 20;
const LOGIN_ALERT = {
  workflowId: 'login-alert',
  name: 'Login alert',
  steps: [
    { stepId: 'once-an-hour', type: 'throttle', controls: { type: 'fixed', amount: 1, unit: 'hours', threshold: 1 } },
    { stepId: 'mail', type: 'email', content: { en: { subject: 'New sign-in', body: '<p>A new sign-in, {{ subscriber.firstName }}.</p>' } } },
  ],
};

// Two processes: the throttle's count must be shared (Redis when set, else the store), not kept per process.
for (const factory of STORES.filter((f) => f.name === 'postgres')) {
  describe(`${factory.name}${process.env.REKEY_TEST_REDIS_URL ? ' + Redis' : ''}: throttle across two rekey serve processes`, { timeout: 120_000 }, () => {
    let store: TestStore;
    let sink: SmtpSink;
    let nodes: Cluster;

    beforeAll(async () => {
      store = await factory.open();
      sink = await startSmtpSink();
      nodes = cluster({
        REKEY_DATABASE_URL: store.url,
        REKEY_DATABASE_POOL_SIZE: '5',
        REKEY_SMTP_URL: `smtp://127.0.0.1:${sink.port}`,
        REKEY_WORKFLOWS: JSON.stringify([LOGIN_ALERT]),
        REKEY_DISPATCHER_INTERVAL_MS: '50',
        // A loaded machine must not push a count into one process's memory (the fallback while Redis is slow).
        REKEY_REDIS_COMMAND_TIMEOUT_MS: '10000',
        ...(process.env.REKEY_TEST_REDIS_URL ? { REKEY_REDIS_URL: process.env.REKEY_TEST_REDIS_URL } : {}),
      });
    });
    afterAll(async () => {
      await nodes?.close();
      await sink?.stop();
      await store?.close();
    });

    test('20 concurrent triggers at threshold 1, half to each node: exactly 1 sent, 19 skipped as throttled', async () => {
      const key = await nodes.cli(['keys', 'create', '--name', 'scale']);
      const live = await Promise.all([nodes.start(), nodes.start()]);
      // A fresh subscriber, so a counter left in a shared Redis by an earlier run cannot count here.
      const subscriberId = `throttled-${randomBytes(6).toString('hex')}`;
      await fireTriggers({
        count: TRIGGERS,
        concurrency: TRIGGERS,
        key,
        live,
        body: (i) => ({
          name: 'login-alert',
          to: { subscriberId, email: `${subscriberId}@example.test`, firstName: 'Ada' },
          transactionId: `${subscriberId}-${i}`,
        }),
      });
      // 20 throttle rows, and the mail of the one that went on.
      await settled(store, 60_000, TRIGGERS + 1);

      const steps = await store.db
        .selectFrom('notification_steps')
        .select(['step_id', 'status', 'reason', (eb) => eb.fn.countAll<string>().as('n')])
        .groupBy(['step_id', 'status', 'reason'])
        .orderBy('step_id')
        .orderBy('status')
        .execute();
      expect(steps.map((s) => ({ ...s, n: Number(s.n) }))).toEqual([
        { step_id: 'mail', status: 'sent', reason: null, n: 1 },
        { step_id: 'mail', status: 'skipped', reason: 'throttled', n: TRIGGERS - 1 },
        { step_id: 'once-an-hour', status: 'sent', reason: null, n: 1 },
        { step_id: 'once-an-hour', status: 'skipped', reason: 'throttled', n: TRIGGERS - 1 },
      ]);
      expect(sink.messages.filter((m) => m.to === `${subscriberId}@example.test`)).toHaveLength(1);

      await Promise.all(live.map((node) => node.stop()));
    });
  });
}
