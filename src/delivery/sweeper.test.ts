import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { defineJob } from '../platform/module.ts';
import { manualClock, type ManualClock } from '../platform/clock.ts';
import { createIds } from '../platform/ids.ts';
import { createLogger } from '../platform/logger.ts';
import { STORES, type TestStore } from '../store/testing.ts';
import { createDispatcher, type Dispatcher } from './dispatcher.ts';
import { enqueue } from './outbox.ts';
import { createSweeper } from './sweeper.ts';

const ids = createIds();
const DAY = 86_400_000;
const SEALED_LIFETIME = 30 * 60_000;

for (const factory of STORES) {
  describe(`${factory.name}: outbox sweeper`, () => {
    let store: TestStore;
    let clock: ManualClock;
    let dispatcher: Dispatcher;
    let wiped: number[];

    beforeEach(async () => {
      store = await factory.open();
      clock = manualClock(Date.UTC(2026, 0, 1));
      wiped = [];
      dispatcher = createDispatcher({
        db: store.db,
        dialect: store.dialect,
        clock,
        ids,
        logger: createLogger('silent'),
        jobs: {
          ok: defineJob(z.unknown(), async () => {}),
          broken: defineJob(z.unknown(), async () => Promise.reject(new Error('provider said no'))),
        },
        maxAttempts: 1,
        backoffMs: 1000,
        intervalMs: 10,
        sweep: {
          retentionMs: 7 * DAY,
          sealedLifetimeMs: SEALED_LIFETIME,
          steps: { 'other.step': async (now) => wiped.push(now) && 0 },
        },
      });
    });
    afterEach(async () => {
      await dispatcher.stop();
      await store.close();
    });

    const put = (kind: string, payload: unknown) => enqueue(store.db, { clock, ids }, { kind, payload });
    const rows = () => store.db.selectFrom('outbox').selectAll().orderBy('id').execute();

    it('SEC-08 deletes sent and dead rows (address, IP, user agent) once past retention, and nothing younger', async () => {
      const sent = await put('ok', { to: 'ada@example.com', data: { ip_address: '203.0.113.9', user_agent: 'Agent/1' } });
      const dead = await put('broken', { to: 'bob@example.com', data: { ip_address: '203.0.113.10' } });
      await dispatcher.drain();
      expect((await rows()).map((r) => [r.id, r.status])).toEqual([
        [sent, 'sent'],
        [dead, 'dead'],
      ]);
      clock.advance(DAY);
      const younger = await put('ok', { to: 'cy@example.com' });
      await dispatcher.drain();

      clock.advance(6 * DAY - 1);
      expect(await dispatcher.sweep()).toMatchObject({ 'outbox.settled_deleted': 0 });
      expect(await rows()).toHaveLength(3);

      clock.advance(2);
      expect(await dispatcher.sweep()).toMatchObject({ 'outbox.settled_deleted': 2, 'other.step': 0 });
      expect((await rows()).map((r) => r.id)).toEqual([younger]);
      expect(wiped).toEqual([clock.now() - 2, clock.now()]);

      clock.advance(DAY);
      await dispatcher.sweep();
      expect(await rows()).toEqual([]);
    });

    it('SEC-08 dead-letters a pending row whose sealed secret outlived its use, keeping the rest of it', async () => {
      const stale = await put('ok', { to: 'ada@example.com', sealed: { link: 'SEALED-LINK' } });
      const notice = await put('ok', { to: 'ada@example.com', data: { changed_at: 'then' } });
      clock.advance(SEALED_LIFETIME - 1);
      const fresh = await put('ok', { to: 'bob@example.com', sealed: { code: 'SEALED-CODE' } });
      expect(await dispatcher.sweep()).toMatchObject({ 'outbox.sealed_expired': 0 });

      clock.advance(1);
      expect(await dispatcher.sweep()).toMatchObject({ 'outbox.sealed_expired': 1 });
      const byId = new Map((await rows()).map((r) => [r.id, r]));
      expect(byId.get(stale)).toMatchObject({ status: 'dead', last_error: 'expired before delivery', lease_owner: null });
      expect(JSON.parse(byId.get(stale)!.payload)).toEqual({ to: 'ada@example.com' });
      // No secret inside: a late notice is still worth sending.
      expect(byId.get(notice)).toMatchObject({ status: 'pending' });
      expect(byId.get(fresh)).toMatchObject({ status: 'pending' });
      expect(JSON.parse(byId.get(fresh)!.payload).sealed).toEqual({ code: 'SEALED-CODE' });
      const dump = JSON.stringify(await rows());
      expect(dump).not.toContain('SEALED-LINK');
    });

    it('SEC-08 wipes the sealed part of a dead row once it has outlived its use, and keeps it until then for a retry', async () => {
      const id = await put('ok', { to: 'ada@example.com', sealed: { link: 'SEALED-LINK' } });
      await store.db.updateTable('outbox').set({ status: 'dead', last_error: 'connection refused' }).where('id', '=', id).execute();
      clock.advance(SEALED_LIFETIME - 1);
      expect(await dispatcher.sweep()).toMatchObject({ 'outbox.dead_sealed_wiped': 0 });
      expect(JSON.parse((await rows())[0]!.payload).sealed).toEqual({ link: 'SEALED-LINK' });
      clock.advance(1);
      expect(await dispatcher.sweep()).toMatchObject({ 'outbox.dead_sealed_wiped': 1 });
      const [row] = await rows();
      expect(row).toMatchObject({ status: 'dead', last_error: 'connection refused' });
      expect(JSON.parse(row!.payload)).toEqual({ to: 'ada@example.com' });
    });

    it('leaves a row a dispatcher is sending to that dispatcher', async () => {
      const id = await put('ok', { to: 'ada@example.com', sealed: { link: 'SEALED-LINK' } });
      clock.advance(SEALED_LIFETIME);
      await store.db
        .updateTable('outbox')
        .set({ lease_owner: 'dsp_other', lease_until: clock.now() + 60_000 })
        .where('id', '=', id)
        .execute();
      expect(await dispatcher.sweep()).toMatchObject({ 'outbox.sealed_expired': 0 });
      expect((await rows())[0]).toMatchObject({ status: 'pending', lease_owner: 'dsp_other' });
    });

    it('deletes a long backlog in bounded statements', async () => {
      const sweeper = createSweeper({
        db: store.db,
        dialect: store.dialect,
        clock,
        logger: createLogger('silent'),
        retentionMs: DAY,
        sealedLifetimeMs: DAY,
        batchSize: 3,
      });
      for (let i = 0; i < 8; i++) await put('ok', { n: i });
      await dispatcher.drain();
      clock.advance(2 * DAY);
      expect(await sweeper.sweep()).toMatchObject({ 'outbox.settled_deleted': 8 });
      expect(await rows()).toEqual([]);
    });
  });
}

describe('sweeper timer', () => {
  afterEach(() => vi.useRealTimers());

  it('sweeps when the dispatcher starts and every interval after, and stops with it', async () => {
    const store = await STORES[0]!.open();
    const sweeps: number[] = [];
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const clock = manualClock(Date.UTC(2026, 0, 1));
      const dispatcher = createDispatcher({
        db: store.db,
        dialect: store.dialect,
        clock,
        ids,
        logger: createLogger('silent'),
        jobs: {},
        maxAttempts: 1,
        backoffMs: 1000,
        intervalMs: 60_000,
        sweep: { retentionMs: DAY, sealedLifetimeMs: DAY, intervalMs: 1000, steps: { count: async (now) => sweeps.push(now) && 0 } },
      });
      dispatcher.start();
      await vi.advanceTimersByTimeAsync(0);
      expect(sweeps).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(1000);
      expect(sweeps).toHaveLength(2);
      await dispatcher.stop();
      expect(vi.getTimerCount()).toBe(0);
      await vi.advanceTimersByTimeAsync(5000);
      expect(sweeps).toHaveLength(2);
    } finally {
      vi.useRealTimers();
      await store.close();
    }
  });
});
