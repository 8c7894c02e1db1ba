import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { ERROR_CODES, type ErrorCode } from './codes.ts';
import { RekeyError } from './rekey-error.ts';

/**
 * Which wire shape a route's errors take:
 * - `management`: WorkOS's `{ code, message, errors? }`, so `@workos-inc/node` raises its own exception types;
 * - `browser`: Novel's `{ error: { code, message, context } }`;
 * - `novu`: Novu's `ErrorDto` `{ statusCode, timestamp, path, message }` (422: `ValidationErrorDto`, with
 *   `errors: { [field]: { messages, value? } }`), plus Rekey's `code`, so `@novu/api` raises its own error types.
 */
export type ErrorSurface = 'management' | 'browser' | 'novu';

declare module 'fastify' {
  interface FastifyContextConfig {
    surface?: ErrorSurface;
    /** Management routes whose 400s WorkOS groups under one code with `errors[]` (e.g. `password_reset_error`). */
    errorGroup?: string;
  }
}

interface FieldIssue {
  field: string;
  code: string;
  message: string;
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | RekeyError, request, reply) => {
    if (error instanceof RekeyError) return send(request, reply, error);
    if (hasZodFastifySchemaValidationErrors(error)) {
      const where = error.validationContext ?? 'body';
      const issues: FieldIssue[] = error.validation.map((issue) => ({
        field: [where, ...issue.instancePath.split('/').filter(Boolean)].join('.'),
        code: String((issue.params as { issue?: { code?: string } })?.issue?.code ?? 'invalid'),
        message: issue.message,
      }));
      return send(request, reply, new RekeyError('invalid_request_parameters'), issues);
    }
    const status = error.statusCode ?? 500;
    if (status === 413) return send(request, reply, new RekeyError('payload_too_large'));
    if (status === 415) return send(request, reply, new RekeyError('unsupported_media_type'));
    if (status === 400 && (error.code?.startsWith('FST_ERR_CTP') || error instanceof SyntaxError)) {
      return send(request, reply, new RekeyError('invalid_json'));
    }
    if (status >= 400 && status < 500) {
      // Fastify's own 4xx (bad content length, invalid params…): keep the status, give it our generic code.
      const rekeyError = new RekeyError('invalid_request_parameters');
      return send(request, reply, rekeyError, [], status);
    }
    request.log.error({ err: error }, 'unhandled error');
    return send(request, reply, new RekeyError('internal_error'));
  });

  app.setNotFoundHandler((request, reply) => send(request, reply, new RekeyError('not_found')));
}

function send(request: FastifyRequest, reply: FastifyReply, error: RekeyError, issues: FieldIssue[] = [], status = error.status) {
  const surface = request.routeOptions.config?.surface ?? surfaceOf(request.url);
  if ((status === 429 || status === 503) && error.context.retryAfterSeconds !== undefined) reply.header('retry-after', String(error.context.retryAfterSeconds));
  reply.code(status).type('application/json; charset=utf-8');
  if (surface === 'novu') return reply.send(novuBody(request, error, issues, status));
  if (surface === 'browser') {
    return reply.send({ error: { code: error.code, message: error.message, context: issues.length ? { issues } : error.context } });
  }
  const group = request.routeOptions.config?.errorGroup;
  if (group && status === 400 && error.code !== 'invalid_json') {
    return reply.send({ code: group, message: error.message, errors: [{ code: error.code, message: error.message }] });
  }
  const body: Record<string, unknown> = { code: error.code, message: error.message, ...error.context };
  if (issues.length) body.errors = issues;
  return reply.send(body);
}

/** Where a route gives none (an unknown path): by prefix. Rekey's own browser API also lives under `/v1/`. */
export function surfaceOf(url: string): ErrorSurface {
  if (url.startsWith('/user_management')) return 'management';
  if (url.startsWith('/v2/') || url.startsWith('/v1/events') || url.startsWith('/v1/notifications')) return 'novu';
  return 'browser';
}

function novuBody(request: FastifyRequest, error: RekeyError, issues: FieldIssue[], status: number): Record<string, unknown> {
  // The timestamp only dates the answer, as Novu's does; nothing depends on it.
  const body: Record<string, unknown> = {
    ...error.context,
    statusCode: status,
    timestamp: new Date().toISOString(),
    path: request.url,
    message: error.message,
    code: error.code,
  };
  if (status === 422) {
    const errors: Record<string, { messages: string[] }> = {};
    for (const issue of issues) (errors[issue.field.replace(/^(body|querystring|params)\./, '')] ??= { messages: [] }).messages.push(issue.message);
    if (issues.length === 0) errors[typeof error.context.field === 'string' ? error.context.field : 'request'] = { messages: [error.message] };
    body.errors = errors;
  }
  return body;
}

export const statusOf = (code: ErrorCode): number => ERROR_CODES[code].status;
