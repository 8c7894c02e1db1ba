import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { PASSWORD_POLICY_CODES, RekeyError } from '../errors/index.ts';
import { toIso } from '../platform/clock.ts';
import { emailField, idParam, passwordField } from '../http/schemas.ts';
import { toWireUser, userObject, type UserService } from '../users/index.ts';
import type { PasswordReset } from './reset.store.ts';
import type { FlowService, ManagementFlows } from './flow.service.ts';
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
  .meta({
    id: 'PasswordReset',
    examples: [
      {
        object: 'password_reset',
        id: 'password_reset_01JDQ9C4D5E6F7G8H9J0K1M2N3',
        user_id: 'user_01JDQ8Z6V3W4X5Y6Z7A8B9C0D1',
        email: 'ada@example.com',
        password_reset_token: 'q7Wm3bX9kT2vR8yP4nL6cF1hJ5dG0sA-eZ_uVwYxKio',
        password_reset_url: 'https://auth.example.com/reset/verify?token=q7Wm3bX9kT2vR8yP4nL6cF1hJ5dG0sA-eZ_uVwYxKio',
        expires_at: '2026-11-25T12:30:00.000Z',
        created_at: '2026-11-25T12:00:00.000Z',
      },
    ],
  });

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

const tokenConfirm = z.strictObject({
  token: z.string().min(1).max(512),
  new_password: passwordField,
  skip_second_factor: z
    .boolean()
    .optional()
    .describe(
      'Rekey only. `true` sets the password of an account with a second factor on the token alone: say so only when your application has checked that factor itself.',
    ),
});
const factorConfirm = z.strictObject({
  pending_authentication_token: z.string().min(20).max(200).describe('From the `mfa_challenge` answer to a token confirm.'),
  code: z.string().min(1).max(20).describe("A code of the account's authenticator app."),
  new_password: passwordField,
});

/** WorkOS-shaped `/user_management/password_reset*` (secret key). */
export const resetManagementRoutes: FastifyPluginAsync<{
  resetService: ResetService;
  flows: ManagementFlows & Pick<FlowService, 'pendingStep'>;
  users: Pick<UserService, 'getOrThrow'>;
}> = async (app, { resetService, flows, users }) => {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['password resets'];

  r.post(
    '/user_management/password_reset',
    {
      config: { surface: 'management' },
      schema: {
        tags,
        summary: 'Create a password reset',
        description: 'Issues a reset token for the user with this email and answers it with its link; Rekey sends no mail for it.',
        operationId: 'createPasswordReset',
        body: z.strictObject({ email: emailField }),
        response: { 201: passwordResetObject },
        errors: ['user_not_found', 'user_disabled'],
      },
    },
    async (request, reply) => {
      const { reset, token, url } = await resetService.createForEmail(request.body.email, request.application!);
      return reply.code(201).send(toWire(reset, token, url));
    },
  );

  r.get(
    '/user_management/password_reset/:id',
    {
      config: { surface: 'management' },
      schema: {
        tags,
        summary: 'Get a password reset',
        operationId: 'getPasswordReset',
        params: idParam('password_reset'),
        response: { 200: passwordResetObject },
        errors: ['password_reset_not_found'],
      },
    },
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
      schema: {
        tags,
        summary: 'Set the new password with a reset token',
        operationId: 'confirmPasswordReset',
        errors: [
          'password_reset_token_invalid',
          ...PASSWORD_POLICY_CODES,
          'mfa_challenge',
          'grant_invalid',
          'totp_incorrect',
          'totp_attempts_exceeded',
          'flow_denied',
          'action_pending',
          'user_disabled',
          'server_busy',
        ],
        description:
          'Sets the new password with the emailed token. For an account with a second factor the token alone is not enough (SEC-36): ' +
          'the answer is 403 `mfa_challenge` with a `pending_authentication_token` (the token is spent into it), and a second call ' +
          'with that pending token, the authenticator code and the new password completes the reset — unless the call says `skip_second_factor: true`.',
        body: z.union([tokenConfirm, factorConfirm]).meta({
          'x-examples': {
            token: {
              summary: 'With the emailed token',
              value: { token: 'q7Wm3bX9kT2vR8yP4nL6cF1hJ5dG0sA-eZ_uVwYxKio', new_password: 'correct horse battery staple' },
            },
            second_factor: {
              summary: 'After a 403 mfa_challenge: the pending token and an authenticator code',
              value: {
                pending_authentication_token: 'flow_01JDQ9E6F7G8H9J0K1M2N3P4Q5.Xb3kP9vT2mR8yW4nL6cF1hJ5',
                code: '123456',
                new_password: 'correct horse battery staple',
              },
            },
          },
        }),
        response: { 200: z.object({ user: userObject }) },
      },
    },
    async (request) => {
      const context = { ipAddress: request.clientIp, userAgent: request.headers['user-agent'] ?? null };
      const body = request.body;
      if ('pending_authentication_token' in body) {
        const flow = await flows.completeWithSecondFactor(body.pending_authentication_token, body.code, body.new_password, context);
        return { user: toWireUser(await users.getOrThrow(flow.user_id!)) };
      }
      try {
        const user = await resetService.confirm(body.token, body.new_password, context, { secondFactor: body.skip_second_factor ? 'skip' : 'required' });
        return { user: toWireUser(user) };
      } catch (error) {
        if (!(error instanceof RekeyError && error.code === 'mfa_required')) throw error;
      }
      // The token is spent into a flow, where the post-challenge actions run (a denial throws `flow_denied`).
      const { flow, pendingAuthenticationToken } = await flows.awaitSecondFactor(body.token, context);
      if (flow.status === 'needs_new_password') {
        const done = await flows.completeAllowed(pendingAuthenticationToken, body.new_password, context);
        return { user: toWireUser(await users.getOrThrow(done.user_id!)) };
      }
      // A redirect needs the user's browser: the application's front end drives it with the flow API.
      if ((await flows.pendingStep(flow))?.redirect)
        throw new RekeyError('action_pending', { flow_id: flow.id, pending_authentication_token: pendingAuthenticationToken });
      // As WorkOS answers a sign-in that needs a second factor: a 403 carrying the pending token to finish with.
      throw new RekeyError(
        'mfa_challenge',
        { user: toWireUser(await users.getOrThrow(flow.user_id!)), pending_authentication_token: pendingAuthenticationToken },
        'This account has a second factor: confirm the reset again with the pending_authentication_token, an authenticator code and the new password.',
      );
    },
  );
};
