import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isRekeyError, RekeyError } from '../errors/index.ts';
import { brandOf } from './branding.ts';
import { PageError, sendPage, type PagesDeps } from './context.ts';
import { ParsedForm, queryString } from './form.ts';
import type { FieldError, PageModel } from './layout.ts';
import { isLang, negotiateLang, translator, type MessageId, type Translator, type Vars } from './messages/index.ts';
import { messagePage } from './views.ts';

/** Service codes that mean the flow (or its grant) is over: the only way on is to start again. */
const GONE = new Set(['flow_not_found', 'flow_expired', 'grant_invalid', 'code_attempts_exceeded']);

export const fieldError = (tr: Translator, field: string | undefined, code: string, vars?: Vars): FieldError => ({
  ...(field ? { field } : {}),
  code,
  message: tr.error(code, vars),
});

/** A service error as a form error: policy details (`min`, `max`) fill the message's placeholders. */
export function serviceFieldError(tr: Translator, field: string | undefined, error: RekeyError): FieldError {
  const { min, max } = error.context as { min?: number; max?: number };
  return fieldError(tr, field, error.code, { min, max });
}

/** Narrows a caught value to a RekeyError; anything else is a bug and goes on to the error handler. */
export function asRekeyError(error: unknown): RekeyError {
  if (isRekeyError(error)) return error;
  throw error;
}

/** Turns flow-is-over errors into the "start again" page; returns the others for the form to show. */
export function unlessGone(error: RekeyError): RekeyError {
  if (GONE.has(error.code)) throw new PageError(error.code as 'flow_not_found', error.status, 'gone');
  return error;
}

export function setRetryAfter(reply: FastifyReply, error: RekeyError): void {
  const seconds = error.context.retryAfterSeconds;
  if (error.status === 429 && (typeof seconds === 'number' || typeof seconds === 'string')) reply.header('retry-after', String(seconds));
}

const TITLES: Record<PageError['kind'], MessageId> = {
  gone: 'flow_gone_title',
  link: 'link_invalid_title',
  refused: 'refused_title',
  error: 'error_title',
};

/**
 * The hosted pages' error handler: every failure is a page in the user's language that says what is wrong and
 * how to go on, with a 4xx where the request was at fault, and never a stack trace.
 */
export function pageErrorHandler(deps: PagesDeps) {
  return async (error: FastifyError | RekeyError | PageError, request: FastifyRequest, reply: FastifyReply) => {
    const failure = classify(error);
    if (failure.status >= 500) request.log.error({ err: error }, 'hosted page failed');
    if (isRekeyError(error)) setRetryAfter(reply, error);
    const page = await errorPageModel(deps, request);
    const document = messagePage(page, { title: page.tr.t(TITLES[failure.kind]), error: fieldError(page.tr, undefined, failure.code) });
    return sendPage(reply, failure.status, document);
  };
}

function classify(error: FastifyError | RekeyError | PageError): { code: string; status: number; kind: PageError['kind'] } {
  if (error instanceof PageError) return { code: error.code, status: error.status, kind: error.kind };
  if (error instanceof RekeyError) {
    if (error.code === 'password_reset_token_invalid') return { code: 'link_invalid', status: 400, kind: 'link' };
    const kind = GONE.has(error.code) ? 'gone' : error.code === 'csrf_invalid' || error.code === 'cross_origin_forbidden' ? 'refused' : 'error';
    return { code: error.code, status: error.status, kind };
  }
  const status = error.statusCode ?? 500;
  if (status === 413) return { code: 'payload_too_large', status, kind: 'error' };
  if (status === 415) return { code: 'unsupported_media_type', status, kind: 'error' };
  // Fastify's own 4xx (bad Content-Length, an unreadable body…): keep the status, say the form was unexpected.
  if (status >= 400 && status < 500) return { code: 'field_invalid', status, kind: 'error' };
  return { code: 'generic', status: 500, kind: 'error' };
}

/** Built from what is certainly readable: the language hints and the default application (or the configured name). */
async function errorPageModel(deps: PagesDeps, request: FastifyRequest): Promise<PageModel> {
  const form = request.body instanceof ParsedForm && !request.body.malformed ? request.body : undefined;
  const explicit = [queryString(request.query, 'lang', 8), form?.get('lang'), deps.jar.readFlow(request)?.lang].find(isLang);
  const tr = translator(explicit ?? negotiateLang(request.headers['accept-language']));
  let brand: PageModel['brand'] = { applicationId: '', name: deps.config.appName };
  try {
    brand = brandOf(await deps.apps.getDefault(), deps.origin);
  } catch (error) {
    request.log.error({ err: error }, 'default application unavailable for the error page');
  }
  return { tr, brand, ...(explicit ? { langParam: explicit } : {}) };
}
