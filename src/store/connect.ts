import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect, type LogConfig } from 'kysely';
import type pg from 'pg';
import { ensurePrivateDir, ensurePrivateFile, restrictToOwner } from '../platform/private-files.ts';
import { startCheckpointer, type CheckpointerOptions } from './checkpointer.ts';
import type { Database } from './database.ts';
import { SchemaPostgresDialect } from './introspect.ts';

export type Dialect = 'sqlite' | 'postgres';

export interface Store {
  db: Kysely<Database>;
  dialect: Dialect;
  /** PostgreSQL schema the tables live in, when not the default search path. */
  schema?: string;
  close(): Promise<void>;
}

let postgresDriver: typeof pg | undefined;

/** node-postgres, loaded only for a PostgreSQL URL: a SQLite node never pays for it (≈ 6 MiB once imported). */
function loadPg(): typeof pg {
  if (!postgresDriver) {
    postgresDriver = createRequire(import.meta.url)('pg') as typeof pg;
    // Timestamps are epoch milliseconds in BIGINT columns; pg hands int8 back as a string unless told otherwise.
    postgresDriver.types.setTypeParser(postgresDriver.types.builtins.INT8, (value) => Number(value));
  }
  return postgresDriver;
}

/** A SQLite store's driver under its Kysely instance, with the same statement cache. */
export interface SqliteHandle {
  database: SQLite.Database;
  prepare(sql: string): SQLite.Statement;
}

const sqliteHandles = new WeakMap<Kysely<Database>, SqliteHandle>();

/**
 * The driver of a SQLite store's Kysely instance (not of a transaction or connection made from it), for the
 * group commit of `writeTogether` (compiled.ts): it runs a whole group synchronously, without Kysely's few
 * microseconds and promises per statement. Only while holding Kysely's connection, so it never interleaves
 * with a Kysely transaction.
 */
export const sqliteHandleOf = (db: Kysely<Database>): SqliteHandle | undefined => sqliteHandles.get(db);

export const isPostgresUrl = (url: string): boolean => /^postgres(ql)?:\/\//.test(url);

export interface ConnectOptions {
  /** PostgreSQL only: run every connection with this `search_path` (tests use one schema per run). */
  schema?: string;
  poolSize?: number;
  log?: LogConfig;
  /**
   * PostgreSQL only: connections once opened stay open, for a serving process. pg closes those idle for 10 s by
   * default, so the first burst after a quiet spell (a reset storm) paid for opening them again — PostgreSQL forks
   * a backend for each, and each prepares Rekey's statements afresh — on the event loop, while every request in
   * flight waited: the longest stall in the authenticated probes under the confirm storm (SEC-48), 80–100 ms.
   */
  holdConnections?: boolean;
  /** SQLite file only: a worker thread copies the WAL back as it grows, so the writer's checkpoints stay short (checkpointer.ts); for a serving process. */
  backgroundCheckpoints?: CheckpointerOptions;
}

