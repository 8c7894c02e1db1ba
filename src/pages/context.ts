import type { FastifyReply, FastifyRequest } from 'fastify';
import { actionRequestOf } from '../actions/index.ts';
import type { Application, ApplicationService } from '../apps/index.ts';
import type { Config } from '../config/schema.ts';
import type { Clock } from '../platform/clock.ts';
import type { Tokens } from '../platform/tokens.ts';
import { effectiveStatus, type FlowService, type RequestContext, type ResetFlow } from '../resets/index.ts';
import { brandOf } from './branding.ts';
import type { CookieJar, FlowCookie } from './cookies.ts';
import { ParsedForm, queryString } from './form.ts';
import type { PageModel } from './layout.ts';
import { isLang, negotiateLang, translator, type PageErrorCode } from './messages/index.ts';

/** Everything the page routes are built from. */
export interface PagesDeps {
  flows: FlowService;
  apps: ApplicationService;
  tokens: Tokens;
  config: Config;
  clock: Clock;
  jar: CookieJar;
  /** The public origin (from `config.baseUrl`, never from a request header): POSTs must come from it (SEC-27). */
  origin: string;
  clientIp(request: FastifyRequest): string;
  /** The account's address once a factor is verified, for the password manager's username field. */
  accountEmail?(userId: string): Promise<string | undefined>;
}

/**
 * A whole-page outcome that is not the form being re-rendered: the flow has ended, the link is unusable, the
 * request was refused. The plugin's error handler renders it as a page with a way back to the start.
 */
export class PageError extends Error {
  constructor(
    readonly code: PageErrorCode,
    readonly status: number,
    readonly kind: 'gone' | 'link' | 'refused' | 'error' | 'limit' = 'error',
  ) {
    super(code);
  }
}

export const requestContext = (deps: PagesDeps, request: FastifyRequest): RequestContext => ({
  ipAddress: deps.clientIp(request),
  userAgent: (request.headers['user-agent'] ?? '').slice(0, 512) || null,
  // What post-challenge actions see as `event.request`: never the form's fields (a password, a code).
  action: actionRequestOf(request, { countryHeader: deps.config.actions.countryHeader }),
});

/** The page model for a request: language, application branding, and (for pages with forms) the CSRF token. */
export async function pageModel(
  deps: PagesDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  options: { application?: Application; clientId?: string; form?: ParsedForm; withCsrf?: boolean } = {},
): Promise<PageModel> {
  const fromForm = options.form?.get('lang');
  const explicit = [queryString(request.query, 'lang', 8), fromForm, deps.jar.readFlow(request)?.lang].find(isLang);
  const lang = explicit ?? negotiateLang(request.headers['accept-language']);
  const application = options.application ?? (await findApplication(deps.apps, options.clientId));
  return {
    tr: translator(lang),
    brand: brandOf(application, deps.origin),
    ...(explicit ? { langParam: explicit } : {}),
    ...(options.withCsrf ? { csrf: deps.jar.csrfToken(request, reply) } : {}),
  };
}

/** The application named by a public `client_id`, or the default one when none is given. */
export async function findApplication(apps: ApplicationService, clientId: string | undefined): Promise<Application> {
  if (!clientId) return apps.getDefault();
  const application = await apps.findByClientId(clientId);
  if (!application) throw new PageError('application_not_found', 404);
  return application;
}

/**
 * The flow named by the flow cookie, or the page that says it has ended. The cookie alone proves nothing: the flow
 * is read from the store every time, and the grant inside the cookie is checked by the service.
 */
export async function loadFlow(deps: PagesDeps, request: FastifyRequest): Promise<{ cookie: FlowCookie; flow: ResetFlow; application: Application }> {
  // 410: whether it never existed in this browser or has ended, there is nothing here any more; start again.
  const cookie = deps.jar.readFlow(request);
  if (!cookie) throw new PageError('flow_not_found', 410, 'gone');
  const flow = await deps.flows.get(cookie.flowId);
  if (!flow) throw new PageError('flow_not_found', 410, 'gone');
  const status = effectiveStatus(flow, deps.clock.now());
  if (status === 'expired') throw new PageError('flow_expired', 410, 'gone');
  if (status === 'denied') throw new PageError('flow_denied', 403, 'gone');
  const application = (await deps.apps.get(flow.application_id)) ?? (await deps.apps.getDefault());
  return { cookie, flow, application };
}

/** The page a flow in this state belongs on. */
export function pathFor(flow: ResetFlow, now: number): string {
  switch (effectiveStatus(flow, now)) {
    case 'needs_first_factor':
      return flow.strategy === 'email_code' ? '/reset/code' : '/reset/sent';
    case 'needs_second_factor':
      return '/reset/second-factor';
    case 'needs_new_password':
      return '/reset/new';
    case 'complete':
      return '/reset/done';
    default:
      return '/reset';
  }
}

/** The body of a page POST, or the 400/415 page when it is not a well-formed form of ours. */
export function readForm(deps: PagesDeps, request: FastifyRequest): ParsedForm {
  const form = request.body;
  if (!(form instanceof ParsedForm)) throw new PageError('unsupported_media_type', 415, 'refused');
  if (form.malformed) throw new PageError('form_encoding', 400);
  if (form.repeated) throw new PageError('field_invalid', 400);
  // Checked after the body is known to be readable, and before any field is looked at (SEC-27).
  if (!deps.jar.checkCsrf(request, form.get('csrf'))) throw new PageError('csrf_invalid', 403, 'refused');
  return form;
}

/** Writes an HTML page with its status. */
export const sendPage = (reply: FastifyReply, status: number, document: string) => reply.code(status).type('text/html; charset=utf-8').send(document);
