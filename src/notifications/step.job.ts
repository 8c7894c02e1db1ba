import jsonLogic from 'json-logic-js';
import { PermanentDeliveryError, scrubError } from '../delivery/index.ts';
import { defineJob, type Job, type JobRow } from '../platform/module.ts';
import type { BoundWrite } from '../store/compiled.ts';
import type { Engine, SealedRun, StepJob } from './engine.ts';
import { stepJobSchema } from './engine.ts';
import type { Execution, ExecutionStore, StepOutcome } from './execution.store.ts';
import type { SkipReason } from './execution.table.ts';
import type { CompiledWorkflow, WorkflowRegistry } from './registry.ts';
import type { WorkflowCatalog } from './workflows/catalog.ts';
import { isChannel, type ChannelType, type StepDefinition } from './workflow.ts';
import type { PlatformDeps } from '../deps.ts';

/** What a step did: the writes that complete it, and when the next step is due (now, unless a delay says later). */
export interface StepResult {
  outcome: StepOutcome;
  writes?: BoundWrite[];
  /** Stops the execution here: the later steps are skipped for this reason (a throttle). */
  stop?: SkipReason;
  /** When the next step is due (a delay). */
  nextAt?: number;
}

export interface StepContext {
  execution: Execution;
  workflow: CompiledWorkflow;
  step: StepDefinition;
  run: SealedRun;
  row: JobRow;
  now: number;
}

/** Runs one type of step. A channel failure throws: the outbox retries it. */
export type StepRunner = (ctx: StepContext) => Promise<StepResult>;

export interface StepJobDeps extends PlatformDeps {
  registry: WorkflowRegistry;
  /** Keeps the registry current with the workflows other nodes save. */
  catalog?: Pick<WorkflowCatalog, 'fresh' | 'check'>;
  executions: ExecutionStore;
  engine: Engine;
  runners: Readonly<Record<StepDefinition['type'], StepRunner>>;
  /** Whether the subscriber lets this (non-critical) workflow reach them on this channel. */
  channelAllowed(subscriberId: string, workflowId: string, channel: ChannelType): Promise<boolean>;
}

/**
 * The `notification.step` job: runs one step of one execution and queues the next. Each step is its own outbox
 * row keyed `<execution>:<step>`, and what a step did commits with that row's done mark, so a retried execution
 * never sends a step that already went out, and a rerun of a step queues nothing twice.
 */
export function createStepJob(deps: StepJobDeps): Job<StepJob> {
  const { registry, executions, engine, runners, tokens, clock, config } = deps;

  const stepJob = defineJob(stepJobSchema, async (job, row) => {
    const found = await executions.load(job.execution);
    if (!found) throw new PermanentDeliveryError('the execution is gone');
    const { execution } = found;
    // A canceled execution's steps were marked canceled by the cancel itself.
    if (execution.status !== 'pending') return [];
    const now = clock.now();
    await deps.catalog?.fresh();
    const locate = () => {
      const found = registry.get(execution.workflow_id);
      return { workflow: found, position: found?.steps.findIndex((step) => step.stepId === job.step) ?? -1 };
    };
    let { workflow, position } = locate();
    // Saved on another node a moment ago? One read of the revision before the step counts as gone.
    if ((!workflow || position < 0) && deps.catalog) {
      await deps.catalog.check();
      ({ workflow, position } = locate());
    }
    if (!workflow || position < 0) {
      // The workflow (or this step) was deleted while the execution waited.
      return [
        executions.settle(execution.id, job.step, { status: 'failed', error: 'the workflow or step no longer exists', attempts: row.attempts + 1 }, now),
        executions.finish(execution.id, 'failed', now),
      ];
    }
    const step = workflow.steps[position]!;
    const opened = tokens.unseal(job.sealed.run);
    // Sealed under another server secret (rotated) or tampered with: no retry will ever open it.
    if (opened === undefined) throw new PermanentDeliveryError('the sealed payload cannot be unsealed');
    const run = JSON.parse(opened) as SealedRun;
    // The subscriber as stored now (the trigger upserted what it gave), under the trigger's own fields.
    if (run.overStored && found.subscriber) run.subscriber = { ...found.subscriber, ...run.subscriber };

    const ctx: StepContext = { execution, workflow, step, run, row, now };
    const result = await runStep(ctx);
    const writes = [executions.settle(execution.id, step.stepId, result.outcome, now), ...(result.writes ?? [])];
    const next = workflow.steps[position + 1];
    if (result.stop) {
      writes.push(executions.skipRest(execution.id, position, result.stop, now), executions.finish(execution.id, 'completed', now));
    } else if (next) {
      writes.push(engine.stepRow(execution.id, next, { sealed: job.sealed.run, subscriber: run.subscriber }, result.nextAt));
    } else {
      writes.push(executions.finish(execution.id, 'completed', now));
    }
    return writes;
  });
  return {
    ...stepJob,
    // The dead step and the execution its death failed, reopened with the row's return to the queue.
    replay: (payload) => executions.reopen(payload.execution, payload.step, clock.now()),
    // A row that died or expired before the step could say so: the activity shows the step dead, not queued forever.
    dead: (payload, reason, now) => {
      const named = deadRowSchema.safeParse(payload);
      return named.success ? executions.die(named.data.execution, named.data.step, reason, now) : [];
    },
  };

  async function runStep(ctx: StepContext): Promise<StepResult> {
    const { step, workflow, run, row, execution } = ctx;
    const attempts = row.attempts + 1;
    if (step.condition && !passes(step.condition, run)) return { outcome: { status: 'skipped', reason: 'condition', attempts } };
    if (isChannel(step.type) && !workflow.critical && !(await deps.channelAllowed(execution.subscriber_id, workflow.workflowId, step.type))) {
      return { outcome: { status: 'skipped', reason: 'preference', attempts } };
    }
    try {
      return await runners[step.type](ctx);
    } catch (error) {
      const permanent = isPermanent(error);
      const dead = permanent || attempts >= config.deliveryMaxAttempts;
      // The step's record says what the outbox is doing with it; the error is scrubbed like the outbox's own.
      // A dead step ends its execution: nothing queues the steps after it.
      await executions
        .report(execution.id, step.stepId, { status: dead ? 'dead' : 'retrying', error: scrubError(error), attempts }, clock.now(), dead)
        .catch(() => undefined);
      throw error;
    }
  }
}

/** What a row names of its step, read from a payload whose sealed part may already be gone. */
const deadRowSchema = stepJobSchema.pick({ execution: true, step: true });

const isPermanent = (error: unknown): boolean =>
  error instanceof PermanentDeliveryError || (typeof error === 'object' && error !== null && (error as { permanent?: unknown }).permanent === true);

/** A step condition over `{ payload, subscriber }`; a rule that cannot be evaluated counts as false. */
export function passes(rule: Record<string, unknown>, run: Pick<SealedRun, 'payload' | 'subscriber'>): boolean {
  try {
    return Boolean(jsonLogic.apply(rule as jsonLogic.RulesLogic, { payload: run.payload, subscriber: run.subscriber }));
  } catch {
    return false;
  }
}
