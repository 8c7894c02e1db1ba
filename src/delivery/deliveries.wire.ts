import { z } from 'zod';
import { toIso, toIsoOrNull } from '../platform/clock.ts';
import type { Delivery } from './deliveries.service.ts';

/**
 * A delivery (an outbox row) on the management API and in `rekey deliveries … --json`. The payload is shown
 * without its sealed values: only their names say that a link or code is held.
 */
export const deliveryObject = z
  .object({
    object: z.literal('delivery'),
    id: z.string(),
    kind: z.string(),
    status: z.enum(['pending', 'sent', 'dead']),
    attempts: z.number().int(),
    last_error: z.string().nullable(),
    next_attempt_at: z.string().nullable().describe('When the next attempt is due; null unless pending.'),
    created_at: z.string(),
    sent_at: z.string().nullable(),
    sealed: z.array(z.string()).describe('Names of the sealed values the delivery still holds (a link, a code); never their values.'),
    payload: z.record(z.string(), z.unknown()).nullable().describe('The payload without its sealed values; null if it is not a JSON object.'),
  })
  .meta({ id: 'Delivery' });

export type WireDelivery = z.infer<typeof deliveryObject>;

export function toWireDelivery(row: Delivery): WireDelivery {
  let payload: Record<string, unknown> | null = null;
  let sealed: string[] = [];
  try {
    const parsed: unknown = JSON.parse(row.payload);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
      const { sealed: secrets, ...rest } = parsed as Record<string, unknown>;
      payload = rest;
      if (secrets !== null && typeof secrets === 'object') sealed = Object.keys(secrets);
      else if (secrets !== undefined) sealed = ['(sealed)'];
    }
  } catch {
    payload = null;
  }
  return {
    object: 'delivery',
    id: row.id,
    kind: row.kind,
    status: row.status,
    attempts: row.attempts,
    last_error: row.last_error,
    next_attempt_at: row.status === 'pending' ? toIso(row.next_attempt_at) : null,
    created_at: toIso(row.created_at),
    sent_at: toIsoOrNull(row.sent_at),
    sealed,
    payload,
  };
}
