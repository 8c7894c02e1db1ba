import { sql, type Kysely } from 'kysely';
import { compiled, writeTogether, type BoundWrite } from '../store/compiled.ts';
import type { Database } from '../store/database.ts';
import type { Recipient } from './engine.ts';
import { SUBSCRIBER_FIELD_COLUMNS } from './subscribers/index.ts';
import type { ExecutionStatus, NotificationExecutionsTable, NotificationStepsTable, SkipReason, StepStatus } from './execution.table.ts';

export type Execution = NotificationExecutionsTable;
export type ExecutionStep = NotificationStepsTable;

const insertExecution = compiled<NotificationExecutionsTable>((db, p) =>
  db
    .insertInto('notification_executions')
    .values(p)
    .onConflict((oc) => oc.column('id').doNothing()),
);
const insertStep = compiled<NotificationStepsTable>((db, p) =>
  db
    .insertInto('notification_steps')
    .values(p)
    .onConflict((oc) => oc.columns(['execution_id', 'step_id']).doNothing()),
);

/** A step's outcome; a canceled step stays canceled whatever a late run reports. */
const settleStep = compiled<{
  execution_id: string;
  step_id: string;
  status: StepStatus;
  reason: SkipReason | null;
  provider_message_id: string | null;
  error: string | null;
  attempts: number;
  now: number;
  sent_at: number | null;
}>((db, p) =>
  db
    .updateTable('notification_steps')
    .set({
      status: p.status,
      reason: p.reason,
      provider_message_id: p.provider_message_id,
      error: p.error,
      attempts: p.attempts,
      updated_at: p.now,
      sent_at: p.sent_at,
    })
    .where('execution_id', '=', p.execution_id)
    .where('step_id', '=', p.step_id)
    .where('status', '!=', 'canceled'),
);
/** Steps after `position` that never ran, when a throttle stops the execution there. */
const skipRest = compiled<{ execution_id: string; position: number; reason: SkipReason; now: number }>((db, p) =>
  db
    .updateTable('notification_steps')
    .set({ status: 'skipped', reason: p.reason, updated_at: p.now })
    .where('execution_id', '=', p.execution_id)
    .where('position', '>', p.position)
    .where('status', '=', 'queued'),
);
const finishExecution = compiled<{ id: string; status: ExecutionStatus; now: number }>((db, p) =>
  db.updateTable('notification_executions').set({ status: p.status, updated_at: p.now }).where('id', '=', p.id).where('status', '=', 'pending'),
);

/** Why the steps after a dead one never ran; a retry of the dead step queues exactly these again. */
export const AFTER_DEAD_STEP = 'not run: an earlier step failed for good';

/**
 * A step whose outbox row died without the step saying so (expired before it could be sent, dead-lettered before it
 * ran): dead with the row's reason. Only from where it was waiting, so a second run, or a step already settled, is left.
 */
const markDead = compiled<{ execution_id: string; step_id: string; error: string; now: number }>((db, p) =>
  db
    .updateTable('notification_steps')
    .set({ status: 'dead', error: p.error, updated_at: p.now })
    .where('execution_id', '=', p.execution_id)
    .where('step_id', '=', p.step_id)
    .where('status', 'in', ['queued', 'retrying']),
);
/** The steps after a dead one: nothing will queue them, so they end `canceled` instead of `queued` forever. */
const cancelAfter = compiled<{ execution_id: string; step_id: string; error: string; now: number }>((db, p) =>
  db
    .updateTable('notification_steps')
    .set({ status: 'canceled', error: p.error, updated_at: p.now })
    .where('execution_id', '=', p.execution_id)
    .where('status', '=', 'queued')
    .where('position', '>', (eb) =>
      eb.selectFrom('notification_steps as dead').select('dead.position').where('dead.execution_id', '=', p.execution_id).where('dead.step_id', '=', p.step_id),
    ),
);
/** A retried dead step's followers, canceled by its death (and by nothing else), queued again. */
const reopenAfter = compiled<{ execution_id: string; step_id: string; error: string; now: number }>((db, p) =>
  db
    .updateTable('notification_steps')
    .set({ status: 'queued', error: null, updated_at: p.now })
    .where('execution_id', '=', p.execution_id)
    .where('status', '=', 'canceled')
    .where('error', '=', p.error)
    .where('position', '>', (eb) =>
      eb.selectFrom('notification_steps as dead').select('dead.position').where('dead.execution_id', '=', p.execution_id).where('dead.step_id', '=', p.step_id),
    ),
);

