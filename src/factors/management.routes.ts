import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { RekeyError } from '../errors/index.ts';
import { listEnvelope } from '../http/pagination.ts';
import { idParam } from '../http/schemas.ts';
import { toIso } from '../platform/clock.ts';
import type { UserService } from '../users/index.ts';
import type { AuthFactor, FactorService } from './factor.service.ts';
import { ENROLLABLE_FACTOR_TYPES } from './factor.ts';
import { E164 } from './sms-code/sms.factor.ts';

const totp = z.object({ issuer: z.string(), user: z.string() });

/**
 * WorkOS `authentication_factor`, without secrets: what listing returns. WorkOS knows `totp` and `sms`; Rekey's
 * other types (WebAuthn, recovery codes) come in the same envelope with their own `type` and no detail object.
 */
export const authFactorObject = z
  .object({
    object: z.literal('authentication_factor'),
    id: z.string(),
    type: z.enum(ENROLLABLE_FACTOR_TYPES),
    user_id: z.string(),
    totp: totp.optional(),
    sms: z.object({ phone_number: z.string() }).optional(),
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
const authFactorWithSecrets = authFactorObject.extend({ totp: totp.extend({ secret: z.string(), uri: z.string(), qr_code: z.string() }).optional() }).meta({
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

const enrollBody = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('totp'),
    totp_issuer: z.string().min(1).max(200).optional(),
    totp_user: z.string().min(1).max(320).optional(),
  }),
  z.strictObject({ type: z.literal('sms'), phone_number: z.string().regex(E164, 'must be E.164, like +14155550123') }),
]);

const recoveryCodesObject = z
  .object({
    object: z.literal('recovery_codes'),
    authentication_factor: authFactorObject,
    codes: z.array(z.string()).describe('Shown this once: only their HMAC is kept. Creating a new set voids these.'),
  })
  .meta({ id: 'RecoveryCodes' });

const enrollmentLinkObject = z
  .object({
    object: z.literal('factor_enrollment_link'),
    url: z.string().describe('Single use; send the signed-in user there at once. It lets whoever follows it enroll factors for this user.'),
    expires_at: z.string(),
  })
  .meta({ id: 'FactorEnrollmentLink' });

export function toWireFactor(factor: AuthFactor): z.infer<typeof authFactorObject> {
  return {
    object: 'authentication_factor',
    id: factor.id,
    type: factor.type,
    user_id: factor.user_id,
    ...(factor.type === 'totp' ? { totp: { issuer: factor.totp_issuer ?? '', user: factor.totp_user ?? '' } } : {}),
    ...(factor.type === 'sms' ? { sms: { phone_number: factor.phone_number ?? '' } } : {}),
    created_at: toIso(factor.created_at),
    updated_at: toIso(factor.updated_at),
  };
}

export interface FactorRouteOptions {
  factors: FactorService;
  users: Pick<UserService, 'getOrThrow'>;
}

/** WorkOS-shaped `/user_management/.../auth_factors`, plus recovery codes and enrollment links (secret key). */
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
        summary: 'Enroll a TOTP authenticator or an SMS number',
        description:
          'TOTP: the one answer that carries the secret and its `otpauth://` URI; nothing can read them back afterwards. SMS: the number in E.164; codes are sent when a flow asks for one.',
        operationId: 'enrollAuthFactor',
        errors: ['user_not_found', 'phone_number_invalid', 'factor_unavailable'],
        params: idParam('user'),
        body: enrollBody,
        response: { 201: z.object({ authentication_factor: authFactorWithSecrets, authentication_challenge: authChallengeObject }) },
      },
    },
    async (request, reply) => {
      const user = await users.getOrThrow(request.params.id);
      const body = request.body;
      let factor: z.infer<typeof authFactorWithSecrets>;
      if (body.type === 'totp') {
        const { factor: enrolled, secret, uri } = await factors.enrollTotp(user, { issuer: body.totp_issuer, label: body.totp_user });
        const wire = toWireFactor(enrolled);
        factor = { ...wire, totp: { ...wire.totp!, secret, uri, qr_code: '' } };
      } else {
        const { totp: _none, ...wire } = toWireFactor((await factors.enroll('sms', user, { phoneNumber: body.phone_number })).factor);
        factor = wire;
      }
      return reply.code(201).send({
        authentication_factor: factor,
        // WorkOS answers enrollment with a first challenge. A TOTP challenge holds nothing to store, and an SMS code is
        // sent when a flow asks for one, so neither is kept.
        authentication_challenge: {
          object: 'authentication_challenge' as const,
          id: `auth_challenge_${factor.id.slice('auth_factor_'.length)}`,
          authentication_factor_id: factor.id,
          expires_at: null,
          created_at: factor.created_at,
          updated_at: factor.updated_at,
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
        description:
          'TOTP factors, as WorkOS lists them (its SDK reads a `totp` object in every entry). With `all_types=true`, every factor: SMS numbers, security keys and passkeys, recovery codes.',
        operationId: 'listAuthFactors',
        params: idParam('user'),
        // The WorkOS SDK sends its pagination parameters; one page holds every factor, so they are accepted and ignored.
        querystring: z.looseObject({ all_types: z.enum(['true', 'false']).optional() }),
        response: { 200: listEnvelope(authFactorObject) },
        errors: ['user_not_found'],
      },
    },
    async (request) => {
      await users.getOrThrow(request.params.id);
      const all = request.query.all_types === 'true';
      const data = (await factors.list(request.params.id)).filter((factor) => all || factor.type === 'totp').map(toWireFactor);
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

  r.post(
    '/user_management/users/:id/recovery_codes',
    {
      config,
      schema: {
        tags,
        summary: 'Create recovery codes',
        description: 'Ten single-use codes, shown in this answer only. A new set voids the previous one.',
        operationId: 'createRecoveryCodes',
        params: idParam('user'),
        body: z.strictObject({}).nullish(),
        response: { 201: recoveryCodesObject },
        errors: ['user_not_found'],
      },
    },
    async (request, reply) => {
      const user = await users.getOrThrow(request.params.id);
      const { factor, codes } = await factors.regenerateRecoveryCodes(user);
      return reply.code(201).send({ object: 'recovery_codes' as const, authentication_factor: toWireFactor(factor), codes });
    },
  );

  r.post(
    '/user_management/users/:id/factor_enrollment_links',
    {
      config,
      schema: {
        tags,
        summary: 'Create a factor enrollment link',
        description:
          'A one-time link, valid ten minutes, to the hosted page where the user enrolls a security key or passkey and makes recovery codes. Send the signed-in user there at once.',
        operationId: 'createFactorEnrollmentLink',
        params: idParam('user'),
        body: z.strictObject({}).nullish(),
        response: { 201: enrollmentLinkObject },
        errors: ['user_not_found'],
      },
    },
    async (request, reply) => {
      const user = await users.getOrThrow(request.params.id);
      const { url, expiresAt } = await factors.enrollmentLinks.create(user.id);
      return reply.code(201).send({ object: 'factor_enrollment_link' as const, url, expires_at: toIso(expiresAt) });
    },
  );
};
