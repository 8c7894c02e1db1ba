import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { ApplicationService } from '../apps/index.ts';
import type { Config } from '../config/schema.ts';
import { systemClock, type Clock } from '../platform/clock.ts';
import type { Tokens } from '../platform/tokens.ts';
import type { FactorService } from '../factors/index.ts';
import type { FlowService } from '../resets/index.ts';
import { assetRoutes } from './assets.ts';
import { PageError, type PagesDeps } from './context.ts';
import { createCookieJar } from './cookies.ts';
import { pageErrorHandler } from './errors.ts';
import { actionRoutes } from './actions.routes.ts';
import { enrollRoutes } from './enroll.routes.ts';
import { finishRoutes } from './finish.routes.ts';
import { secondFactorRoutes } from './second-factor.routes.ts';
import { FORM_BODY_LIMIT, parseForm } from './form.ts';
import { startRoutes } from './start.routes.ts';
import { webauthnAssetRoutes } from './webauthn-assets.ts';

export { cookieNames } from './cookies.ts';
export { bundleWebAuthn } from './webauthn-assets.ts';

export interface HostedPagesOptions {
  flows: FlowService;
  apps: ApplicationService;
  tokens: Tokens;
  config: Config;
  /** The second factors: with them, the enrollment page (`/factors/enroll`) and its "try it" challenges. */
  factors?: FactorService;
  /** @default systemClock */
  clock?: Clock;
  /** The client address for rate limits and audit (behind configured proxies only). @default request.clientIp, else request.ip */
  clientIp?: (request: FastifyRequest) => string;
  /** The account's address after a verified factor (the new-password page's hidden username field). */
  accountEmail?: (userId: string) => Promise<string | undefined>;
}

/**
 * Every page allows only same-origin scripts, styles, images (plus `data:` logos) and fetches, posts only to itself, and
 * cannot be framed (SEC-24, SEC-26). No page has an inline script or style.
 */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  // The strength meter fetches its list of well-known passwords from here.
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The hosted pages: the whole reset journey as server-rendered HTML that works without JavaScript. Forms POST and
 * the server answers 303 (Post/Redirect/Get). Registered in its own scope: the form parser, the cookie plugin, the
 * headers and the HTML error handler apply to these routes only.
 */
export const hostedPages: FastifyPluginAsync<HostedPagesOptions> = async (app, options) => {
  const clock = options.clock ?? systemClock;
  const origin = new URL(options.config.baseUrl).origin;
  const deps: PagesDeps = {
    flows: options.flows,
    apps: options.apps,
    tokens: options.tokens,
    config: options.config,
    clock,
    jar: createCookieJar(options.config.baseUrl, options.tokens, clock),
    origin,
    // app.ts decorates `request.clientIp` from the trusted-proxy setting (SEC-19); a bare instance has only `ip`.
    clientIp: options.clientIp ?? ((request) => (request as { clientIp?: string }).clientIp || request.ip),
    ...(options.accountEmail ? { accountEmail: options.accountEmail } : {}),
  };

  // Forms only: a JSON or multipart body to a page is refused with the 415 page instead of being parsed.
  app.removeAllContentTypeParsers();
  // The parser returns a ParsedForm, which carries the "malformed" and "repeated" marks the routes check.
  await app.register(formbody, { bodyLimit: FORM_BODY_LIMIT, parser: (body) => parseForm(body) as unknown as Record<string, unknown> });
  // No signing secret: the flow and link cookies are sealed (AES-GCM authenticates them), the CSRF cookie is random.
  await app.register(cookie, { hook: 'onRequest' });

  app.addHook('onRequest', async (request) => refuseForeignPosts(request, origin));
  app.addHook('onSend', async (_request, reply) => pageHeaders(reply));
  app.setErrorHandler(pageErrorHandler(deps));

  assetRoutes(app, options.apps);
  // The reset's WebAuthn challenge and the enrollment page both use it.
  webauthnAssetRoutes(app);
  for (const routes of PAGE_GROUPS) routes(app, deps);
  if (options.factors) enrollRoutes(app, deps, options.factors);
  actionRoutes(app, deps);
};

/** The page groups, in the journey's order: a new group of pages (its `*.routes.ts` and `*.views.ts`) adds one line. */
const PAGE_GROUPS: ReadonlyArray<(app: FastifyInstance, deps: PagesDeps) => void> = [startRoutes, finishRoutes, secondFactorRoutes];

/**
 * SEC-27, before the body is even read: a POST that a browser says came from another site is refused, whatever
 * its CSRF token. `Origin` is compared with the configured base URL, never with the request's own Host.
 * SEC-25: tokens travel in cookies and bodies only, so a POST with `?token=` is refused outright.
 */
function refuseForeignPosts(request: FastifyRequest, origin: string): void {
  if (request.method === 'GET' || request.method === 'HEAD') return;
  // An action's verifier posts back from its own site; that route checks the state and the flow cookie instead.
  if (request.routeOptions.url === '/reset/continue') return;
  if (Object.hasOwn((request.query ?? {}) as object, 'token')) throw new PageError('token_in_url', 400);
  const from = request.headers.origin;
  // Under the pages' own `Referrer-Policy: no-referrer`, browsers send `Origin: null` on the pages' own form posts; then
  // the browser's `Sec-Fetch-Site: same-origin` says where the POST came from (the CSRF token is still checked).
  const sameOriginNull = from === 'null' && request.headers['sec-fetch-site'] === 'same-origin';
  if (from !== undefined && from !== origin && !sameOriginNull) throw new PageError('cross_origin_forbidden', 403, 'refused');
  if (request.headers['sec-fetch-site'] === 'cross-site') throw new PageError('cross_origin_forbidden', 403, 'refused');
}

function pageHeaders(reply: FastifyReply): void {
  // SEC-24: the link landing's URL holds a token; no page may hand its URL to anyone as a Referer.
  reply.header('referrer-policy', 'no-referrer');
  reply.header('content-security-policy', PAGE_CSP);
  reply.header('x-frame-options', 'DENY');
  reply.header('x-content-type-options', 'nosniff');
  reply.header('cross-origin-opener-policy', 'same-origin');
  reply.header('cross-origin-resource-policy', 'same-origin');
  // SEC-26: pages hold CSRF tokens and flow state; assets set their own revalidating policy.
  if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
}
