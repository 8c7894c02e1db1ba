import type { Kysely, Migration } from 'kysely';

export const subscribersMigrations: Record<string, Migration> = {
  '0013_subscribers': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('subscribers')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('subscriber_id', 'text', (c) => c.notNull().unique())
        .addColumn('user_id', 'text', (c) => c.references('users.id').onDelete('cascade'))
        .addColumn('first_name', 'text')
        .addColumn('last_name', 'text')
        .addColumn('email', 'text')
        .addColumn('phone', 'text')
        .addColumn('avatar', 'text')
        .addColumn('locale', 'text')
        .addColumn('timezone', 'text')
        .addColumn('data', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('subscribers_user_id').on('subscribers').column('user_id').execute();

      await db.schema
        .createTable('subscriber_preferences')
        .addColumn('subscriber_id', 'text', (c) => c.notNull().references('subscribers.subscriber_id').onDelete('cascade').onUpdate('cascade'))
        .addColumn('workflow_id', 'text', (c) => c.notNull())
        .addColumn('email', 'integer')
        .addColumn('sms', 'integer')
        .addColumn('in_app', 'integer')
        .addColumn('chat', 'integer')
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('subscriber_preferences_pk', ['subscriber_id', 'workflow_id'])
        .execute();
    },
  },
};
