import { Migrator, type Kysely, type Migration, type MigrationResultSet } from 'kysely';
import { MODULES } from '../modules.ts';

/**
 * Each module owns its migrations and declares them at its door; this only assembles them. Names carry a
 * global sequence prefix because Kysely applies them in name order and tables reference one another.
 */
export const allMigrations: Record<string, Migration> = Object.fromEntries(
  MODULES.flatMap((module) => Object.entries(module.migrations)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
);

/**
 * On PostgreSQL pass the schema: Kysely otherwise looks for its bookkeeping tables in every schema
 * of the database and may find another deployment's.
 */
export async function migrateToLatest(db: Kysely<any>, schema?: string): Promise<MigrationResultSet> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => allMigrations },
    migrationTableName: 'rekey_migrations',
    migrationLockTableName: 'rekey_migrations_lock',
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  for (let attempt = 1; ; attempt++) {
    const result = await migrator.migrateToLatest();
    if (!result.error) return result;
    // Kysely's migrator lists the tables of every schema in the database; when another deployment (or
    // test run) drops its schema at that moment the listing fails (3F000/42P01). That is about the
    // other schema, so try again.
    const code = (result.error as { code?: string }).code;
    if (attempt >= 5 || (code !== '3F000' && code !== '42P01')) throw result.error;
    await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
  }
}
