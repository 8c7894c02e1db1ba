import { sql, type Kysely, type Migration } from 'kysely';

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
  '0006_reset_flows': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('reset_flows')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('application_id', 'text', (c) => c.notNull())
        .addColumn('strategy', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('identifier_hash', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.references('users.id').onDelete('cascade'))
        .addColumn('code_hash', 'text')
        .addColumn('code_expires_at', 'bigint')
        .addColumn('code_attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('grant_hash', 'text')
        .addColumn('grant_expires_at', 'bigint')
        .addColumn('redirect_url', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('completed_at', 'bigint')
        .execute();
      await db.schema.createIndex('reset_flows_user_id').on('reset_flows').column('user_id').execute();
      await db.schema.alterTable('password_resets').addColumn('flow_id', 'text').execute();
    },
  },
  '0008_open_credential_indexes': {
    // Voiding a user's open tokens runs on every new reset; index what it searches for, so a user with
    // a long history of used tokens costs the same as a new one.
    async up(db: Kysely<any>) {
      await db.schema.dropIndex('password_resets_user_id').execute();
      await db.schema.createIndex('password_resets_open').on('password_resets').columns(['user_id', 'invalidated_at', 'consumed_at']).execute();
      await db.schema.dropIndex('reset_flows_user_id').execute();
      await db.schema.createIndex('reset_flows_open').on('reset_flows').columns(['user_id', 'status']).execute();
    },
  },
  '0009_partial_open_token_index': {
    // Only open tokens are ever searched by user; a partial index holds just those (a handful, not every
    // token ever issued), and voiding a token only removes its entry instead of rewriting it.
    async up(db: Kysely<any>) {
      await db.schema.dropIndex('password_resets_open').execute();
      await db.schema
        .createIndex('password_resets_open')
        .on('password_resets')
        .column('user_id')
        .where(sql.ref('consumed_at'), 'is', null)
        .where(sql.ref('invalidated_at'), 'is', null)
        .execute();
    },
  },
  '0010_flows_by_identifier_and_newest_token': {
    async up(db: Kysely<any>) {
      // A new request ends the earlier open flows of its identifier (SEC-46): find them by it.
      await db.schema.createIndex('reset_flows_identifier').on('reset_flows').columns(['identifier_hash', 'status']).execute();
      // Spending a token asks whether a newer one exists for its account (SEC-12 under concurrency).
      await db.schema.createIndex('password_resets_user_newest').on('password_resets').columns(['user_id', 'created_at', 'id']).execute();
      // The sweeper wipes the sealed copies of expired tokens: index only the rows that still hold one.
      await db.schema.createIndex('password_resets_sealed').on('password_resets').column('expires_at').where(sql.ref('token_sealed'), 'is not', null).execute();
    },
  },
};
