import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { RekeyError } from '../errors/index.ts';
import { listEnvelope } from '../http/pagination.ts';
import { idParam } from '../http/schemas.ts';
import { toIso } from '../platform/clock.ts';
import type { UserService } from '../users/index.ts';
import type { AuthFactor, FactorService } from './factor.service.ts';

const totp = z.object({ issuer: z.string(), user: z.string() });

/** WorkOS `authentication_factor`, without secrets: what listing returns. */
export const authFactorObject = z
  .object({
    object: z.literal('authentication_factor'),
    id: z.string(),
    type: z.literal('totp'),
    user_id: z.string(),
    totp,
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({
    id: 'AuthenticationFactor',
    examples: [
      {
        object: 'authentication_factor',
        id: 'auth_factor_01JDQ9G8H9J0K1M2N3P4Q5R6S7',
        type: 'totp',
        user_id: 'user_01JDQ8Z6V3W4X5Y6Z7A8B9C0D1',
        totp: { issuer: 'Acme', user: 'ada@example.com' },
        created_at: '2026-11-25T12:00:00.000Z',
        updated_at: '2026-11-25T12:00:00.000Z',
      },
    ],
  });

/** Enrollment is the one answer that carries the secret; nothing can read it back afterwards. */
const authFactorWithSecrets = authFactorObject.extend({ totp: totp.extend({ secret: z.string(), uri: z.string(), qr_code: z.string() }) }).meta({
  id: 'AuthenticationFactorWithSecrets',
  examples: [
    {
      object: 'authentication_factor',
      id: 'auth_factor_01JDQ9G8H9J0K1M2N3P4Q5R6S7',
      type: 'totp',
      user_id: 'user_01JDQ8Z6V3W4X5Y6Z7A8B9C0D1',
      totp: {
        issuer: 'Acme',
        user: 'ada@example.com',
        secret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP',
        uri: 'otpauth://totp/Acme:ada%40example.com?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Acme',
        qr_code: '',
      },
      created_at: '2026-11-25T12:00:00.000Z',
      updated_at: '2026-11-25T12:00:00.000Z',
    },
  ],
});

const authChallengeObject = z.object({
  object: z.literal('authentication_challenge'),
  id: z.string(),
  authentication_factor_id: z.string(),
  expires_at: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
});

const enrollBody = z.strictObject({
  type: z.literal('totp'),
  totp_issuer: z.string().min(1).max(200).optional(),
  totp_user: z.string().min(1).max(320).optional(),
});

export function toWireFactor(factor: AuthFactor): z.infer<typeof authFactorObject> {
  return {
    object: 'authentication_factor',
    id: factor.id,
    type: factor.type,
    user_id: factor.user_id,
    totp: { issuer: factor.totp_issuer, user: factor.totp_user },
    created_at: toIso(factor.created_at),
    updated_at: toIso(factor.updated_at),
  };
}

export interface FactorRouteOptions {
  factors: FactorService;
  users: Pick<UserService, 'getOrThrow'>;
}

/** WorkOS-shaped `/user_management/.../auth_factors` (secret key). */
export const factorManagementRoutes: FastifyPluginAsync<FactorRouteOptions> = async (app, { factors, users }) => {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const config = { surface: 'management' as const };
  const tags = ['factors'];

  r.post(
    '/user_management/users/:id/auth_factors',
    {
      config,
      schema: {
        tags,
        summary: 'Enroll a TOTP authenticator',
        description: 'The one answer that carries the secret and its `otpauth://` URI; nothing can read them back afterwards.',
        operationId: 'enrollAuthFactor',
        errors: ['user_not_found'],
        params: idParam('user'),
        body: enrollBody,
        response: { 201: z.object({ authentication_factor: authFactorWithSecrets, authentication_challenge: authChallengeObject }) },
      },
    },
    async (request, reply) => {
      const user = await users.getOrThrow(request.params.id);
      const { factor, secret, uri } = await factors.enrollTotp(user, { issuer: request.body.totp_issuer, label: request.body.totp_user });
      const wire = toWireFactor(factor);
      return reply.code(201).send({
        authentication_factor: { ...wire, totp: { ...wire.totp, secret, uri, qr_code: '' } },
        // WorkOS answers enrollment with a first challenge; a TOTP challenge holds nothing to store, so it is not kept.
        authentication_challenge: {
          object: 'authentication_challenge' as const,
          id: `auth_challenge_${factor.id.slice('auth_factor_'.length)}`,
          authentication_factor_id: factor.id,
          expires_at: null,
          created_at: wire.created_at,
          updated_at: wire.updated_at,
        },
      });
    },
  );

  r.get(
    '/user_management/users/:id/auth_factors',
    {
      config,
      schema: {
        tags,
        summary: 'List a user’s authentication factors',
        operationId: 'listAuthFactors',
        params: idParam('user'),
        response: { 200: listEnvelope(authFactorObject) },
        errors: ['user_not_found'],
      },
    },
    async (request) => {
      await users.getOrThrow(request.params.id);
      const data = (await factors.list(request.params.id)).map(toWireFactor);
      // A user has a handful of factors: one page, no cursors.
      return { object: 'list' as const, data, list_metadata: { before: null, after: null } };
    },
  );

  r.delete(
    '/user_management/auth_factors/:id',
    {
      config,
      schema: {
        tags,
        summary: 'Delete an authentication factor',
        operationId: 'deleteAuthFactor',
        params: idParam('auth_factor'),
        response: { 204: z.undefined().describe('Deleted.') },
        errors: ['entity_not_found'],
      },
    },
    async (request, reply) => {
      if (!(await factors.delete(request.params.id))) throw new RekeyError('entity_not_found', { entity_id: request.params.id });
      return reply.code(204).send();
    },
  );
};
