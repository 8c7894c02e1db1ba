import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { STORES, type TestStore } from '../../src/store/testing.ts';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts';
import { cluster, type Cluster, type Node } from './nodes.ts';
import { fireTriggers, settled, triggerBody } from './triggers.ts';

const TRIGGERS = 1000;
/** Short, so the crashed node's claims come back within the test; still far above a send to the local sink. */
const LEASE_MS = 5000;

// Several processes share one PostgreSQL (FOR UPDATE SKIP LOCKED claims) and one Redis, as in production.
for (const factory of STORES.filter((f) => f.name === 'postgres')) {
  describe(`${factory.name}: two rekey serve processes, one killed`, { timeout: 240_000 }, () => {
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
        REKEY_DELIVERY_LEASE_MS: String(LEASE_MS),
        REKEY_DISPATCHER_INTERVAL_MS: '100',
        ...(process.env.REKEY_TEST_REDIS_URL ? { REKEY_REDIS_URL: process.env.REKEY_TEST_REDIS_URL } : {}),
      });
    });
    afterAll(async () => {
      await nodes?.close();
      await sink?.stop();
      await store?.close();
    });

    test('kill -9 of one node during 1 000 triggers: after its restart every message is delivered once, duplicates at most what it had claimed', async () => {
      const key = await nodes.cli(['keys', 'create', '--name', 'scale']);
      const [a, b] = await Promise.all([nodes.start(), nodes.start()]);
      const live: Node[] = [a, b];
      let claimedAtDeath = -1;

      const killA = async () => {
        // The sink answers no mail for a moment, so node A holds claims in flight when it dies (it may have handed
        // some of those mails over already: they count as received, as a real server would have them).
        sink.hold();
        try {
          for (;;) {
            const held = await claimedBy(store, a.dispatcher);
            if (held > 0) break;
            await new Promise((resolve) => setTimeout(resolve, 10));
          }
          await a.kill();
          live.splice(live.indexOf(a), 1);
          // What it had claimed and not settled: its rows stay leased to it until their lease runs out.
          claimedAtDeath = await claimedBy(store, a.dispatcher);
        } finally {
          sink.release();
        }
      };

      await fireTriggers({ count: TRIGGERS, concurrency: 16, key, live, body: triggerBody, onAnswered: (n) => (n === 400 ? killA() : undefined) });
      expect(claimedAtDeath).toBeGreaterThan(0);

      const restarted = await nodes.start();
      live.push(restarted);
      await settled(store, 120_000);

      const received = new Map<string, number>();
      for (const mail of sink.messages) received.set(mail.to, (received.get(mail.to) ?? 0) + 1);
      const duplicates = sink.messages.length - received.size;
      console.log(`kill -9 during ${TRIGGERS} triggers: ${claimedAtDeath} claimed by the killed node, ${duplicates} duplicate(s) delivered`);

      expect(received.size).toBe(TRIGGERS);
      for (let i = 0; i < TRIGGERS; i++) expect(received.has(`user${i}@scale.example.test`), `user${i}`).toBe(true);
      expect(duplicates).toBeLessThanOrEqual(claimedAtDeath);
      const outbox = await store.db
        .selectFrom('outbox')
        .select(['status', (eb) => eb.fn.countAll<string>().as('n')])
        .groupBy('status')
        .execute();
      expect(Object.fromEntries(outbox.map((row) => [row.status, Number(row.n)]))).toEqual({ sent: TRIGGERS });

      await Promise.all(live.map((node) => node.stop()));
    });
  });
}

async function claimedBy(store: TestStore, owner: string): Promise<number> {
  const row = await store.db
    .selectFrom('outbox')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('lease_owner', '=', owner)
    .where('status', '=', 'pending')
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
