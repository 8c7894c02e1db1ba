import type { z } from 'zod';
import type { BoundWrite } from '../store/compiled.ts';

/** The outbox row a job runs for. `attempts` counts the attempts made before this one. */
export interface JobRow {
  id: string;
  attempts: number;
}

/**
 * One kind of outbox job. The dispatcher parses the stored payload with `schema` and dead-letters a row that
 * does not fit, so `handler` only ever sees a well-formed payload. Delivery is at-least-once: the handler
 * returns the writes that complete it (they commit with the row's "sent" mark, only while the row is still
 * claimed), or keys its effects so that a rerun changes nothing. Throw to retry with backoff.
 */
export interface Job<P = any> {
  schema: z.ZodType<P>;
  handler(payload: P, row: JobRow): Promise<void | BoundWrite[]>;
}

/** Declares a job kind; the handler's payload type comes from the schema. */
export const defineJob = <P>(schema: z.ZodType<P>, handler: (payload: P, row: JobRow) => Promise<void | BoundWrite[]>): Job<P> => ({ schema, handler });

/** One upkeep statement: given the time, it changes what has outlived its use and says how many rows. */
export type SweepStep = (now: number) => Promise<number>;
