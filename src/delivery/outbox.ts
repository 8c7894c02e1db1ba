import type { Kysely } from 'kysely';
import type { Clock } from '../platform/clock.ts';
import type { Ids } from '../platform/ids.ts';
import { compiled, writeTogether, type BoundWrite } from '../store/compiled.ts';
import type { Database } from '../store/database.ts';
import type { OutboxTable } from './outbox.table.ts';

export interface OutboxMessage<P = unknown> {
  kind: string;
  payload: P;
  /** Defaults to the row id; pass one when the same cause could enqueue twice. */
  idempotencyKey?: string;
  /** Earliest time to attempt delivery (ms). Defaults to now. */
  notBefore?: number;
}

const insertRow = compiled<OutboxTable>((db, p) =>
  db
    .insertInto('outbox')
    .values(p)
    .onConflict((oc) => oc.column('idempotency_key').doNothing()),
);

const rowOf = (deps: { clock: Clock; ids: Ids }, message: OutboxMessage): OutboxTable => {
  const id = deps.ids.next('msg');
  const now = deps.clock.now();
  return {
    id,
    kind: message.kind,
    payload: JSON.stringify(message.payload),
    idempotency_key: message.idempotencyKey ?? id,
    status: 'pending',
    attempts: 0,
    next_attempt_at: message.notBefore ?? now,
    lease_until: null,
    lease_owner: null,
    last_error: null,
    created_at: now,
    sent_at: null,
  };
};

/**
 * One outbox row, to be written with the change it announces (`writeTogether`), so the message exists
 * if and only if that change was committed. A second row with the same idempotency key is ignored.
 */
export const outboxWrite = (deps: { clock: Clock; ids: Ids }, message: OutboxMessage): BoundWrite => insertRow.bind(rowOf(deps, message));

/** Writes one outbox row on its own (or in the executor's transaction) and returns its id. */
export async function enqueue(executor: Kysely<Database>, deps: { clock: Clock; ids: Ids }, message: OutboxMessage): Promise<string> {
  const row = rowOf(deps, message);
  await writeTogether(executor, [insertRow.bind(row)]);
  return row.id;
}
