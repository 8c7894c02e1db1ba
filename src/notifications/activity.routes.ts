import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { RekeyError } from '../errors/index.ts';
import type { Database } from '../store/database.ts';
import type { Execution, ExecutionStep } from './execution.store.ts';
import type { WorkflowRegistry } from './registry.ts';

export interface ActivityRouteOptions {
  db: Kysely<Database>;
  registry: WorkflowRegistry;
}

const tags = ['notifications'];
const routeConfig = { surface: 'novu' as const };
const iso = (ms: number | null | undefined) => (ms == null ? undefined : new Date(Number(ms)).toISOString());

/** Novu's provider ids are a closed list: Rekey's providers are named by the kind they are. */
const PROVIDER_OF: Record<string, string> = { email: 'nodemailer', sms: 'twilio', in_app: 'novu', chat: 'novu-slack', delay: 'novu', throttle: 'novu' };
/** How a step's status reads in Novu's execution details. */
const DETAIL_STATUS: Record<ExecutionStep['status'], 'Success' | 'Warning' | 'Failed' | 'Pending' | 'Queued'> = {
  queued: 'Queued',
  sent: 'Success',
  failed: 'Failed',
  retrying: 'Pending',
  dead: 'Failed',
  skipped: 'Warning',
  canceled: 'Warning',
};

const executionDetail = z.object({
  _id: z.string(),
  createdAt: z.string().optional(),
  status: z.enum(['Success', 'Warning', 'Failed', 'Pending', 'Queued']),
  detail: z.string(),
  isRetry: z.boolean(),
  isTest: z.boolean(),
  providerId: z.string().optional(),
  raw: z.string().nullable().optional(),
  source: z.literal('Internal'),
});
const job = z.object({
  _id: z.string(),
  type: z.string(),
  executionDetails: z.array(executionDetail),
  step: z.object({ _id: z.string(), active: z.boolean(), filters: z.array(z.unknown()), _templateId: z.string(), name: z.string().optional() }),
  providerId: z.string(),
  /** Rekey's: queued, sent, failed, retrying, dead, skipped (with `reason`) or canceled. */
  status: z.string(),
  reason: z.enum(['condition', 'preference', 'throttled']).nullable(),
  providerMessageId: z.string().nullable(),
  attempts: z.number(),
  error: z.string().nullable(),
  createdAt: z.string().optional(),
  updatedAt: z.string().optional(),
  sentAt: z.string().nullable(),
});
const activity = z.object({
  _id: z.string(),
  _environmentId: z.string(),
  _organizationId: z.string(),
  _subscriberId: z.string(),
  _templateId: z.string(),
  transactionId: z.string(),
  createdAt: z.string().optional(),
  updatedAt: z.string().optional(),
  channels: z.array(z.string()),
  /** Rekey's: pending, completed, canceled or failed. */
  status: z.string(),
  critical: z.boolean(),
  subscriber: z.object({ _id: z.string(), subscriberId: z.string() }),
  template: z.object({
    _id: z.string(),
    name: z.string(),
    triggers: z.array(z.object({ type: z.literal('event'), identifier: z.string(), variables: z.array(z.object({ name: z.string() })) })),
  }),
  jobs: z.array(job),
});
type Activity = z.infer<typeof activity>;

const stringList = z.union([z.string(), z.array(z.string())]).transform((value) => (Array.isArray(value) ? value : [value]));
const text = z.string().min(1).max(200);
/** Every filter `@novu/api`'s `notifications.list` may send; the ones Rekey has no use for are accepted and ignored. */
const listQuery = z.strictObject({
  page: z.coerce.number().int().min(0).max(10_000).default(0),
  limit: z.coerce.number().int().min(1).max(100).default(10),
  transactionId: text.optional(),
  subscriberIds: stringList.optional(),
  templates: stringList.optional(),
  channels: stringList.optional(),
  emails: stringList.optional(),
  search: text.optional(),
  severity: stringList.optional(),
  after: text.optional(),
  before: text.optional(),
  subscriptionId: text.optional(),
  topicKey: text.optional(),
  contextKeys: stringList.optional(),
});

