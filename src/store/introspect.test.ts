import { PostgresIntrospector, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateToLatest } from './migrate.ts';
import { STORES, type TestStore } from './testing.ts';

const postgres = STORES.find((factory) => factory.name === 'postgres');

// Migrations list tables first. When that listing covered every schema of the database, another
// deployment (or test file) dropping its schema at that moment failed the migration with 3F000, 42P01
// or 42703 ("column … of relation … does not exist"), depending on which lookup lost the race.
describe.skipIf(!postgres)('postgres: listing tables', () => {
  let store: TestStore;
  let other: TestStore;

  beforeAll(async () => {
    store = await postgres!.open();
    other = await postgres!.open();
  });
  afterAll(async () => {
    await store.close();
    await other.close().catch(() => undefined);
  });

  it('lists only the store’s own schema, with its columns', async () => {
    const tables = await store.db.introspection.getTables({ withInternalKyselyTables: true });
    expect(new Set(tables.map((table) => table.schema))).toEqual(new Set([store.schema]));
    expect(tables.map((table) => table.name)).toContain('rekey_migrations');
    const codes = tables.find((table) => table.name === 'recovery_codes');
    expect(codes?.columns.find((column) => column.name === 'code_hash')).toMatchObject({ dataType: 'text', isNullable: false });
  });

  it('is unaffected by another schema dropped after its catalog snapshot was taken', async () => {
    // A REPEATABLE READ transaction keeps the snapshot of its first statement: it still sees the other
    // schema's tables after the drop commits, while lookups by name see the catalog as it is now. That
    // holds open the window in which a concurrent drop used to land.
    await store.db
      .transaction()
      .setIsolationLevel('repeatable read')
      .execute(async (trx) => {
        await sql`select 1`.execute(trx);
        await other.close();
        // Kysely's own listing fails here, as the migrations did under load.
        await sql`savepoint kysely_listing`.execute(trx);
        await expect(new PostgresIntrospector(trx).getTables()).rejects.toMatchObject({ code: expect.stringMatching(/^(3F000|42P01|42703)$/) });
        await sql`rollback to savepoint kysely_listing`.execute(trx);
        const tables = await trx.introspection.getTables();
        expect(tables.map((table) => table.name)).toContain('recovery_codes');
      });
    await expect(migrateToLatest(store.db, store.schema)).resolves.toMatchObject({ results: [] });
  });
});
