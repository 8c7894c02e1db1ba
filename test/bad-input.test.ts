import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORES } from '../src/store/testing.ts';
import { createHarness, type Harness } from './support/harness.ts';

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';

/** What a careless or hostile client sends. Every route must answer each with a 4xx and a stable code. */
const BAD_BODIES: Array<{ name: string; payload: string | Buffer; contentType: string }> = [
  { name: 'malformed JSON', payload: '{"email": ', contentType: 'application/json' },
  { name: 'a JSON array', payload: '[1,2,3]', contentType: 'application/json' },
  { name: 'a JSON number', payload: '42', contentType: 'application/json' },
  {
    name: 'wrong types',
    payload: JSON.stringify({ email: 5, password: [], token: {}, new_password: null, grant_type: 7, session_id: false }),
    contentType: 'application/json',
  },
  { name: 'unknown fields', payload: JSON.stringify({ unexpected: 'field', __proto__x: 1 }), contentType: 'application/json' },
  { name: 'prototype pollution', payload: '{"__proto__": {"admin": true}, "constructor": {"prototype": {"x": 1}}}', contentType: 'application/json' },
  { name: 'a 1 MB body', payload: JSON.stringify({ email: `${'a'.repeat(1024 * 1024)}@example.com` }), contentType: 'application/json' },
  { name: 'invalid UTF-8', payload: Buffer.from([0x7b, 0x22, 0x65, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0x7d]), contentType: 'application/json' },
  { name: 'a 10 000-character email', payload: JSON.stringify({ email: `${'e'.repeat(10_000)}@example.com`, password: 'x' }), contentType: 'application/json' },
  {
    name: 'NUL characters',
    payload: JSON.stringify({
      email: 'a\u0000@example.com',
      identifier: 'x\u0000@example.com',
      token: 'a\u0000',
      first_name: 'x\u0000',
      session_id: 's\u0000',
    }),
    contentType: 'application/json',
  },
  { name: 'form encoding', payload: 'email=a%40b.c', contentType: 'application/x-www-form-urlencoded' },
  { name: 'XML', payload: '<email>a@b.c</email>', contentType: 'application/xml' },
];

const BAD_IDS = [
  'user_01ARZ3NDEKTSV4RRFFQ69G5F%00',
  'not-an-id',
  '..%2F..%2Fetc%2Fpasswd',
  "user_' OR 1=1 --",
  'x'.repeat(5000),
  '%00',
  'user_01ARZ3NDEKTSV4RRFFQ69G5FA!',
];
const BAD_QUERIES = ['client_id=a%00b', 'email=a%00%40b.c', 'limit=abc', 'limit=0', 'limit=100000', 'order=sideways', 'after=', 'unknown=1', 'limit=1&limit=2'];

function errorCode(body: string): string | undefined {
  try {
    const json = JSON.parse(body) as { code?: unknown; error?: { code?: unknown } | string };
    if (typeof json.code === 'string') return json.code;
    if (typeof json.error === 'object' && typeof json.error?.code === 'string') return json.error.code;
  } catch {
    return undefined;
  }
  return undefined;
}

for (const factory of STORES) {
  describe(`${factory.name}: bad input on every route of the OpenAPI document`, () => {
    let h: Harness;
    let routes: Array<{ method: Method; path: string }>;

    beforeAll(async () => {
      h = await createHarness(factory);
      const doc = (await h.app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, Record<string, unknown>> };
      routes = Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => ({ method: m.toUpperCase() as Method, path })));
    });
    afterAll(() => h.close());

    it('documents the management, session, health, notification, factor and flow routes', () => {
      const paths = routes.map((r) => `${r.method} ${r.path}`);
      for (const expected of [
        'POST /user_management/password_reset',
        'GET /user_management/password_reset/{id}',
        'POST /user_management/password_reset/confirm',
        'POST /user_management/users',
        'GET /user_management/users/{id}/sessions',
        'POST /user_management/sessions/revoke',
        'POST /user_management/authenticate',
        'GET /healthz',
        // The notifications engine (Novu-compatible) and the factors and reset flows: the walk must reach them too.
        'POST /v1/events/trigger',
        'POST /v1/events/trigger/bulk',
        'DELETE /v1/events/trigger/{transactionId}',
        'GET /v1/notifications',
        'GET /v1/notifications/{notificationId}',
        'POST /v2/subscribers',
        'PATCH /v2/subscribers/{subscriberId}',
        'PATCH /v2/subscribers/{subscriberId}/preferences',
        'POST /v2/workflows',
        'PUT /v2/workflows/{workflowId}',
        'GET /v2/workflows/{workflowId}/steps/{stepId}',
        'POST /v2/workflows/{workflowId}/step/{stepId}/preview',
        'POST /v1/reset_flows',
        'POST /v1/reset_flows/{id}/challenge',
        'POST /v1/reset_flows/{id}/attempt_second_factor',
        'POST /v1/reset_flows/{id}/continue',
        'POST /user_management/users/{id}/auth_factors',
        'DELETE /user_management/auth_factors/{id}',
        'POST /user_management/users/{id}/recovery_codes',
        'POST /user_management/users/{id}/factor_enrollment_links',
      ]) {
        expect(paths).toContain(expected);
      }
    });

    it('answers every bad body, id and query with a 4xx and a stable code, never a 5xx', async () => {
      const failures: string[] = [];
      let checked = 0;
      type BadRequest = { method: Method; url: string; payload?: string | Buffer; headers?: Record<string, string> };
      const check = async (label: string, request: BadRequest) => {
        for (const auth of [true, false]) {
          const res = await h.app.inject({ ...request, headers: { ...request.headers, ...(auth ? h.auth : {}) } });
          checked++;
          const code = errorCode(res.body);
          if (res.statusCode >= 500 || res.statusCode < 400 || !code) failures.push(`${label} (auth=${auth}) → ${res.statusCode} ${res.body.slice(0, 120)}`);
          if (/at .+\.(ts|js):\d+/.test(res.body)) failures.push(`${label} leaked a stack trace`);
        }
      };
      for (const { method, path } of routes) {
        const concrete = path.replace(/\{(\w+)\}/g, 'user_01ARZ3NDEKTSV4RRFFQ69G5FAV');
        if (path.includes('{')) {
          for (const id of BAD_IDS) await check(`${method} ${path} id=${id.slice(0, 20)}`, { method, url: path.replace(/\{(\w+)\}/g, id) });
        }
        if (method === 'GET' && path !== '/healthz' && path !== '/readyz' && !path.startsWith('/dev/')) {
          for (const query of BAD_QUERIES) await check(`${method} ${path}?${query}`, { method, url: `${concrete}?${query}` });
        }
        if (method === 'POST' || method === 'PUT' || method === 'PATCH') {
          for (const body of BAD_BODIES) {
            await check(`${method} ${path} with ${body.name}`, { method, url: concrete, payload: body.payload, headers: { 'content-type': body.contentType } });
          }
        }
      }
      expect(failures).toEqual([]);
      expect(checked).toBeGreaterThan(200);
    });

    it('refuses an unknown route and method with a code', async () => {
      const res = await h.app.inject({ method: 'GET', url: '/user_management/nothing-here', headers: h.auth });
      expect(res.statusCode).toBe(404);
      expect(res.json()).toMatchObject({ code: 'not_found' });
    });
  });
}
