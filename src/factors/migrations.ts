import { PostgresAdapter, sql, type Kysely, type Migration } from 'kysely';

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
  '0014_factor_types': {
    async up(db: Kysely<any>) {
      // The TOTP columns become optional: rows of other types have none. PostgreSQL drops the constraint;
      // SQLite cannot, so the table is rebuilt with the same rows (nothing references it).
      const totpOnly = ['secret_sealed', 'totp_issuer', 'totp_user'];
      if (db.getExecutor().adapter instanceof PostgresAdapter) {
        for (const column of totpOnly)
          await db.schema
            .alterTable('auth_factors')
            .alterColumn(column, (c) => c.dropNotNull())
            .execute();
      } else {
        await db.schema.dropIndex('auth_factors_user_id').execute();
        await db.schema.alterTable('auth_factors').renameTo('auth_factors_0007').execute();
        await db.schema
          .createTable('auth_factors')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('secret_sealed', 'text')
          .addColumn('totp_issuer', 'text')
          .addColumn('totp_user', 'text')
          .addColumn('last_used_step', 'bigint')
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .execute();
        await sql`insert into auth_factors (id, user_id, type, secret_sealed, totp_issuer, totp_user, last_used_step, created_at, updated_at)
          select id, user_id, type, secret_sealed, totp_issuer, totp_user, last_used_step, created_at, updated_at from auth_factors_0007`.execute(db);
        await db.schema.dropTable('auth_factors_0007').execute();
        await db.schema.createIndex('auth_factors_user_id').on('auth_factors').columns(['user_id', 'id']).execute();
      }
      await db.schema.alterTable('auth_factors').addColumn('phone_number', 'text').execute();
      for (const [column, type] of [
        ['webauthn_credential_id', 'text'],
        ['webauthn_public_key', 'text'],
        ['webauthn_counter', 'bigint'],
        ['webauthn_transports', 'text'],
      ] as const) {
        await db.schema.alterTable('auth_factors').addColumn(column, type).execute();
      }
      await db.schema.createIndex('auth_factors_webauthn_credential_id').unique().on('auth_factors').column('webauthn_credential_id').execute();

      await db.schema
        .createTable('factor_challenges')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('kind', 'text', (c) => c.notNull())
        // Not unique: six-digit codes repeat across challenges; only one challenge of a kind per user is open.
        .addColumn('secret_hash', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('consumed_at', 'bigint')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('factor_challenges_user_id').on('factor_challenges').columns(['user_id', 'kind']).execute();
      await db.schema.createIndex('factor_challenges_secret_hash').on('factor_challenges').column('secret_hash').execute();
      await db.schema.createIndex('factor_challenges_expires_at').on('factor_challenges').column('expires_at').execute();

      await db.schema
        .createTable('recovery_codes')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('factor_id', 'text', (c) => c.notNull())
        .addColumn('code_hash', 'text', (c) => c.notNull().unique())
        .addColumn('used_at', 'bigint')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('recovery_codes_user_id').on('recovery_codes').column('user_id').execute();

      await db.schema
        .createTable('factor_enrollment_links')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('consumed_at', 'bigint')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('factor_enrollment_links_expires_at').on('factor_enrollment_links').column('expires_at').execute();
    },
  },
};
