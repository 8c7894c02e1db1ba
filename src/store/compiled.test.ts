import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OutboxTable } from '../delivery/index.ts';
import { compiled, writeAllIf, writeTogether, writeTogetherIf } from './compiled.ts';
import { checkWriteGroups } from './write-groups.ts';
import { STORES, type TestStore } from './testing.ts';

type Row = OutboxTable;

const row = (id: string, overrides: Partial<Row> = {}): Row => ({
  id,
  kind: 'email',
  payload: '{}',
  idempotency_key: id,
  status: 'pending',
  attempts: 0,
  next_attempt_at: 1,
  lease_until: null,
  lease_owner: null,
  last_error: null,
  created_at: 1,
  sent_at: null,
  ...overrides,
});

const insert = compiled<Row>((db, p) =>
  db
    .insertInto('outbox')
    .values(p)
    .onConflict((oc) => oc.column('idempotency_key').doNothing()),
);
/** Counts a second insert of one key in `attempts`. */
const upsert = compiled<Row>((db, p) =>
  db
    .insertInto('outbox')
    .values(p)
    .onConflict((oc) => oc.column('idempotency_key').doUpdateSet((eb) => ({ attempts: eb('outbox.attempts', '+', 1) }))),
);
const byKey = compiled<{ key: string }, Row>((db, p) => db.selectFrom('outbox').selectAll().where('idempotency_key', '=', p.key));
const byId = compiled<{ id: string }, Row>((db, p) => db.selectFrom('outbox').selectAll().where('id', '=', p.id));
const markSent = compiled<{ id: string; at: number }>((db, p) =>
  db.updateTable('outbox').set({ status: 'sent', sent_at: p.at }).where('id', '=', p.id).where('status', '=', 'pending'),
);
const claimPending = compiled<{ id: string }, { id: string; status: string }>((db, p) =>
  db.updateTable('outbox').set({ status: 'dead' }).where('id', '=', p.id).where('status', '=', 'pending').returning(['id', 'status']),
);

