import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Rekey } from './compose.ts';
import { installErrorHandling, RekeyError } from './errors/index.ts';
import { healthRoutes } from './http/health.routes.ts';
import { registerOpenApi } from './http/openapi.ts';
import { requireSecretKey } from './http/secret-key.ts';
import { hostedPages } from './pages/index.ts';
import { clientIp, parseTrustedProxies } from './platform/client-ip.ts';
import { createAccessLog, lazyChildLogger, stripQuery } from './platform/logger.ts';

/** Request bodies are small JSON documents; anything larger is refused before it is parsed. */
const BODY_LIMIT = 64 * 1024;

/**
 * A Fastify instance with every module registered: the platform plugins, then each module's routes in the
 * order of `src/modules.ts` (management routes inside the secret-key scope), then the hosted pages. Tests call
 * `inject()` on it; only main.ts listens.
 */
export async function buildApp(rekey: Rekey): Promise<FastifyInstance> {
  const { deps, apps, flows, modules } = rekey;
  const trustedProxies = parseTrustedProxies(deps.config.trustedProxies);
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: BODY_LIMIT,
    genReqId: () => deps.ids.opaque('req'),
    requestIdHeader: false,
    trustProxy: false,
    // One line per request, written when it completes (below), instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: lazyChildLogger,
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandling(app);
  acceptEmptyJsonBodies(app);
  app.decorateRequest('application', undefined);
  app.decorateRequest('clientIp', '');
  app.addHook('onRequest', async (request) => {
    // PostgreSQL text cannot hold NUL; no Rekey value needs one, so it is refused at the door.
    if (request.url.includes('%00')) throw new RekeyError('invalid_request_parameters', {}, 'The request contains a NUL character.');
    // SEC-19: X-Forwarded-For counts only when the hop that sent it is a configured proxy.
    const forwarded = request.headers['x-forwarded-for'];
    request.clientIp = clientIp(request.socket.remoteAddress ?? '', Array.isArray(forwarded) ? forwarded.join(',') : forwarded, trustedProxies);
  });
  const accessLog = createAccessLog(deps.logger);
  app.addHook('onResponse', async (request, reply) => {
    accessLog({
      reqId: request.id,
      method: request.method,
      path: stripQuery(request.url),
      ip: request.clientIp || request.ip,
      statusCode: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 10) / 10,
    });
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
    reply.header('x-content-type-options', 'nosniff');
    // Responses carry tokens and account data: no cache may keep them.
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
  });

  await registerOpenApi(app);

  await app.register(healthRoutes, { store: deps.store });
  for (const module of modules) if (module.routes) await app.register(module.routes);
  await app.register(async (management) => {
    requireSecretKey(management, apps);
    for (const module of modules) if (module.managementRoutes) await management.register(module.managementRoutes);
  });
  await app.register(hostedPages, {
    flows,
    apps,
    factors: rekey.factors,
    tokens: deps.tokens,
    config: deps.config,
    clock: deps.clock,
    accountEmail: async (userId) => (await rekey.users.get(userId))?.email,
  });
  return app;
}

/** The WorkOS SDK sends `Content-Type: application/json` on every request, bodyless DELETEs included. */
function acceptEmptyJsonBodies(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '' || body.length === 0) return done(null, undefined);
    if ((body as string).includes('\\u0000')) return done(new RekeyError('invalid_request_parameters', {}, 'The request contains a NUL character.'), undefined);
    // The default parser answers through `done`; what it returns is nothing to wait for.
    void parseJson(request, body as string, (error, value) => (error ? done(new RekeyError('invalid_json'), undefined) : done(null, value)));
  });
}
