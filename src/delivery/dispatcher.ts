import type { Kysely, Selectable } from 'kysely';
import type { Logger } from 'pino';
import type { Clock } from '../platform/clock.ts';
import type { Ids } from '../platform/ids.ts';
import type { Job } from '../platform/module.ts';
import { compiled, writeAllIf, writeTogether, writeTogetherIf, type BoundWrite } from '../store/compiled.ts';
import type { Dialect } from '../store/connect.ts';
import type { Database } from '../store/database.ts';
import type { OutboxTable } from './outbox.table.ts';
import { createSweeper, deathWrites, type SweeperOptions } from './sweeper.ts';

/** A failure that no retry can fix (a seal that does not open, a malformed payload): dead-lettered at once. */
export class PermanentDeliveryError extends Error {
  override name = 'PermanentDeliveryError';
  readonly permanent = true;
}

export interface DispatcherOptions {
  db: Kysely<Database>;
  dialect: Dialect;
  clock: Clock;
  ids: Ids;
  logger: Logger;
  /**
   * Job kinds by outbox `kind` (see `Job`), looked up when a row runs. A row of any other kind is dead-lettered
   * with `no handler`; a payload its kind's schema refuses, with the fields at fault.
   */
  jobs: Readonly<Record<string, Job>>;
  /** @default 5 (config `deliveryMaxAttempts`) */
  maxAttempts: number;
  /** Base of the exponential backoff. @default 2000 (config `deliveryBackoffMs`) */
  backoffMs: number;
  /** @default 250 (config `dispatcherIntervalMs`) */
  intervalMs: number;
  /** Rows claimed per round. @default 10 (config `dispatcherBatchSize`: 20) */
  batchSize?: number;
  /**
   * Rounds in flight at once while rows keep coming due: a round's sends overlap the next round's claim and
   * the last round's commit, so the channels (an SMTP pool) never wait for the database. @default 2
   */
  concurrency?: number;
  /**
   * How long a claim holds. It must outlast the slowest send (SMTP timeouts are 10–30 s): a lease that
   * expires mid-send lets another dispatcher take the row over and send it again. @default 120000
   */
  leaseMs?: number;
  /** Upper bound of one backoff delay. @default 3600000 */
  maxBackoffMs?: number;
  /** Jitter source in [0, 1). @default Math.random */
  random?: () => number;
  /** Upkeep that runs on its own timer while the dispatcher runs, and stops with it (see sweeper.ts). */
  sweep?: Omit<SweeperOptions, 'db' | 'dialect' | 'clock' | 'logger'>;
}

export interface DeliveryStats {
  pending: number;
  sent: number;
  dead: number;
}

export interface Dispatcher {
  readonly id: string;
  start(): void;
  /**
   * Says that rows were just committed for this node to deliver: a round starts now instead of at the next
   * interval (many calls in one moment make one round). Nothing while the dispatcher is stopped.
   */
  wake(): void;
  /** Stops the loop and waits for the work in flight. */
  stop(): Promise<void>;
  /** Claims one batch of due rows and runs them. Resolves to the number of rows processed. */
  runOnce(): Promise<number>;
  /**
   * Runs rounds until none is due (rows waiting for their backoff are not due). With `timeoutMs` it gives up after
   * that much wall time (a command waiting on real providers); without it, only after `MAX_DRAIN_ROUNDS`, which just
   * a job that queues itself again at once could need. Tests drain on a manual clock, however busy the machine.
   */
  drain(timeoutMs?: number): Promise<void>;
  stats(): Promise<DeliveryStats>;
  /** Runs the upkeep once (nothing without `sweep` options); resolves to the rows each step changed. */
  sweep(): Promise<Record<string, number>>;
}

type OutboxRow = Selectable<OutboxTable>;

/** A drain without a timeout stops here: rows of a workflow's steps take a round each, a self-requeuing job forever. */
const MAX_DRAIN_ROUNDS = 10_000;

