import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { RekeyError } from '../errors/index.ts';
import { listEnvelope, listQuery } from '../http/pagination.ts';
import { idParam } from '../http/schemas.ts';
import type { UserService } from '../users/index.ts';
import type { SessionService } from './session.service.ts';
import { sessionObject, toWireSession } from './session.wire.ts';

/** WorkOS-shaped session listing and revocation (secret key). */
export const sessionManagementRoutes: FastifyPluginAsync<{ sessions: SessionService; users: UserService }> = async (app, { sessions, users }) => {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const config = { surface: 'management' as const };
  const tags = ['sessions'];

  r.get(
    '/user_management/users/:id/sessions',
    {
      config,
      schema: {
        tags,
        summary: 'List a user’s sessions',
        operationId: 'listSessions',
        params: idParam('user'),
        querystring: listQuery,
        response: { 200: listEnvelope(sessionObject) },
        errors: ['user_not_found'],
      },
    },
    async (request) => {
      await users.getOrThrow(request.params.id);
      const page = await sessions.list(request.params.id, request.query);
      return {
        object: 'list' as const,
        data: page.data.map((s) => toWireSession(s, sessions.statusOf(s))),
        list_metadata: { before: page.before, after: page.after },
      };
    },
  );

  r.post(
    '/user_management/sessions/revoke',
    {
      config,
      schema: {
        tags,
        summary: 'Revoke a session',
        description: 'Answers 200 with an empty body, as WorkOS does.',
        operationId: 'revokeSession',
        body: z.strictObject({ session_id: z.string().min(1).max(200) }),
        produces: ['text/plain'],
        response: { 200: z.literal('').describe('Revoked.') },
        errors: ['session_not_found'],
      },
    },
    async (request, reply) => {
      if (!(await sessions.revoke(request.body.session_id))) throw new RekeyError('session_not_found', { entity_id: request.body.session_id });
      // WorkOS answers an empty 200; the SDK reads no body without a JSON content type.
      return reply.code(200).type('text/plain').send('');
    },
  );
};