/** An operator retries a dead step: the step is queued again and its execution, failed by that death, runs on. */
const reopenStep = compiled<{ execution_id: string; step_id: string; now: number }>((db, p) =>
  db
    .updateTable('notification_steps')
    .set({ status: 'queued', updated_at: p.now })
    .where('execution_id', '=', p.execution_id)
    .where('step_id', '=', p.step_id)
    .where('status', '=', 'dead'),
);
const reopenExecution = compiled<{ id: string; now: number }>((db, p) =>
  db.updateTable('notification_executions').set({ status: 'pending', updated_at: p.now }).where('id', '=', p.id).where('status', '=', 'failed'),
);

export interface StepOutcome {
  status: StepStatus;
  reason?: SkipReason | null;
  providerMessageId?: string | null;
  error?: string | null;
  attempts: number;
}

export interface ExecutionStore {
  insert(execution: Execution): BoundWrite;
  insertStep(step: ExecutionStep): BoundWrite;
  get(id: string): Promise<Execution | undefined>;
  /** The execution with its subscriber as stored now (null when there is none), in one read with the others of this moment. */
  load(id: string): Promise<{ execution: Execution; subscriber: Recipient | null } | undefined>;
  settle(executionId: string, stepId: string, outcome: StepOutcome, now: number): BoundWrite;
  skipRest(executionId: string, position: number, reason: SkipReason, now: number): BoundWrite;
  finish(executionId: string, status: ExecutionStatus, now: number): BoundWrite;
  /** A dead step queued again, with the steps its death canceled, and its failed execution pending again (an operator's retry of the dead row). */
  reopen(executionId: string, stepId: string, now: number): BoundWrite[];
  /**
   * A step whose outbox row died without the step recording it (expired in the outbox, dead-lettered before it ran):
   * dead with `error`, the steps after it canceled, its execution failed. Changes nothing the second time.
   */
  die(executionId: string, stepId: string, error: string, now: number): BoundWrite[];
  /**
   * Writes a step's outcome on its own, outside a job's commit (a failing attempt reports itself before it throws).
   * `failExecution`: the step is dead, so its execution fails and the steps after it are canceled.
   */
  report(executionId: string, stepId: string, outcome: StepOutcome, now: number, failExecution?: boolean): Promise<void>;
  /** Cancels every execution of a transaction that is still running: its queued steps become `canceled`. Resolves to how many executions. */
  cancelTransaction(applicationId: string, transactionId: string, now: number): Promise<number>;
  /** True if the application has any execution under this transaction id. */
  hasTransaction(applicationId: string, transactionId: string): Promise<boolean>;
}

type Loaded = { execution: Execution; subscriber: Recipient | null };
type Batch = Map<string, Array<{ resolve(loaded: Loaded | undefined): void; reject(error: unknown): void }>>;

/** The subscriber's columns beside the execution's, renamed so that none shadows another. */
const SUBSCRIBER_COLUMNS = { subscriberId: 'subscriber_id', ...SUBSCRIBER_FIELD_COLUMNS } as const;
type JoinedRow = Execution & { [K in keyof typeof SUBSCRIBER_COLUMNS as `s_${K}`]: string | null };

function loaded(row: JoinedRow): Loaded {
  const { s_subscriberId, s_firstName, s_lastName, s_email, s_phone, s_avatar, s_locale, s_timezone, s_data, ...execution } = row;
  const subscriber: Recipient | null =
    s_subscriberId === null
      ? null
      : {
          subscriberId: s_subscriberId,
          firstName: s_firstName,
          lastName: s_lastName,
          email: s_email,
          phone: s_phone,
          avatar: s_avatar,
          locale: s_locale,
          timezone: s_timezone,
          data: s_data === null ? null : (JSON.parse(s_data) as Record<string, unknown>),
        };
  return { execution, subscriber };
}

