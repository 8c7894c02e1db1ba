import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { connect, type Store } from './connect.ts';
import { migrateToLatest } from './migrate.ts';

export interface TestStore extends Store {
  name: 'sqlite' | 'postgres';
  /** The URL a separate process (the CLI, a spawned server) can use to reach the same data. */
  url: string;
  schema?: string;
}

export interface StoreFactory {
  name: 'sqlite' | 'postgres';
  open(): Promise<TestStore>;
}

const postgresUrl = process.env.REKEY_TEST_DATABASE_URL;

/** SQLite always; PostgreSQL too when `REKEY_TEST_DATABASE_URL` is set. Every open() gets a fresh, migrated store. */
export const STORES: StoreFactory[] = [
  {
    name: 'sqlite',
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'rekey-test-'));
      const url = join(dir, 'rekey.db');
      const store = connect(url);
      await migrateToLatest(store.db);
      return {
        ...store,
        name: 'sqlite',
        url,
        close: async () => {
          await store.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  ...(postgresUrl
    ? [
        {
          name: 'postgres' as const,
          async open(): Promise<TestStore> {
            // One schema per store so parallel test files and CI runs never collide.
            const schema = `rekey_test_${randomBytes(6).toString('hex')}`;
            const admin = new pg.Client({ connectionString: postgresUrl });
            await admin.connect();
            await admin.query(`CREATE SCHEMA ${schema}`);
            await admin.end();
            const store = connect(postgresUrl, { schema, poolSize: 20 });
            await migrateToLatest(store.db, schema);
            const url = `${postgresUrl}${postgresUrl.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
            return {
              ...store,
              name: 'postgres',
              url,
              schema,
              close: async () => {
                await store.close();
                const cleanup = new pg.Client({ connectionString: postgresUrl });
                await cleanup.connect();
                await cleanup.query(`DROP SCHEMA ${schema} CASCADE`);
                await cleanup.end();
              },
            };
          },
        },
      ]
    : []),
];