/** SQLite by default (a file, WAL); PostgreSQL when the URL says `postgres://`. */
export function connect(url: string, options: ConnectOptions = {}): Store {
  if (isPostgresUrl(url)) {
    const schema = options.schema ?? searchPathOf(url) ?? 'public';
    const size = options.poolSize ?? 10;
    const pool = new (loadPg().Pool)({
      connectionString: url,
      max: size,
      ...(options.holdConnections ? { min: size } : {}),
      ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
    });
    pool.on('connect', prepareOnce);
    const db = new Kysely<Database>({ dialect: new SchemaPostgresDialect({ pool }, schema), log: options.log });
    return { db, dialect: 'postgres', schema, close: () => db.destroy() };
  }
  const path = url.replace(/^sqlite:(\/\/)?/, '');
  if (path !== ':memory:') {
    // SEC-49: the file holds password hashes and sealed tokens. SQLite creates its -wal and -shm files
    // with the database file's mode, so a 0600 database keeps them 0600 too; older ones are tightened.
    ensurePrivateDir(dirname(path));
    ensurePrivateFile(path);
    restrictToOwner(`${path}-wal`);
    restrictToOwner(`${path}-shm`);
  }
  const sqlite = new SQLite(path);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  // A reset touches several B-trees whose hot pages are rewritten commit after commit. Checkpointing
  // every 1,000 pages (SQLite's default) copied them back again and again: it cost more than the
  // statements. At 10,000 pages (≈ 40 MB of WAL) each hot page is copied once per many commits. In a serving
  // process a worker thread copies most of them before then (checkpointer.ts).
  sqlite.pragma('wal_autocheckpoint = 10000');
  sqlite.pragma('journal_size_limit = 67108864');
  // SQLite's own page cache, on top of the kernel's cache of the same file. At 32 MB it filled under a sustained
  // forgot load and was the largest part of the server's peak RSS after V8's heap. At 8 MB that load (60 MB of
  // database and WAL) reads about a quarter of a page more per request, each a pread from the kernel's cache.
  sqlite.pragma('cache_size = -8000');
  const prepare = cachedPrepare(sqlite);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite, prepare) }), log: options.log });
  // Kysely's log sees only what goes through Kysely: a logged store keeps every statement there.
  if (!options.log) sqliteHandles.set(db, { database: sqlite, prepare });
  const checkpointer = options.backgroundCheckpoints && path !== ':memory:' ? startCheckpointer(path, options.backgroundCheckpoints) : undefined;
  return {
    db,
    dialect: 'sqlite',
    close: async () => {
      await checkpointer?.stop();
      await db.destroy();
    },
  };
}

/**
 * Kysely sends every query as unnamed SQL, so PostgreSQL parses and plans it each time: most of the
 * server's CPU for Rekey's small statements. Naming each distinct DML text turns it into a prepared
 * statement that each connection parses once (node-postgres keeps the names per connection).
 */
function prepareOnce(client: pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as unknown as { query: (...args: unknown[]) => unknown }).query = (config: unknown, values?: unknown, callback?: unknown) => {
    const name = typeof config === 'string' && Array.isArray(values) ? statementName(config) : undefined;
    return name ? query({ name, text: config, values }, callback) : query(config, values, callback);
  };
}

/** Statement names by SQL text, shared by every connection (Rekey has a few dozen distinct statements). */
const statementNames = new Map<string, string | undefined>();

function statementName(sql: string): string | undefined {
  let name = statementNames.get(sql);
  if (name === undefined && !statementNames.has(sql)) {
    name = /^\s*(select|insert|update|delete|with)\b/i.test(sql) ? `rekey_${createHash('sha1').update(sql).digest('base64url').slice(0, 20)}` : undefined;
    if (statementNames.size < 10_000) statementNames.set(sql, name);
  }
  return name;
}

/** The schema named by a URL's `options=-c search_path=…`, as libpq would apply it. */
function searchPathOf(url: string): string | undefined {
  const options = new URL(url).searchParams.get('options');
  return options?.match(/search_path=([A-Za-z_][A-Za-z0-9_]*)/)?.[1];
}

/**
 * Kysely prepares every query afresh; preparing cost as much as running. Rekey issues a small, fixed set
 * of statements, so each SQL text is prepared once and reused (one connection, queries never overlap).
 */
function cachedPrepare(sqlite: SQLite.Database): (sql: string) => SQLite.Statement {
  const cache = new Map<string, SQLite.Statement>();
  return (sql) => {
    let statement = cache.get(sql);
    if (!statement) {
      statement = sqlite.prepare(sql);
      if (cache.size < 1000) cache.set(sql, statement);
    }
    return statement;
  };
}

function withStatementCache(sqlite: SQLite.Database, prepare: (sql: string) => SQLite.Statement): SQLite.Database {
  return new Proxy(sqlite, {
    get(target, property, receiver) {
      if (property !== 'prepare') {
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      }
      return prepare;
    },
  });
}
