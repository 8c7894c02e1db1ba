import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { isRekeyError, RekeyError, type ErrorCode } from '../../errors/index.ts';
import type { PreferenceService } from './preference.service.ts';
import type { SubscriberService } from './subscriber.service.ts';
import { novuPreferences, novuSubscriber, tenantOf, toNovuPreferences, toNovuSubscriber } from './subscriber.wire.ts';

export interface SubscriberRouteOptions {
  subscribers: SubscriberService;
  preferences: PreferenceService;
}

const tags = ['subscribers'];
const routeConfig = { surface: 'novu' as const };
/** What every route that names a subscriber can answer. */
const found = ['invalid_subscriber_id', 'subscriber_not_found'] as const satisfies readonly ErrorCode[];

// Types only: the service checks each value (E.164, the id's form) and answers with that field's own code.
const nullableText = z.string().nullable().optional();
const fields = {
  firstName: nullableText,
  lastName: nullableText,
  email: nullableText,
  phone: nullableText,
  avatar: nullableText,
  locale: nullableText,
  timezone: nullableText,
  data: z.record(z.string(), z.unknown()).nullable().optional(),
};
const createBody = z.object({ subscriberId: z.string(), ...fields });
const patchBody = z.object(fields);
const subscriberParams = z.object({ subscriberId: z.string() });
const flag = z.enum(['true', 'false']).transform((value) => value === 'true');
const searchQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(10),
  after: z.string().min(1).max(200).optional(),
  before: z.string().min(1).max(200).optional(),
  orderDirection: z.enum(['ASC', 'DESC']).default('DESC'),
  // Subscribers are listed in creation order, which their ids follow.
  orderBy: z.enum(['createdAt', '_id']).optional(),
  includeCursor: flag.optional(),
  email: z.string().max(320).optional(),
  name: z.string().max(400).optional(),
  phone: z.string().max(32).optional(),
  subscriberId: z.string().max(128).optional(),
});
const preferencesQuery = z.strictObject({
  criticality: z.enum(['critical', 'nonCritical', 'all']).default('nonCritical'),
  contextKeys: z.union([z.string(), z.array(z.string())]).optional(),
});
const channelChoices = z.object({
  email: z.boolean().optional(),
  sms: z.boolean().optional(),
  in_app: z.boolean().optional(),
  chat: z.boolean().optional(),
  // Rekey has no push or agent-tool channel; Novu's SDK may still send them.
  push: z.boolean().optional(),
  tool: z.boolean().optional(),
});
const preferencesBody = z.object({
  channels: channelChoices.optional(),
  workflowId: z.string().min(1).max(200).optional(),
  schedule: z.unknown().optional(),
  context: z.unknown().optional(),
});

const wrapped = <T extends z.ZodType>(schema: T) => z.object({ data: schema });
const removed = z.object({ acknowledged: z.boolean(), status: z.string() });
const list = z.object({
  data: z.array(novuSubscriber),
  next: z.string().nullable(),
  previous: z.string().nullable(),
  totalCount: z.number(),
  totalCountCapped: z.boolean(),
});

