import { z } from 'zod';
import { toIso, toIsoOrNull } from '../platform/clock.ts';
import type { User } from './user.service.ts';

/** What the OpenAPI document shows for a user (test/openapi.test.ts checks that it fits the schema). */
export const EXAMPLE_USER = {
  object: 'user' as const,
  id: 'user_01JDQ8Z6V3W4X5Y6Z7A8B9C0D1',
  email: 'ada@example.com',
  email_verified: true,
  first_name: 'Ada',
  last_name: 'Lovelace',
  profile_picture_url: null,
  external_id: 'crm-4711',
  locale: 'en',
  metadata: { plan: 'pro' },
  last_sign_in_at: '2026-11-25T12:00:00.000Z',
  created_at: '2026-11-01T09:30:00.000Z',
  updated_at: '2026-11-25T12:00:00.000Z',
};

/** WorkOS `user` object (COMPAT.md 1.2). */
export const userObject = z
  .object({
    object: z.literal('user'),
    id: z.string(),
    email: z.string(),
    email_verified: z.boolean(),
    first_name: z.string().nullable(),
    last_name: z.string().nullable(),
    profile_picture_url: z.string().nullable(),
    external_id: z.string().nullable(),
    locale: z.string().nullable(),
    metadata: z.record(z.string(), z.string()),
    last_sign_in_at: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'User', examples: [EXAMPLE_USER] });

export function toWireUser(user: User): z.infer<typeof userObject> {
  return {
    object: 'user',
    id: user.id,
    email: user.email,
    email_verified: user.email_verified === 1,
    first_name: user.first_name,
    last_name: user.last_name,
    profile_picture_url: user.profile_picture_url,
    external_id: user.external_id,
    locale: user.locale,
    metadata: JSON.parse(user.metadata) as Record<string, string>,
    last_sign_in_at: toIsoOrNull(user.last_sign_in_at),
    created_at: toIso(user.created_at),
    updated_at: toIso(user.updated_at),
  };
}
