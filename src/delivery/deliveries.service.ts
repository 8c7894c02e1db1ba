import type { Kysely, Selectable } from 'kysely';
import type { Logger } from 'pino';
import { RekeyError } from '../errors/index.ts';
import { paginate, type ListQuery, type Page } from '../http/pagination.ts';
import type { Clock } from '../platform/clock.ts';
import type { Job } from '../platform/module.ts';
import { compiled, writeTogetherIf, type BoundWrite } from '../store/compiled.ts';
import type { Database } from '../store/database.ts';
import type { OutboxStatus, OutboxTable } from './outbox.table.ts';

export type Delivery = Selectable<OutboxTable>;

/** What a dead delivery that cannot be retried is refused for: its kind has no handler, or its payload no longer fits it. */
export interface Skipped {
  id: string;
  reason: string;
}

export interface DeliveriesService {
  list(query: ListQuery & { status?: OutboxStatus; kind?: string }): Promise<Page<Delivery>>;
  get(id: string): Promise<Delivery | undefined>;
  /**
   * Puts one dead delivery back in the queue, due now, with a fresh set of attempts. Refused with
   * `delivery_not_dead` unless it is dead, and with `delivery_not_replayable` when a retry could only die again.
   */
  retry(id: string): Promise<Delivery>;
  /** Retries every dead delivery that can be retried; says which were skipped and why. */
  retryDead(): Promise<{ retried: string[]; skipped: Skipped[] }>;
}

export interface DeliveriesDeps {
  db: Kysely<Database>;
  clock: Clock;
  logger: Logger;
  /** Every module's job kinds (read when a retry is asked for, so it is checked against what would run it). */
  jobs: Readonly<Record<string, Job>>;
}

/** How many dead rows one `retryDead` looks at: an operator replays a backlog in rounds, each bounded. */
const RETRY_BATCH = 1000;

/** Back to the queue, due now, with a fresh set of attempts; conditional on `dead`, so two retries at once requeue once. */
const requeueRow = compiled<{ id: string; now: number }, Delivery>((db, p) =>
  db
    .updateTable('outbox')
    .set({ status: 'pending', attempts: 0, next_attempt_at: p.now, lease_until: null, lease_owner: null })
    .where('id', '=', p.id)
    .where('status', '=', 'dead')
    .returningAll(),
);

/**
 * Dead letters, visible and replayable. A delivery dies after its last attempt, or at once for a failure no retry
 * fixes. It keeps its sealed part (a link, a code, a notification's payload) until the sweeper wipes it, once the
 * longest token lifetime has passed (SEC-08: nothing sealed rests longer than it can be useful); until then it can
 * be retried, after that it cannot and the user asks again. The job kind's `replay` reopens its own records (a
 * notification's execution and step) in the same commit as the row's return to the queue.
 */
export function createDeliveriesService({ db, clock, logger, jobs }: DeliveriesDeps): DeliveriesService {
  /** Why a retry of this row would die again at once, or undefined when it can run. */
  function unreplayable(row: Delivery): string | undefined {
    const job = Object.hasOwn(jobs, row.kind) ? jobs[row.kind] : undefined;
    if (!job) return `no handler for kind "${row.kind}"`;
    let payload: unknown;
    try {
      payload = JSON.parse(row.payload);
    } catch {
      return 'payload is not valid JSON';
    }
    const parsed = job.schema.safeParse(payload);
    if (parsed.success) return undefined;
    // Field names only, never values: a payload may hold an address.
    const fields = [...new Set(parsed.error.issues.map((issue) => issue.path.map(String).join('.') || '(payload)'))];
    return fields.includes('sealed') || fields.some((f) => f.startsWith('sealed.'))
      ? 'what it carried sealed (a link, a code, its payload) has been wiped since it died; it must be asked for again'
      : `its payload no longer fits its kind (${fields.join(', ')})`;
  }

  /** Requeues one dead row with its kind's replay writes; undefined if it was no longer dead. */
  async function requeue(row: Delivery): Promise<Delivery | undefined> {
    const job = jobs[row.kind]!;
    let writes: BoundWrite[] = [];
    if (job.replay) writes = job.replay(job.schema.parse(JSON.parse(row.payload)), { id: row.id, attempts: row.attempts });
    const requeued = await writeTogetherIf<Delivery>(db, requeueRow.bind({ id: row.id, now: clock.now() }), writes);
    if (requeued) logger.info({ id: row.id, kind: row.kind }, 'delivery.retry_requested');
    return requeued;
  }

  const service: DeliveriesService = {
    list: ({ status, kind, ...page }) =>
      paginate(
        db
          .selectFrom('outbox')
          .selectAll()
          .$if(status !== undefined, (q) => q.where('status', '=', status!))
          .$if(kind !== undefined, (q) => q.where('kind', '=', kind!)),
        'id',
        page,
      ),
    get: (id) => db.selectFrom('outbox').selectAll().where('id', '=', id).executeTakeFirst(),
    async retry(id) {
      const row = await service.get(id);
      if (!row) throw new RekeyError('delivery_not_found', { entity_id: id });
      if (row.status !== 'dead') throw new RekeyError('delivery_not_dead', { entity_id: id, status: row.status });
      const reason = unreplayable(row);
      if (reason) throw new RekeyError('delivery_not_replayable', { entity_id: id, reason }, `This delivery cannot be retried: ${reason}.`);
      const requeued = await requeue(row);
      if (!requeued) throw new RekeyError('delivery_not_dead', { entity_id: id });
      return requeued;
    },
    async retryDead() {
      const dead = await db.selectFrom('outbox').selectAll().where('status', '=', 'dead').orderBy('id').limit(RETRY_BATCH).execute();
      const skipped: Skipped[] = [];
      const retried: string[] = [];
      for (const row of dead) {
        const reason = unreplayable(row);
        if (reason) skipped.push({ id: row.id, reason });
        else if (await requeue(row)) retried.push(row.id);
      }
      return { retried, skipped };
    },
  };
  return service;
}
