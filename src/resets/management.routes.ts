import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { RekeyError } from '../errors/index.ts';
import { toIso } from '../platform/clock.ts';
import { emailField, idParam, passwordField } from '../http/schemas.ts';
import { toWireUser, userObject } from '../users/user.wire.ts';
import type { PasswordReset } from './reset.store.ts';
import type { ResetService } from './reset.service.ts';

const passwordResetObject = z
  .object({
    object: z.literal('password_reset'),
    id: z.string(),
    user_id: z.string(),
    email: z.string(),
    password_reset_token: z.string().describe('Empty once the reset is used, voided or expired: the token is not kept past that.'),
    password_reset_url: z.string(),
    expires_at: z.string(),
    created_at: z.string(),
  })
  .meta({ id: 'PasswordReset' });

const toWire = (reset: PasswordReset, token: string | null, url: string | null): z.infer<typeof passwordResetObject> => ({
  object: 'password_reset',
  id: reset.id,
  user_id: reset.user_id,
  email: reset.email,
  password_reset_token: token ?? '',
  password_reset_url: url ?? '',
  expires_at: toIso(reset.expires_at),
  created_at: toIso(reset.created_at),
});

/** WorkOS-shaped `/user_management/password_reset*` (secret key). */
export const resetManagementRoutes: FastifyPluginAsync<{ resetService: ResetService }> = async (app, { resetService }) => {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['password resets'];

  r.post(
    '/user_management/password_reset',
    { config: { surface: 'management' }, schema: { tags, body: z.strictObject({ email: emailField }), response: { 201: passwordResetObject } } },
    async (request, reply) => {
      const { reset, token, url } = await resetService.createForEmail(request.body.email, request.application!);
      return reply.code(201).send(toWire(reset, token, url));
    },
  );

  r.get(
    '/user_management/password_reset/:id',
    { config: { surface: 'management' }, schema: { tags, params: idParam('password_reset'), response: { 200: passwordResetObject } } },
    async (request) => {
      const found = await resetService.get(request.params.id);
      if (!found) throw new RekeyError('password_reset_not_found', { entity_id: request.params.id });
      return toWire(found.reset, found.token, found.url);
    },
  );

  r.post(
    '/user_management/password_reset/confirm',
    {
      config: { surface: 'management', errorGroup: 'password_reset_error' },
      schema: { tags, body: z.strictObject({ token: z.string().min(1).max(512), new_password: passwordField }), response: { 200: z.object({ user: userObject }) } },
    },
    async (request) => {
      const user = await resetService.confirm(request.body.token, request.body.new_password, {
        ipAddress: request.ip,
        userAgent: request.headers['user-agent'] ?? null,
      });
      return { user: toWireUser(user) };
    },
  );
};
