import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load.ts';
import { connect } from '../store/connect.ts';

const modeOf = (path: string): number => statSync(path).mode & 0o777;

describe('SEC-49 the data directory is private', () => {
  let root: string;
  let umask: number;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'rekey-private-'));
    // The common default; what Rekey creates must not depend on it.
    umask = process.umask(0o022);
  });
  afterEach(() => {
    process.umask(umask);
    rmSync(root, { recursive: true, force: true });
  });

  it('SEC-49 a new data directory is 0700 and the generated secret 0600', () => {
    const dataDir = join(root, 'nested', '.rekey');
    loadConfig({ env: {}, cwd: root, overrides: { dataDir } });
    expect(modeOf(join(root, 'nested'))).toBe(0o700);
    expect(modeOf(dataDir)).toBe(0o700);
    expect(modeOf(join(dataDir, 'secret'))).toBe(0o600);
  });

  it('SEC-49 an existing secret readable by others is tightened at start', () => {
    const dataDir = join(root, '.rekey');
    mkdirSync(dataDir);
    writeFileSync(join(dataDir, 'secret'), 'an-old-development-secret-that-is-long-enough\n', { mode: 0o644 });
    chmodSync(join(dataDir, 'secret'), 0o644);
    const config = loadConfig({ env: {}, cwd: root, overrides: { dataDir } });
    expect(config.secret).toBe('an-old-development-secret-that-is-long-enough');
    expect(modeOf(join(dataDir, 'secret'))).toBe(0o600);
  });

  it('SEC-49 the SQLite file, its WAL and shared memory are 0600 in a 0700 directory', async () => {
    const path = join(root, 'data', 'rekey.db');
    const store = connect(path);
    try {
      await sql`create table t (x integer)`.execute(store.db);
      await sql`insert into t values (1)`.execute(store.db);
      expect(modeOf(join(root, 'data'))).toBe(0o700);
      for (const file of [path, `${path}-wal`, `${path}-shm`]) expect([file, modeOf(file)]).toEqual([file, 0o600]);
    } finally {
      await store.close();
    }
  });

  it('SEC-49 an existing SQLite file and WAL readable by others are tightened when opened', async () => {
    const path = join(root, 'rekey.db');
    const first = connect(path);
    await sql`create table t (x integer)`.execute(first.db);
    await first.close();
    writeFileSync(`${path}-wal`, '');
    for (const file of [path, `${path}-wal`]) chmodSync(file, 0o644);
    const store = connect(path);
    try {
      await sql`insert into t values (1)`.execute(store.db);
      for (const file of [path, `${path}-wal`, `${path}-shm`]) expect([file, modeOf(file)]).toEqual([file, 0o600]);
    } finally {
      await store.close();
    }
  });
});