// Unchecked (as in production), SQLite's group commit runs on the driver itself rather than through Kysely.
for (const [factory, checked] of STORES.flatMap((f) => (f.name === 'sqlite' ? [[f, true] as const, [f, false] as const] : [[f, true] as const]))) {
  describe(`${factory.name}: compiled statements${checked ? '' : ', write groups unchecked'}`, () => {
    let store: TestStore;
    beforeAll(async () => {
      checkWriteGroups(checked);
      store = await factory.open();
    });
    afterAll(async () => {
      checkWriteGroups(true);
      await store.close();
    });

    it('run again and again with new values, constants kept as written', async () => {
      await insert.execute(store.db, row('a', { created_at: 10 }));
      await insert.execute(store.db, row('b', { created_at: 20 }));
      expect((await byId.first(store.db, { id: 'b' }))?.created_at).toBe(20);
      expect((await markSent.execute(store.db, { id: 'a', at: 5 })).numAffectedRows).toBe(1n);
      // `status = 'pending'` is part of the statement: a second call changes nothing.
      expect((await markSent.execute(store.db, { id: 'a', at: 6 })).numAffectedRows).toBe(0n);
      expect(await byId.first(store.db, { id: 'a' })).toMatchObject({ status: 'sent', sent_at: 5 });
      expect(await byId.first(store.db, { id: 'nobody' })).toBeUndefined();
    });

    it('refuse an input that is missing instead of binding NULL', async () => {
      await expect(byId.first(store.db, {} as { id: string })).rejects.toThrow(/no value for "id"/);
    });

    it('writeTogether commits every write, in one statement on PostgreSQL', async () => {
      await writeTogether(store.db, [insert.bind(row('c')), markSent.bind({ id: 'b', at: 7 }), insert.bind(row('d'))]);
      expect(await byId.first(store.db, { id: 'c' })).toBeDefined();
      expect(await byId.first(store.db, { id: 'd' })).toBeDefined();
      expect((await byId.first(store.db, { id: 'b' }))?.sent_at).toBe(7);
    });

    it('writeTogether commits nothing when one write fails', async () => {
      // `id` is the primary key: the second write collides with row c, so the first must not stay either.
      const failing = writeTogether(store.db, [insert.bind(row('e')), insert.bind(row('c', { idempotency_key: 'other' }))]);
      await expect(failing).rejects.toThrow();
      expect(await byId.first(store.db, { id: 'e' })).toBeUndefined();
    });

    it('writeTogether callers of the same moment all commit, and a failing one fails alone', async () => {
      const ids = Array.from({ length: 10 }, (_, i) => `group-${i}`);
      const results = await Promise.allSettled([
        ...ids.map((id) => writeTogether(store.db, [insert.bind(row(id)), insert.bind(row(`${id}-b`))])),
        // The same statements as the others (so on PostgreSQL it shares their statement), but it collides with row c's primary key.
        writeTogether(store.db, [insert.bind(row('c', { idempotency_key: 'collides' })), insert.bind(row('c-fails'))]),
      ]);
      expect(results.map((r) => r.status)).toEqual([...ids.map(() => 'fulfilled'), 'rejected']);
      for (const id of ids.flatMap((id) => [id, `${id}-b`])) expect(await byId.first(store.db, { id })).toBeDefined();
      expect(await byId.first(store.db, { id: 'c-fails' })).toBeUndefined();
    });

    it('writeTogether callers of one moment inserting one key: the first row stays, the second does nothing', async () => {
      const results = await Promise.allSettled(['same-1', 'same-2'].map((id) => writeTogether(store.db, [insert.bind(row(id, { idempotency_key: 'same' }))])));
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
      expect(await byKey.rows(store.db, { key: 'same' })).toHaveLength(1);
    });

    it('writeTogether callers of one moment upserting one row: each change counts, as one after the other', async () => {
      // On PostgreSQL one statement may not change a row twice: their shared statement fails and each runs alone.
      const results = await Promise.allSettled(
        ['counted-1', 'counted-2', 'counted-3'].map((id) =>
          writeTogether(store.db, [upsert.bind(row(id, { idempotency_key: 'counted' })), insert.bind(row(`${id}-x`))]),
        ),
      );
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
      expect(await byKey.rows(store.db, { key: 'counted' })).toEqual([expect.objectContaining({ attempts: 2 })]);
      for (const id of ['counted-1-x', 'counted-2-x', 'counted-3-x']) expect(await byId.first(store.db, { id })).toBeDefined();
    });

    it('writeTogetherIf writes only when its guard changes a row, and returns that row', async () => {
      await insert.execute(store.db, row('guarded'));
      const first = await writeTogetherIf(store.db, claimPending.bind({ id: 'guarded' }), [insert.bind(row('guarded-1'))]);
      expect(first).toEqual({ id: 'guarded', status: 'dead' });
      // The guard's row is no longer pending: the second call changes nothing and writes nothing.
      const second = await writeTogetherIf(store.db, claimPending.bind({ id: 'guarded' }), [insert.bind(row('guarded-2'))]);
      expect(second).toBeUndefined();
      expect(await byId.first(store.db, { id: 'guarded-1' })).toBeDefined();
      expect(await byId.first(store.db, { id: 'guarded-2' })).toBeUndefined();
    });

    it('writeTogetherIf with conditions writes only when each of them finds a row, as the rows were before it', async () => {
      for (const id of ['conditioned', 'condition-present']) await insert.execute(store.db, row(id));
      const present = byId.bind({ id: 'condition-present' });
      const missing = byId.bind({ id: 'condition-missing' });
      // A condition that finds nothing: no guard change, no write, undefined.
      expect(
        await writeTogetherIf(store.db, claimPending.bind({ id: 'conditioned' }), [insert.bind(row('conditioned-1'))], [present, missing]),
      ).toBeUndefined();
      expect(await byId.first(store.db, { id: 'conditioned' })).toMatchObject({ status: 'pending' });
      expect(await byId.first(store.db, { id: 'conditioned-1' })).toBeUndefined();
      // Every condition finds its row: the guard's row back and the writes made, even with no other write.
      expect(await writeTogetherIf(store.db, claimPending.bind({ id: 'conditioned' }), [insert.bind(row('conditioned-2'))], [present])).toEqual({
        id: 'conditioned',
        status: 'dead',
      });
      expect(await byId.first(store.db, { id: 'conditioned-2' })).toBeDefined();
      await insert.execute(store.db, row('conditioned-alone'));
      expect(await writeTogetherIf(store.db, claimPending.bind({ id: 'conditioned-alone' }), [], [missing])).toBeUndefined();
      expect(await writeTogetherIf(store.db, claimPending.bind({ id: 'conditioned-alone' }), [], [present])).toMatchObject({ status: 'dead' });
    });

    it('writeTogetherIf lets one of many racing callers win', async () => {
      await insert.execute(store.db, row('raced'));
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => writeTogetherIf(store.db, claimPending.bind({ id: 'raced' }), [insert.bind(row(`raced-${i}`))])),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      const written = await Promise.all(Array.from({ length: 10 }, (_, i) => byId.first(store.db, { id: `raced-${i}` })));
      expect(written.filter(Boolean)).toHaveLength(1);
    });

    it('writeAllIf writes every group when every guard changes a row, and nothing when one does not', async () => {
      for (const id of ['all-a', 'all-b', 'all-c']) await insert.execute(store.db, row(id));
      const group = (id: string) => ({ guard: claimPending.bind({ id }), writes: [insert.bind(row(`${id}-mail`))] });
      expect(await writeAllIf(store.db, [group('all-a'), group('all-b')])).toBe(true);
      expect(await byId.first(store.db, { id: 'all-a-mail' })).toBeDefined();
      expect(await byId.first(store.db, { id: 'all-b-mail' })).toBeDefined();
      // all-a is no longer pending: its guard changes nothing, so all-c's group is not written either.
      expect(await writeAllIf(store.db, [group('all-c'), { guard: claimPending.bind({ id: 'all-a' }), writes: [] }])).toBe(false);
      expect(await byId.first(store.db, { id: 'all-c-mail' })).toBeUndefined();
      expect(await byId.first(store.db, { id: 'all-c' })).toMatchObject({ status: 'pending' });
    });

    it('writeTogether waits for a transaction in flight and stays out of it', async () => {
      let release!: () => void;
      let entered!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      const inside = new Promise<void>((resolve) => (entered = resolve));
      const transaction = store.db.transaction().execute(async (trx) => {
        await insert.execute(trx, row('in-flight'));
        entered();
        await held;
        throw new Error('roll back');
      });
      await inside;
      const outside = writeTogether(store.db, [insert.bind(row('outside'))]);
      release();
      await expect(transaction).rejects.toThrow('roll back');
      await outside;
      expect(await byId.first(store.db, { id: 'outside' })).toBeDefined();
      expect(await byId.first(store.db, { id: 'in-flight' })).toBeUndefined();
    });

    it('writeTogether joins the transaction it is given', async () => {
      await expect(
        store.db.transaction().execute(async (trx) => {
          await writeTogether(trx, [insert.bind(row('f')), insert.bind(row('g'))]);
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      expect(await byId.first(store.db, { id: 'f' })).toBeUndefined();
    });
  });
}

describe('a group commit when the store closes first', () => {
  for (const checked of [true, false]) {
    it(`fails its callers instead of the process (write groups ${checked ? 'checked' : 'unchecked'})`, async () => {
      checkWriteGroups(checked);
      const store = await STORES.find((f) => f.name === 'sqlite')!.open();
      try {
        // Queued for the group that commits on the next turn of the event loop, after the store is gone.
        const pending = writeTogether(store.db, [insert.bind(row('late'))]);
        await store.close();
        await expect(pending).rejects.toThrow('destroyed');
      } finally {
        checkWriteGroups(true);
      }
    });
  }
});
