import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startCheckpointer } from './checkpointer.ts';
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

  it('copies committed pages into the database file while the writer only appends to the WAL', async () => {
    const path = file();
    const store = connect(path, { backgroundCheckpoints: { pollMs: 20, backlogFrames: 100 } });
    stores.push(store);
    // The writer keeps its own checkpoint, which restarts the WAL; the worker only leaves it little to copy.
    expect(autocheckpoint(store)).toBe(10_000);
    await fill(store);
    await vi.waitFor(() => expect(statSync(path).size).toBeGreaterThan(1_500_000), { timeout: 10_000, interval: 20 });
  });

  it('without it, those pages wait in the WAL for the writing connection', async () => {
    const path = file();
    const store = connect(path);
    stores.push(store);
    expect(autocheckpoint(store)).toBe(10_000);
    await fill(store);
    expect(statSync(path).size).toBeLessThan(100_000);
    expect(statSync(`${path}-wal`).size).toBeGreaterThan(1_500_000);
  });

  it('stops with the store: the last connection closes and the WAL goes', async () => {
    const path = file();
    const store = connect(path, { backgroundCheckpoints: { pollMs: 20, backlogFrames: 100 } });
    await fill(store);
    await store.close();
    expect(existsSync(`${path}-wal`)).toBe(false);
    const reopened = new SQLite(path, { readonly: true });
    expect(reopened.prepare('select count(*) as n from filler').get()).toEqual({ n: 500 });
    reopened.close();
  });

  it('says so when its worker cannot open the database', async () => {
    const onError = vi.fn();
    const checkpointer = startCheckpointer(join(file(), 'missing', 'rekey.db'), { onError });
    await vi.waitFor(() => expect(onError).toHaveBeenCalledOnce(), { timeout: 10_000, interval: 20 });
    await checkpointer.stop();
  });
});
