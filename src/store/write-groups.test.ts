import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OutboxTable } from '../delivery/index.ts';
import { compiled, writeAllIf, writeTogether, writeTogetherIf, type BoundWrite } from './compiled.ts';
import { checkWriteGroups } from './write-groups.ts';
import { STORES, type TestStore } from './testing.ts';

// One meaning for a call's writes on both stores: each write does what it would do alone on the rows as
// they were, which PostgreSQL's one statement and SQLite's writes in order agree on only when no two writes
// touch one row. SQLite refuses a call that breaks that rule.

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

const insert = compiled<Row>((db, p) => db.insertInto('outbox').values(p));
const markSent = compiled<{ id: string; at: number }>((db, p) =>
  db.updateTable('outbox').set({ status: 'sent', sent_at: p.at }).where('id', '=', p.id).where('status', '=', 'pending'),
);
const countAttempt = compiled<{ id: string }>((db, p) =>
  db
    .updateTable('outbox')
    .set((eb) => ({ attempts: eb('attempts', '+', 1) }))
    .where('id', '=', p.id),
);
/** Keyed by another column than the id, as "void every open token of this account" is. */
const giveUpOnKind = compiled<{ kind: string }>((db, p) =>
  db.updateTable('outbox').set({ status: 'dead' }).where('kind', '=', p.kind).where('status', '=', 'pending'),
);
const claim = compiled<{ id: string }, { id: string }>((db, p) =>
  db.updateTable('outbox').set({ status: 'sent' }).where('id', '=', p.id).where('status', '=', 'pending').returning(['id']),
);
const remove = compiled<{ id: string }>((db, p) => db.deleteFrom('outbox').where('id', '=', p.id));

const SEED = [row('a'), row('b'), row('c', { kind: 'sms' }), row('d', { kind: 'sms' }), row('e', { kind: 'push' })];

const rowsOf = async (store: TestStore) =>
  (await store.db.selectFrom('outbox').select(['id', 'kind', 'status', 'attempts', 'sent_at']).orderBy('id').execute()).map((r) => ({
    ...r,
    attempts: Number(r.attempts),
    sent_at: r.sent_at === null ? null : Number(r.sent_at),
  }));

const seeded = async (store: TestStore) => {
  await store.db.deleteFrom('outbox').execute();
  await store.db.insertInto('outbox').values(SEED).execute();
};

/** Calls whose writes are independent: the same rows on every store. */
const INDEPENDENT: Array<{ name: string; run: (store: TestStore) => Promise<unknown> }> = [
  {
    name: 'writeTogether: inserts, updates of other rows by id and by another key, a delete',
    run: (store) =>
      writeTogether(store.db, [
        giveUpOnKind.bind({ kind: 'sms' }),
        insert.bind(row('f', { kind: 'sms' })),
        markSent.bind({ id: 'a', at: 9 }),
        countAttempt.bind({ id: 'b' }),
        remove.bind({ id: 'e' }),
        insert.bind(row('g')),
      ]),
  },
  {
    name: 'writeTogetherIf: a guard and writes to other rows',
    run: (store) =>
      writeTogetherIf(store.db, claim.bind({ id: 'a' }), [countAttempt.bind({ id: 'b' }), giveUpOnKind.bind({ kind: 'sms' }), insert.bind(row('f'))]),
  },
  {
    name: 'writeAllIf: groups on rows of their own',
    run: (store) =>
      writeAllIf(store.db, [
        { guard: claim.bind({ id: 'a' }), writes: [insert.bind(row('f'))] },
        { guard: claim.bind({ id: 'b' }), writes: [countAttempt.bind({ id: 'c' }), giveUpOnKind.bind({ kind: 'push' })] },
      ]),
  },
];

describe('write groups: the same rows on both stores', () => {
  const stores: TestStore[] = [];
  const results = new Map<string, Record<string, unknown>>();
  beforeAll(async () => {
    for (const factory of STORES) {
      const store = await factory.open();
      stores.push(store);
      for (const { name, run } of INDEPENDENT) {
        await seeded(store);
        await run(store);
        results.set(`${factory.name}|${name}`, { rows: await rowsOf(store) });
      }
    }
  });
  afterAll(async () => {
    for (const store of stores) await store.close();
  });

  for (const { name } of INDEPENDENT) {
    it(`${name}: every store ends with the rows each write gives alone`, () => {
      const ran = STORES.map((factory) => results.get(`${factory.name}|${name}`));
      for (const other of ran.slice(1)) expect(other).toEqual(ran[0]);
      expect(ran[0]).toBeDefined();
    });
  }

  it('writeTogether of independent writes: the rows are exactly what each write does alone', () => {
    expect(results.get(`sqlite|${INDEPENDENT[0]!.name}`)).toEqual({
      rows: [
        { id: 'a', kind: 'email', status: 'sent', attempts: 0, sent_at: 9 },
        { id: 'b', kind: 'email', status: 'pending', attempts: 1, sent_at: null },
        { id: 'c', kind: 'sms', status: 'dead', attempts: 0, sent_at: null },
        { id: 'd', kind: 'sms', status: 'dead', attempts: 0, sent_at: null },
        // Not voided: the write that voids `sms` rows does not see rows written in the same call.
        { id: 'f', kind: 'sms', status: 'pending', attempts: 0, sent_at: null },
        { id: 'g', kind: 'email', status: 'pending', attempts: 0, sent_at: null },
      ],
    });
  });
});

