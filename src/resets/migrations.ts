import type { Kysely, Migration } from 'kysely';

export const resetsMigrations: Record<string, Migration> = {
  '0004_password_resets': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('password_resets')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('email', 'text', (c) => c.notNull())
        .addColumn('application_id', 'text')
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('token_sealed', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('consumed_at', 'bigint')
        .addColumn('invalidated_at', 'bigint')
        .execute();
      await db.schema.createIndex('password_resets_user_id').on('password_resets').column('user_id').execute();
    },
  },
};
