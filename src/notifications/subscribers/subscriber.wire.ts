import { z } from 'zod';
import { toIso } from '../../platform/clock.ts';
import { PREFERENCE_CHANNELS, type Preferences } from './preference.service.ts';
import type { Subscriber } from './subscriber.service.ts';

/** Whose data an answer is, in Novu's terms: the application whose key asked is both organization and environment. */
export interface NovuTenant {
  _organizationId: string;
  _environmentId: string;
}

export const tenantOf = (application: { id: string } | undefined): NovuTenant => ({
  _organizationId: application?.id ?? '',
  _environmentId: application?.id ?? '',
});

/** `SubscriberResponseDto` of `@novu/api` (required by wire name: subscriberId, _organizationId, _environmentId, deleted, createdAt, updatedAt). */
export const novuSubscriber = z
  .object({
    _id: z.string(),
    subscriberId: z.string(),
    firstName: z.string().nullable(),
    lastName: z.string().nullable(),
    email: z.string().nullable(),
    phone: z.string().nullable(),
    avatar: z.string().nullable(),
    locale: z.string().nullable(),
    timezone: z.string().nullable(),
    data: z.record(z.string(), z.unknown()).nullable(),
    channels: z.array(z.never()),
    _organizationId: z.string(),
    _environmentId: z.string(),
    deleted: z.boolean(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'NovuSubscriber' });

export function toNovuSubscriber(subscriber: Subscriber, tenant: NovuTenant): z.infer<typeof novuSubscriber> {
  return {
    _id: subscriber.id,
    subscriberId: subscriber.subscriberId,
    firstName: subscriber.firstName,
    lastName: subscriber.lastName,
    email: subscriber.email,
    phone: subscriber.phone,
    avatar: subscriber.avatar,
    locale: subscriber.locale,
    timezone: subscriber.timezone,
    data: subscriber.data,
    channels: [],
    ...tenant,
    deleted: false,
    createdAt: toIso(subscriber.createdAt),
    updatedAt: toIso(subscriber.updatedAt),
  };
}

const channelFlags = z.object(
  Object.fromEntries(PREFERENCE_CHANNELS.map((c) => [c, z.boolean().optional()])) as Record<(typeof PREFERENCE_CHANNELS)[number], z.ZodOptional<z.ZodBoolean>>,
);

/** `GetSubscriberPreferencesDto`. */
export const novuPreferences = z
  .object({
    global: z.object({ enabled: z.boolean(), channels: channelFlags }),
    workflows: z.array(
      z.object({
        enabled: z.boolean(),
        channels: channelFlags,
        overrides: z.array(z.object({ channel: z.enum(PREFERENCE_CHANNELS), source: z.literal('subscriber') })),
        workflow: z.object({ slug: z.string(), identifier: z.string(), name: z.string() }),
        updatedAt: z.string().optional(),
      }),
    ),
  })
  .meta({ id: 'NovuSubscriberPreferences' });

export function toNovuPreferences(preferences: Preferences): z.infer<typeof novuPreferences> {
  return {
    global: preferences.global,
    workflows: preferences.workflows.map((entry) => ({
      enabled: entry.enabled,
      channels: entry.channels,
      overrides: entry.chosen.map((channel) => ({ channel, source: 'subscriber' as const })),
      workflow: { slug: entry.workflow.id, identifier: entry.workflow.id, name: entry.workflow.name },
      ...(entry.updatedAt !== null ? { updatedAt: toIso(entry.updatedAt) } : {}),
    })),
  };
}
