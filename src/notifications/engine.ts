import { createHash } from 'node:crypto';
import { z } from 'zod';
import { outboxWrite } from '../delivery/index.ts';
import type { PlatformDeps } from '../deps.ts';
import { RekeyError } from '../errors/index.ts';
import { writeTogether, type BoundWrite } from '../store/compiled.ts';
import type { ExecutionStore } from './execution.store.ts';
import type { CompiledWorkflow, WorkflowRegistry } from './registry.ts';
import { isChannel, type StepDefinition } from './workflow.ts';

/** The outbox kind of a workflow step. */
export const NOTIFICATION_STEP = 'notification.step';

/** A transaction id as `ids.opaque('txn')` makes it: its ULID's time part. */
const GENERATED_TRANSACTION = /^txn_([0-9A-HJKMNP-TV-Z]{10})[0-9A-HJKMNP-TV-Z]{16}$/;

/** Novu's limit: a trigger names at most 100 recipients. */
export const MAX_RECIPIENTS = 100;

/** A subscriber as a trigger names it (Novu's `SubscriberPayloadDto`): what the steps address and render. */
export const recipientSchema = z.object({
  subscriberId: z.string().min(1).max(256),
  firstName: z.string().max(200).nullish(),
  lastName: z.string().max(200).nullish(),
  email: z.string().max(320).nullish(),
  phone: z.string().max(32).nullish(),
  avatar: z.string().max(2_048).nullish(),
  locale: z.string().max(35).nullish(),
  timezone: z.string().max(64).nullish(),
  data: z.record(z.string(), z.unknown()).nullish(),
});
export type Recipient = z.infer<typeof recipientSchema>;

/** What a caller may override per message, where Novu documents it. */
export const overridesSchema = z
  .looseObject({
    email: z.looseObject({ subject: z.string().max(998).optional(), senderName: z.string().max(200).optional() }).optional(),
    sms: z.looseObject({ from: z.string().max(32).optional() }).optional(),
  })
  .partial();
export type Overrides = z.infer<typeof overridesSchema>;

export interface TriggerInput {
  workflowId: string;
  to: Recipient[];
  payload?: Record<string, unknown>;
  /** The application whose key triggered it, or whose user it concerns; branding and the activity follow it. */
  applicationId: string;
  /** Dedupes: a second trigger with the same id writes nothing. Generated when absent. */
  transactionId?: string;
  overrides?: Overrides;
  /** The language of this message, over the subscriber's own `locale` (the hosted page's language). */
  locale?: string | null;
  /**
   * Creates or updates each recipient as a subscriber, in the trigger's transaction (Novu's `to`). Off for a
   * recipient that must not become one (the stranger a "no account here" mail answers). @default true
   */
  upsert?: boolean;
  /**
   * The recipients are what the trigger gave, to be laid over each subscriber as stored when a step runs (the
   * API's `to`, whose fields are upserted with the trigger): no read of the subscribers on the trigger's path.
   */
  overStored?: boolean;
}

export interface Triggered {
  transactionId: string;
  executionIds: string[];
  writes: BoundWrite[];
}

/** What travels sealed with the step due next: the only resting place of a trigger's payload. */
export interface SealedRun {
  payload: Record<string, unknown>;
  subscriber: Recipient;
  overrides?: Overrides;
  /** Each step reads the subscriber as stored when it runs, with `subscriber` (the trigger's fields) over it. */
  overStored?: true;
}

export const stepJobSchema = z.object({
  execution: z.string(),
  step: z.string(),
  /** The address the step delivers to (email or phone), so a dead letter says where it was going. */
  to: z.string().nullable(),
  sealed: z.object({ run: z.string() }),
});
export type StepJob = z.infer<typeof stepJobSchema>;

export interface Engine {
  /**
   * The writes of a trigger, to commit with the change it announces: one execution per recipient, its steps
   * `queued`, and the first step's outbox row. Synchronous, so it fits an account-change hook. Throws
   * `workflow_not_found` or `workflow_payload_invalid` (with the fields at fault).
   */
  triggerWrites(input: TriggerInput): Triggered;
  /** `triggerWrites`, committed on its own. */
  trigger(input: TriggerInput): Promise<Triggered>;
  /** The outbox row of a step, carrying the run sealed. */
  stepRow(executionId: string, step: StepDefinition, run: { sealed: string; subscriber: Recipient }, notBefore?: number): BoundWrite;
  /** The recipient field the workflow's first step delivers to (`email`, `phone`), if it is a message step. */
  addressField(workflowId: string): 'email' | 'phone' | undefined;
  /** Deterministic, so a repeated transaction names the same executions. */
  executionId(applicationId: string, transactionId: string, subscriberId: string): string;
}

export interface EngineDeps extends PlatformDeps {
  registry: WorkflowRegistry;
  executions: ExecutionStore;
  /** The subscribers' writes for a trigger's recipients (merged per id); they validate ids and phones. */
  upsertSubscribers(recipients: Recipient[]): BoundWrite[];
  /** Called once `trigger` committed, so this node's dispatcher picks the first steps up at once. */
  wake?: () => void;
}

