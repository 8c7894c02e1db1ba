import type { TestStore } from '../../src/store/testing.ts';
import type { Node } from './nodes.ts';

/** The Novu password-reset snippet's trigger, to its own subscriber and address; `transactionId` makes a retry safe. */
export const triggerBody = (i: number) => ({
  name: 'password-reset',
  to: { subscriberId: `user-${i}`, email: `user${i}@scale.example.test`, firstName: 'Ada' },
  payload: { firstName: 'Ada', resetUrl: `https://app.example.test/reset?n=${i}`, expiresInMinutes: 30 },
  transactionId: `scale-${i}`,
});

export interface FireOptions {
  count: number;
  concurrency: number;
  key: string;
  /** The nodes taking triggers; a node removed from it (killed) gets no more. */
  live: Node[];
  body: (i: number) => unknown;
  /** Called with the number of triggers answered so far; the firing waits for what it returns. */
  onAnswered?: (answered: number) => Promise<void> | undefined;
}

/**
 * Sends every trigger, spread over the live nodes. A trigger whose node dies under it is sent again, with the same
 * transactionId, to another node: it may have committed before the answer was lost, and the repeat then writes nothing.
 */
export async function fireTriggers(opts: FireOptions): Promise<void> {
  let next = 0;
  let answered = 0;
  const send = async (i: number, attempt: number): Promise<void> => {
    const node = opts.live[(i + attempt) % opts.live.length]!;
    let status: number;
    try {
      const response = await fetch(`${node.url}/v1/events/trigger`, {
        method: 'POST',
        headers: { authorization: `ApiKey ${opts.key}`, 'content-type': 'application/json' },
        body: JSON.stringify(opts.body(i)),
      });
      status = response.status;
      await response.text();
    } catch (error) {
      if (attempt >= 5) throw error;
      return send(i, attempt + 1);
    }
    if (status !== 201) throw new Error(`trigger ${i} answered ${status}`);
  };
  await Promise.all(
    Array.from({ length: opts.concurrency }, async () => {
      while (next < opts.count) {
        await send(next++, 0);
        await opts.onAnswered?.(++answered);
      }
    }),
  );
}

/** Waits until the outbox holds `expected` rows and none is pending (every step sent, dead or skipped). */
export async function settled(store: TestStore, timeoutMs: number, expected?: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await store.db
      .selectFrom('outbox')
      .select(['status', (eb) => eb.fn.countAll<string>().as('n')])
      .groupBy('status')
      .execute();
    const by = Object.fromEntries(rows.map((row) => [row.status, Number(row.n)]));
    const total = rows.reduce((sum, row) => sum + Number(row.n), 0);
    if (!by.pending && (expected === undefined || total >= expected)) return;
    if (Date.now() > deadline) throw new Error(`outbox not settled after ${timeoutMs} ms: ${JSON.stringify(by)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
