import { sql, type Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Clock } from '../platform/clock.ts';
import type { Job, SweepStep } from '../platform/module.ts';
import { writeTogether, type BoundWrite } from '../store/compiled.ts';
import type { Dialect } from '../store/connect.ts';
import type { Database } from '../store/database.ts';

export type { SweepStep };

export interface SweeperOptions {
  db: Kysely<Database>;
  dialect: Dialect;
  clock: Clock;
  logger: Logger;
  /**
   * Sent and dead rows are deleted this long after their last attempt, and with them the addresses, IPs
   * and user agents they carry. @default 7 days (config `outboxRetentionDays`)
   */
  retentionMs: number;
  /**
   * A pending row still holding a sealed secret this long after it was written is dead-lettered without
   * it: the link or code inside has expired, and a request that old is stale. The longest lifetime of
   * anything sealed into a message (compose.ts derives it from the token and code lifetimes).
   */
  sealedLifetimeMs: number;
  /** The job kinds (read at each sweep): a row that expires or goes while dead is recorded by its kind's `dead`. */
  jobs?: Readonly<Record<string, Job>>;
  /** Other modules' upkeep, each one statement, run in every sweep; named for the log. Read at each sweep. */
  steps?: Readonly<Record<string, SweepStep>>;
  /** @default 60000 */
  intervalMs?: number;
  /** Rows deleted per statement, so a long backlog never holds the write lock for long. @default 1000 */
  batchSize?: number;
}

export interface Sweeper {
  /** Runs every step once; resolves to the rows each changed (a failed step logs and counts -1). */
  sweep(): Promise<Record<string, number>>;
  start(): void;
  /** Stops the timer and waits for a sweep in flight. */
  stop(): Promise<void>;
}

/** The `last_error` of a row that expired before it could be sent. */
const EXPIRED = 'expired before delivery';

/** An outbox row that died, as its job's `dead` sees it. */
export interface DeadRow {
  kind: string;
  payload: string;
  last_error: string | null;
}

/** The writes with which a dead row's job records the death (none for a kind without `dead`, or a payload that is not JSON). */
export function deathWrites(jobs: Readonly<Record<string, Job>> | undefined, row: DeadRow, now: number): BoundWrite[] {
  const job = jobs && Object.hasOwn(jobs, row.kind) ? jobs[row.kind] : undefined;
  if (!job?.dead) return [];
  let payload: unknown;
  try {
    payload = JSON.parse(row.payload);
  } catch {
    return [];
  }
  return job.dead(payload, row.last_error ?? 'dead', now);
}

/** Deletes per sweep stop here; the rest waits for the next interval. */
const MAX_DELETE_ROUNDS = 100;

/**
 * Keeps nothing usable at rest longer than it is useful (SEC-08): sealed secrets of pending messages that
 * can no longer be delivered in time, and settled messages past their retention. Every step's statements say
 * what they change, so several processes sweeping at once only repeat each other.
 */
