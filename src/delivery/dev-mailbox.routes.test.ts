import Fastify from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installErrorHandling } from '../errors/index.ts';
import { STORES, type TestStore } from '../store/testing.ts';
import { devMailboxRoutes, isDevelopmentHost } from './dev-mailbox.routes.ts';

describe('SEC-49 development routes and DNS rebinding', () => {
  let store: TestStore;
  const apps: Array<ReturnType<typeof Fastify>> = [];
  beforeAll(async () => {
    store = await STORES[0]!.open();
    await store.db
      .insertInto('dev_mailbox')
      .values({
        id: 'mail_1',
        channel: 'email',
        outbox_id: null,
        to: 'ada@example.com',
        from: 'Rekey <no-reply@rekey.localhost>',
        subject: 'Reset your password',
        text: 'https://x/reset/verify?token=LIVE-TOKEN',
        html: '<a href="https://x/reset/verify?token=LIVE-TOKEN">Reset</a>',
        created_at: 0,
      })
      .execute();
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    await store.close();
  });

  const server = async (baseUrl?: string) => {
    const app = Fastify();
    app.setValidatorCompiler(validatorCompiler);
    app.setSerializerCompiler(serializerCompiler);
    installErrorHandling(app);
    await app.register(devMailboxRoutes, { db: store.db, ...(baseUrl ? { baseUrl } : {}) });
    apps.push(app);
    return app;
  };
  const get = (app: Awaited<ReturnType<typeof server>>, url: string, host: string) => app.inject({ method: 'GET', url, headers: { host } });

  it('SEC-49 answers for loopback names and the base URL’s host, on any port', async () => {
    const app = await server('https://dev.rekey.test:8443');
    for (const host of ['localhost', 'localhost:8080', '127.0.0.1:8080', '[::1]:8080', 'LOCALHOST:3000', 'dev.rekey.test', 'dev.rekey.test:8443']) {
      for (const url of ['/dev/mailbox', '/dev/mailbox/messages', '/dev/mailbox/messages/mail_1/html']) {
        const res = await get(app, url, host);
        expect([host, url, res.statusCode]).toEqual([host, url, 200]);
        expect(res.body).toContain('LIVE-TOKEN');
      }
    }
  });

  it('SEC-49 refuses any other Host with 403 dev_host_not_allowed and no mail', async () => {
    const app = await server('http://127.0.0.1:8080');
    const refused = ['evil.test', 'evil.test:8080', '127.0.0.1.evil.test', 'localhost.evil.test', 'evil.test@localhost', 'localhost/evil', '192.168.1.20:8080'];
    for (const host of refused) {
      for (const url of ['/dev/mailbox', '/dev/mailbox/messages', '/dev/mailbox/messages/mail_1/html']) {
        const res = await get(app, url, host);
        expect([host, url, res.statusCode]).toEqual([host, url, 403]);
        expect(res.json().error.code).toBe('dev_host_not_allowed');
        expect(res.body).not.toContain('LIVE-TOKEN');
      }
    }
  });

  it('without a base URL, only loopback names', async () => {
    const app = await server();
    expect((await get(app, '/dev/mailbox/messages', 'localhost:8080')).statusCode).toBe(200);
    expect((await get(app, '/dev/mailbox/messages', 'dev.rekey.test')).statusCode).toBe(403);
  });

  it('parses the Host header strictly', () => {
    expect(isDevelopmentHost(undefined)).toBe(false);
    expect(isDevelopmentHost('localhost:99999999')).toBe(false);
    expect(isDevelopmentHost('local host')).toBe(false);
    expect(isDevelopmentHost('[::1]')).toBe(true);
    expect(isDevelopmentHost('[::2]')).toBe(false);
  });

  it('serves a mail’s HTML under its own policy, framed only by the mailbox; a message without HTML is a 404', async () => {
    const app = await server();
    const res = await get(app, '/dev/mailbox/messages/mail_1/html', 'localhost');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['content-security-policy']).toContain('sandbox allow-popups allow-popups-to-escape-sandbox');
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toBe('<base target="_blank"><a href="https://x/reset/verify?token=LIVE-TOKEN">Reset</a>');
    expect((await get(app, '/dev/mailbox', 'localhost')).headers['x-frame-options']).toBe('DENY');
    await store.db
      .insertInto('dev_mailbox')
      .values({ id: 'mail_sms', channel: 'sms', outbox_id: null, to: '+15551234567', from: '', subject: '', text: 'code', html: '', created_at: 1 })
      .execute();
    expect((await get(app, '/dev/mailbox/messages/mail_sms/html', 'localhost')).json().error.code).toBe('entity_not_found');
    expect((await get(app, '/dev/mailbox/messages/nope/html', 'localhost')).statusCode).toBe(404);
  });
});
