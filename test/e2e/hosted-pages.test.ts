import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page, type Request } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { STORES, type StoreFactory } from '../../src/store/testing.ts';
import { managementApi } from '../support/api.ts';
import { createHarness, GOOD_PASSWORD, type Harness } from '../support/harness.ts';

/**
 * The hosted reset pages in a real browser (Debian's Chromium through playwright-core), against a listening server,
 * on every store: both journeys end to end, then the browser-facing items of SECURITY.md (SEC-15, SEC-24..27),
 * accessibility basics and hostile form bodies. Screenshots of each step go to test/artifacts/ (git-ignored).
 */

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];
const ARTIFACTS = join(import.meta.dirname, '..', 'artifacts');
const SCANNER_UA = 'Mozilla/5.0 (compatible; SafeLinksScanner/2.1; +https://scanner.example.net/bot)';
/** What a stack trace or a leaked internal path looks like in a response body. */
const STACK_TRACE = /\n\s+at [^\n]+[(:]\d+|node_modules|\.ts:\d+|\bTypeError\b|\bReferenceError\b/;

/*
 * The functions handed to `page.evaluate` run in the page. The project's type setup is Node's only (no DOM lib), so
 * the few page globals they use are declared here, for this file alone.
 */
interface PageElement {
  id: string;
  tagName: string;
  textContent: string | null;
}
declare const document: {
  activeElement: PageElement | null;
  querySelector(selector: string): PageElement | null;
  getElementById(id: string): PageElement | null;
};
declare const history: { length: number };
declare const location: { href: string };
declare const navigation: { entries(): Array<{ url: string | null }> } | undefined;
declare const performance: { getEntriesByType(type: string): Array<{ name: string }> };
declare const CSS: { escape(value: string): string };

let browser: Browser;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
});
afterAll(async () => {
  await browser?.close();
});

/** A port nobody listens on right now, so `baseUrl` can name it before the server starts. */
async function freePort(): Promise<number> {
  const probe = createNetServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** A server whose `config.baseUrl` is its own listening URL (the pages compare POST Origins with it). */
async function listeningHarness(factory: StoreFactory): Promise<Harness & { url: string }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      const h = await createHarness(factory, {
        listen: true,
        // Every request here comes from 127.0.0.1: the per-IP limits would otherwise be what the tests measure.
        config: { port, baseUrl: `http://127.0.0.1:${port}`, rateLimitIpRequests: 10_000, rateLimitIpVerifications: 10_000 },
      });
      return h as Harness & { url: string };
    } catch (error) {
      // Someone took the port between the probe and the listen: try another.
      if ((error as { code?: string }).code !== 'EADDRINUSE' || attempt >= 5) throw error;
    }
  }
}

/** A cookie jar for Node's fetch: what a non-browser client (a scanner, a forged request) holds. */
class Jar {
  readonly cookies = new Map<string, string>();
  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
  take(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=Thu, 01 Jan 1970/i.test(a));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
}

const csrfIn = (body: string): string => {
  const token = body.match(/name="csrf" value="([^"]+)"/)?.[1];
  if (!token) throw new Error('no CSRF field on the page');
  return token;
};

const isHtml = (res: Response) => (res.headers.get('content-type') ?? '').startsWith('text/html');