export function createDispatcher(opts: DispatcherOptions): Dispatcher {
  const { db, clock, logger, jobs, maxAttempts, backoffMs, intervalMs } = opts;
  const batchSize = opts.batchSize ?? 10;
  const leaseMs = opts.leaseMs ?? 120_000;
  const maxBackoffMs = opts.maxBackoffMs ?? 3_600_000;
  const random = opts.random ?? Math.random;
  const owner = opts.ids.next('dsp');
  const log = logger.child({ dispatcher: owner });
  const sweeper = opts.sweep ? createSweeper({ jobs, ...opts.sweep, db, dialect: opts.dialect, clock, logger: log }) : undefined;

  const inFlight = new Set<Promise<unknown>>();
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  const concurrency = opts.concurrency ?? 2;

  // Built once per dispatcher: the claim differs by dialect, and both run on every round.
  const claimDue = compiled<{ now: number; leaseUntil: number; owner: string }, OutboxRow>((qc, p) =>
    qc
      .updateTable('outbox')
      .set({ lease_until: p.leaseUntil, lease_owner: p.owner })
      .where('id', 'in', (eb) => {
        const due = eb
          .selectFrom('outbox')
          .select('id')
          .where('status', '=', 'pending')
          .where('next_attempt_at', '<=', p.now)
          .where((w) => w.or([w('lease_until', 'is', null), w('lease_until', '<', p.now)]))
          .orderBy('next_attempt_at')
          .limit(batchSize);
        // SQLite has one writer, so the single UPDATE is the claim; PostgreSQL needs row locks that
        // concurrent dispatchers skip instead of waiting on (and then claiming the same row twice).
        return opts.dialect === 'postgres' ? due.forUpdate().skipLocked() : due;
      })
      .returningAll(),
  );
  const markSent = compiled<{ id: string; owner: string; now: number; payload: string }>((qc, p) =>
    qc
      .updateTable('outbox')
      .set({ status: 'sent', sent_at: p.now, lease_until: null, lease_owner: null, payload: p.payload })
      .where('id', '=', p.id)
      .where('lease_owner', '=', p.owner)
      .returning('id'),
  );

  async function claim(): Promise<OutboxRow[]> {
    const now = clock.now();
    return claimDue.rows(db, { now, leaseUntil: now + leaseMs, owner });
  }

  const sentMark = (row: OutboxRow) => markSent.bind({ id: row.id, owner, now: clock.now(), payload: withoutSealed(row.payload) });

  async function succeed(row: OutboxRow, deliveries: BoundWrite[]): Promise<void> {
    try {
      if (!(await writeTogetherIf(db, sentMark(row), deliveries))) log.warn({ id: row.id, kind: row.kind }, 'delivery.lease_lost');
    } catch (error) {
      // The handler's writes could not commit (another commit won a constraint they check): nothing of
      // them stays, so run the job again after the backoff rather than leave the row leased.
      await fail(row, error, false);
    }
  }

  /**
   * Marks a round's delivered rows sent in one commit: a commit per row cost PostgreSQL more than the
   * rest of a confirm. If that cannot be — a row's lease was lost meanwhile, or two rows' writes cannot
   * commit together (two tokens for one account) — each row is settled alone.
   */
  async function succeedAll(delivered: Array<{ row: OutboxRow; deliveries: BoundWrite[] }>): Promise<void> {
    if (delivered.length > 1) {
      const together = await writeAllIf(
        db,
        delivered.map(({ row, deliveries }) => ({ guard: sentMark(row), writes: deliveries })),
      ).catch(() => false);
      if (together) return;
    }
    for (const { row, deliveries } of delivered) await succeed(row, deliveries);
  }

  async function fail(row: OutboxRow, error: unknown, permanent: boolean): Promise<void> {
    const now = clock.now();
    const attempts = row.attempts + 1;
    const message = scrubError(error);
    const dead = permanent || attempts >= maxAttempts;
    const delay = Math.min(maxBackoffMs, backoffMs * 2 ** (attempts - 1) * (0.5 + random()));
    const mark = (executor: Kysely<Database>) =>
      executor
        .updateTable('outbox')
        .set({
          attempts,
          last_error: message,
          lease_until: null,
          lease_owner: null,
          // A dead row keeps its sealed part so that an operator can retry it while what it carries is still
          // valid; the sweeper wipes it once the longest token lifetime has passed (outbox.dead_sealed_wiped).
          ...(dead ? { status: 'dead' as const } : { next_attempt_at: Math.round(now + delay) }),
        })
        .where('id', '=', row.id)
        .where('lease_owner', '=', owner)
        .executeTakeFirst();
    // A death the job's handler did not record (a payload refused, an error before its bookkeeping) is recorded by
    // the job's `dead` in the same commit: a workflow step is shown dead, not queued forever.
    const deaths = dead ? deathWrites(jobs, { kind: row.kind, payload: row.payload, last_error: message }, now) : [];
    const result = deaths.length
      ? await db.transaction().execute(async (trx) => {
          const marked = await mark(trx);
          if (marked.numUpdatedRows > 0n) await writeTogether(trx, deaths);
          return marked;
        })
      : await mark(db);
    if (result.numUpdatedRows === 0n) {
      log.warn({ id: row.id, kind: row.kind }, 'delivery.lease_lost');
    } else if (dead) {
      // id and kind only: the payload may carry an address, and SEC-41 keeps secrets out of every sink.
      log.warn({ id: row.id, kind: row.kind }, 'delivery.dead_lettered');
    } else {
      log.info({ id: row.id, kind: row.kind, attempts, error: message }, 'delivery.retry_scheduled');
    }
  }

  /** Runs the row's handler; resolves to its delivery writes once it succeeded, or settles the failure. */
  async function deliver(row: OutboxRow): Promise<BoundWrite[] | undefined> {
    const job = Object.hasOwn(jobs, row.kind) ? jobs[row.kind] : undefined;
    if (!job) return void (await fail(row, new Error('no handler'), true));
    let json: unknown;
    try {
      json = JSON.parse(row.payload);
    } catch {
      return void (await fail(row, new Error('payload is not valid JSON'), true));
    }
    const parsed = job.schema.safeParse(json);
    if (!parsed.success) return void (await fail(row, new PermanentDeliveryError(malformedPayload(row.kind, parsed.error.issues)), true));
    try {
      return (await job.handler(parsed.data, { id: row.id, attempts: row.attempts })) ?? [];
    } catch (error) {
      await fail(row, error, isPermanent(error));
      return undefined;
    }
  }

  function track<T>(work: Promise<T>): Promise<T> {
    inFlight.add(work);
    const forget = () => void inFlight.delete(work);
    work.then(forget, forget);
    return work;
  }

  /** Claims one batch and delivers it; `claimed` hears how many rows the claim took, before they are sent. */
  async function round(claimed?: (count: number) => void): Promise<number> {
    let rows: OutboxRow[] = [];
    try {
      rows = await claim();
    } finally {
      claimed?.(rows.length);
    }
    // Each row is delivered on its own: one failing send or write must not strand the others' leases.
    const results = await Promise.allSettled(rows.map((row) => deliver(row)));
    const delivered: Array<{ row: OutboxRow; deliveries: BoundWrite[] }> = [];
    results.forEach((result, i) => {
      if (result.status === 'rejected') log.error({ err: result.reason }, 'delivery.settle_failed');
      else if (result.value) delivered.push({ row: rows[i]!, deliveries: result.value });
    });
    await succeedAll(delivered).catch((error: unknown) => log.error({ err: error }, 'delivery.settle_failed'));
    return rows.length;
  }

  const runOnce = (): Promise<number> => track(round());

  // The loop: one claim at a time, up to `concurrency` rounds delivering. A full claim means more are probably
  // due, so the next claim starts at once, while this round sends; a short one means the queue is drained, and
  // the loop waits for the interval or a wake. setTimeout, not setInterval: an idle poll never piles up.
  let active = 0;
  let claiming = false;
  /** A wake came while a claim was running: that claim may have missed the new rows, so claim again. */
  let woken = false;
  let waking: NodeJS.Immediate | undefined;

  function pump(): void {
    if (!running || claiming || active >= concurrency) return;
    if (timer) clearTimeout(timer);
    timer = undefined;
    claiming = true;
    woken = false;
    active++;
    let full = false;
    const afterClaim = (count: number) => {
      claiming = false;
      full = count >= batchSize;
      if (full || woken) pump();
      else idle();
    };
    track(round(afterClaim))
      .catch((error: unknown) => log.error({ err: error }, 'delivery.round_failed'))
      .finally(() => {
        active--;
        if (full || woken) pump();
        idle();
      });
  }

  /** Polls again after the interval unless a claim is running (it decides what comes next) or a poll is set. */
  function idle(): void {
    if (!running || claiming || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      pump();
      idle();
    }, intervalMs);
    timer.unref();
  }

  function wake(): void {
    if (!running) return;
    woken = true;
    // Coalesced: every commit of this moment (a burst of triggers) is seen by one claim.
    waking ??= setImmediate(() => {
      waking = undefined;
      pump();
    });
  }

  return {
    id: owner,
    start() {
      if (running) return;
      running = true;
      pump();
      sweeper?.start();
    },
    wake,
    async stop() {
      running = false;
      if (timer) clearTimeout(timer);
      timer = undefined;
      if (waking) clearImmediate(waking);
      waking = undefined;
      await sweeper?.stop();
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
    sweep: () => sweeper?.sweep() ?? Promise.resolve({}),
    runOnce,
    async drain(timeoutMs) {
      // Wall time, not the injected clock: a manual clock stands still while the rounds run.
      const deadline = timeoutMs === undefined ? Infinity : performance.now() + timeoutMs;
      for (let rounds = 1; (await runOnce()) > 0; rounds++) {
        if (performance.now() > deadline) throw new Error(`delivery drain did not finish within ${timeoutMs} ms`);
        if (rounds >= MAX_DRAIN_ROUNDS) throw new Error(`delivery drain still found rows due after ${MAX_DRAIN_ROUNDS} rounds`);
      }
    },
    async stats() {
      const rows = await db
        .selectFrom('outbox')
        .select(['status', (eb) => eb.fn.countAll<number | string>().as('n')])
        .groupBy('status')
        .execute();
      const stats: DeliveryStats = { pending: 0, sent: 0, dead: 0 };
      for (const row of rows) stats[row.status] = Number(row.n);
      return stats;
    },
  };
}