/** Calls that break the rule: SQLite's order and PostgreSQL's one statement would not agree. */
const OVERLAPPING: Array<{ name: string; run: (store: TestStore) => Promise<unknown>; error: RegExp }> = [
  {
    name: 'an insert and an update of the new row',
    run: (store) => writeTogether(store.db, [insert.bind(row('f', { kind: 'sms' })), giveUpOnKind.bind({ kind: 'sms' })]),
    error: /both change row/,
  },
  {
    name: 'two updates of one row',
    run: (store) => writeTogether(store.db, [markSent.bind({ id: 'a', at: 9 }), countAttempt.bind({ id: 'a' })]),
    error: /both change row/,
  },
  {
    name: 'an update that takes a row out of a later write’s reach',
    run: (store) => writeTogether(store.db, [markSent.bind({ id: 'a', at: 9 }), giveUpOnKind.bind({ kind: 'email' })]),
    error: /changes other rows after the writes before it than alone/,
  },
  {
    name: 'a write to the guard’s row',
    run: (store) => writeTogetherIf(store.db, claim.bind({ id: 'a' }), [countAttempt.bind({ id: 'a' })]),
    error: /both change row/,
  },
  {
    name: 'two groups of one writeAllIf on one row',
    run: (store) =>
      writeAllIf(store.db, [
        { guard: claim.bind({ id: 'a' }), writes: [remove.bind({ id: 'b' })] },
        { guard: claim.bind({ id: 'c' }), writes: [countAttempt.bind({ id: 'b' })] },
      ]),
    error: /both change row|changes other rows/,
  },
];

for (const factory of STORES.filter((f) => f.name === 'sqlite')) {
  describe(`${factory.name}: a call whose writes share a row is refused`, () => {
    let store: TestStore;
    beforeAll(async () => {
      store = await factory.open();
    });
    afterAll(() => store.close());

    for (const { name, run, error } of OVERLAPPING) {
      it(`${name}: refused, and nothing of it written`, async () => {
        await seeded(store);
        await expect(run(store)).rejects.toThrow(error);
        expect(await rowsOf(store)).toEqual(SEED.map(({ id, kind }) => ({ id, kind, status: 'pending', attempts: 0, sent_at: null })));
      });
    }

    it('in a group commit, only the caller that broke the rule fails', async () => {
      await seeded(store);
      const results = await Promise.allSettled([
        writeTogether(store.db, [markSent.bind({ id: 'b', at: 9 }), insert.bind(row('f'))]),
        OVERLAPPING[1]!.run(store),
        writeTogether(store.db, [countAttempt.bind({ id: 'c' }), insert.bind(row('g'))]),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect((await rowsOf(store)).map((r) => r.id)).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
    });

    it('in the caller’s transaction, the refusal reaches the caller', async () => {
      await seeded(store);
      const writes: BoundWrite[] = [insert.bind(row('f')), remove.bind({ id: 'f' })];
      await expect(store.db.transaction().execute((trx) => writeTogether(trx, writes))).rejects.toThrow(/both change row/);
      expect((await rowsOf(store)).map((r) => r.id)).toEqual(['a', 'b', 'c', 'd', 'e']);
    });

    it('checkWriteGroups(false) runs them in order unchecked (production)', async () => {
      await seeded(store);
      checkWriteGroups(false);
      try {
        await OVERLAPPING[1]!.run(store);
      } finally {
        checkWriteGroups(true);
      }
      expect((await rowsOf(store))[0]).toEqual({ id: 'a', kind: 'email', status: 'sent', attempts: 1, sent_at: 9 });
    });
  });
}

for (const factory of STORES.filter((f) => f.name === 'postgres')) {
  describe(`${factory.name}: why the rule holds`, () => {
    it('one statement: a write does not see a row an earlier write of the call inserted', async () => {
      const store = await factory.open();
      try {
        await seeded(store);
        // What SQLite refuses above ("an insert and an update of the new row"), PostgreSQL runs without a word.
        await OVERLAPPING[0]!.run(store);
        expect((await rowsOf(store)).find((r) => r.id === 'f')).toMatchObject({ status: 'pending' });
      } finally {
        await store.close();
      }
    });
  });
}
