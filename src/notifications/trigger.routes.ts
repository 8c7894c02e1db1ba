import { createHash } from 'node:crypto';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { RekeyError } from '../errors/index.ts';
import type { Clock } from '../platform/clock.ts';
import { writeTogether, type BoundWrite } from '../store/compiled.ts';
import type { Store } from '../store/connect.ts';
import { MAX_RECIPIENTS, overridesSchema, type Engine, type Recipient } from './engine.ts';
import type { ExecutionStore } from './execution.store.ts';
import type { IdempotencyStore } from './idempotency.store.ts';
import type { SubscriberService } from './subscribers/index.ts';

export interface TriggerRouteOptions {
  engine: Engine;
  executions: ExecutionStore;
  subscribers: Pick<SubscriberService, 'get' | 'upsertWrites'>;
  idempotency: IdempotencyStore;
  store: Store;
  clock: Clock;
  /** Undefined when this node knows the workflow; else a check that another node did not just create it. */
  knows?(workflowId: string): Promise<void> | undefined;
  /** True for a workflow that exists but is not active: Novu acknowledges its trigger as `trigger_not_active`, sending nothing. */
  inactive?(workflowId: string): boolean;
  /** Called once a trigger committed: this node's dispatcher runs its first steps now, not at its next poll. */
  wake?: () => void;
}

const tags = ['notifications'];
const routeConfig = { surface: 'novu' as const };

// Types only here: the engine checks each recipient (its id, its phone) and each payload against its workflow.
const subscriberObject = z.looseObject({
  subscriberId: z.string(),
  firstName: z.string().nullish(),
  lastName: z.string().nullish(),
  email: z.string().nullish(),
  phone: z.string().nullish(),
  avatar: z.string().nullish(),
  locale: z.string().nullish(),
  timezone: z.string().nullish(),
  data: z.record(z.string(), z.unknown()).nullish(),
});
const topic = z.looseObject({ topicKey: z.string(), type: z.string().optional() });
const recipient = z.union([z.string(), subscriberObject, topic]);
const triggerBody = z.looseObject({
  /** The workflow id (`@novu/api` renames its `workflowId` to `name` on the wire). */
  name: z.string().min(1).max(200),
  to: z.union([recipient, z.array(recipient)]),
  payload: z.record(z.string(), z.unknown()).optional(),
  overrides: overridesSchema.optional(),
  transactionId: z.string().min(1).max(200).optional(),
  actor: z.unknown().optional(),
  tenant: z.unknown().optional(),
  context: z.unknown().optional(),
  bridgeUrl: z.string().optional(),
  controls: z.unknown().optional(),
});
type TriggerBody = z.infer<typeof triggerBody>;

const triggerResult = z.object({
  acknowledged: z.boolean(),
  status: z.enum(['processed', 'no_workflow_steps_defined', 'trigger_not_active', 'error']),
  transactionId: z.string().optional(),
  error: z.array(z.string()).optional(),
});
type TriggerResult = z.infer<typeof triggerResult>;

