import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../app.ts';
import { createRekey, type Rekey } from '../compose.ts';
import { loadConfig } from '../config/load.ts';
import { listDevMailbox } from '../delivery/index.ts';
import { manualClock } from '../platform/clock.ts';
import { createLogger } from '../platform/logger.ts';
import { STORES, type TestStore } from '../store/testing.ts';
import { hostedPages } from './index.ts';
import { Browser } from './testing.ts';

const BASE = 'https://rekey.example.test';
const PASSWORD = 'correct horse battery staple';

/** Both journeys through the pages over the real reset service (the browser-level suite lives in test/). */
for (const factory of STORES) {
  describe(`${factory.name}: hosted pages over the reset service`, () => {
    let store: TestStore;
    let rekey: Rekey;
    let app: FastifyInstance;
    let n = 0;

    beforeAll(async () => {
      store = await factory.open();
      const config = loadConfig({
        env: {},
        overrides: { env: 'test', secret: 'pages-test-secret-long-enough-0123456789', baseUrl: BASE, logLevel: 'silent', dataDir: '/nonexistent-rekey-test' },
      });
      const clock = manualClock(Date.parse('2026-11-25T12:00:00Z'));
      rekey = await createRekey({ config, store, clock, logger: createLogger('silent') });
      app = await buildApp(rekey);
      // Until app.ts registers the pages itself.
      if (!app.hasRoute({ method: 'GET', url: '/reset' })) {
        await app.register(hostedPages, { flows: rekey.flows, apps: rekey.apps, tokens: rekey.deps.tokens, config, clock });
      }
      await app.ready();
    });
    afterAll(async () => {
      await app.close();
      await rekey.close();
      await store.close();
    });

    const newUser = async () => {
      const email = `pages${++n}@example.com`;
      await rekey.users.create({ email, password: `an old password, number ${n}` });
      return email;
    };
    const mailTo = async (email: string) => {
      await rekey.dispatcher.drain();
      await rekey.dispatcher.drain();
      const [mail] = await listDevMailbox(store.db, { to: email, limit: 1 });
      if (!mail) throw new Error(`no mail for ${email}`);
      return mail.text;
    };

    it('walks the code journey to the done page and leaves no cookie but the CSRF one', async () => {
      const email = await newUser();
      const browser = new Browser(app, BASE);
      await browser.get('/reset');
      expect((await browser.post('/reset', { email, method: 'email_code' })).headers.location).toBe('/reset/code');
      const code = (await mailTo(email)).match(/^\s*(\d{6})\s*$/m)?.[1] ?? '';
      await browser.get('/reset/code');
      expect((await browser.post('/reset/code', { code: code === '000000' ? '111111' : '000000' })).statusCode).toBe(422);
      expect((await browser.post('/reset/code', { code })).headers.location).toBe('/reset/new');
      await browser.get('/reset/new');
      const weak = await browser.post('/reset/new', { password: 'password1234567', confirm: 'password1234567', sign_out_others: 'on' });
      expect(weak.statusCode).toBe(400);
      expect(weak.body).toMatch(/data-code="password_(common|breached)"/);
      const done = await browser.post('/reset/new', { password: PASSWORD, confirm: PASSWORD, sign_out_others: 'on' });
      expect(done.headers.location).toBe('/reset/done');
      expect([...browser.cookies.keys()]).toEqual(['__Host-rekey_csrf']);
    });

    it('SEC-15 walks the link journey: scanners opening the link spend nothing, the user confirms with a POST', async () => {
      const email = await newUser();
      const browser = new Browser(app, BASE);
      await browser.get('/reset?lang=fr');
      expect((await browser.post('/reset', { email, method: 'email_link', lang: 'fr' })).headers.location).toBe('/reset/sent');
      const link = new URL((await mailTo(email)).match(/https:\/\/\S+token=[A-Za-z0-9_-]+/)?.[0] ?? '');
      const landing = `${link.pathname}${link.search}`;
      for (const method of ['GET', 'HEAD', 'GET'] as const) {
        expect((await app.inject({ method, url: landing, headers: { 'user-agent': 'LinkScanner/1.0' } })).statusCode).toBe(303);
      }
      expect((await browser.get(landing)).headers.location).toBe('/reset/verify');
      const page = await browser.get('/reset/verify');
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain('<html lang="fr">');
      expect((await browser.post('/reset/verify', {})).headers.location).toBe('/reset/new');
      await browser.get('/reset/new');
      expect((await browser.post('/reset/new', { password: PASSWORD, confirm: PASSWORD })).headers.location).toBe('/reset/done?lang=fr');
      // Spent: the same link now gets the one generic page.
      await browser.get(landing);
      const reused = await browser.get('/reset/verify');
      expect(reused.statusCode).toBe(400);
      expect(reused.body).toContain('data-code="link_invalid"');
      expect(reused.body).not.toContain(email);
    });
  });
}