/** `/v2/subscribers` as `@novu/api`'s `subscribers.*` and `subscribers.preferences.*` call it; answers in Novu's `{ data }` envelope. */
export const subscriberRoutes: FastifyPluginAsync<SubscriberRouteOptions> = async (app, { subscribers, preferences }) => {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.post(
    '/v2/subscribers',
    {
      config: routeConfig,
      schema: {
        tags,
        summary: 'Create or update a subscriber (Novu)',
        operationId: 'createSubscriber',
        errors: ['invalid_subscriber_id', 'invalid_phone', 'subscriber_already_exists'],
        body: createBody,
        querystring: z.strictObject({ failIfExists: flag.optional() }),
        response: { 201: wrapped(novuSubscriber) },
      },
    },
    async (request, reply) => {
      const tenant = tenantOf(request.application);
      try {
        const created = await subscribers.create(request.body, { failIfExists: request.query.failIfExists });
        return reply.code(201).send({ data: toNovuSubscriber(created, tenant) });
      } catch (error) {
        if (!isRekeyError(error) || error.code !== 'subscriber_already_exists') throw error;
        // Novu answers a 409 with the subscriber that exists.
        const existing = await subscribers.getOrThrow(request.body.subscriberId);
        throw new RekeyError('subscriber_already_exists', toNovuSubscriber(existing, tenant));
      }
    },
  );

  r.get(
    '/v2/subscribers',
    {
      config: routeConfig,
      schema: { tags, summary: 'Search subscribers (Novu)', operationId: 'searchSubscribers', errors: [], querystring: searchQuery, response: { 200: list } },
    },
    async (request) => {
      const page = await subscribers.search(request.query);
      const tenant = tenantOf(request.application);
      return { ...page, data: page.data.map((subscriber) => toNovuSubscriber(subscriber, tenant)) };
    },
  );

  r.get(
    '/v2/subscribers/:subscriberId',
    {
      config: routeConfig,
      schema: {
        tags,
        summary: 'Get a subscriber (Novu)',
        operationId: 'getSubscriber',
        errors: found,
        params: subscriberParams,
        response: { 200: wrapped(novuSubscriber) },
      },
    },
    async (request) => ({ data: toNovuSubscriber(await subscribers.getOrThrow(request.params.subscriberId), tenantOf(request.application)) }),
  );

  r.patch(
    '/v2/subscribers/:subscriberId',
    {
      config: routeConfig,
      schema: {
        tags,
        summary: 'Update a subscriber (Novu)',
        operationId: 'patchSubscriber',
        errors: [...found, 'invalid_phone'],
        params: subscriberParams,
        body: patchBody,
        response: { 200: wrapped(novuSubscriber) },
      },
    },
    async (request) => ({ data: toNovuSubscriber(await subscribers.patch(request.params.subscriberId, request.body), tenantOf(request.application)) }),
  );

  r.delete(
    '/v2/subscribers/:subscriberId',
    {
      config: routeConfig,
      schema: {
        tags,
        summary: 'Delete a subscriber and its preferences (Novu)',
        operationId: 'deleteSubscriber',
        errors: found,
        params: subscriberParams,
        response: { 200: wrapped(removed) },
      },
    },
    async (request) => {
      const { subscriberId } = request.params;
      if (!(await subscribers.delete(subscriberId))) throw new RekeyError('subscriber_not_found', { subscriberId });
      return { data: { acknowledged: true, status: 'deleted' } };
    },
  );

  r.get(
    '/v2/subscribers/:subscriberId/preferences',
    {
      config: routeConfig,
      schema: {
        tags,
        summary: 'Get a subscriber’s preferences (Novu)',
        operationId: 'getSubscriberPreferences',
        errors: found,
        params: subscriberParams,
        querystring: preferencesQuery,
        response: { 200: wrapped(novuPreferences) },
      },
    },
    async (request) => ({ data: toNovuPreferences(await preferences.list(request.params.subscriberId, request.query.criticality)) }),
  );

  r.patch(
    '/v2/subscribers/:subscriberId/preferences',
    {
      config: routeConfig,
      schema: {
        tags,
        summary: 'Update a subscriber’s preferences, global or for one workflow (Novu)',
        operationId: 'updateSubscriberPreferences',
        errors: [...found, 'workflow_not_found', 'workflow_critical'],
        params: subscriberParams,
        body: preferencesBody,
        response: { 200: wrapped(novuPreferences) },
      },
    },
    async (request) => {
      const { email, sms, in_app, chat } = request.body.channels ?? {};
      const change = { workflowId: request.body.workflowId, channels: { email, sms, in_app, chat } };
      return { data: toNovuPreferences(await preferences.update(request.params.subscriberId, change)) };
    },
  );
};
