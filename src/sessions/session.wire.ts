import { z } from 'zod';
import { toIso, toIsoOrNull } from '../platform/clock.ts';
import type { Session, SessionStatus } from './session.service.ts';

/** WorkOS `session` list item (COMPAT.md 1.2). */
export const sessionObject = z
  .object({
    object: z.literal('session'),
    id: z.string(),
    user_id: z.string(),
    ip_address: z.string().nullable(),
    user_agent: z.string().nullable(),
    auth_method: z.string(),
    status: z.enum(['active', 'expired', 'revoked']),
    expires_at: z.string(),
    ended_at: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({
    id: 'Session',
    examples: [
      {
        object: 'session',
        id: 'session_01JDQ9A1B2C3D4E5F6G7H8J9K0',
        user_id: 'user_01JDQ8Z6V3W4X5Y6Z7A8B9C0D1',
        ip_address: '203.0.113.7',
        user_agent: 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
        auth_method: 'password',
        status: 'active',
        expires_at: '2026-12-25T12:00:00.000Z',
        ended_at: null,
        created_at: '2026-11-25T12:00:00.000Z',
        updated_at: '2026-11-25T12:00:00.000Z',
      },
    ],
  });

export const toWireSession = (session: Session, status: SessionStatus): z.infer<typeof sessionObject> => ({
  object: 'session',
  id: session.id,
  user_id: session.user_id,
  ip_address: session.ip_address,
  user_agent: session.user_agent,
  auth_method: session.auth_method,
  status,
  expires_at: toIso(session.expires_at),
  ended_at: toIsoOrNull(session.ended_at),
  created_at: toIso(session.created_at),
  updated_at: toIso(session.updated_at),
});
