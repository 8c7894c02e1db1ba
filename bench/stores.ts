/**
 * The two stores a benchmark runs against: a fresh SQLite file or a fresh PostgreSQL schema per server, all
 * under one run's temp dir and one schema prefix, dropped together at the end.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';

export const POSTGRES_URL = process.env.REKEY_BENCH_DATABASE_URL ?? process.env.REKEY_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface StoreTarget {
  label: 'SQLite' | 'PostgreSQL';
  /** A fresh database for one server: a file under the run's temp dir, or a new schema. */
  fresh(name: string): Promise<{ databaseUrl: string; schema?: string; dataDir: string }>;
}

export async function adminQuery(text: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3_000 });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}

/** Both stores for a run whose files live under `tmp`; `dropSchemas` removes every schema `postgres` made. */
export function benchStores(tmp: string): {
  sqlite: StoreTarget;
  postgres: StoreTarget;
  dropSchemas(onError: (schema: string, error: Error) => void): Promise<void>;
} {
  const base = `bench_${randomBytes(4).toString('hex')}`;
  const schemas: string[] = [];
  return {
    sqlite: {
      label: 'SQLite',
      async fresh(name) {
        const dir = join(tmp, name);
        mkdirSync(dir, { recursive: true });
        return { databaseUrl: join(dir, 'bench.db'), dataDir: dir };
      },
    },
    postgres: {
      label: 'PostgreSQL',
      async fresh(name) {
        const schema = `${base}_${name}`;
        await adminQuery(`CREATE SCHEMA ${schema}`);
        schemas.push(schema);
        const dir = join(tmp, `pg-${name}`);
        mkdirSync(dir, { recursive: true });
        return { databaseUrl: POSTGRES_URL, schema, dataDir: dir };
      },
    },
    async dropSchemas(onError) {
      for (const schema of schemas) await adminQuery(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch((error: Error) => onError(schema, error));
    },
  };
}
