import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RekeyError } from '../errors/index.ts';
import type { CookieJar, FlashError } from './cookies.ts';
import type { FieldError } from './layout.ts';
import type { Translator, Vars } from './messages/index.ts';

/**
 * Post/Redirect/Get for form errors. A form whose POST fails is not answered with the page itself: its errors (as
 * codes) and the values worth keeping go into a sealed, short-lived cookie, and a 303 sends the browser to the
 * form's own URL, whose GET shows them once with the error's status. The history then holds only GETs, so the back
 * button never asks to resend a form.
 */

/** The message for an error code, with its wait in words and, for a rate limit, which limit it was. */
export function errorMessage(tr: Translator, code: string, vars: Vars = {}): string {
  const seconds = typeof vars.retry_after === 'number' ? vars.retry_after : undefined;
  const filled = { ...vars, wait: tr.wait(seconds) };
  const specific = `rate_limited_${String(vars.limit ?? '')}`;
  if (code === 'rate_limited' && tr.isKnownError(specific)) return tr.error(specific, filled);
  return tr.error(code, filled);
}

export const fieldError = (tr: Translator, field: string | undefined, code: string, vars?: Vars): FieldError => ({
  ...(field ? { field } : {}),
  code,
  message: errorMessage(tr, code, vars),
});

/** What of a service error a page may show: policy bounds, the limit that tripped and when to come back. */
export function serviceVars(error: RekeyError): Record<string, string | number> {
  const { min, max, limit, retryAfterSeconds } = error.context as Record<string, unknown>;
  const vars: Record<string, string | number> = {};
  if (typeof min === 'number') vars.min = min;
  if (typeof max === 'number') vars.max = max;
  if (typeof limit === 'string' && /^[a-z_]{1,40}$/.test(limit)) vars.limit = limit;
  const retry = typeof retryAfterSeconds === 'string' ? Number(retryAfterSeconds) : retryAfterSeconds;
  if (typeof retry === 'number' && Number.isFinite(retry) && retry > 0) vars.retry_after = Math.ceil(retry);
  return vars;
}

export function setRetryAfter(reply: FastifyReply, seconds: unknown): void {
  if (typeof seconds === 'number' && Number.isFinite(seconds) && seconds > 0) reply.header('retry-after', String(Math.ceil(seconds)));
}

/** Answers a form POST that failed: the errors wait in the form cookie, the browser GETs `again` (the form's URL). */
export function redirectWithErrors(
  jar: CookieJar,
  reply: FastifyReply,
  again: string,
  status: number,
  errors: FlashError[],
  values: Record<string, string> = {},
) {
  const path = again.split('?')[0] ?? again;
  const retryAfter = errors.map((e) => e.vars?.retry_after).find((s): s is number => typeof s === 'number');
  jar.writeForm(reply, { path, status, errors, values, ...(retryAfter !== undefined ? { retryAfter } : {}) });
  return reply.redirect(again, 303);
}

export interface ShownErrors {
  status: number;
  errors: FieldError[];
  values: Record<string, string>;
}

/** The errors a POST left for this page, in the page's language (none on a plain visit). */
export function takeErrors(jar: CookieJar, request: FastifyRequest, reply: FastifyReply, path: string, tr: Translator): ShownErrors {
  const flash = jar.takeForm(request, reply, path);
  if (!flash) return { status: 200, errors: [], values: {} };
  setRetryAfter(reply, flash.retryAfter);
  return {
    status: flash.status >= 400 && flash.status < 500 ? flash.status : 422,
    errors: flash.errors.map((e) => fieldError(tr, e.field, e.code, e.vars)),
    values: flash.values ?? {},
  };
}
