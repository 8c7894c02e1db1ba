import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AUTOCHECKPOINT_PAGES, startCheckpointer } from './checkpointer.ts';
import { connect, sqliteHandleOf, type Store } from './connect.ts';

describe('SQLite checkpoints on a worker thread', () => {
  const dirs: string[] = [];
  const stores: Store[] = [];
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const file = () => {
    const dir = mkdtempSync(join(tmpdir(), 'rekey-checkpoint-'));
    dirs.push(dir);
    return join(dir, 'rekey.db');
  };
  /** About 2 MB of rows: 500 pages, far below the 10 000 at which the writing connection would checkpoint. */
  const fill = async (store: Store) => {
    await sql`create table filler (id integer primary key, v text)`.execute(store.db);
    for (let i = 0; i < 20; i++)
      await sql`insert into filler (v) select ${'x'.repeat(4_000)} from (select 1 union all select 2 union all select 3 union all select 4 union all select 5) cross join (select 1 union all select 2 union all select 3 union all select 4 union all select 5)`.execute(
        store.db,
      );
  };
  const autocheckpoint = (store: Store) => sqliteHandleOf(store.db)!.database.pragma('wal_autocheckpoint', { simple: true });

  it('copies committed pages into the database file while the event loop only writes', async () => {
    const path = file();
    const store = connect(path, { backgroundCheckpoints: { intervalMs: 20 } });
    stores.push(store);
    expect(autocheckpoint(store)).toBe(0);
    await fill(store);
    await vi.waitFor(() => expect(statSync(path).size).toBeGreaterThan(1_500_000), { timeout: 10_000, interval: 20 });
  });

  it('without it, those pages wait in the WAL for the writing connection', async () => {
    const path = file();
    const store = connect(path);
    stores.push(store);
    expect(autocheckpoint(store)).toBe(AUTOCHECKPOINT_PAGES);
    await fill(store);
    expect(statSync(path).size).toBeLessThan(100_000);
    expect(statSync(`${path}-wal`).size).toBeGreaterThan(1_500_000);
  });

  it('stops with the store: the last connection closes and the WAL goes', async () => {
    const path = file();
    const store = connect(path, { backgroundCheckpoints: { intervalMs: 20 } });
    await fill(store);
    await store.close();
    expect(existsSync(`${path}-wal`)).toBe(false);
    const reopened = new SQLite(path, { readonly: true });
    expect(reopened.prepare('select count(*) as n from filler').get()).toEqual({ n: 500 });
    reopened.close();
  });

  it('hands checkpoints back to the writing connection when its worker cannot open the database', async () => {
    const database = new SQLite(':memory:');
    const onError = vi.fn();
    const checkpointer = startCheckpointer(database, join(file(), 'missing', 'rekey.db'), { onError });
    await vi.waitFor(() => expect(onError).toHaveBeenCalledOnce(), { timeout: 10_000, interval: 20 });
    expect(database.pragma('wal_autocheckpoint', { simple: true })).toBe(AUTOCHECKPOINT_PAGES);
    await checkpointer.stop();
    database.close();
  });
});
