import { Migrator, type Kysely, type Migration, type MigrationResultSet } from 'kysely';
import { appsMigrations } from '../apps/migrations.ts';
import { deliveryMigrations } from '../delivery/migrations.ts';
import { factorsMigrations } from '../factors/migrations.ts';
import { resetsMigrations } from '../resets/migrations.ts';
import { sessionsMigrations } from '../sessions/migrations.ts';
import { usersMigrations } from '../users/migrations.ts';

/**
 * Each module owns its migrations; this only assembles them. Names carry a global sequence
 * prefix because Kysely applies them in name order and tables reference one another.
 */
export const allMigrations: Record<string, Migration> = {
  ...appsMigrations,
  ...usersMigrations,
  ...sessionsMigrations,
  ...resetsMigrations,
  ...deliveryMigrations,
  ...factorsMigrations,
};

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
  const result = await migrator.migrateToLatest();
  if (result.error) throw result.error;
  return result;
}
