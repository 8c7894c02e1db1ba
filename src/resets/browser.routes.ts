import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { actionRequestOf } from '../actions/index.ts';
import { allowedRedirects, type Application, type ApplicationService } from '../apps/index.ts';
import type { Config } from '../config/schema.ts';
import { PASSWORD_POLICY_CODES, RekeyError } from '../errors/index.ts';
import { emailField, passwordField } from '../http/schemas.ts';
import type { SessionService } from '../sessions/index.ts';
import type { ResetFlow } from './flow.ts';
import type { FlowService, FlowViews } from './flow.service.ts';
import { flowApiRoutes } from './flow.routes.ts';

/** What the browser scope hands the route groups it registers: the route config, tags and request helpers. */
export interface BrowserScope {
  routeConfig: { surface: 'browser' };
  tags: string[];
  context(request: FastifyRequest, body?: Record<string, string>): { ipAddress: string; userAgent: string | null; action: ReturnType<typeof actionRequestOf> };
  publicFlow(flow: ResetFlow): ReturnType<FlowViews['describe']>;
  granted(
    flow: ResetFlow,
    grant: string,
  ): Promise<Awaited<ReturnType<FlowViews['describe']>> & { grant: string; next_step: NonNullable<Awaited<ReturnType<FlowService['pendingStep']>>> | null }>;
}

export interface BrowserRoutesOptions {
  flows: FlowService & FlowViews;
  apps: ApplicationService;
  sessions: SessionService;
  config: Config;
}

/**
 * The browser API: Novel's `/auth/forgot|reset` and the reset-flow API. Anonymous callers, so every
 * answer is the same whether an account exists (SEC-01), and cross-site requests are refused (SEC-27).
 */
export const browserResetRoutes: FastifyPluginAsync<BrowserRoutesOptions> = async (app, { flows, apps, sessions, config }) => {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const routeConfig = { surface: 'browser' as const };
  const tags = ['browser'];
  const baseOrigin = new URL(config.baseUrl).origin;

  /** The application named by `?client_id=` (or the default one), and the origins it allows. */
  const applicationFor = async (request: FastifyRequest): Promise<Application> => {
    const clientId = (request.query as { client_id?: unknown } | undefined)?.client_id;
    if (typeof clientId === 'string') {
      const match = await apps.findByClientId(clientId);
      if (match) return match;
    }
    return apps.getDefault();
  };
  // Applications come from a cache that hands out the same object until it changes, so their origins are parsed once.
  const originsOf = new WeakMap<Application, Set<string>>();
  const allowedOrigins = (application: Application) => {
    let origins = originsOf.get(application);
    if (!origins) {
      origins = new Set([baseOrigin, ...allowedRedirects(application).map((u) => safeOrigin(u))]);
      originsOf.set(application, origins);
    }
    return origins;
  };

  // onRequest: refused before any body is parsed, so a text/plain or form POST never reaches validation.
  app.addHook('onRequest', async (request, reply) => {
    const application = await applicationFor(request);
    const origin = request.headers.origin;
    const site = request.headers['sec-fetch-site'];
    const origins = allowedOrigins(application);
    if (origin !== undefined && !origins.has(origin)) throw new RekeyError('cross_origin_forbidden');
    if (origin === undefined && site === 'cross-site') throw new RekeyError('cross_origin_forbidden');
    if (origin !== undefined) corsHeaders(reply, origin);
    if (request.method === 'POST' && !String(request.headers['content-type'] ?? '').startsWith('application/json')) {
      // No CORS-safelisted content type reaches a handler, so a cross-site form cannot post here.
      throw new RekeyError('unsupported_media_type');
    }
    request.application = application;
  });

  const context = (request: FastifyRequest, body?: Record<string, string>) => ({
    ipAddress: request.clientIp,
    userAgent: request.headers['user-agent'] ?? null,
    action: actionRequestOf(request, { countryHeader: config.actions.countryHeader, body }),
  });
  const publicFlow = (flow: ResetFlow) => flows.describe(flow);
  const granted = async (flow: ResetFlow, grant: string) => ({ ...(await publicFlow(flow)), grant, next_step: (await flows.pendingStep(flow)) ?? null });

  r.post(
    '/auth/forgot',
    {
      config: routeConfig,
      schema: {
        tags,
        summary: 'Start a reset (Novel)',
        description: 'Mails a reset link when the address has an account. The answer is the same either way (SEC-01).',
        operationId: 'forgotPassword',
        errors: ['cross_origin_forbidden', 'rate_limited'],
        body: z.strictObject({ email: emailField }),
        response: { 204: z.null().describe('Accepted. The same answer whether or not the address has an account.') },
      },
    },
    async (request, reply) => {
      await flows.requestLink({ identifier: request.body.email, application: request.application!, ...context(request), locale: null });
      return reply.code(204).send(null);
    },
  );

  r.post(
    '/auth/reset',
    {
      config: routeConfig,
      schema: {
        tags,
        summary: 'Finish a reset with the emailed token (Novel)',
        operationId: 'resetPassword',
        errors: [
          'cross_origin_forbidden',
          'password_reset_token_invalid',
          ...PASSWORD_POLICY_CODES,
          'mfa_required',
          'user_disabled',
          'rate_limited',
          'server_busy',
        ],
        body: z.strictObject({ email: emailField, password: passwordField, token: z.string().min(1).max(512) }),
        response: { 201: z.object({ redirect_to: z.string().optional() }) },
      },
    },
    async (request, reply) => {
      const { redirectTo } = await flows.resetWithToken({ ...request.body, ...context(request) });
      return reply.code(201).send(redirectTo ? { redirect_to: redirectTo } : {});
    },
  );

  await app.register(flowApiRoutes, { flows, sessions, scope: { routeConfig, tags, context, publicFlow, granted } });

  for (const path of ['/auth/forgot', '/auth/reset', '/v1/reset_flows', '/v1/reset_flows/attempt_link', '/v1/reset_flows/:id', '/v1/reset_flows/:id/*']) {
    app.options(path, { config: routeConfig, schema: { hide: true } }, async (_request, reply) => reply.code(204).send());
  }
};

function corsHeaders(reply: FastifyReply, origin: string): void {
  reply.header('access-control-allow-origin', origin);
  reply.header('vary', 'Origin');
  reply.header('access-control-allow-methods', 'GET, POST, OPTIONS');
  reply.header('access-control-allow-headers', 'content-type, authorization');
  reply.header('access-control-max-age', '600');
}

function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'null-origin';
  }
}
