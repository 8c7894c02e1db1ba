/**
 * Where the time of one create-reset goes below the HTTP layer, in one process with no load generator
 * (the HTTP layer is measured over real sockets by run.ts; `app.inject` costs more than a socket):
 * `node --import tsx bench/breakdown.ts [--postgres] [--n=3000]`. Sequential calls, so each figure
 * is the latency (≈ CPU time on SQLite) of one operation, in µs, after a warm-up.
 *
 *   createForEmail the reset service's entry point (user lookup + issue)
 *   issue         token, seals, one transaction of four statements (void links, void flows, insert, outbox)
 *   driver tx     the same four writes, hand-written SQL on the driver, in one transaction
 *   …             and the small pieces (ids, tokens, an empty Kysely transaction)
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import type SQLiteDatabase from 'better-sqlite3';
import { sql } from 'kysely';
import pg from 'pg';
import { createRekey } from '../src/compose.ts';
import { loadConfig } from '../src/config/load.ts';
import { connect, type Store } from '../src/store/connect.ts';
import { migrateToLatest } from '../src/store/migrate.ts';
import { BENCH_SECRET, emailOf } from './protocol.ts';

const args = process.argv.slice(2);
const postgres = args.includes('--postgres');
const N = Number(args.find((a) => a.startsWith('--n='))?.slice(4) ?? 3000);
const POSTGRES_URL = process.env.REKEY_BENCH_DATABASE_URL ?? process.env.REKEY_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const USERS = 1000;

async function time(label: string, n: number, op: (i: number) => unknown): Promise<number> {
  for (let i = 0; i < Math.min(200, n); i++) await op(i); // warm-up
  const started = performance.now();
  for (let i = 0; i < n; i++) await op(i);
  const micros = ((performance.now() - started) * 1000) / n;
  console.log(`${micros.toFixed(1).padStart(9)} µs  ${label}`);
  return micros;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(os.tmpdir(), 'rekey-breakdown-'));
  const schema = `bench_${randomBytes(4).toString('hex')}_breakdown`;
  let store: Store;
  let admin: pg.Client | undefined;
  if (postgres) {
    admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    store = connect(POSTGRES_URL, { schema });
    await migrateToLatest(store.db, schema);
  } else {
    store = connect(join(dir, 'bench.db'));
    await migrateToLatest(store.db);
  }
  const config = loadConfig({ env: {}, cwd: dir, overrides: { secret: BENCH_SECRET, env: 'test', logLevel: 'silent', dataDir: dir, dispatcher: false } });
  const rekey = await createRekey({ config, store });
  const application = await rekey.apps.getDefault();
  const db = store.db;
  try {
    const hash = await createPasswordHashOnce();
    for (let start = 0; start < USERS; start += 200) {
      const now = Date.now();
      const rows = Array.from({ length: Math.min(200, USERS - start) }, (_, k) => ({
        id: rekey.deps.ids.next('user'),
        email: emailOf('bd', start + k),
        email_verified: 1,
        first_name: null,
        last_name: null,
        profile_picture_url: null,
        external_id: null,
        metadata: '{}',
        locale: null,
        password_hash: hash,
        password_changed_at: now,
        last_sign_in_at: null,
        disabled_at: null,
        created_at: now,
        updated_at: now,
      }));
      await db.insertInto('users').values(rows).execute();
    }
    const users = await db.selectFrom('users').selectAll().execute();
    const email = (i: number) => emailOf('bd', i % USERS);
    const user = (i: number) => users[i % users.length]!;

    console.log(`create-reset, ${postgres ? 'PostgreSQL' : 'SQLite'}, ${N} sequential operations each (µs per operation)\n`);
    await time('resets.createForEmail (service)', N, (i) => rekey.resets.createForEmail(email(i), application));
    await time('users.findByEmail', N, (i) => rekey.users.findByEmail(email(i)));
    await time('resets.issue (user already loaded)', N, (i) => rekey.resets.issue(user(i), application));
    await time('empty Kysely transaction', N, () => db.transaction().execute(async () => undefined));
    await time('Kysely SELECT 1', N, () => sql`select 1`.execute(db));

    // The same writes as `issue`, by hand on the driver: copy rows written by the service.
    const resetRow = (await db.selectFrom('password_resets').selectAll().limit(1).executeTakeFirstOrThrow()) as Record<string, unknown>;
    const outboxRow = (await db.selectFrom('outbox').selectAll().limit(1).executeTakeFirstOrThrow()) as Record<string, unknown>;
    const resetCols = Object.keys(resetRow);
    const outboxCols = Object.keys(outboxRow);
    const q = (name: string) => `"${name}"`;
    const open = `('needs_first_factor', 'needs_second_factor', 'needs_new_password')`;
    const fresh = (i: number) => {
      const id = `bd_${i}_${randomBytes(8).toString('hex')}`;
      return {
        reset: resetCols.map((c) => (c === 'id' ? id : c === 'token_hash' ? `th_${id}` : c === 'user_id' ? user(i).id : resetRow[c])),
        outbox: outboxCols.map((c) => (c === 'id' ? `m_${id}` : c === 'idempotency_key' ? `k_${id}` : outboxRow[c])),
      };
    };
    if (postgres) {
      const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 1, options: `-c search_path=${schema}` });
      const ph = (n: number, from = 1) => Array.from({ length: n }, (_, k) => `$${k + from}`).join(', ');
      const insertReset = `INSERT INTO password_resets (${resetCols.map(q).join(', ')}) VALUES (${ph(resetCols.length)})`;
      const insertOutbox = `INSERT INTO outbox (${outboxCols.map(q).join(', ')}) VALUES (${ph(outboxCols.length)}) ON CONFLICT (idempotency_key) DO NOTHING`;
      await time('driver: 4 writes in BEGIN…COMMIT (6 round trips)', N, async (i) => {
        const client = await pool.connect();
        try {
          const now = Date.now();
          const row = fresh(i);
          await client.query('BEGIN');
          await client.query(
            'UPDATE password_resets SET invalidated_at = $1, token_sealed = NULL WHERE user_id = $2 AND consumed_at IS NULL AND invalidated_at IS NULL',
            [now, user(i).id],
          );
          await client.query(
            `UPDATE reset_flows SET status = 'expired', code_hash = NULL, grant_hash = NULL, grant_expires_at = NULL, updated_at = $1 WHERE user_id = $2 AND status IN ${open}`,
            [now, user(i).id],
          );
          await client.query(insertReset, row.reset);
          await client.query(insertOutbox, row.outbox);
          await client.query('COMMIT');
        } finally {
          client.release();
        }
      });
      // One statement is atomic on its own: data-modifying CTEs need no BEGIN/COMMIT.
      const n = resetCols.length;
      const cte =
        `WITH voided AS (UPDATE password_resets SET invalidated_at = $${n + outboxCols.length + 1}, token_sealed = NULL ` +
        `WHERE user_id = $${n + outboxCols.length + 2} AND consumed_at IS NULL AND invalidated_at IS NULL RETURNING 1), ` +
        `flows AS (UPDATE reset_flows SET status = 'expired', code_hash = NULL, grant_hash = NULL, grant_expires_at = NULL, updated_at = $${n + outboxCols.length + 1} ` +
        `WHERE user_id = $${n + outboxCols.length + 2} AND status IN ${open} RETURNING 1), ` +
        `reset AS (INSERT INTO password_resets (${resetCols.map(q).join(', ')}) VALUES (${ph(n)}) RETURNING 1) ` +
        `INSERT INTO outbox (${outboxCols.map(q).join(', ')}) VALUES (${ph(outboxCols.length, n + 1)}) ON CONFLICT (idempotency_key) DO NOTHING`;
      await time('driver: the same 4 writes as one CTE statement (1 round trip)', N, async (i) => {
        const row = fresh(i);
        await pool.query(cte, [...row.reset, ...row.outbox, Date.now(), user(i).id]);
      });
      await time('driver: SELECT 1', N, () => pool.query('SELECT 1'));
      await pool.end();
    } else {
      const Database = (await import('better-sqlite3')).default;
      const raw: SQLiteDatabase.Database = new Database(join(dir, 'bench.db'));
      raw.pragma('journal_mode = WAL');
      raw.pragma('synchronous = NORMAL');
      raw.pragma('foreign_keys = ON');
      const voidResets = raw.prepare(
        'UPDATE password_resets SET invalidated_at = ?, token_sealed = NULL WHERE user_id = ? AND consumed_at IS NULL AND invalidated_at IS NULL',
      );
      const voidFlows = raw.prepare(
        `UPDATE reset_flows SET status = 'expired', code_hash = NULL, grant_hash = NULL, grant_expires_at = NULL, updated_at = ? WHERE user_id = ? AND status IN ${open}`,
      );
      const insertReset = raw.prepare(`INSERT INTO password_resets (${resetCols.map(q).join(', ')}) VALUES (${resetCols.map(() => '?').join(', ')})`);
      const insertOutbox = raw.prepare(
        `INSERT INTO outbox (${outboxCols.map(q).join(', ')}) VALUES (${outboxCols.map(() => '?').join(', ')}) ON CONFLICT (idempotency_key) DO NOTHING`,
      );
      const tx = raw.transaction((i: number) => {
        const now = Date.now();
        const row = fresh(i);
        voidResets.run(now, user(i).id);
        voidFlows.run(now, user(i).id);
        insertReset.run(...row.reset);
        insertOutbox.run(...row.outbox);
      });
      await time('driver: the same 4 writes, prepared once, one transaction', N, (i) => tx(i));
      const insertOnly = raw.transaction((i: number) => insertReset.run(...fresh(i).reset));
      await time('driver: one INSERT into password_resets, one transaction', N, (i) => insertOnly(i));
      await time('driver: prepare() of that INSERT (what a statement cache saves per query)', N, () =>
        raw.prepare(`INSERT INTO password_resets (${resetCols.map(q).join(', ')}) VALUES (${resetCols.map(() => '?').join(', ')})`),
      );
      raw.close();
    }

    const tokens = rekey.deps.tokens;
    await time('ids.next, a new millisecond each time (includes a 1 ms timer)', 2000, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      const t = performance.now();
      rekey.deps.ids.next('x');
      freshIdMicros += (performance.now() - t) * 1000;
    });
    console.log(`${(freshIdMicros / 2200).toFixed(1).padStart(9)} µs  … of which ids.next itself`);
    await time('ids.next, same millisecond (increment)', 100_000, () => rekey.deps.ids.next('x'));
    await time('tokens: newLinkToken + hash + 2 × seal (as in issue)', 20_000, () => {
      const token = tokens.newLinkToken();
      tokens.hash(token, 'password_reset');
      tokens.seal(token);
      tokens.seal(`https://example.com/reset/verify?token=${token}`);
    });
  } finally {
    await rekey.close().catch(() => undefined);
    await store.close().catch(() => undefined);
    if (admin) {
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch((error: Error) => console.error(`could not drop ${schema}: ${error.message}`));
      await admin.end();
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

let freshIdMicros = 0;

async function createPasswordHashOnce(): Promise<string> {
  const { createPasswordHasher } = await import('../src/users/passwords.ts');
  return createPasswordHasher({ memoryKib: 19456, timeCost: 2 }).hash('correct horse battery staple 0');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
