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
 * of the database and may find another deployment's. (The store's dialect lists only its own schema's
 * tables, so another schema dropped meanwhile cannot fail the run: see `introspect.ts`.)
 */
export async function migrateToLatest(db: Kysely<any>, schema?: string): Promise<MigrationResultSet> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => allMigrations },
    migrationTableName: 'rekey_migrations',
    migrationLockTableName: 'rekey_migrations_lock',
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  const result = await migrator.migrateToLatest();
  if (result.error) throw result.error;
  return result;
}
