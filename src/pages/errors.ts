import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isRekeyError, PASSWORD_POLICY_CODES, RekeyError, type ErrorCode } from '../errors/index.ts';
import type { Application } from '../apps/index.ts';
import { brandOf } from './branding.ts';
import { PageError, sendPage, type PagesDeps } from './context.ts';
import type { CookieJar } from './cookies.ts';
import { fieldError, redirectWithErrors, serviceVars, setRetryAfter } from './flash.ts';
import { ParsedForm, queryString } from './form.ts';
import type { PageModel } from './layout.ts';
import { isLang, negotiateLang, translator, type MessageId, type PageErrorCode } from './messages/index.ts';
import { messagePage } from './message.views.ts';

/** Service codes that mean the flow (or its grant) is over: the only way on is to start again. */
const GONE: ReadonlySet<string> = new Set<ErrorCode & PageErrorCode>(['flow_not_found', 'flow_expired', 'grant_invalid', 'code_attempts_exceeded']);
/** Service codes that, on the link's own page, all mean "this link cannot be used" (SEC-04: one answer for all). */
const LINK_UNUSABLE: ReadonlySet<string> = new Set<ErrorCode>([
  'password_reset_token_invalid',
  'flow_not_found',
  'flow_expired',
  'flow_state_invalid',
  'grant_invalid',
]);

export { fieldError } from './flash.ts';

/** The link is spent, expired or unknown: its cookie goes, and the page says so without saying which (SEC-04). */
export function unusableLink(jar: CookieJar, reply: FastifyReply): never {
  jar.clearLink(reply);
  throw new PageError('link_invalid', 400, 'link');
}

/** The forms that call the reset service; each has its own answer to the same failure. */
export type Step = 'ask' | 'code' | 'verify' | 'second_factor' | 'new_password';

interface StepFailures {
  /** Failures that end the step with a whole page instead of the form. */
  ends?: 'flow_gone' | 'link_unusable';
  /** Failures that send the browser on: the flow moved (another tab) or needs another step first. */
  redirects?: Partial<Record<ErrorCode, string>>;
  /** The form field a failure belongs to; any other failure is shown above the form only. */
  fields?: Partial<Record<ErrorCode, string>>;
}

/**
 * What the user sees when a step's service call fails. Every other failure shows the step's form again with the
 * error's own status and message (and Retry-After on a 429 that carries one). There is no flow yet to have ended
 * on the ask form, so it shows every failure.
 */
const STEP_FAILURES: Record<Step, StepFailures> = {
  ask: {},
  code: { ends: 'flow_gone', redirects: { flow_state_invalid: '/reset/code' }, fields: { code_incorrect: 'code' } },
  verify: { ends: 'link_unusable' },
  second_factor: { ends: 'flow_gone', redirects: { flow_state_invalid: '/reset/second-factor' }, fields: { totp_incorrect: 'totp' } },
  new_password: {
    ends: 'flow_gone',
    redirects: { mfa_required: '/reset/second-factor', flow_state_invalid: '/reset/new' },
    fields: Object.fromEntries(PASSWORD_POLICY_CODES.map((code) => [code, 'password'])),
  },
};

/**
 * Answers a failed service call on `step`'s form from the table above: a page that ends the step (thrown, for the
 * error handler), a redirect, or the form's own URL (`again`) shown again with the error (Post/Redirect/Get, see
 * flash.ts), keeping `values`. Anything but a RekeyError is a bug and goes on to the error handler.
 */
export function answerFailure(step: Step, caught: unknown, at: { reply: FastifyReply; jar: CookieJar; again: string; values?: Record<string, string> }) {
  if (!isRekeyError(caught)) throw caught;
  const rules = STEP_FAILURES[step];
  if (rules.ends === 'flow_gone' && GONE.has(caught.code)) throw new PageError(caught.code as PageErrorCode, caught.status, 'gone');
  if (rules.ends === 'link_unusable' && LINK_UNUSABLE.has(caught.code)) unusableLink(at.jar, at.reply);
  const redirect = rules.redirects?.[caught.code];
  if (redirect) return at.reply.redirect(redirect, 303);
  const field = rules.fields?.[caught.code];
  return redirectWithErrors(
    at.jar,
    at.reply,
    at.again,
    caught.status,
    [{ ...(field ? { field } : {}), code: caught.code, vars: serviceVars(caught) }],
    at.values,
  );
}

