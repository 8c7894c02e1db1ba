import type { Kysely, Migration } from 'kysely';

export const actionsMigrations: Record<string, Migration> = {
  '0030_action_progress': {
    async up(db: Kysely<any>) {
      // One row per reset flow that reached the post-challenge pipeline: where it stands, so a challenge met or a
      // redirect continued resumes it without running again the actions that already ran.
      await db.schema
        .createTable('reset_flow_actions')
        .addColumn('flow_id', 'text', (c) => c.primaryKey().references('reset_flows.id').onDelete('cascade'))
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('next_action', 'integer', (c) => c.notNull())
        .addColumn('methods', 'text', (c) => c.notNull())
        .addColumn('challenges', 'text', (c) => c.notNull())
        .addColumn('redirect_action', 'integer')
        .addColumn('redirect_url_sealed', 'text')
        .addColumn('state_hash', 'text')
        .addColumn('state_expires_at', 'bigint')
        .addColumn('result_url', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      // `api.cache`, per action name: Auth0's limits keep it small (20 entries of 2 KiB per action).
      await db.schema
        .createTable('action_cache')
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('action_cache_pk', ['action', 'key'])
        .execute();
    },
  },
};
