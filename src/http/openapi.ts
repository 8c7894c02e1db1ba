import swagger, { type SwaggerTransform, type SwaggerTransformObject } from '@fastify/swagger';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { createJsonSchemaTransform, createJsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { ERROR_CODES, surfaceOf, type ErrorCode, type ErrorSurface } from '../errors/index.ts';
import { addExamples } from './openapi-examples.ts';
import { BROWSER_ERROR_ID, MANAGEMENT_ERROR_ID, NOVU_ERROR_ID } from './schemas.ts';

declare module 'fastify' {
  interface FastifySchema {
    /**
     * The stable error codes this route answers with, beside those its shape implies (a body, parameters, a
     * secret key: see `impliedErrors`). Every documented route declares it, `[]` included: the OpenAPI document
     * lists a route's 4xx answers from it, and `test/openapi.test.ts` fails for a route without one.
     */
    errors?: readonly ErrorCode[];
  }
}

/** The security requirement of the management API, which `requireSecretKey` puts on each of its routes. */
export const SECRET_KEY_SECURITY = [{ secretKey: [] }] as const;
/** An application's user presents the access token Rekey issued at sign-in. */
export const ACCESS_TOKEN_SECURITY = [{ accessToken: [] }] as const;

const JSON_TYPE = 'application/json';
const RETRY_AFTER = { type: 'integer', minimum: 1, description: 'With `rate_limited`: seconds until the limit lets the next request through.' };
const SUCCESS: Record<string, string> = { 200: 'OK', 201: 'Created', 204: 'Done: no content' };

/** `/openapi.json`: every route's zod schemas, summaries and error codes, as OpenAPI 3.1. */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Rekey',
        version: '0.1.0',
        description:
          'Password reset and account recovery. The management API (`/user_management/…`) speaks WorkOS’s wire format and takes a secret key; ' +
          'the browser API (`/auth/…`, `/v1/reset_flows/…`) is anonymous. Errors carry a stable `code`: see the 4xx answers of each operation.',
      },
      // Tags a route uses that are not listed here still work; these only give the common ones a description.
      tags: [
        { name: 'users', description: 'The user pool (WorkOS `user_management/users`).' },
        { name: 'password resets', description: 'Resets started by your backend (WorkOS `password_reset`): Rekey answers the token and link.' },
        { name: 'sessions', description: 'Sign-in, sessions and their revocation (WorkOS `authenticate`, `sessions`).' },
        { name: 'factors', description: 'Second factors: TOTP authenticators (WorkOS `auth_factors`).' },
        { name: 'browser', description: 'The anonymous browser API: a reset started and finished by the user, for your own pages.' },
        { name: 'health', description: 'Liveness and readiness probes.' },
        { name: 'development', description: 'The development mailbox; not served in production.' },
      ],
      components: {
        securitySchemes: {
          secretKey: { type: 'http', scheme: 'bearer', description: 'An application’s secret key, `sk_…` (`rekey keys create`).' },
          accessToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An access token from `POST /user_management/authenticate`.' },
        },
      },
    },
    transform: documentErrors,
    transformObject: withComponents,
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}

const zodTransform = createJsonSchemaTransform({});
const zodComponents = createJsonSchemaTransformObject({});

/** zod → JSON Schema (fastify-type-provider-zod), then the route's 4xx answers from its `errors`. */
const documentErrors: SwaggerTransform = (input) => {
  const result = zodTransform(input);
  const schema = result.schema as Record<string, unknown> | undefined;
  const route = input.route as RouteOptions;
  if (!schema || schema.hide) return result;
  const { errors, ...rest } = schema as { errors?: readonly ErrorCode[]; response?: Record<string, Record<string, unknown>> };
  rest.response = Object.fromEntries(
    Object.entries(rest.response ?? {}).map(([status, response]) => [status, { description: SUCCESS[status] ?? 'Success', ...response }]),
  );
  // No `errors`: nothing is documented, and the rule in test/openapi.test.ts names the route.
  if (errors === undefined) return { ...result, schema: rest };
  const surface = route.config?.surface ?? surfaceOf(route.url);
  const codes = [...new Set([...impliedErrors(route), ...errors])];
  return { ...result, schema: { ...rest, response: { ...rest.response, ...errorResponseObjects(codes, surface, route.config?.errorGroup) } } };
};