/** The activity feed in Novu's shape (`@novu/api`'s `notifications.list` and `notifications.retrieve`): never a payload. */
export const activityRoutes: FastifyPluginAsync<ActivityRouteOptions> = async (app, { db, registry }) => {
  const r = app.withTypeProvider<ZodTypeProvider>();

  async function present(applicationId: string, executions: Execution[]): Promise<Activity[]> {
    if (executions.length === 0) return [];
    const steps = await db
      .selectFrom('notification_steps')
      .selectAll()
      .where(
        'execution_id',
        'in',
        executions.map((e) => e.id),
      )
      .orderBy('position')
      .execute();
    const byExecution = new Map<string, ExecutionStep[]>();
    for (const step of steps) byExecution.set(step.execution_id, [...(byExecution.get(step.execution_id) ?? []), step]);
    return executions.map((execution) => toActivity(applicationId, execution, byExecution.get(execution.id) ?? []));
  }

  function toActivity(applicationId: string, execution: Execution, steps: ExecutionStep[]): Activity {
    const workflow = registry.get(execution.workflow_id);
    return {
      _id: execution.id,
      _environmentId: applicationId,
      _organizationId: applicationId,
      _subscriberId: execution.subscriber_id,
      _templateId: execution.workflow_id,
      transactionId: execution.transaction_id,
      createdAt: iso(execution.created_at),
      updatedAt: iso(execution.updated_at),
      channels: [...new Set(steps.map((step) => step.type).filter((type) => type !== 'delay' && type !== 'throttle'))],
      status: execution.status,
      critical: workflow?.critical ?? false,
      subscriber: { _id: execution.subscriber_id, subscriberId: execution.subscriber_id },
      template: {
        _id: execution.workflow_id,
        name: workflow?.name ?? execution.workflow_id,
        triggers: [{ type: 'event', identifier: execution.workflow_id, variables: [] }],
      },
      jobs: steps.map((step) => ({
        _id: `${execution.id}:${step.step_id}`,
        type: step.type,
        executionDetails: [
          {
            _id: `${execution.id}:${step.step_id}:${step.attempts}`,
            createdAt: iso(step.updated_at),
            status: DETAIL_STATUS[step.status],
            detail: describe(step),
            isRetry: step.attempts > 1,
            isTest: false,
            providerId: PROVIDER_OF[step.type] ?? 'novu',
            raw: null,
            source: 'Internal' as const,
          },
        ],
        step: { _id: step.step_id, active: true, filters: [], _templateId: execution.workflow_id, name: step.step_id },
        providerId: PROVIDER_OF[step.type] ?? 'novu',
        status: step.status,
        reason: step.reason,
        providerMessageId: step.provider_message_id,
        attempts: step.attempts,
        error: step.error,
        createdAt: iso(step.created_at),
        updatedAt: iso(step.updated_at),
        sentAt: iso(step.sent_at) ?? null,
      })),
    };
  }

  r.get(
    '/v1/notifications',
    {
      config: routeConfig,
      schema: {
        tags,
        summary: 'List notifications and their steps (Novu activity)',
        operationId: 'listNotifications',
        errors: [],
        querystring: listQuery,
        response: { 200: z.object({ hasMore: z.boolean(), data: z.array(activity), pageSize: z.number(), page: z.number() }) },
      },
    },
    async (request) => {
      const { page, limit, transactionId, subscriberIds, templates, channels } = request.query;
      const applicationId = request.application!.id;
      let query = db.selectFrom('notification_executions').selectAll().where('application_id', '=', applicationId);
      if (transactionId) query = query.where('transaction_id', '=', transactionId);
      if (subscriberIds?.length) query = query.where('subscriber_id', 'in', subscriberIds);
      if (templates?.length) query = query.where('workflow_id', 'in', templates);
      if (channels?.length) {
        query = query.where((eb) =>
          eb.exists(
            eb
              .selectFrom('notification_steps')
              .select('notification_steps.execution_id')
              .whereRef('notification_steps.execution_id', '=', 'notification_executions.id')
              .where('notification_steps.type', 'in', channels),
          ),
        );
      }
      // One more than the page, to say whether another follows.
      const rows = await query
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(limit + 1)
        .offset(page * limit)
        .execute();
      return { hasMore: rows.length > limit, data: await present(applicationId, rows.slice(0, limit)), pageSize: limit, page };
    },
  );

  r.get(
    '/v1/notifications/:notificationId',
    {
      config: routeConfig,
      schema: {
        tags,
        summary: 'Get one notification and its steps (Novu activity)',
        operationId: 'getNotification',
        errors: ['notification_not_found'],
        params: z.object({ notificationId: z.string().min(1).max(200) }),
        response: { 200: z.object({ data: activity }) },
      },
    },
    async (request) => {
      const applicationId = request.application!.id;
      const execution = await db
        .selectFrom('notification_executions')
        .selectAll()
        .where('id', '=', request.params.notificationId)
        .where('application_id', '=', applicationId)
        .executeTakeFirst();
      if (!execution) throw new RekeyError('notification_not_found');
      return { data: (await present(applicationId, [execution]))[0]! };
    },
  );
};

function describe(step: ExecutionStep): string {
  switch (step.status) {
    case 'sent':
      return step.provider_message_id ? `Sent (provider message ${step.provider_message_id})` : 'Sent';
    case 'skipped':
      return `Skipped: ${step.reason ?? 'condition'}`;
    case 'retrying':
      return `Failed, will retry: ${step.error ?? 'unknown error'}`;
    case 'dead':
      // A row that expired in the outbox, or was refused before its step ran, died with no attempt of the step.
      return `Failed for good ${step.attempts ? `after ${step.attempts} attempt(s)` : 'before it ran'}: ${step.error ?? 'unknown error'}`;
    case 'failed':
      return `Failed: ${step.error ?? 'unknown error'}`;
    case 'canceled':
      return step.error ? `Canceled before it ran: ${step.error}` : 'Canceled before it ran';
    default:
      return 'Queued';
  }
}