export function createSweeper(opts: SweeperOptions): Sweeper {
  const { db, clock, logger, retentionMs, sealedLifetimeMs } = opts;
  const intervalMs = opts.intervalMs ?? 60_000;
  const batchSize = opts.batchSize ?? 1000;
  const postgres = opts.dialect === 'postgres';
  // Payloads are JSON text written by JSON.stringify; each dialect edits them in place.
  const hasSealed = postgres ? sql<boolean>`(payload::jsonb -> 'sealed') is not null` : sql<boolean>`json_type(payload, '$.sealed') is not null`;
  const withoutSealed = postgres ? sql<string>`(payload::jsonb - 'sealed')::text` : sql<string>`json_remove(payload, '$.sealed')`;

  /** Pending rows whose sealed link, code or address outlived its use: dead, and the secret gone. */
  const expireSealed: SweepStep = async (now) => {
    const expired = (executor: Kysely<Database>) =>
      executor
        .updateTable('outbox')
        .set({ status: 'dead', payload: withoutSealed, last_error: EXPIRED, lease_until: null, lease_owner: null })
        .where('status', '=', 'pending')
        // Counted from when the row fell due, not from when it was written: a workflow's step queued behind a delay
        // carries its payload sealed until then.
        .where('next_attempt_at', '<=', now - sealedLifetimeMs)
        // A row a dispatcher is sending now is left to it: its mark would fail on a lease taken away.
        .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
        .where(hasSealed)
        .returning(['kind', 'payload', 'last_error']);
    // The jobs' own records of these rows (a workflow step shown dead) change in the same transaction.
    return db.transaction().execute(async (trx) => {
      const rows = await expired(trx).execute();
      await recordDeaths(trx, rows, now);
      return rows.length;
    });
  };

  const recordDeaths = async (executor: Kysely<Database>, rows: readonly DeadRow[], now: number) => {
    // One call per row: two rows of one job may touch the same record, which one call must not (writeTogether).
    for (const row of rows) await writeTogether(executor, deathWrites(opts.jobs, row, now));
  };

  /**
   * Dead rows keep their sealed part for a retry (`rekey deliveries retry`) only while what it carries can still
   * be valid: the same lifetime as a pending row's.
   */
  const wipeDeadSealed: SweepStep = async (now) => {
    const result = await db
      .updateTable('outbox')
      .set({ payload: withoutSealed })
      .where('status', '=', 'dead')
      .where('created_at', '<=', now - sealedLifetimeMs)
      .where(hasSealed)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  };

  /**
   * Settled rows past retention. Age counts from the last attempt (`next_attempt_at`), which the
   * `outbox_due (status, next_attempt_at)` index serves; the row was sent or died at that attempt.
   */
  const deleteSettled: SweepStep = async (now) => {
    let deleted = 0;
    for (let round = 0; round < MAX_DELETE_ROUNDS; round++) {
      // A dead row's job records its death with the delete, in case nothing did before (a row dead-lettered by an
      // earlier version): once the row is gone, nothing else could.
      const count = await db.transaction().execute(async (trx) => {
        const rows = await trx
          .deleteFrom('outbox')
          .where('id', 'in', (eb) =>
            eb
              .selectFrom('outbox')
              .select('id')
              .where('status', 'in', ['sent', 'dead'])
              .where('next_attempt_at', '<', now - retentionMs)
              .limit(batchSize),
          )
          .returning(['kind', 'payload', 'last_error', 'status'])
          .execute();
        await recordDeaths(
          trx,
          rows.filter((row) => row.status === 'dead'),
          now,
        );
        return rows.length;
      });
      deleted += count;
      if (count < batchSize) break;
    }
    return deleted;
  };

  // Read at each sweep: the modules' steps are registered once every module is built, after this sweeper.
  const steps = (): Record<string, SweepStep> => ({
    ...opts.steps,
    'outbox.sealed_expired': expireSealed,
    'outbox.dead_sealed_wiped': wipeDeadSealed,
    'outbox.settled_deleted': deleteSettled,
  });
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let inFlight: Promise<Record<string, number>> | undefined;

  async function sweepAll(): Promise<Record<string, number>> {
    const now = clock.now();
    const counts: Record<string, number> = {};
    for (const [name, step] of Object.entries(steps())) {
      try {
        counts[name] = await step(now);
      } catch (error) {
        // One failing step must not keep the others from running.
        counts[name] = -1;
        logger.error({ err: error, step: name }, 'sweep.step_failed');
      }
    }
    if (Object.values(counts).some((n) => n !== 0)) logger.info({ event: 'sweep', ...counts }, 'swept');
    return counts;
  }

  const sweep = (): Promise<Record<string, number>> => {
    // A sweep asked for during another waits for it, then runs afresh: never two at once in one process.
    const next = (inFlight ?? Promise.resolve()).then(sweepAll, sweepAll);
    inFlight = next;
    const forget = () => void (inFlight === next && (inFlight = undefined));
    next.then(forget, forget);
    return next;
  };

  function schedule(delay: number): void {
    if (!running) return;
    timer = setTimeout(() => {
      timer = undefined;
      // sweepAll settles every step itself, so this never rejects; schedule the next either way.
      void sweep().then(
        () => schedule(intervalMs),
        () => schedule(intervalMs),
      );
    }, delay);
    timer.unref();
  }

  return {
    sweep,
    start() {
      if (running) return;
      running = true;
      schedule(0);
    },
    async stop() {
      running = false;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await inFlight?.catch(() => undefined);
    },
  };
}
