import SwaggerParser from '@apidevtools/swagger-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ERROR_CODES } from '../src/errors/index.ts';
import { STORES } from '../src/store/testing.ts';
import { createHarness, type Harness } from './support/harness.ts';
import { operationsOf, type OpenApiDocument } from './support/openapi.ts';

// The document does not depend on the store: one is enough.
describe('the served OpenAPI document', () => {
  let h: Harness;
  let doc: OpenApiDocument;

  beforeAll(async () => {
    h = await createHarness(STORES[0]!);
    const res = await h.app.inject({ method: 'GET', url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    doc = res.json();
  });
  afterAll(() => h.close());

  it('validates as OpenAPI 3.1, every $ref resolving', async () => {
    // validate() dereferences in place: it gets a copy.
    await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeTruthy();
    expect(doc.openapi).toBe('3.1.0');
  });

  // The rule for every route, present and future (docs/api.md): a summary, a unique operationId, a tag, and its error codes.
  it('gives every operation a summary, a unique operationId, a tag and at least one documented 4xx', () => {
    const missing: string[] = [];
    const ids = new Map<string, string>();
    for (const { label, operation } of operationsOf(doc)) {
      if (!operation.summary?.trim()) missing.push(`${label}: no summary`);
      if (!operation.operationId) missing.push(`${label}: no operationId`);
      else if (!/^[a-z][A-Za-z0-9]*$/.test(operation.operationId)) missing.push(`${label}: operationId ${operation.operationId} is not camelCase`);
      else if (ids.has(operation.operationId)) missing.push(`${label}: operationId ${operation.operationId} also names ${ids.get(operation.operationId)}`);
      else ids.set(operation.operationId, label);
      if (!operation.tags?.length) missing.push(`${label}: no tag`);
      if (!Object.keys(operation.responses ?? {}).some((status) => /^4\d\d$/.test(status))) {
        missing.push(`${label}: no 4xx answer (declare the route's codes: schema.errors, see docs/api.md)`);
      }
    }
    expect(missing).toEqual([]);
    expect(ids.size).toBeGreaterThanOrEqual(27);
  });

  it('documents each error answer with its stable codes, each with an example of the body on the wire', () => {
    const wrong: string[] = [];
    for (const { label, operation } of operationsOf(doc)) {
      for (const [status, response] of Object.entries(operation.responses ?? {})) {
        if (!/^[45]\d\d$/.test(status)) continue;
        const examples = response.content?.['application/json']?.examples ?? {};
        if (Object.keys(examples).length === 0) wrong.push(`${label} ${status}: no example`);
        if (status === '429' && !response.headers?.['retry-after']) wrong.push(`${label} 429: Retry-After not documented`);
        for (const [code, example] of Object.entries(examples)) {
          const known = ERROR_CODES[code as keyof typeof ERROR_CODES];
          if (!known) wrong.push(`${label} ${status}: ${code} is not a code of src/errors/codes.ts`);
          else if (String(known.status) !== status) wrong.push(`${label} ${status}: ${code} answers ${known.status}`);
          const value = example.value as { code?: string; errors?: Array<{ code: string }>; error?: { code: string } };
          const onWire = value.error?.code ?? value.errors?.[0]?.code ?? value.code;
          if (onWire !== code) wrong.push(`${label} ${status}: the example of ${code} carries ${onWire}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it('shows an example of every JSON request body and success answer, and every example fits its schema', async () => {
    const resolved = (await SwaggerParser.dereference(structuredClone(doc) as never)) as unknown as OpenApiDocument;
    const wrong: string[] = [];
    let checked = 0;
    for (const { label, operation } of operationsOf(resolved)) {
      const media = [
        ['body', operation.requestBody?.content?.['application/json']] as const,
        ...Object.entries(operation.responses ?? {}).map(([status, response]) => [status, response.content?.['application/json']] as const),
      ];
      for (const [where, m] of media) {
        if (!m?.schema) continue;
        const values = m.example !== undefined ? [m.example] : Object.values(m.examples ?? {}).map((e) => e.value);
        if (values.length === 0) wrong.push(`${label} ${where}: no example`);
        const schema = z.fromJSONSchema(m.schema as never);
        for (const value of values) {
          checked++;
          const result = schema.safeParse(value);
          if (!result.success) wrong.push(`${label} ${where}: ${JSON.stringify(value).slice(0, 80)} does not fit: ${result.error.issues[0]?.message}`);
        }
      }
    }
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThan(100);
    // The check can fail: the user example with a wrong type does not fit the User schema.
    const user = (resolved.components?.schemas?.User ?? {}) as { examples?: Array<Record<string, unknown>> };
    expect(user.examples?.[0]).toMatchObject({ object: 'user', email: 'ada@example.com' });
    expect(z.fromJSONSchema(user as never).safeParse({ ...user.examples![0], email_verified: 'yes' }).success).toBe(false);
  });

  it('says which operations take the secret key, documents their 401, and the server agrees: those and only those refuse a call without it', async () => {
    const wrong: string[] = [];
    for (const { method, path, label, operation } of operationsOf(doc)) {
      const secretKey = operation.security?.some((requirement) => 'secretKey' in requirement) ?? false;
      if (secretKey && !operation.responses?.['401']?.description?.includes('`unauthorized`')) wrong.push(`${label}: 401 unauthorized not documented`);
      // No key and no body: the key check answers first where there is one; elsewhere validation or the handler does.
      const url = path.replace(/\{\w+\}/g, 'user_01ARZ3NDEKTSV4RRFFQ69G5FAV');
      const res = await h.app.inject({ method: method.toUpperCase() as 'GET', url, headers: { host: 'localhost' } });
      const refused = res.statusCode === 401 && JSON.stringify(res.json()).includes('"unauthorized"');
      if (refused !== secretKey) wrong.push(`${label}: documented ${secretKey ? 'with' : 'without'} the secret key, answered ${res.statusCode} without one`);
    }
    expect(wrong).toEqual([]);
    expect(operationsOf(doc).filter(({ operation }) => operation.security?.length).length).toBeGreaterThan(15);
    expect(doc.security).toBeUndefined();
  });

  it('names the wire objects as components: User, PasswordReset, Session, ResetFlow, AuthenticateResponse and the factors', () => {
    expect(Object.keys(doc.components?.schemas ?? {})).toEqual(
      expect.arrayContaining([
        'User',
        'PasswordReset',
        'Session',
        'ResetFlow',
        'AuthenticateResponse',
        'AuthenticationFactor',
        'AuthenticationFactorWithSecrets',
        'ManagementError',
        'BrowserError',
      ]),
    );
  });

  it('answers a documented error code with the documented status and shape', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/user_management/users/user_01ARZ3NDEKTSV4RRFFQ69G5FAV', headers: h.auth });
    const documented = doc.paths['/user_management/users/{id}']?.get?.responses?.[String(res.statusCode)];
    expect(res.statusCode).toBe(404);
    expect(documented?.content?.['application/json']?.examples?.user_not_found?.value).toEqual({ code: 'user_not_found', message: 'User not found.' });
    expect(res.json()).toMatchObject({ code: 'user_not_found', message: 'User not found.' });
  });
});