export function createExecutionStore(db: Kysely<Database>): ExecutionStore {
  /** What a step's death does to the rest of its execution: the later steps canceled, the execution failed. */
  const afterDeath = (executionId: string, stepId: string, now: number) => [
    cancelAfter.bind({ execution_id: executionId, step_id: stepId, error: AFTER_DEAD_STEP, now }),
    finishExecution.bind({ id: executionId, status: 'failed', now }),
  ];
  /**
   * The executions asked for in one moment, read with one query: a dispatcher round runs its steps side by
   * side, and a query per step cost more than the rest of the round's reads.
   */
  let asked: Batch | undefined;
  const read = async (batch: Batch) => {
    try {
      const rows = (await db
        .selectFrom('notification_executions as e')
        .leftJoin('subscribers as s', 's.subscriber_id', 'e.subscriber_id')
        .selectAll('e')
        .select(Object.entries(SUBSCRIBER_COLUMNS).map(([name, column]) => `s.${column} as s_${name}` as const))
        .where('e.id', 'in', [...batch.keys()])
        .execute()) as unknown as JoinedRow[];
      const found = new Map(rows.map((row) => [row.id, loaded(row)]));
      for (const [id, waiting] of batch) for (const { resolve } of waiting) resolve(found.get(id));
    } catch (error) {
      for (const waiting of batch.values()) for (const { reject } of waiting) reject(error);
    }
  };
  const load = (id: string) =>
    new Promise<Loaded | undefined>((resolve, reject) => {
      let batch = asked;
      if (!batch) {
        const started: Batch = (batch = asked = new Map());
        setImmediate(() => {
          asked = undefined;
          void read(started);
        });
      }
      batch.set(id, [...(batch.get(id) ?? []), { resolve, reject }]);
    });
  const settle = (executionId: string, stepId: string, outcome: StepOutcome, now: number) =>
    settleStep.bind({
      execution_id: executionId,
      step_id: stepId,
      status: outcome.status,
      reason: outcome.reason ?? null,
      provider_message_id: outcome.providerMessageId ?? null,
      error: outcome.error ?? null,
      attempts: outcome.attempts,
      now,
      sent_at: outcome.status === 'sent' ? now : null,
    });
  return {
    insert: (execution) => insertExecution.bind(execution),
    insertStep: (step) => insertStep.bind(step),
    get: async (id) => (await load(id))?.execution,
    load,
    settle,
    skipRest: (executionId, position, reason, now) => skipRest.bind({ execution_id: executionId, position, reason, now }),
    finish: (id, status, now) => finishExecution.bind({ id, status, now }),
    reopen: (executionId, stepId, now) => [
      reopenStep.bind({ execution_id: executionId, step_id: stepId, now }),
      reopenAfter.bind({ execution_id: executionId, step_id: stepId, error: AFTER_DEAD_STEP, now }),
      reopenExecution.bind({ id: executionId, now }),
    ],
    die: (executionId, stepId, error, now) => [
      markDead.bind({ execution_id: executionId, step_id: stepId, error, now }),
      ...afterDeath(executionId, stepId, now),
    ],
    report: (executionId, stepId, outcome, now, failExecution = false) =>
      writeTogether(db, [settle(executionId, stepId, outcome, now), ...(failExecution ? afterDeath(executionId, stepId, now) : [])]),

    async cancelTransaction(applicationId, transactionId, now) {
      return db.transaction().execute(async (trx) => {
        const canceled = await trx
          .updateTable('notification_executions')
          .set({ status: 'canceled', updated_at: now })
          .where('application_id', '=', applicationId)
          .where('transaction_id', '=', transactionId)
          .where('status', '=', 'pending')
          .returning('id')
          .execute();
        if (canceled.length === 0) return 0;
        await trx
          .updateTable('notification_steps')
          .set({ status: 'canceled', updated_at: now })
          .where(
            'execution_id',
            'in',
            canceled.map((row) => row.id),
          )
          .where('status', 'in', ['queued', 'retrying'])
          .execute();
        return canceled.length;
      });
    },

    async hasTransaction(applicationId, transactionId) {
      const row = await db
        .selectFrom('notification_executions')
        .select(sql<number>`1`.as('one'))
        .where('application_id', '=', applicationId)
        .where('transaction_id', '=', transactionId)
        .limit(1)
        .executeTakeFirst();
      return row !== undefined;
    },
  };
}
