/** Subscribers and their preferences: the notifications module's recipients (Novu's `/v2/subscribers`). */
import type { FastifyPluginAsync } from 'fastify';
import type { PlatformDeps } from '../../deps.ts';
import { createPreferenceService, type ListWorkflows } from './preference.service.ts';
import { subscribersMigrations } from './migrations.ts';
import { createSubscriberService } from './subscriber.service.ts';
import { subscriberRoutes } from './subscribers.routes.ts';

export { subscribersMigrations };
export {
  PREFERENCE_CHANNELS,
  type ChannelChoices,
  type Criticality,
  type ListWorkflows,
  type PreferenceChannel,
  type PreferenceService,
  type Preferences,
  type WorkflowSummary,
} from './preference.service.ts';
export { E164, SUBSCRIBER_ID, subscriberIdField, phoneField, type SubscriberInput, type SubscriberPatch } from './subscriber.schemas.ts';
export { SUBSCRIBER_FIELD_COLUMNS, type Subscriber, type SubscriberService } from './subscriber.service.ts';
export type { SubscriberPreferencesTable, SubscribersTable, SubscriberTables } from './subscriber.table.ts';
export { tenantOf, toNovuSubscriber, type NovuTenant } from './subscriber.wire.ts';

/**
 * The subscribers part of the notifications module: one service (subscribers and their preferences, with
 * `channelAllowed` for the engine) and the management routes. `listWorkflows` is the engine's registry.
 */
export function createSubscribers(deps: Pick<PlatformDeps, 'store' | 'clock' | 'ids'> & { listWorkflows: ListWorkflows }) {
  const subscribers = createSubscriberService(deps);
  const preferences = createPreferenceService({ ...deps, subscribers });
  const managementRoutes: FastifyPluginAsync = async (app) => void (await app.register(subscriberRoutes, { subscribers, preferences }));
  const service = {
    ...subscribers,
    channelAllowed: preferences.channelAllowed,
    preferences,
  };
  return { service, managementRoutes };
}

export type SubscribersPart = ReturnType<typeof createSubscribers>;
