import type { FastifyInstance } from 'fastify';
import type { Application, ApplicationService } from '../apps/index.ts';
import { RekeyError } from '../errors/index.ts';
import { SECRET_KEY_SECURITY } from './openapi.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The application whose secret key authenticated this request (management API only). */
    application?: Application;
    /** The client's address: the socket peer, or X-Forwarded-For through a trusted proxy only. */
    clientIp: string;
  }
}

/** The key of `Authorization: Bearer sk_…`, or of `ApiKey sk_…` as `@novu/api` sends it. */
export function secretKeyOf(header: string | undefined): string | undefined {
  const match = header && /^(Bearer|ApiKey) +(\S+) *$/.exec(header);
  return match ? match[2] : undefined;
}

/** `Authorization: Bearer sk_…` (or `ApiKey sk_…`) on every route of the plugin it is added to. */
export function requireSecretKey(app: FastifyInstance, apps: ApplicationService): void {
  // The OpenAPI document says so on each route (and lists its 401), so no route needs to repeat it.
  app.addHook('onRoute', (route) => {
    route.schema = { ...route.schema, security: SECRET_KEY_SECURITY };
  });
  app.addHook('onRequest', async (request) => {
    const key = secretKeyOf(request.headers.authorization);
    const application = key ? await apps.authenticate(key) : undefined;
    if (!application) throw new RekeyError('unauthorized');
    request.application = application;
  });
}