/** The codes a route can answer by its shape alone, whatever its handler does. */
export function impliedErrors(route: Pick<RouteOptions, 'schema'>): ErrorCode[] {
  const schema = route.schema ?? {};
  const codes: ErrorCode[] = [];
  if (schema.security?.some((requirement) => 'secretKey' in requirement)) codes.push('unauthorized');
  if (schema.body) codes.push('invalid_json', 'payload_too_large', 'unsupported_media_type');
  // Every route: a NUL anywhere in the URL is refused before routing (app.ts), and a schema refuses bad input.
  codes.push('invalid_request_parameters');
  return codes;
}

/** One OpenAPI response per status: the codes it carries (schema enum, description) and an example of each. */
function errorResponseObjects(codes: readonly ErrorCode[], surface: ErrorSurface, group: string | undefined): Record<string, unknown> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) byStatus.set(ERROR_CODES[code].status, [...(byStatus.get(ERROR_CODES[code].status) ?? []), code]);
  const responses: Record<string, unknown> = {};
  for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) {
    // WorkOS groups a route's 400s under one code with the reasons in `errors[]` (to-http.ts does the same).
    const grouped: ErrorCode[] = surface === 'management' && group !== undefined && status === 400 ? list.filter((code) => code !== 'invalid_json') : [];
    const examples = Object.fromEntries(
      list.map((code) => [code, { summary: ERROR_CODES[code].message, value: exampleBody(code, surface, grouped.includes(code) ? group : undefined) }]),
    );
    responses[String(status)] = {
      description: list.map((code) => `\`${code}\`: ${ERROR_CODES[code].message}`).join(' · '),
      ...(status === 429 ? { headers: { 'retry-after': RETRY_AFTER } } : {}),
      content: { [JSON_TYPE]: { schema: errorSchema(list, surface, grouped, group), examples } },
    };
  }
  return responses;
}

function errorSchema(codes: readonly ErrorCode[], surface: ErrorSurface, grouped: readonly ErrorCode[], group: string | undefined): Record<string, unknown> {
  const ref = { $ref: `#/components/schemas/${{ management: MANAGEMENT_ERROR_ID, browser: BROWSER_ERROR_ID, novu: NOVU_ERROR_ID }[surface]}` };
  if (surface === 'browser') {
    const error = { type: 'object', required: ['code'], properties: { code: { type: 'string', enum: codes } } };
    return { allOf: [ref, { type: 'object', required: ['error'], properties: { error } }] };
  }
  const plain = codes.filter((code) => !grouped.includes(code));
  const codeEnum = [...plain, ...(grouped.length && group ? [group] : [])];
  const narrow: Record<string, unknown> = { type: 'object', required: ['code'], properties: { code: { type: 'string', enum: codeEnum } } };
  if (grouped.length) {
    (narrow.properties as Record<string, unknown>).errors = {
      type: 'array',
      items: { type: 'object', required: ['code'], properties: { code: { type: 'string', enum: grouped } } },
    };
  }
  return { allOf: [ref, narrow] };
}

function exampleBody(code: ErrorCode, surface: ErrorSurface, group: string | undefined): unknown {
  const message = ERROR_CODES[code].message;
  if (surface === 'browser') return { error: { code, message, context: {} } };
  if (surface === 'novu') {
    const status = ERROR_CODES[code].status;
    const body = { statusCode: status, timestamp: '2026-01-01T00:00:00.000Z', path: '/v2/…', message, code };
    return status === 422 ? { ...body, errors: { request: { messages: [message] } } } : body;
  }
  if (group) return { code: group, message, errors: [{ code, message }] };
  return { code, message };
}

/** The named zod schemas (`.meta({ id })`) become components, those no operation reaches left out; then the examples. */
const withComponents: SwaggerTransformObject = (input) => {
  const document = zodComponents(input);
  const schemas: Record<string, unknown> = ('components' in document && document.components?.schemas) || {};
  const reached = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (typeof node !== 'object' || node === null) return;
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string' && value.startsWith('#/components/schemas/')) {
        const name = value.slice('#/components/schemas/'.length);
        if (!reached.has(name)) {
          reached.add(name);
          visit(schemas[name]);
        }
      } else visit(value);
    }
  };
  visit(document.paths);
  for (const [name, schema] of Object.entries(schemas)) {
    if (!reached.has(name)) delete schemas[name];
    // zod names each one with `$id: '#/components/schemas/…'` (a fragment, which JSON Schema forbids in `$id`) and its
    // dialect; the document's own dialect already says that, and the name is the component's key.
    else if (typeof schema === 'object' && schema !== null) {
      delete (schema as Record<string, unknown>).$id;
      delete (schema as Record<string, unknown>).$schema;
    }
  }
  addExamples(document);
  return document;
};
