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
    { config, schema: { tags, params: idParam('user'), querystring: listQuery, response: { 200: listEnvelope(sessionObject) } } },
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
    { config, schema: { tags, body: z.strictObject({ session_id: z.string().min(1).max(200) }) } },
    async (request, reply) => {
      if (!(await sessions.revoke(request.body.session_id))) throw new RekeyError('session_not_found', { entity_id: request.body.session_id });
      // WorkOS answers an empty 200; the SDK reads no body without a JSON content type.
      return reply.code(200).type('text/plain').send('');
    },
  );
};
