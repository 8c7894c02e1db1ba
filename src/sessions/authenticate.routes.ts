import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApplicationService } from '../apps/app.service.ts';
import { RekeyError } from '../errors/index.ts';
import { emailField, passwordField } from '../http/schemas.ts';
import type { FactorService } from '../factors/factor.service.ts';
import type { User, UserService } from '../users/user.service.ts';
import { toWireUser, userObject } from '../users/user.wire.ts';
import type { SessionService } from './session.service.ts';
import { sessionObject, toWireSession } from './session.wire.ts';

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
  z.strictObject({ grant_type: z.literal('refresh_token'), ...client, ...signal, refresh_token: z.string().min(1).max(500), organization_id: z.string().optional() }),
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
  .meta({ id: 'AuthenticateResponse' });

/**
 * `POST /user_management/authenticate` (the client secret travels in the body, as WorkOS does) and
 * `GET /v1/session`, which tells an application whether an access token's session is still alive.
 */
export const authenticateRoutes: FastifyPluginAsync<{ apps: ApplicationService; users: UserService; sessions: SessionService; factors: FactorService }> = async (
  app,
  { apps, users, sessions, factors },
) => {
  const r = app.withTypeProvider<ZodTypeProvider>();

  const signIn = async (user: User, applicationId: string, ipAddress: string | null, userAgent: string | null, method: string) => {
    const issued = await sessions.issue({ userId: user.id, applicationId, ipAddress, userAgent });
    await users.recordSignIn(user.id);
    return {
      user: toWireUser({ ...user, last_sign_in_at: issued.session.created_at }),
      access_token: issued.accessToken,
      refresh_token: issued.refreshToken,
      authentication_method: method,
    };
  };

  r.post(
    '/user_management/authenticate',
    { config: { surface: 'management' }, schema: { tags: ['sessions'], body: authenticateBody, response: { 200: authenticateResponse } } },
    async (request) => {
      const body = request.body;
      const application = await apps.authenticate(body.client_secret);
      if (!application || application.client_id !== body.client_id) throw new RekeyError('invalid_client');
      if (body.grant_type === 'refresh_token') {
        const issued = await sessions.refresh(body.refresh_token);
        const user = await users.getOrThrow(issued.session.user_id);
        return { user: toWireUser(user), access_token: issued.accessToken, refresh_token: issued.refreshToken };
      }
      const ipAddress = body.ip_address ?? request.clientIp;
      const userAgent = body.user_agent ?? request.headers['user-agent'] ?? null;
      if (body.grant_type === 'urn:workos:oauth:grant-type:mfa-totp') {
        const completed = await factors.completeMfaLogin(body.pending_authentication_token, body.code);
        if (!completed || (completed.applicationId !== null && completed.applicationId !== application.id)) throw new RekeyError('totp_incorrect');
        return signIn(await users.getOrThrow(completed.userId), application.id, ipAddress, userAgent, 'Password');
      }
      const user = await users.verifyCredentials(body.email, body.password);
      if (!user) throw new RekeyError('invalid_credentials');
      // SEC-35/36: a password alone never signs in an account that has a second factor, reset or not.
      if (await factors.hasSecondFactor(user.id)) {
        const { pendingAuthenticationToken } = await factors.beginMfaLogin(user, application.id, { ipAddress, userAgent });
        throw new RekeyError('mfa_challenge', { user: toWireUser(user), pending_authentication_token: pendingAuthenticationToken });
      }
      return signIn(user, application.id, ipAddress, userAgent, 'Password');
    },
  );

  r.get(
    '/v1/session',
    {
      config: { surface: 'management' },
      schema: {
        tags: ['sessions'],
        description: 'Introspects an access token (`Authorization: Bearer <access_token>`): 200 while its session is active, 401 once revoked or expired.',
        response: { 200: z.object({ session: sessionObject, user: userObject }) },
      },
    },
    async (request) => {
      const header = request.headers.authorization;
      if (!header?.startsWith('Bearer ')) throw new RekeyError('session_invalid');
      const session = await sessions.verifyAccessToken(header.slice(7).trim());
      const user = await users.getOrThrow(session.user_id);
      return { session: toWireSession(session, 'active'), user: toWireUser(user) };
    },
  );
};
