import type { Kysely } from 'kysely';
import { compiled, type BoundWrite } from '../store/compiled.ts';
import type { Database } from '../store/database.ts';
import type { NotificationIdempotencyTable } from './execution.table.ts';

const insert = compiled<NotificationIdempotencyTable>((db, p) =>
  db
    .insertInto('notification_idempotency')
    .values(p)
    .onConflict((oc) => oc.columns(['application_id', 'key']).doNothing()),
);
const find = compiled<{ application_id: string; key: string }, NotificationIdempotencyTable>((db, p) =>
  db.selectFrom('notification_idempotency').selectAll().where('application_id', '=', p.application_id).where('key', '=', p.key),
);

/** The first answer to each `idempotency-key`, kept a day (`sweep`) so a retried request gets the same answer. */
export interface IdempotencyStore {
  find(applicationId: string, key: string): Promise<NotificationIdempotencyTable | undefined>;
  keep(applicationId: string, key: string, fingerprint: string, status: number, response: string): BoundWrite;
  sweep(now: number): Promise<number>;
}

export const IDEMPOTENCY_TTL_MS = 86_400_000;

export function createIdempotencyStore(db: Kysely<Database>, now: () => number): IdempotencyStore {
  return {
    find: (applicationId, key) => find.first(db, { application_id: applicationId, key }),
    keep: (applicationId, key, fingerprint, status, response) =>
      insert.bind({ application_id: applicationId, key, fingerprint, status, response, created_at: now() }),
    async sweep(at) {
      const result = await db
        .deleteFrom('notification_idempotency')
        .where('created_at', '<', at - IDEMPOTENCY_TTL_MS)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
