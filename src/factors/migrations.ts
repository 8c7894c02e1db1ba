import type { Kysely, Migration } from 'kysely';

export const factorsMigrations: Record<string, Migration> = {
  '0007_auth_factors': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('auth_factors')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('secret_sealed', 'text', (c) => c.notNull())
        .addColumn('totp_issuer', 'text', (c) => c.notNull())
        .addColumn('totp_user', 'text', (c) => c.notNull())
        .addColumn('last_used_step', 'bigint')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('auth_factors_user_id').on('auth_factors').columns(['user_id', 'id']).execute();

      await db.schema
        .createTable('pending_authentications')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('application_id', 'text')
        .addColumn('ip_address', 'text')
        .addColumn('user_agent', 'text')
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('consumed_at', 'bigint')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('pending_authentications_user_id').on('pending_authentications').column('user_id').execute();
    },
  },
  '0011_pending_authentication_password_stamp': {
    async up(db: Kysely<any>) {
      // Rows from before have none, and a sign-in then compares null with the account's current password: they
      // are refused, and the user signs in again (a pending sign-in lives ten minutes).
      await db.schema.alterTable('pending_authentications').addColumn('password_stamp', 'text').execute();
    },
  },
};