/** The Novu trigger API (COMPAT §2.1): `@novu/api`'s `trigger`, `triggerBulk` and `cancel`. */
export const triggerRoutes: FastifyPluginAsync<TriggerRouteOptions> = async (app, opts) => {
  const { engine, executions, subscribers, idempotency, store, clock, wake } = opts;
  const r = app.withTypeProvider<ZodTypeProvider>();

  /**
   * Names the recipients: a Topic is refused; an id becomes the stored subscriber (or a new one of that id). What
   * a step renders is the subscriber as stored when it runs, with what this trigger gives over it (`overStored`);
   * the subscriber is read here only when the first step's address is not given, for that step's outbox row.
   */
  async function recipientsOf(to: TriggerBody['to'], workflowId: string): Promise<Recipient[]> {
    const list = Array.isArray(to) ? to : [to];
    if (list.length > MAX_RECIPIENTS) throw new RekeyError('trigger_too_many_recipients', { field: 'to' });
    if (list.length === 0) throw new RekeyError('trigger_recipients_invalid', { field: 'to' }, 'A trigger needs at least one recipient.');
    const address = engine.addressField(workflowId);
    return Promise.all(
      list.map(async (item): Promise<Recipient> => {
        if (typeof item !== 'string' && !('subscriberId' in item)) throw new RekeyError('topics_not_supported', { field: 'to' });
        const given = (
          typeof item === 'string'
            ? { subscriberId: item }
            : Object.fromEntries(Object.entries(item).filter(([, value]) => value !== undefined && value !== null))
        ) as Recipient;
        if (address === undefined || typeof given[address] === 'string') return given;
        const stored = await subscribers.get(given.subscriberId).catch(() => undefined);
        const base: Recipient = stored
          ? {
              subscriberId: stored.subscriberId,
              firstName: stored.firstName,
              lastName: stored.lastName,
              email: stored.email,
              phone: stored.phone,
              avatar: stored.avatar,
              locale: stored.locale,
              timezone: stored.timezone,
              data: stored.data,
            }
          : { subscriberId: given.subscriberId };
        return { ...base, ...given };
      }),
    );
  }

  /** One event's writes and answer; the subscribers' writes are the caller's (merged over every event of a request). */
  async function prepare(body: TriggerBody, applicationId: string, derivedTransactionId?: string) {
    await opts.knows?.(body.name);
    if (opts.inactive?.(body.name)) {
      const transactionId = body.transactionId ?? derivedTransactionId;
      const result: TriggerResult = { acknowledged: true, status: 'trigger_not_active', ...(transactionId ? { transactionId } : {}) };
      return { to: [], writes: [], result };
    }
    const to = await recipientsOf(body.to, body.name);
    const triggered = engine.triggerWrites({
      workflowId: body.name,
      to,
      payload: body.payload ?? {},
      applicationId,
      upsert: false,
      overStored: true,
      ...(body.overrides ? { overrides: body.overrides } : {}),
      ...((body.transactionId ?? derivedTransactionId) ? { transactionId: body.transactionId ?? derivedTransactionId } : {}),
    });
    const result: TriggerResult = { acknowledged: true, status: 'processed', transactionId: triggered.transactionId };
    return { to, writes: triggered.writes, result };
  }

  /**
   * `idempotency-key`: the first answer is kept and replayed; the key also names the transaction when the caller
   * gave none, so two concurrent requests with one key write one set of executions.
   */
  async function withIdempotency<T>(request: FastifyRequest, status: number, run: (derived?: string) => Promise<{ writes: BoundWrite[]; answer: T }>) {
    const key = request.headers['idempotency-key'];
    const application = request.application!.id;
    if (typeof key !== 'string' || key.length === 0 || key.length > 255) {
      const { writes, answer } = await run();
      await writeTogether(store.db, writes);
      wake?.();
      return answer;
    }
    const fingerprint = createHash('sha256')
      .update(`${request.method} ${request.url}\n${JSON.stringify(request.body)}`)
      .digest('base64url');
    const kept = await idempotency.find(application, key);
    if (kept) {
      if (kept.fingerprint !== fingerprint) throw new RekeyError('idempotency_key_reused');
      return JSON.parse(kept.response) as T;
    }
    const derived = `idem-${createHash('sha256').update(`${application}\0${key}`).digest('base64url').slice(0, 24)}`;
    const { writes, answer } = await run(derived);
    await writeTogether(store.db, [...writes, idempotency.keep(application, key, fingerprint, status, JSON.stringify(answer))]);
    wake?.();
    return answer;
  }

  r.post(
    '/v1/events/trigger',
    {
      config: routeConfig,
      schema: {
        tags,
        summary: 'Trigger a workflow (Novu)',
        operationId: 'triggerEvent',
        errors: [
          'workflow_not_found',
          'workflow_payload_invalid',
          'trigger_too_many_recipients',
          'trigger_recipients_invalid',
          'topics_not_supported',
          'invalid_subscriber_id',
          'invalid_phone',
          'idempotency_key_reused',
        ],
        body: triggerBody,
        response: { 201: z.object({ data: triggerResult }) },
      },
    },
    async (request, reply) => {
      const data = await withIdempotency(request, 201, async (derived) => {
        const event = await prepare(request.body, request.application!.id, derived);
        return { writes: [...subscribers.upsertWrites(event.to), ...event.writes], answer: event.result };
      });
      return reply.code(201).send({ data });
    },
  );

  r.post(
    '/v1/events/trigger/bulk',
    {
      config: routeConfig,
      schema: {
        tags,
        summary: 'Trigger up to 100 events at once (Novu)',
        operationId: 'triggerBulk',
        errors: [
          'workflow_not_found',
          'workflow_payload_invalid',
          'trigger_too_many_events',
          'trigger_too_many_recipients',
          'trigger_recipients_invalid',
          'topics_not_supported',
          'invalid_subscriber_id',
          'invalid_phone',
          'idempotency_key_reused',
        ],
        body: z.object({ events: z.array(triggerBody) }),
        response: { 201: z.object({ data: z.array(triggerResult) }) },
      },
    },
    async (request, reply) => {
      if (request.body.events.length > 100) throw new RekeyError('trigger_too_many_events', { field: 'events' });
      const data = await withIdempotency(request, 201, async (derived) => {
        // Every event is checked before any is written: a bad one refuses the request, and nothing is sent.
        const events = [];
        for (const [i, event] of request.body.events.entries()) events.push(await prepare(event, request.application!.id, derived && `${derived}-${i}`));
        return {
          // One subscriber named by several events is written once, its fields merged in order.
          writes: [...subscribers.upsertWrites(events.flatMap((event) => event.to)), ...events.flatMap((event) => event.writes)],
          answer: events.map((event) => event.result),
        };
      });
      return reply.code(201).send({ data });
    },
  );

  r.delete(
    '/v1/events/trigger/:transactionId',
    {
      config: routeConfig,
      schema: {
        tags,
        summary: 'Cancel the steps of a transaction not yet run (Novu)',
        operationId: 'cancelTrigger',
        errors: ['transaction_not_found'],
        params: z.object({ transactionId: z.string().min(1).max(200) }),
        response: { 200: z.object({ data: z.boolean() }) },
      },
    },
    async (request) => {
      const applicationId = request.application!.id;
      const canceled = await executions.cancelTransaction(applicationId, request.params.transactionId, clock.now());
      if (canceled > 0) return { data: true };
      // Known but already run (or canceled): Novu's `false`. Never triggered: nothing of that name.
      if (!(await executions.hasTransaction(applicationId, request.params.transactionId))) throw new RekeyError('transaction_not_found');
      return { data: false };
    },
  );
};
