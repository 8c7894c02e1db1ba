import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { manualClock, type ManualClock } from '../platform/clock.ts';
import { createIds } from '../platform/ids.ts';
import { defineJob, type JobRow } from '../platform/module.ts';
import { createLogger } from '../platform/logger.ts';
import { createTokens } from '../platform/tokens.ts';
import { connect } from '../store/connect.ts';
import { STORES, type TestStore } from '../store/testing.ts';
import { createDevMailboxChannel, listDevMailbox } from './channels/dev-mailbox.ts';
import type { BoundWrite } from '../store/compiled.ts';
import { createDispatcher, PermanentDeliveryError, scrubError, type DispatcherOptions } from './dispatcher.ts';
import { enqueue } from './outbox.ts';

/** A handler that takes any payload, as the dispatcher's own tests need. */
type AnyHandler = (payload: unknown, row: JobRow) => Promise<void | BoundWrite[]>;
const anyPayload = (handlers: Record<string, AnyHandler>) =>
  Object.fromEntries(Object.entries(handlers).map(([kind, handler]) => [kind, defineJob(z.unknown(), handler)]));

const ids = createIds();
const tokens = createTokens('a-test-secret-that-is-long-enough-to-use');
const BACKOFF = 1000;

for (const factory of STORES) {
  describe(`${factory.name}: dispatcher`, () => {
    let store: TestStore;
    let clock: ManualClock;
    let logLines: string[];

    beforeEach(async () => {
      store = await factory.open();
      clock = manualClock(Date.UTC(2025, 0, 1));
      logLines = [];
    });
    afterEach(() => store.close());

    const dispatcher = (handlers: Record<string, AnyHandler>, overrides: Partial<DispatcherOptions> = {}) =>
      createDispatcher({
        db: store.db,
        dialect: store.dialect,
        clock,
        ids,
        logger: createLogger('debug', { write: (line: string) => void logLines.push(line) }),
        jobs: anyPayload(handlers),
        maxAttempts: 5,
        backoffMs: BACKOFF,
        intervalMs: 10,
        random: () => 0.5, // jitter factor exactly 1, so the schedule is predictable
        ...overrides,
      });
    const put = (payload: unknown, kind = 'test', idempotencyKey?: string) =>
      enqueue(store.db, { clock, ids }, { kind, payload, ...(idempotencyKey ? { idempotencyKey } : {}) });
    const row = (id: string) => store.db.selectFrom('outbox').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

    it('sends a due row once, then wipes its sealed values from the log', async () => {
      const sent: unknown[] = [];
      const d = dispatcher({ test: async (payload) => void sent.push(payload) });
      const id = await put({ to: 'ada@example.com', sealed: { link: 'SEALED-LINK' } });

      expect(await d.runOnce()).toBe(1);
      expect(await d.runOnce()).toBe(0);
      expect(sent).toEqual([{ to: 'ada@example.com', sealed: { link: 'SEALED-LINK' } }]);
      const after = await row(id);
      expect(after).toMatchObject({ status: 'sent', sent_at: clock.now(), lease_until: null, lease_owner: null, attempts: 0 });
      expect(JSON.parse(after.payload)).toEqual({ to: 'ada@example.com' });
      expect(await d.stats()).toEqual({ pending: 0, sent: 1, dead: 0 });
    });

    it('retries with exponential backoff and keeps tokens out of last_error', async () => {
      const secret = tokens.newLinkToken();
      let calls = 0;
      const d = dispatcher({
        test: async () => {
          if (++calls <= 2) throw new Error(`451 try later (https://rekey.test/reset/verify?token=${secret}, code 12345678)`);
        },
      });
      const id = await put({ to: 'ada@example.com' });
      const start = clock.now();

      expect(await d.runOnce()).toBe(1);
      let state = await row(id);
      expect(state).toMatchObject({ status: 'pending', attempts: 1, next_attempt_at: start + BACKOFF, lease_until: null });
      expect(state.last_error).toContain('451 try later');
      expect(state.last_error).not.toContain(secret);
      expect(state.last_error).not.toContain('12345678');

      clock.advance(BACKOFF - 1);
      expect(await d.runOnce()).toBe(0);
      clock.advance(1);
      expect(await d.runOnce()).toBe(1);
      state = await row(id);
      expect(state).toMatchObject({ status: 'pending', attempts: 2, next_attempt_at: clock.now() + 2 * BACKOFF });

      clock.advance(2 * BACKOFF);
      expect(await d.runOnce()).toBe(1);
      expect(await row(id)).toMatchObject({ status: 'sent', attempts: 2 });
      expect(calls).toBe(3);
      expect(logLines.join('')).not.toContain(secret);
    });

    it('dead-letters after maxAttempts, keeps its sealed values for a retry (the sweeper wipes them) and logs id and kind only', async () => {
      const d = dispatcher({ test: async () => Promise.reject(new Error('connection refused')) }, { maxAttempts: 3 });
      const id = await put({ to: 'grace@example.com', sealed: { link: 'SEALED-LINK' } });

      for (let attempt = 1; attempt <= 3; attempt++) {
        expect(await d.runOnce()).toBe(1);
        clock.advance(10 * BACKOFF * 2 ** attempt);
      }
      expect(await d.runOnce()).toBe(0);
      const dead = await row(id);
      expect(dead).toMatchObject({ status: 'dead', attempts: 3, last_error: 'connection refused', lease_until: null });
      expect(JSON.parse(dead.payload)).toEqual({ to: 'grace@example.com', sealed: { link: 'SEALED-LINK' } });
      expect(await d.stats()).toEqual({ pending: 0, sent: 0, dead: 1 });

      const deadLine = logLines.map((line) => JSON.parse(line)).find((entry) => entry.msg === 'delivery.dead_lettered');
      expect(deadLine).toMatchObject({ level: 40, id, kind: 'test' });
      expect(logLines.join('')).not.toContain('grace@example.com');
      expect(logLines.join('')).not.toContain('SEALED-LINK');
    });

    it('dead-letters a permanent failure and an unknown kind at once', async () => {
      const d = dispatcher({ test: async () => Promise.reject(new PermanentDeliveryError('template missing')) });
      const permanent = await put({ to: 'a@example.com', sealed: { code: 'SEALED' } });
      const unknown = await put({ to: 'b@example.com', sealed: { code: 'SEALED' } }, 'carrier-pigeon');

      expect(await d.runOnce()).toBe(2);
      expect(await row(permanent)).toMatchObject({ status: 'dead', attempts: 1, last_error: 'template missing' });
      const orphan = await row(unknown);
      expect(orphan).toMatchObject({ status: 'dead', last_error: 'no handler' });
    });

    it('sends once when the same message is enqueued twice with one idempotency key', async () => {
      let calls = 0;
      const d = dispatcher({ test: async () => void calls++ });
      await put({ to: 'ada@example.com' }, 'test', 'reset:42:notice');
      await put({ to: 'ada@example.com' }, 'test', 'reset:42:notice');

      await d.drain();
      clock.advance(60_000);
      await d.drain();
      expect(calls).toBe(1);
      expect(await d.stats()).toEqual({ pending: 0, sent: 1, dead: 0 });
    });

    it('drains however slow the machine is; only a drain given a timeout reads the wall clock', async () => {
      vi.useFakeTimers({ toFake: ['performance'] });
      try {
        // A send that takes a minute of wall time, one row a round: three minutes for the queue.
        const d = dispatcher({ test: async () => void vi.advanceTimersByTime(60_000) }, { batchSize: 1 });
        for (let i = 0; i < 3; i++) await put({ n: i });
        await d.drain();
        expect(await d.stats()).toEqual({ pending: 0, sent: 3, dead: 0 });

        for (let i = 0; i < 3; i++) await put({ n: i });
        await expect(d.drain(90_000)).rejects.toThrow('delivery drain did not finish within 90000 ms');
      } finally {
        vi.useRealTimers();
      }
    });

    it('never sends a row twice when two dispatchers run at once', async () => {
      // A second connection pool, as a second process would have; on PostgreSQL this exercises SKIP LOCKED.
      const other = connect(store.url);
      try {
        const sends = new Map<string, number>();
        const handler: AnyHandler = async (_payload, { id }) => {
          sends.set(id, (sends.get(id) ?? 0) + 1);
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 3));
        };
        const first = dispatcher({ test: handler }, { batchSize: 3 });
        const second = createDispatcher({
          db: other.db,
          dialect: other.dialect,
          clock,
          ids,
          logger: createLogger('silent'),
          jobs: anyPayload({ test: handler }),
          maxAttempts: 5,
          backoffMs: BACKOFF,
          intervalMs: 10,
          batchSize: 3,
        });
        const rowIds: string[] = [];
        for (let i = 0; i < 40; i++) rowIds.push(await put({ n: i }));

        await Promise.all([first.drain(), second.drain(), first.drain(), second.drain()]);
        expect([...sends.keys()].sort()).toEqual([...rowIds].sort());
        expect([...sends.values()].every((count) => count === 1)).toBe(true);
        expect(await first.stats()).toEqual({ pending: 0, sent: 40, dead: 0 });
      } finally {
        await other.close();
      }
    });

    it('leaves a leased row alone until its lease expires', async () => {
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let started!: () => void;
      const running = new Promise<void>((resolve) => (started = resolve));
      const slow = dispatcher({ test: async () => (started(), held) }, { leaseMs: 30_000 });
      let takeovers = 0;
      const fast = dispatcher({ test: async () => void takeovers++ }, { leaseMs: 30_000 });
      const id = await put({ to: 'ada@example.com' });

      const inFlight = slow.runOnce();
      await running;
      expect(await fast.runOnce()).toBe(0);
      clock.advance(30_001);
      expect(await fast.runOnce()).toBe(1);
      release();
      await inFlight;
      expect(takeovers).toBe(1);
      expect(await row(id)).toMatchObject({ status: 'sent', lease_owner: null });
      expect(logLines.some((line) => line.includes('delivery.lease_lost'))).toBe(true);
    });

    it('commits a delivery into the store with the sent mark, and not at all once the lease is lost', async () => {
      const channel = createDevMailboxChannel({ db: store.db, clock, ids });
      const mail = (subject: string) => channel.write!({ to: 'lease@example.com', from: 'Rekey <no-reply@rekey.test>', subject, text: 't', html: 'h' });
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let started!: () => void;
      const running = new Promise<void>((resolve) => (started = resolve));
      const slow = dispatcher({ test: async () => (started(), await held, [mail('from the dispatcher that lost its lease')]) }, { leaseMs: 30_000 });
      const fast = dispatcher({ test: async () => [mail('from the dispatcher that took over')] }, { leaseMs: 30_000 });
      const id = await put({ to: 'lease@example.com' });

      const inFlight = slow.runOnce();
      await running;
      clock.advance(30_001);
      expect(await fast.runOnce()).toBe(1);
      release();
      await inFlight;
      const delivered = await listDevMailbox(store.db, { limit: 10, to: 'lease@example.com' });
      expect(delivered.map((m) => m.subject)).toEqual(['from the dispatcher that took over']);
      expect(await row(id)).toMatchObject({ status: 'sent', lease_owner: null });
    });

    it('runs in the background and stop() waits for the work in flight', async () => {
      let finished = 0;
      const d = dispatcher({ test: async () => void (await new Promise((r) => setTimeout(r, 20)), finished++) });
      await put({ n: 1 });
      d.start();
      for (let i = 0; i < 200 && (await d.stats()).pending > 0 && finished === 0; i++) await new Promise((r) => setTimeout(r, 5));
      await d.stop();
      expect(finished).toBe(1);
      expect(await d.stats()).toMatchObject({ pending: 0, sent: 1 });
    });

    it('delivers a row committed on this node at once when woken, without waiting for the next poll', async () => {
      let delivered!: (payload: unknown) => void;
      const arrived = new Promise<unknown>((resolve) => (delivered = resolve));
      // An hour between polls: only the wake can explain a delivery within the test's time.
      const d = dispatcher({ test: async (payload) => delivered(payload) }, { intervalMs: 3_600_000 });
      d.start();
      try {
        await d.runOnce(); // the start's round is over: the queue was empty, the next poll is an hour away
        await put({ n: 'woken' });
        d.wake();
        d.wake(); // a burst of commits makes one round
        expect(await arrived).toEqual({ n: 'woken' });
      } finally {
        await d.stop();
      }
      expect(await d.stats()).toMatchObject({ pending: 0, sent: 1 });
    });

    it('keeps several rounds in flight while rows keep coming due, and sends each row once', async () => {
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      const sends = new Map<string, number>();
      let waiting = 0;
      let sixWaiting!: () => void;
      const overlapped = new Promise<void>((resolve) => (sixWaiting = resolve));
      const d = dispatcher(
        {
          test: async (_payload, { id }) => {
            sends.set(id, (sends.get(id) ?? 0) + 1);
            if (++waiting === 6) sixWaiting();
            await held;
          },
        },
        { batchSize: 2, concurrency: 3, intervalMs: 3_600_000 },
      );
      for (let i = 0; i < 10; i++) await put({ n: i });
      d.start();
      try {
        // Three rounds of two, all sending at once: a round does not wait for the one before it to finish.
        await overlapped;
        expect(waiting).toBe(6);
        release();
        for (let i = 0; i < 1000 && (await d.stats()).sent < 10; i++) await new Promise((r) => setImmediate(r));
      } finally {
        await d.stop();
      }
      expect(sends.size).toBe(10);
      expect([...sends.values()].every((count) => count === 1)).toBe(true);
      expect(await d.stats()).toEqual({ pending: 0, sent: 10, dead: 0 });
    });

    it('dead-letters a payload its kind refuses, naming the fields at fault and none of their values', async () => {
      const seen: unknown[] = [];
      const typed = defineJob(z.object({ to: z.email(), count: z.number() }), async (payload) => void seen.push(payload));
      const d = dispatcher({}, { jobs: { typed } });
      const bad = await put({ to: 'not-an-address', count: 'ada@example.com' }, 'typed');
      const good = await put({ to: 'ada@example.com', count: 2, extra: true }, 'typed');

      await d.drain();
      expect(await row(bad)).toMatchObject({ status: 'dead', attempts: 1, last_error: 'malformed typed payload: to (invalid_format), count (invalid_type)' });
      expect(await row(good)).toMatchObject({ status: 'sent' });
      // The handler sees only the parsed payload.
      expect(seen).toEqual([{ to: 'ada@example.com', count: 2 }]);
      expect(logLines.join('')).not.toContain('not-an-address');
    });

    it('a job carrying a sealed value: the sent row no longer holds it, and a seal that does not open is dead at once', async () => {
      const token = tokens.newLinkToken();
      const link = `https://rekey.test/reset/verify?token=${token}`;
      const channel = createDevMailboxChannel({ db: store.db, clock, ids });
      const sealedJob = defineJob(z.object({ to: z.string(), sealed: z.object({ link: z.string() }) }), async (job, jobRow) => {
        const plain = tokens.unseal(job.sealed.link);
        if (plain === undefined) throw new PermanentDeliveryError('sealed value "link" cannot be unsealed');
        return [channel.write!({ to: job.to, from: 'Rekey <no-reply@rekey.test>', subject: 'Reset', text: plain, html: '', outboxId: jobRow.id })];
      });
      const d = dispatcher({}, { jobs: { sealed: sealedJob } });
      const id = await put({ to: 'ada@example.com', sealed: { link: tokens.seal(link) } }, 'sealed');
      const broken = await put({ to: 'bob@example.com', sealed: { link: 'not-a-sealed-value' } }, 'sealed');

      await d.drain();
      const [mail, ...rest] = await listDevMailbox(store.db, { limit: 10 });
      expect(rest).toEqual([]);
      expect(mail).toMatchObject({ to: 'ada@example.com', text: link });
      const sent = await row(id);
      expect(sent.status).toBe('sent');
      expect(sent.payload).not.toContain(token);
      expect(sent.payload).not.toContain('sealed');
      expect(await row(broken)).toMatchObject({ status: 'dead', attempts: 1, last_error: 'sealed value "link" cannot be unsealed' });
      expect(logLines.join('')).not.toContain(token);
    });
  });
}

describe('scrubError', () => {
  it('strips queries, opaque strings and codes but keeps the reason', () => {
    const message = scrubError(new Error('550 bad https://x.test/r?token=abc&x=1 ref aGVsbG8td29ybGQtaGVsbG8td29ybGQ code 123456'));
    expect(message).toBe('550 bad https://x.test/r?… ref [redacted] code [redacted]');
  });
});
