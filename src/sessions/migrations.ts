import type { Kysely, Migration } from 'kysely';

export const sessionsMigrations: Record<string, Migration> = {
  '0003_sessions': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('sessions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('application_id', 'text')
        .addColumn('ip_address', 'text')
        .addColumn('user_agent', 'text')
        .addColumn('auth_method', 'text', (c) => c.notNull())
        .addColumn('refresh_token_hash', 'text', (c) => c.unique())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('ended_at', 'bigint')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('sessions_user_id').on('sessions').columns(['user_id', 'id']).execute();
    },
  },
  '0023_sign_in_devices': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('sign_in_devices')
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('device_key', 'text', (c) => c.notNull())
        .addColumn('first_seen_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('sign_in_devices_pk', ['user_id', 'device_key'])
        .execute();
    },
  },
};