export function createEngine(deps: EngineDeps): Engine {
  const { registry, executions, tokens, clock, ids, store } = deps;

  /**
   * A hash of what names the execution, so a repeated transaction names the same rows. Behind the time of a
   * transaction id Rekey made (a ULID's first 10 characters), so executions, their steps and their outbox rows go
   * in at the end of their indexes: with the hash alone each trigger dirtied pages all over three indexes, and a
   * SQLite commit wrote each of them to the WAL (about half a trigger's database time).
   */
  const executionId = (applicationId: string, transactionId: string, subscriberId: string) => {
    const hash = createHash('sha256').update(`${applicationId}\0${transactionId}\0${subscriberId}`).digest('base64url');
    const time = GENERATED_TRANSACTION.exec(transactionId)?.[1];
    return time ? `exe_${time}${hash.slice(0, 16)}` : `exe_${hash.slice(0, 26)}`;
  };

  const addressFor = (step: StepDefinition, subscriber: Recipient): string | null =>
    step.type === 'email' ? (subscriber.email ?? null) : step.type === 'sms' ? (subscriber.phone ?? null) : null;

  const stepRow: Engine['stepRow'] = (id, step, run, notBefore) =>
    outboxWrite(deps, {
      kind: NOTIFICATION_STEP,
      payload: { execution: id, step: step.stepId, to: addressFor(step, run.subscriber), sealed: { run: run.sealed } } satisfies StepJob,
      // One row per execution and step: a rerun of the step before it cannot queue this one twice.
      idempotencyKey: `${id}:${step.stepId}`,
      ...(notBefore !== undefined ? { notBefore } : {}),
    });

  const validPayload = (workflow: CompiledWorkflow, payload: Record<string, unknown>): Record<string, unknown> => {
    if (!workflow.payloadSchema) return payload;
    const parsed = workflow.payloadSchema.safeParse(payload);
    if (parsed.success) return parsed.data;
    throw new RekeyError(
      'workflow_payload_invalid',
      { errors: parsed.error.issues.map((issue) => ({ field: ['payload', ...issue.path.map(String)].join('.'), message: issue.message })) },
      `The payload does not fit workflow "${workflow.workflowId}".`,
    );
  };

  const triggerWrites = (input: TriggerInput): Triggered => {
    const workflow = registry.get(input.workflowId);
    if (!workflow || !workflow.active) throw new RekeyError('workflow_not_found', { workflowId: input.workflowId });
    const payload = validPayload(workflow, input.payload ?? {});
    const transactionId = input.transactionId ?? ids.opaque('txn');
    const now = clock.now();
    const writes: BoundWrite[] = input.upsert === false ? [] : deps.upsertSubscribers(input.to);
    const executionIds: string[] = [];
    const seen = new Set<string>();
    for (const subscriber of input.to) {
      // The same subscriber named twice in one trigger gets one message, as Novu does.
      if (seen.has(subscriber.subscriberId)) continue;
      seen.add(subscriber.subscriberId);
      const id = executionId(input.applicationId, transactionId, subscriber.subscriberId);
      executionIds.push(id);
      writes.push(
        executions.insert({
          id,
          application_id: input.applicationId,
          transaction_id: transactionId,
          workflow_id: workflow.workflowId,
          subscriber_id: subscriber.subscriberId,
          status: workflow.steps.length ? 'pending' : 'completed',
          created_at: now,
          updated_at: now,
        }),
      );
      workflow.steps.forEach((step, position) =>
        writes.push(
          executions.insertStep({
            execution_id: id,
            step_id: step.stepId,
            position,
            type: step.type,
            status: 'queued',
            reason: null,
            provider_message_id: null,
            error: null,
            attempts: 0,
            created_at: now,
            updated_at: now,
            sent_at: null,
          }),
        ),
      );
      const first = workflow.steps[0];
      if (!first) continue;
      const run: SealedRun = {
        payload,
        subscriber: input.locale ? { ...subscriber, locale: input.locale } : subscriber,
        ...(input.overrides ? { overrides: input.overrides } : {}),
        ...(input.overStored ? { overStored: true as const } : {}),
      };
      // The payload may hold a reset link or code (Rekey's own, or a caller's `resetUrl`): it rests sealed, only
      // in the row of the step due next, and the dispatcher wipes it once that step is settled.
      writes.push(stepRow(id, first, { sealed: tokens.seal(JSON.stringify(run)), subscriber }));
    }
    return { transactionId, executionIds, writes };
  };

  return {
    triggerWrites,
    async trigger(input) {
      const triggered = triggerWrites(input);
      await writeTogether(store.db, triggered.writes);
      deps.wake?.();
      return triggered;
    },
    stepRow,
    executionId,
    addressField(workflowId) {
      const type = registry.get(workflowId)?.steps[0]?.type;
      return type === 'email' ? 'email' : type === 'sms' ? 'phone' : undefined;
    },
  };
}

export const channelOf = (step: StepDefinition) => (isChannel(step.type) ? step.type : undefined);
