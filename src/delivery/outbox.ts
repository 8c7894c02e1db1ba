import type { Kysely } from 'kysely';
import type { Clock } from '../platform/clock.ts';
import type { Ids } from '../platform/ids.ts';
import type { Database } from '../store/database.ts';

export interface OutboxMessage<P = unknown> {
  kind: string;
  payload: P;
  /** Defaults to the row id; pass one when the same cause could enqueue twice. */
  idempotencyKey?: string;
  /** Earliest time to attempt delivery (ms). Defaults to now. */
  notBefore?: number;
}

/** Mail jobs: rendered and sent by the dispatcher. `sealed` values are AES-GCM sealed and wiped after sending. */
export interface EmailJob {
  template: 'password-reset' | 'password-changed' | (string & {});
  to: string;
  applicationId?: string | null;
  locale?: string | null;
  /** Template variables that are not secret. */
  data: Record<string, unknown>;
  /** Template variables that are secret (a link with a token, a code), sealed with `tokens.seal`. */
  sealed?: Record<string, string>;
}

/**
 * Writes one outbox row. Call it with the transaction that caused the message, so the message
 * exists if and only if the change it announces was committed.
 */
export async function enqueue(
  executor: Kysely<Database>,
  deps: { clock: Clock; ids: Ids },
  message: OutboxMessage,
): Promise<string> {
  const id = deps.ids.next('msg');
  const now = deps.clock.now();
  await executor
    .insertInto('outbox')
    .values({
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
    })
    .onConflict((oc) => oc.column('idempotency_key').doNothing())
    .execute();
  return id;
}
