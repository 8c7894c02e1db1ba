import type { Kysely, Migration } from 'kysely';

export const notificationsMigrations: Record<string, Migration> = {
  '0020_notification_executions': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('notification_executions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('application_id', 'text', (c) => c.notNull())
        .addColumn('transaction_id', 'text', (c) => c.notNull())
        .addColumn('workflow_id', 'text', (c) => c.notNull())
        .addColumn('subscriber_id', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('notification_executions_by_transaction')
        .on('notification_executions')
        .columns(['application_id', 'transaction_id'])
        .execute();
      await db.schema.createIndex('notification_executions_by_time').on('notification_executions').columns(['application_id', 'created_at']).execute();
      await db.schema
        .createTable('notification_steps')
        .addColumn('execution_id', 'text', (c) => c.notNull())
        .addColumn('step_id', 'text', (c) => c.notNull())
        .addColumn('position', 'integer', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('reason', 'text')
        .addColumn('provider_message_id', 'text')
        .addColumn('error', 'text')
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addColumn('sent_at', 'bigint')
        .addPrimaryKeyConstraint('notification_steps_pk', ['execution_id', 'step_id'])
        .execute();
      await db.schema
        .createTable('notification_throttles')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('window_start', 'bigint', (c) => c.notNull())
        .addColumn('window_end', 'bigint', (c) => c.notNull())
        .addColumn('count', 'integer', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('in_app_messages')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('application_id', 'text', (c) => c.notNull())
        .addColumn('subscriber_id', 'text', (c) => c.notNull())
        .addColumn('execution_id', 'text', (c) => c.notNull())
        .addColumn('transaction_id', 'text', (c) => c.notNull())
        .addColumn('workflow_id', 'text', (c) => c.notNull())
        .addColumn('subject', 'text')
        .addColumn('body', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('seen_at', 'bigint')
        .addColumn('read_at', 'bigint')
        .addColumn('archived_at', 'bigint')
        .execute();
      await db.schema.createIndex('in_app_messages_by_subscriber').on('in_app_messages').columns(['application_id', 'subscriber_id', 'created_at']).execute();
    },
  },
  '0021_notification_idempotency': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('notification_idempotency')
        .addColumn('application_id', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('fingerprint', 'text', (c) => c.notNull())
        .addColumn('status', 'integer', (c) => c.notNull())
        .addColumn('response', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('notification_idempotency_pk', ['application_id', 'key'])
        .execute();
    },
  },
  '0022_notification_workflows': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('notification_workflows')
        .addColumn('workflow_id', 'text', (c) => c.primaryKey())
        .addColumn('id', 'text', (c) => c.notNull().unique())
        .addColumn('definition', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('notification_workflow_revision')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('revision', 'bigint', (c) => c.notNull())
        .execute();
      await db.insertInto('notification_workflow_revision').values({ id: 1, revision: 0 }).execute();
    },
  },
};