const TITLES: Record<PageError['kind'], MessageId> = {
  gone: 'flow_gone_title',
  link: 'link_invalid_title',
  refused: 'refused_title',
  error: 'error_title',
  limit: 'rate_limited_title',
};

/**
 * The hosted pages' error handler: every failure is a page in the user's language that says what is wrong and
 * how to go on, with a 4xx where the request was at fault, and never a stack trace.
 */
export function pageErrorHandler(deps: PagesDeps) {
  return async (error: FastifyError | RekeyError | PageError, request: FastifyRequest, reply: FastifyReply) => {
    const failure = classify(error);
    if (failure.status >= 500) request.log.error({ err: error }, 'hosted page failed');
    const vars = isRekeyError(error) ? serviceVars(error) : {};
    setRetryAfter(reply, vars.retry_after);
    const page = await errorPageModel(deps, request);
    const document = messagePage(page, { title: page.tr.t(TITLES[failure.kind]), error: fieldError(page.tr, undefined, failure.code, vars) });
    return sendPage(reply, failure.status, document);
  };
}

function classify(error: FastifyError | RekeyError | PageError): { code: string; status: number; kind: PageError['kind'] } {
  if (error instanceof PageError) return { code: error.code, status: error.status, kind: error.kind };
  if (error instanceof RekeyError) {
    if (error.code === 'password_reset_token_invalid') return { code: 'link_invalid', status: 400, kind: 'link' };
    const refused = error.code === 'csrf_invalid' || error.code === 'cross_origin_forbidden';
    const kind = GONE.has(error.code) ? 'gone' : refused ? 'refused' : error.status === 429 ? 'limit' : 'error';
    return { code: error.code, status: error.status, kind };
  }
  const status = error.statusCode ?? 500;
  if (status === 413) return { code: 'payload_too_large', status, kind: 'error' };
  if (status === 415) return { code: 'unsupported_media_type', status, kind: 'error' };
  // Fastify's own 4xx (bad Content-Length, an unreadable body…): keep the status, say the form was unexpected.
  if (status >= 400 && status < 500) return { code: 'field_invalid', status, kind: 'error' };
  return { code: 'generic', status: 500, kind: 'error' };
}

/**
 * Built from what is certainly readable: the language hints, and the application of the flow in progress or the
 * one the page was opened for, so an error keeps the application's branding (else the default application, or
 * just the configured name if even that cannot be read).
 */
async function errorPageModel(deps: PagesDeps, request: FastifyRequest): Promise<PageModel> {
  const form = request.body instanceof ParsedForm && !request.body.malformed ? request.body : undefined;
  const explicit = [queryString(request.query, 'lang', 8), form?.get('lang'), deps.jar.readFlow(request)?.lang].find(isLang);
  const tr = translator(explicit ?? negotiateLang(request.headers['accept-language']));
  let brand: PageModel['brand'] = { applicationId: '', name: deps.config.appName };
  try {
    brand = brandOf(await errorApplication(deps, request, form), deps.origin);
  } catch (error) {
    request.log.error({ err: error }, 'application unavailable for the error page');
  }
  return { tr, brand, ...(explicit ? { langParam: explicit } : {}) };
}

async function errorApplication(deps: PagesDeps, request: FastifyRequest, form: ParsedForm | undefined): Promise<Application> {
  const flowId = deps.jar.readFlow(request)?.flowId;
  const flow = flowId ? await deps.flows.get(flowId) : undefined;
  const fromFlow = flow ? await deps.apps.get(flow.application_id) : undefined;
  if (fromFlow) return fromFlow;
  const clientId = queryString(request.query, 'client_id', 200) ?? form?.get('client_id');
  // A well-formed client id only: a NUL or an odd byte in it is what may have brought us here.
  const named = clientId && /^[A-Za-z0-9_-]{1,200}$/.test(clientId) ? await deps.apps.findByClientId(clientId) : undefined;
  return named ?? deps.apps.getDefault();
}