/** A `PermanentDeliveryError`, or any error that says `permanent: true` (a provider's refusal). */
export const isPermanent = (error: unknown): boolean =>
  error instanceof PermanentDeliveryError || (typeof error === 'object' && error !== null && (error as { permanent?: unknown }).permanent === true);

/**
 * Names the fields a payload got wrong and how, never their values: a payload may hold an address, and the
 * reason is kept in `last_error` and the log.
 */
function malformedPayload(kind: string, issues: readonly { path: readonly PropertyKey[]; code: string }[]): string {
  const fields = [...new Set(issues.map((issue) => `${issue.path.map(String).join('.') || '(payload)'} (${issue.code})`))];
  return `malformed ${kind} payload: ${fields.join(', ')}`;
}

/** Rewrites a payload without its `sealed` entries; the delivery log keeps what was sent, not the secret. */
export function withoutSealed(payload: string): string {
  try {
    const parsed: unknown = JSON.parse(payload);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed) || !('sealed' in parsed)) return payload;
    const { sealed: _sealed, ...rest } = parsed as Record<string, unknown>;
    return JSON.stringify(rest);
  } catch {
    return payload;
  }
}

/**
 * An error message fit for the `last_error` column and the log. Provider errors may echo the mail
 * (a link with `?token=`, a code), so query strings, long opaque strings and digit runs are cut.
 */
export function scrubError(error: unknown): string {
  const raw = error instanceof Error ? error.message : typeof error === 'string' ? error : 'delivery failed';
  const scrubbed = raw
    .replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^\s?#"'<>]*)[?#][^\s"'<>]*/gi, '$1?…')
    .replace(/([?&;][\w.-]+=)[^\s&"'<>]+/g, '$1…')
    .replace(/[A-Za-z0-9_\-+=]{24,}/g, '[redacted]')
    .replace(/\b\d{6,}\b/g, '[redacted]');
  return scrubbed.length > 500 ? `${scrubbed.slice(0, 500)}…` : scrubbed || 'delivery failed';
}
