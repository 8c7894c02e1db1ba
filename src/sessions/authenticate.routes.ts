import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApplicationService } from '../apps/index.ts';
import { RekeyError } from '../errors/index.ts';
import { ACCESS_TOKEN_SECURITY } from '../http/openapi.ts';
import { emailField, passwordField } from '../http/schemas.ts';
import { EXAMPLE_USER, toWireUser, userObject, type User, type UserService } from '../users/index.ts';
import type { IssuedSession, SessionService } from './session.service.ts';
import { sessionObject, toWireSession } from './session.wire.ts';
import type { SignInService } from './sign-in.ts';

const client = { client_id: z.string().min(1).max(200), client_secret: z.string().min(1).max(500) };
const signal = { ip_address: z.string().max(100).optional(), user_agent: z.string().max(1000).optional() };

const authenticateBody = z.discriminatedUnion('grant_type', [
  z.strictObject({
    grant_type: z.literal('password'),
    ...client,
    ...signal,
    email: emailField,
    password: passwordField,
    invitation_token: z.string().max(500).optional(),
    device_id: z.string().max(200).optional(),
    signals_id: z.string().max(200).optional(),
    radar_auth_attempt_id: z.string().max(200).optional(),
  }),
  z.strictObject({
    grant_type: z.literal('refresh_token'),
    ...client,
    ...signal,
    refresh_token: z.string().min(1).max(500),
    organization_id: z.string().optional(),
  }),
  z.strictObject({
    grant_type: z.literal('urn:workos:oauth:grant-type:mfa-totp'),
    ...client,
    ...signal,
    pending_authentication_token: z.string().min(1).max(200),
    authentication_challenge_id: z.string().max(200).optional(),
    code: z.string().min(1).max(20),
  }),
]);

const authenticateResponse = z
  .object({ user: userObject, access_token: z.string(), refresh_token: z.string(), authentication_method: z.string().optional() })
  .meta({
    id: 'AuthenticateResponse',
    examples: [
      {
        user: EXAMPLE_USER,
        access_token: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyXzAxSkRROFo2VjNXNFg1WTZaN0E4QjlDMEQxIn0.c2lnbmF0dXJl',
        refresh_token: 'rt_Hk3mP9vT2bR8yW4nL6cF1jJ5dG0sAeZuVwYxKq',
        authentication_method: 'Password',
      },
    ],
  });

/**
 * `POST /user_management/authenticate` (the client secret travels in the body, as WorkOS does) and
 * `GET /v1/session`, which tells an application whether an access token's session is still alive.
 * The grants themselves are the sign-in service's; this only speaks the WorkOS wire shape.
 */
export const authenticateRoutes: FastifyPluginAsync<{ apps: ApplicationService; users: UserService; sessions: SessionService; signIn: SignInService }> = async (
  app,
  { apps, users, sessions, signIn },
) => {
  const r = app.withTypeProvider<ZodTypeProvider>();

  const toWire = ({ user, issued }: { user: User; issued: IssuedSession }, method?: string) => ({
    user: toWireUser(user),
    access_token: issued.accessToken,
    refresh_token: issued.refreshToken,
    ...(method ? { authentication_method: method } : {}),
  });

  r.post(
    '/user_management/authenticate',
    {
      config: { surface: 'management' },
      schema: {
        tags: ['sessions'],
        summary: 'Sign in: password, refresh token or TOTP code',
        description:
          'The client secret travels in the body, as WorkOS does. A password sign-in of an account with a second factor answers 403 `mfa_challenge` ' +
          'with a `pending_authentication_token`, which the `urn:workos:oauth:grant-type:mfa-totp` grant completes with an authenticator code. ' +
          'Pass the end user’s `ip_address` and `user_agent`: a sign-in from a browser and OS the account has not used before sends the user the `new-sign-in` notice, naming them.',
        operationId: 'authenticate',
        body: authenticateBody.meta({
          'x-examples': {
            password: {
              summary: 'Email and password',
              value: {
                grant_type: 'password',
                client_id: 'client_01JDQ8X…',
                client_secret: 'sk_…',
                email: 'ada@example.com',
                password: 'correct horse battery staple',
              },
            },
            refresh_token: {
              summary: 'A refresh token (rotated: the answer carries the next one)',
              value: {
                grant_type: 'refresh_token',
                client_id: 'client_01JDQ8X…',
                client_secret: 'sk_…',
                refresh_token: 'rt_Hk3mP9vT2bR8yW4nL6cF1jJ5dG0sAeZuVwYxKq',
              },
            },
            totp: {
              summary: 'After a 403 mfa_challenge: the pending token and an authenticator code',
              value: {
                grant_type: 'urn:workos:oauth:grant-type:mfa-totp',
                client_id: 'client_01JDQ8X…',
                client_secret: 'sk_…',
                pending_authentication_token: 'Xb3kP9vT2mR8yW4nL6cF1hJ5',
                code: '123456',
              },
            },
          },
        }),
        response: { 200: authenticateResponse },
        errors: [
          'invalid_client',
          'invalid_credentials',
          'invalid_grant',
          'mfa_challenge',
          'user_disabled',
          'totp_incorrect',
          'totp_attempts_exceeded',
          'rate_limited',
        ],
      },
    },
    async (request) => {
      const body = request.body;
      const application = await apps.authenticate(body.client_secret);
      if (!application || application.client_id !== body.client_id) throw new RekeyError('invalid_client');
      if (body.grant_type === 'refresh_token') return toWire(await signIn.withRefreshToken(body.refresh_token, application.id));
      const context = {
        applicationId: application.id,
        ipAddress: body.ip_address ?? request.clientIp,
        userAgent: body.user_agent ?? request.headers['user-agent'] ?? null,
        callerIp: request.clientIp,
      };
      if (body.grant_type === 'urn:workos:oauth:grant-type:mfa-totp') {
        return toWire(await signIn.withTotp(body.pending_authentication_token, body.code, context), 'Password');
      }
      const outcome = await signIn.withPassword(body.email, body.password, context);
      if (outcome.kind === 'second_factor_required') {
        throw new RekeyError('mfa_challenge', { user: toWireUser(outcome.user), pending_authentication_token: outcome.pendingAuthenticationToken });
      }
      return toWire(outcome, 'Password');
    },
  );

  r.get(
    '/v1/session',
    {
      config: { surface: 'management' },
      schema: {
        tags: ['sessions'],
        summary: 'Check an access token’s session',
        operationId: 'getCurrentSession',
        security: ACCESS_TOKEN_SECURITY,
        errors: ['session_invalid', 'user_not_found'],
        description: 'Introspects an access token (`Authorization: Bearer <access_token>`): 200 while its session is active, 401 once revoked or expired.',
        response: { 200: z.object({ session: sessionObject, user: userObject }) },
      },
    },
    async (request) => {
      const header = request.headers.authorization;
      if (!header?.startsWith('Bearer ')) throw new RekeyError('session_invalid');
      const claims = sessions.accessTokenClaims(header.slice(7).trim());
      // The session and its user are read at once: on PostgreSQL two round trips side by side, not one after the other.
      const [session, user] = await Promise.allSettled([sessions.activeSession(claims), users.getOrThrow(claims.userId)]);
      if (session.status === 'rejected') throw session.reason;
      if (user.status === 'rejected') throw user.reason;
      return { session: toWireSession(session.value, 'active'), user: toWireUser(user.value) };
    },
  );
};