for (const factory of STORES) {
  describe(`${factory.name}: hosted reset pages in Chromium`, () => {
    let h: Harness & { url: string };
    let api: ReturnType<typeof managementApi>;
    let context: BrowserContext;
    let page: Page;
    let n = 0;

    const newUser = async (tag: string) => {
      const email = `${tag}${++n}-${factory.name}@example.com`;
      const password = `${GOOD_PASSWORD} old ${n}`;
      await api.createUser(email, password, { email_verified: true });
      return { email, password };
    };
    const newPassword = () => `${GOOD_PASSWORD} new ${++n}`;
    const shot = (journey: string, step: string) => page.screenshot({ path: join(ARTIFACTS, `${factory.name}-${journey}-${step}.png`), fullPage: true });

    /** Delivers the outbox (the reset.requested job writes the mail on a second pass) and reads the newest mail. */
    const mailText = async (email: string) => {
      await h.deliver();
      await h.deliver();
      const [mail] = await h.mailbox(email);
      if (!mail) throw new Error(`no mail for ${email}`);
      return mail.text;
    };
    const linkFor = async (email: string) => {
      const link = (await mailText(email)).match(/https?:\/\/\S+[?&]token=[A-Za-z0-9_-]+/)?.[0];
      if (!link) throw new Error(`no link in the mail to ${email}`);
      expect(new URL(link).origin).toBe(h.url);
      return link;
    };
    const codeFor = async (email: string) => {
      const code = (await mailText(email)).match(/^\s*(\d{6})\s*$/m)?.[1];
      if (!code) throw new Error(`no code in the mail to ${email}`);
      return code;
    };

    /** The first page: type the address, pick the method, submit. */
    const ask = async (email: string, method: 'link' | 'code', journey?: string) => {
      await page.goto('/reset');
      await page.fill('#email', email);
      if (method === 'code') await page.check('#method-code');
      else await expect(page.isChecked('#method-link')).resolves.toBe(true);
      if (journey) await shot(journey, '01-ask');
      await Promise.all([page.waitForURL(method === 'code' ? '**/reset/code' : '**/reset/sent'), page.click('button[type=submit]')]);
    };
    /** The new-password page: both fields, submit, land on the done page (`?lang=` kept when one was chosen). */
    const setPassword = async (password: string, journey?: string) => {
      await page.fill('#password', password);
      // The strength meter (same-origin script, allowed by the CSP) rates the password after a short pause.
      await page.waitForSelector('[data-strength][data-score]');
      await page.fill('#confirm', password);
      if (journey) await shot(journey, '04-new');
      await Promise.all([page.waitForURL(/\/reset\/done(\?|$)/), page.click('button[type=submit]')]);
      if (journey) await shot(journey, '05-done');
    };
    /** Follows a mailed link and confirms it with the button. */
    const followLink = async (link: string, journey?: string) => {
      const landing = await page.goto(link);
      expect(landing?.status()).toBe(200);
      expect(new URL(page.url()).pathname).toBe('/reset/verify');
      if (journey) await shot(journey, '03-verify');
      await Promise.all([page.waitForURL('**/reset/new'), page.click('button[type=submit]')]);
    };
    /** A code journey up to the new-password page. */
    const codeUpToNew = async (email: string) => {
      await ask(email, 'code');
      await page.fill('#code', await codeFor(email));
      await Promise.all([page.waitForURL('**/reset/new'), page.click('button[type=submit]')]);
    };
    const signsIn = async (email: string, password: string) => (await api.login(email, password)).statusCode;

    beforeAll(async () => {
      h = await listeningHarness(factory);
      api = managementApi(h);
    });
    afterAll(async () => {
      await h?.close();
    });
    beforeEach(async () => {
      context = await browser.newContext({ baseURL: h.url });
      // Fail fast with playwright's own message rather than at vitest's test timeout.
      context.setDefaultTimeout(15_000);
      page = await context.newPage();
    });
    afterEach(async () => {
      await context?.close();
    });

    it('link journey: ask, read the mail, follow the link, set a password, sign in with it', async () => {
      const { email, password: old } = await newUser('link');
      await ask(email, 'link', 'link');
      await shot('link', '02-sent');
      const link = await linkFor(email);
      await followLink(link, 'link');
      const fresh = newPassword();
      await setPassword(fresh, 'link');

      expect(await signsIn(email, fresh)).toBe(200);
      expect(await signsIn(email, old)).toBe(400);
      // The flow is over: only the CSRF cookie is left in the browser.
      expect((await context.cookies()).map((c) => c.name)).toEqual(['rekey_csrf']);
    });

    it('code journey: ask for a code, enter it, set a password, sign in with it', async () => {
      const { email, password: old } = await newUser('code');
      await ask(email, 'code', 'code');
      await shot('code', '02-code');
      // A page with an error, in French: the form says what is wrong next to the field.
      await page.goto('/reset/code?lang=fr');
      await Promise.all([page.waitForLoadState('load'), page.click('button[type=submit]')]);
      expect(await page.getAttribute('html', 'lang')).toBe('fr');
      expect(await page.getAttribute('#code', 'aria-invalid')).toBe('true');
      await shot('code', '03-error-fr');

      await page.fill('#code', await codeFor(email));
      await Promise.all([page.waitForURL('**/reset/new'), page.click('button[type=submit]')]);
      // The language chosen on the way stays with the flow.
      expect(await page.getAttribute('html', 'lang')).toBe('fr');
      const fresh = newPassword();
      await setPassword(fresh, 'code');
      expect(new URL(page.url()).searchParams.get('lang')).toBe('fr');

      expect(await signsIn(email, fresh)).toBe(200);
      expect(await signsIn(email, old)).toBe(400);
    });

    it('SEC-15 a scanner GETting the link three times does not spend it', async () => {
      const { email, password: old } = await newUser('scanned');
      await ask(email, 'link');
      const link = await linkFor(email);

      for (let i = 0; i < 3; i++) {
        const res = await fetch(link, { redirect: 'manual', headers: { 'user-agent': SCANNER_UA, accept: 'text/html,*/*' } });
        expect(res.status).toBe(303);
        expect(res.headers.get('location')).toBe('/reset/verify');
        await res.arrayBuffer();
      }
      const head = await fetch(link, { method: 'HEAD', redirect: 'manual', headers: { 'user-agent': SCANNER_UA } });
      expect(head.status).toBe(303);
      // A scanner that keeps cookies and follows the redirect sees the "Continue" page, and still spends nothing.
      const scanner = new Jar();
      const landing = await fetch(link, { redirect: 'manual', headers: { 'user-agent': SCANNER_UA } });
      scanner.take(landing);
      const verify = await fetch(new URL('/reset/verify', h.url), { headers: { 'user-agent': SCANNER_UA, cookie: scanner.header() } });
      expect(verify.status).toBe(200);
      expect(await verify.text()).toContain('action="/reset/verify"');

      await followLink(link);
      const fresh = newPassword();
      await setPassword(fresh);
      expect(await signsIn(email, fresh)).toBe(200);
      expect(await signsIn(email, old)).toBe(400);
    });

    it('SEC-23 the browser ends on the allow-listed redirect_url after the new password, with form-action still self', async () => {
      // The application's own site: another origin (localhost is loopback, so plain http may be allow-listed).
      const target = await otherOrigin('<!doctype html><title>Back in the application</title><p id="back">back</p>', 'localhost');
      try {
        const redirectUrl = `${target.url}after-reset?from=rekey`;
        const application = await h.rekey.apps.create({ name: 'Elsewhere', allowedRedirects: [`${target.url}after-reset`] });
        const { email, password: old } = await newUser('redirect');
        const postCsp: string[] = [];
        page.on('response', async (response) => {
          if (response.request().method() === 'POST') postCsp.push((await response.allHeaders())['content-security-policy'] ?? '');
        });
        await page.goto(`/reset?client_id=${application.client_id}&redirect_url=${encodeURIComponent(redirectUrl)}`);
        await page.fill('#email', email);
        await page.check('#method-code');
        await Promise.all([page.waitForURL('**/reset/code**'), page.click('button[type=submit]')]);
        await page.fill('#code', await codeFor(email));
        await Promise.all([page.waitForURL('**/reset/new**'), page.click('button[type=submit]')]);
        const fresh = newPassword();
        await page.fill('#password', fresh);
        await page.fill('#confirm', fresh);
        await Promise.all([page.waitForURL(redirectUrl), page.click('button[type=submit]')]);
        expect(page.url()).toBe(redirectUrl);
        expect(await page.textContent('#back')).toBe('back');
        // The password form's page never widened where a form may post (SEC-24).
        expect(postCsp.length).toBeGreaterThan(0);
        for (const csp of postCsp) expect(csp).toMatch(/(^|;\s*)form-action 'self'(;|$)/);
        expect(await signsIn(email, fresh)).toBe(200);
        expect(await signsIn(email, old)).toBe(400);
        // Nothing of the flow is left to replay: only the CSRF cookie remains.
        expect((await context.cookies(h.url)).map((c) => c.name)).toEqual(['rekey_csrf']);
      } finally {
        await target.close();
      }
    });

    it('SEC-24 pages with a token in the URL send no-referrer and load nothing cross-origin', async () => {
      const { email } = await newUser('referrer');
      const requests: Request[] = [];
      page.on('request', (request) => requests.push(request));
      await ask(email, 'link');
      const link = await linkFor(email);
      const token = new URL(link).searchParams.get('token')!;

      const final = await page.goto(link);
      const landing = await final!.request().redirectedFrom()!.response();
      expect(landing!.status()).toBe(303);
      const landingHeaders = await landing!.allHeaders();
      expect(landingHeaders['referrer-policy']).toBe('no-referrer');
      expect(landingHeaders['content-security-policy']).toMatch(/(^|;\s*)default-src '(none|self)'/);
      const pageHeaders = await final!.allHeaders();
      expect(pageHeaders['referrer-policy']).toBe('no-referrer');
      expect(pageHeaders['content-security-policy']).toMatch(/(^|;\s*)default-src '(none|self)'/);
      expect(await page.getAttribute('meta[name=referrer]', 'content')).toBe('no-referrer');

      await Promise.all([page.waitForURL('**/reset/new'), page.click('button[type=submit]')]);
      await setPassword(newPassword());
      // Let late subresources (the meter script) be recorded too.
      await page.waitForLoadState('networkidle');

      expect(requests.length).toBeGreaterThan(5);
      const offsite = requests.filter((r) => !r.url().startsWith('data:') && new URL(r.url()).origin !== h.url).map((r) => r.url());
      expect(offsite).toEqual([]);
      const leaks: string[] = [];
      for (const request of requests) {
        const referer = (await request.allHeaders())['referer'] ?? '';
        if (referer.includes(token)) leaks.push(`${request.method()} ${request.url()} Referer: ${referer}`);
        // The only request that may carry the token is the one that opened the link.
        if (request.url().includes(token) && request.url() !== link) leaks.push(`${request.method()} ${request.url()}`);
      }
      expect(leaks).toEqual([]);
      expect(requests.some((r) => new URL(r.url()).pathname.startsWith('/assets/'))).toBe(true);
    });

    it('SEC-25 the token leaves the URL: the final URL and history hold no token', async () => {
      const { email } = await newUser('history');
      await ask(email, 'link');
      const link = await linkFor(email);
      const token = new URL(link).searchParams.get('token')!;

      // A token in a POST's query string is refused before anything reads it, and spends nothing.
      for (const path of ['/reset/verify', '/reset']) {
        const res = await fetch(new URL(`${path}?token=${token}`, h.url), {
          method: 'POST',
          redirect: 'manual',
          headers: { 'content-type': 'application/x-www-form-urlencoded', origin: h.url },
          body: 'csrf=x',
        });
        expect(res.status, path).toBeGreaterThanOrEqual(400);
        expect(res.status, path).toBeLessThan(500);
        expect(await res.text()).not.toContain(token);
      }

      await page.goto(link);
      const seen = async () => {
        expect(page.url()).not.toContain('token=');
        const state = await page.evaluate(() => ({
          length: history.length,
          entries: typeof navigation === 'undefined' ? [] : navigation.entries().map((e) => e.url ?? ''),
          timing: performance.getEntriesByType('navigation').map((e) => e.name),
          href: location.href,
        }));
        expect(state.entries.length).toBeGreaterThan(0);
        for (const url of [...state.entries, ...state.timing, state.href]) expect(url).not.toContain(token);
        return state;
      };
      const landed = await seen();
      expect(new URL(landed.href).pathname).toBe('/reset/verify');
      await Promise.all([page.waitForURL('**/reset/new'), page.click('button[type=submit]')]);
      await seen();
      // Back from the new-password page goes to the clean landing, never to the URL with the token.
      await page.goBack();
      const back = await seen();
      expect(new URL(back.href).pathname).toBe('/reset/verify');
      expect((await context.cookies()).map((c) => c.value).join(' ')).not.toContain(token);
    });

    it('SEC-26 every reset page is no-store and cannot be framed', async () => {
      const paths = [
        '/reset',
        '/reset/sent',
        '/reset/code',
        '/reset/verify',
        '/reset/second-factor',
        '/reset/new',
        '/reset/done',
        '/reset/verify?token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
      ];
      for (const path of paths) {
        const res = await fetch(new URL(path, h.url), { redirect: 'manual' });
        await res.arrayBuffer();
        expect(res.headers.get('cache-control'), path).toContain('no-store');
        expect(res.headers.get('content-security-policy'), path).toMatch(/(^|;\s*)frame-ancestors 'none'/);
        expect(res.headers.get('x-frame-options'), path).toBe('DENY');
      }
      // The same with a live flow in a browser: the pages that need one answer 200, with the same headers.
      const { email } = await newUser('headers');
      const responses: Array<{ path: string; headers: Record<string, string> }> = [];
      page.on('response', async (response) => {
        const url = new URL(response.url());
        if (url.pathname.startsWith('/reset')) responses.push({ path: url.pathname, headers: await response.allHeaders() });
      });
      await codeUpToNew(email);
      await setPassword(newPassword());
      await page.waitForLoadState('networkidle');
      const visited = new Set(responses.map((r) => r.path));
      for (const path of ['/reset', '/reset/code', '/reset/new', '/reset/done']) expect(visited.has(path), path).toBe(true);
      for (const { path, headers } of responses) {
        expect(headers['cache-control'], path).toContain('no-store');
        expect(headers['content-security-policy'], path).toMatch(/(^|;\s*)frame-ancestors 'none'/);
      }

      // And a frame really cannot hold them: a page on another origin that frames /reset gets an empty frame.
      const framer = await otherOrigin(`<!doctype html><iframe id="f" src="${h.url}/reset"></iframe>`);
      try {
        const [framed] = await Promise.all([page.waitForResponse((r) => r.url() === `${h.url}/reset`), page.goto(framer.url)]);
        expect(framed.frame()).not.toBe(page.mainFrame());
        expect(framed.status()).toBe(200);
        await page.waitForLoadState('load');
        const frame = await (await page.waitForSelector('#f', { state: 'attached' })).contentFrame();
        // Chromium swaps a refused frame's document for its own error page: the form never exists in it.
        const shown = await frame!
          .evaluate(() => ({ url: location.href, form: document.querySelector('#email') !== null }))
          .catch((error: Error) => ({ url: frame!.url(), form: false, error: error.message }));
        expect(shown.form).toBe(false);
        expect(shown.url).not.toBe(`${h.url}/reset`);
      } finally {
        await framer.close();
      }
    });

    it('SEC-27 a cross-site form POST is refused with 403 and the password is unchanged', async () => {
      const { email, password: old } = await newUser('csrf');
      await codeUpToNew(email);
      const evil = newPassword();

      // A page on another site auto-submits a form to the new-password page, in the same browser; the second one also
      // hides its origin (`Origin: null`, as the pages' own no-referrer posts do), which must not pass for ours.
      for (const meta of ['', '<meta name="referrer" content="no-referrer">']) {
        const attacker = await otherOrigin(`<!doctype html>${meta}<form method="post" action="${h.url}/reset/new">
<input name="password" value="${evil}"><input name="confirm" value="${evil}"><input name="sign_out_others" value="on">
</form><script>document.forms[0].submit()</script>`);
        try {
          const [response] = await Promise.all([
            page.waitForResponse((r) => r.url() === `${h.url}/reset/new` && r.request().method() === 'POST'),
            page.goto(attacker.url),
          ]);
          expect(response.status(), meta).toBe(403);
          const sent = await response.request().allHeaders();
          expect(sent['origin'], meta).toBe(meta ? 'null' : attacker.url.replace(/\/$/, ''));
          expect(sent['sec-fetch-site'], meta).toBe('cross-site');
          expect(await response.text()).toContain('data-code="cross_origin_forbidden"');
        } finally {
          await attacker.close();
        }
      }
      expect(await signsIn(email, old)).toBe(200);
      expect(await signsIn(email, evil)).toBe(400);

      // A forged request that holds the victim's cookies but not the form's token: refused too.
      const jar = new Jar();
      for (const cookie of await context.cookies()) jar.cookies.set(cookie.name, cookie.value);
      expect([...jar.cookies.keys()].sort()).toEqual(['rekey_csrf', 'rekey_flow']);
      const post = (body: string) =>
        fetch(new URL('/reset/new', h.url), {
          method: 'POST',
          redirect: 'manual',
          headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header(), origin: h.url },
          body,
        });
      const fields = `password=${encodeURIComponent(evil)}&confirm=${encodeURIComponent(evil)}`;
      for (const body of [fields, `${fields}&csrf=`, `${fields}&csrf=${'A'.repeat(43)}`, `${fields}&csrf=${jar.cookies.get('rekey_csrf')}`]) {
        const res = await post(body);
        expect(res.status, body).toBe(403);
        expect(await res.text()).toContain('data-code="csrf_invalid"');
      }
      // With the right Origin but a POST marked cross-site by the browser: refused.
      const marked = await fetch(new URL('/reset/new', h.url), {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header(), 'sec-fetch-site': 'cross-site' },
        body: fields,
      });
      expect(marked.status).toBe(403);
      expect(await signsIn(email, old)).toBe(200);
      expect(await signsIn(email, evil)).toBe(400);

      // The same cookies with the page's own token do work: the 403s above were the token's doing, not a dead flow.
      const form = await fetch(new URL('/reset/new', h.url), { headers: { cookie: jar.header() } });
      expect(form.status).toBe(200);
      jar.take(form);
      const good = newPassword();
      const ok = await post(`password=${encodeURIComponent(good)}&confirm=${encodeURIComponent(good)}&csrf=${encodeURIComponent(csrfIn(await form.text()))}`);
      expect(ok.status).toBe(303);
      expect(ok.headers.get('location')).toBe('/reset/done');
      expect(await signsIn(email, good)).toBe(200);
    });

    it('accessibility basics: labels, focus order, errors tied to fields', async () => {
      const { email } = await newUser('a11y');
      const unlabelled = () =>
        page.$$eval('input:not([type=hidden])', (inputs) =>
          inputs.filter((input) => !input.id || !document.querySelector(`label[for="${CSS.escape(input.id)}"]`)).map((input) => input.outerHTML),
        );

      await page.goto('/reset');
      expect(await page.getAttribute('html', 'lang')).toBe('en');
      expect(await unlabelled()).toEqual([]);
      expect(await page.locator('h1').count()).toBe(1);

      // Keyboard order from the top of the page: the email field comes before the submit button.
      const order: string[] = [];
      for (let i = 0; i < 15 && !order.includes('submit'); i++) {
        await page.keyboard.press('Tab');
        order.push(
          await page.evaluate(() => {
            const el = document.activeElement;
            if (!el) return 'none';
            if (el.tagName === 'BUTTON') return 'submit';
            return el.id || el.tagName.toLowerCase();
          }),
        );
      }
      expect(order).toContain('email');
      expect(order).toContain('submit');
      expect(order.indexOf('email')).toBeLessThan(order.indexOf('submit'));
      expect(order[0]).toBe('email');

      for (const typed of ['', 'not-an-address']) {
        await page.goto('/reset');
        await page.fill('#email', typed);
        await Promise.all([page.waitForLoadState('load'), page.click('button[type=submit]')]);
        const alert = page.locator('[role=alert]');
        expect(await alert.count(), typed).toBe(1);
        expect(await alert.isVisible()).toBe(true);
        expect((await alert.textContent())?.trim()).toBeTruthy();
        expect(await page.getAttribute('#email', 'aria-invalid')).toBe('true');
        const describedBy = (await page.getAttribute('#email', 'aria-describedby')) ?? '';
        const descriptions = await page.evaluate(
          (ids) => ids.map((id) => document.getElementById(id)?.textContent?.trim() ?? ''),
          describedBy.split(/\s+/).filter(Boolean),
        );
        const fieldError = (await page.locator('#email-error').textContent())?.trim() ?? '';
        expect(fieldError).not.toBe('');
        expect(descriptions).toContain(fieldError);
        // The summary links to the field, and the field has the focus after the error.
        expect(await alert.locator('a[href="#email"]').count()).toBe(1);
        expect(await page.evaluate(() => document.activeElement?.id)).toBe('email');
        if (typed) expect(await page.inputValue('#email')).toBe(typed);
      }

      // The code and new-password forms too.
      await codeUpToNew(email);
      expect(await unlabelled()).toEqual([]);
      await ask(email, 'code');
      expect(await unlabelled()).toEqual([]);
      await Promise.all([page.waitForLoadState('load'), page.click('button[type=submit]')]);
      expect(await page.getAttribute('#code', 'aria-invalid')).toBe('true');
      expect((await page.getAttribute('#code', 'aria-describedby'))?.split(' ')).toContain('code-error');
    });

    it('bad input on the forms gets a page that says what is wrong, never a 5xx', async () => {
      /** A non-browser client with its own cookies; every POST says it comes from Rekey's origin, as a browser would. */
      const client = () => {
        const jar = new Jar();
        const get = async (path: string) => {
          const res = await fetch(new URL(path, h.url), { redirect: 'manual', headers: { cookie: jar.header() } });
          jar.take(res);
          return res;
        };
        const post = async (path: string, body: string | Buffer, type = 'application/x-www-form-urlencoded') => {
          const res = await fetch(new URL(path, h.url), {
            method: 'POST',
            redirect: 'manual',
            headers: { 'content-type': type, cookie: jar.header(), origin: h.url },
            body,
          });
          jar.take(res);
          return res;
        };
        const csrf = async (path: string) => {
          const res = await get(path);
          expect(res.status, path).toBe(200);
          return csrfIn(await res.text());
        };
        return { jar, get, post, csrf };
      };
      const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
      const startFlow = async (c: ReturnType<typeof client>, address: string, method: 'email_code' | 'email_link') => {
        const res = await c.post('/reset', form({ csrf: await c.csrf('/reset'), email: address, method }));
        expect(res.status).toBe(303);
      };

      // One client per form, holding what that form needs: nothing, a code flow, a verified flow, an opened link.
      const asker = client();
      const coder = client();
      await startFlow(coder, (await newUser('badcode')).email, 'email_code');
      const setter = client();
      const { email: setterEmail } = await newUser('badnew');
      await startFlow(setter, setterEmail, 'email_code');
      const verified = await setter.post('/reset/code', form({ csrf: await setter.csrf('/reset/code'), code: await codeFor(setterEmail) }));
      expect(verified.headers.get('location')).toBe('/reset/new');
      const linker = client();
      const { email: linkEmail } = await newUser('badlink');
      await startFlow(linker, linkEmail, 'email_link');
      expect((await linker.get(await linkFor(linkEmail))).status).toBe(303);

      const forms: Array<{ path: string; c: ReturnType<typeof client>; main: string; valid: Record<string, string> }> = [
        { path: '/reset', c: asker, main: 'email', valid: { email: 'someone@example.com', method: 'email_code' } },
        { path: '/reset/code', c: coder, main: 'code', valid: { code: '123456' } },
        { path: '/reset/new', c: setter, main: 'password', valid: { password: `${GOOD_PASSWORD} x`, confirm: `${GOOD_PASSWORD} x` } },
        { path: '/reset/verify', c: linker, main: 'client_id', valid: {} },
      ];
      const failures: string[] = [];
      for (const { path, c, main, valid } of forms) {
        const csrf = await c.csrf(path);
        const long = 'a'.repeat(10_000);
        const cases: Array<{ name: string; body: string | Buffer; type?: string; status?: number }> = [
          { name: 'an empty body', body: '', status: 403 },
          { name: 'no CSRF field', body: form(valid), status: 403 },
          // The link form has no field but the token: submitting it is a legitimate confirmation, tried last below.
          ...(path === '/reset/verify' ? [] : [{ name: 'missing fields', body: form({ csrf }) }]),
          {
            name: 'a 10,000-character field',
            body: form({ csrf, ...valid, [main]: main === 'email' ? `${long}@example.com` : long, ...(main === 'password' ? { confirm: long } : {}) }),
          },
          // Long, but within the body limit, so the page itself has to deal with it (a password over its 1 KiB cap).
          {
            name: 'a 5,000-character field',
            body: form({ csrf, ...valid, [main]: 'b'.repeat(5_000), ...(main === 'password' ? { confirm: 'b'.repeat(5_000) } : {}) }),
          },
          { name: 'a 1 MB body', body: `csrf=${csrf}&${main}=${'a'.repeat(1 << 20)}`, status: 413 },
          {
            name: 'invalid UTF-8 bytes',
            body: Buffer.concat([Buffer.from(`csrf=${csrf}&${main}=`), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('x')]),
            status: 400,
          },
          { name: 'a broken percent-escape', body: `csrf=${csrf}&${main}=%E0%A4%A&x=%ZZ`, status: 400 },
          { name: 'a repeated field', body: `${form({ csrf, ...valid })}&${main}=a&${main}=b`, status: 400 },
          { name: 'a repeated CSRF field', body: `${form({ csrf, ...valid })}&csrf=${csrf}`, status: 400 },
          {
            name: 'a field with control characters',
            body: form({
              csrf,
              ...valid,
              [main]: `a\u0000b\u0007c${main === 'email' ? '@example.com' : ''}`,
              ...(main === 'password' ? { confirm: 'a\u0000b\u0007c' } : {}),
            }),
          },
          {
            name: 'more than 32 fields',
            body: Array.from({ length: 40 }, (_, i) => `f${i}=1`)
              .concat(`csrf=${csrf}`)
              .join('&'),
            status: 400,
          },
          { name: 'a JSON body', body: JSON.stringify({ csrf, ...valid }), type: 'application/json', status: 415 },
          {
            name: 'a multipart body',
            body: `--b\r\ncontent-disposition: form-data; name="csrf"\r\n\r\n${csrf}\r\n--b--\r\n`,
            type: 'multipart/form-data; boundary=b',
            status: 415,
          },
          { name: 'a text body', body: `csrf=${csrf}`, type: 'text/plain', status: 415 },
        ];
        for (const { name, body, type, status } of cases) {
          const label = `POST ${path} with ${name}`;
          let res: Response;
          try {
            res = await c.post(path, body, type);
          } catch (error) {
            failures.push(`${label}: the connection failed (${(error as Error).cause ?? error})`);
            continue;
          }
          const text = await res.text();
          const problems: string[] = [];
          if (status !== undefined ? res.status !== status : res.status < 400 || res.status >= 500)
            problems.push(`status ${res.status}, expected ${status ?? '4xx'}`);
          if (!isHtml(res)) problems.push(`content-type ${res.headers.get('content-type')}`);
          if (!/<html lang="(en|fr)">/.test(text)) problems.push('not a page');
          if (!/data-code="[a-z_]+"/.test(text)) problems.push('no message saying what is wrong');
          if (STACK_TRACE.test(text)) problems.push('a stack trace in the body');
          if (problems.length) failures.push(`${label}: ${problems.join('; ')} — ${text.replace(/\s+/g, ' ').slice(0, 300)}`);
        }
      }
      // The pages' query parameters, hostile too (a NUL is what PostgreSQL refuses in a text parameter).
      const queries = [
        '/reset?client_id=a%00b',
        '/reset/sent?client_id=%00',
        '/reset/verify?client_id=%00',
        '/reset/done?client_id=a%00',
        `/reset?client_id=${'c'.repeat(10_000)}`,
        '/reset?client_id=%FF%FE',
        '/reset?client_id=a&client_id=b',
        '/reset?lang=%00&method=%FF',
        '/reset?redirect_url=javascript:alert(1)',
        '/reset/verify?token=%00',
        `/reset/verify?token=${'t'.repeat(10_000)}`,
        '/reset/verify?token=a&token=b',
      ];
      for (const path of queries) {
        const label = `GET ${path.slice(0, 60)}`;
        const visitor = new Jar();
        let res = await fetch(new URL(path, h.url), { redirect: 'manual' });
        // The link landing answers 303 to the clean URL whatever it got; the page there says what is wrong.
        if (res.status === 303) {
          visitor.take(res);
          const location = res.headers.get('location') ?? '';
          if (!location.startsWith('/reset')) failures.push(`${label}: redirected to ${location}`);
          res = await fetch(new URL(location, h.url), { redirect: 'manual', headers: { cookie: visitor.header() } });
        }
        const text = await res.text();
        if (res.status >= 500 || !isHtml(res) || STACK_TRACE.test(text)) failures.push(`${label}: status ${res.status}, ${res.headers.get('content-type')}`);
        if (res.status >= 400 && !/data-code="[a-z_]+"/.test(text)) failures.push(`${label}: no message saying what is wrong`);
      }
      expect(failures).toEqual([]);

      // None of it broke a flow: each form still takes a proper submission.
      expect(
        (await asker.post('/reset', form({ csrf: await asker.csrf('/reset'), email: 'someone@example.com', method: 'email_link' }))).headers.get('location'),
      ).toBe('/reset/sent');
      const confirmed = await linker.post('/reset/verify', form({ csrf: await linker.csrf('/reset/verify') }));
      expect(confirmed.status).toBe(303);
      expect(confirmed.headers.get('location')).toBe('/reset/new');
      const fresh = newPassword();
      const done = await setter.post('/reset/new', form({ csrf: await setter.csrf('/reset/new'), password: fresh, confirm: fresh }));
      expect(done.headers.get('location')).toBe('/reset/done');
      expect(await signsIn(setterEmail, fresh)).toBe(200);
      for (const path of ['/reset', '/reset/sent', '/reset/done']) expect((await fetch(new URL(path, h.url))).status, path).toBe(200);
    });
  });
}

/**
 * A tiny server on another site serving one HTML page: 127.0.0.2 is loopback too, but another host; `localhost` is
 * another site that the redirect allow-list accepts over plain http.
 */
async function otherOrigin(body: string, host: '127.0.0.2' | 'localhost' = '127.0.0.2'): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, host === 'localhost' ? '127.0.0.1' : host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
