/**
 * The hosted reset pages against SECURITY.md in a real browser (Debian's Chromium through playwright-core), on every
 * store: the link landing (SEC-15, SEC-25), redirects (SEC-23), referrers and third parties (SEC-24), caching and
 * framing (SEC-26) and cross-site forms (SEC-27). The journeys themselves are in hosted-pages-journeys.test.ts.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page, Request } from 'playwright-core';
import { STORES } from '../../src/store/testing.ts';
import { managementApi } from '../support/api.ts';
import type { Harness } from '../support/harness.ts';
import { csrfIn, Jar, launchChromium, listeningHarness, otherOrigin, Steps } from './chromium.ts';

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

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

for (const factory of STORES) {
  describe(`${factory.name}: hosted reset pages against SECURITY.md in Chromium`, () => {
    let h: Harness & { url: string };
    let s: Steps;
    let context: BrowserContext;
    let page: Page;
    const signsIn = (email: string, password: string) => s.signsIn(email, password);

    beforeAll(async () => {
      h = await listeningHarness(factory);
      s = new Steps(h, managementApi(h), factory.name);
    });
    afterAll(async () => {
      await h?.close();
    });
    beforeEach(async () => {
      context = await browser.newContext({ baseURL: h.url });
      // Fail fast with playwright's own message rather than at vitest's test timeout.
      context.setDefaultTimeout(15_000);
      page = await context.newPage();
      s.page = page;
    });
    afterEach(async () => {
      await context?.close();
    });

    const SCANNER_UA = 'Mozilla/5.0 (compatible; SafeLinksScanner/2.1; +https://scanner.example.net/bot)';
    it('SEC-01 SEC-46 the pages answer the same bytes for an existing and an unknown address: "check your email", the code page, its tries', async () => {
      const { email: known } = await s.newUser('known');
      const unknown = `nobody-${factory.name}@example.com`;
      /** One visitor's pages, as bytes that may differ only by the address typed, the CSRF token and the sealed cookies. */
      let wrong = '';
      const visit = async (address: string, method: 'email_link' | 'email_code') => {
        const jar = new Jar();
        const go = async (path: string, body?: string) => {
          const res = await fetch(new URL(path, h.url), {
            method: body === undefined ? 'GET' : 'POST',
            redirect: 'manual',
            headers: { cookie: jar.header(), ...(body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded', origin: h.url }) },
            ...(body === undefined ? {} : { body }),
          });
          jar.take(res);
          const text = await res.text();
          const headers = [...res.headers].filter(([name]) => !['date', 'x-request-id', 'set-cookie'].includes(name));
          const cookies = res.headers.getSetCookie().map((c) => c.replace(/=[^;]*/, '=…'));
          const normal = text.replaceAll(address, 'ADDRESS').replace(/name="csrf" value="[^"]+"/g, 'name="csrf" value="…"');
          return { status: res.status, headers, cookies, text: normal, raw: text };
        };
        const form = await go('/reset');
        const asked = await go('/reset', new URLSearchParams({ csrf: csrfIn(form.raw), email: address, method }).toString());
        const page = await go(method === 'email_code' ? '/reset/code' : '/reset/sent');
        const steps = [form, asked, page];
        if (method === 'email_code') {
          // A wrong code for both: one that is surely not the code the existing account was sent.
          if (address === known) wrong = (await s.codeFor(known)) === '000000' ? '111111' : '000000';
          steps.push(await go('/reset/code', new URLSearchParams({ csrf: csrfIn(page.raw), code: wrong }).toString()));
          steps.push(await go('/reset/code'));
        }
        return steps.map(({ raw: _raw, ...rest }) => rest);
      };
      for (const method of ['email_link', 'email_code'] as const) {
        const [a, b] = [await visit(known, method), await visit(unknown, method)];
        expect(b, method).toEqual(a);
        const shown = a.at(method === 'email_code' ? 2 : -1)!.text;
        expect(shown).toContain('<strong>ADDRESS</strong>');
      }
    });

    it('SEC-15 a scanner GETting the link three times does not spend it', async () => {
      const { email, password: old } = await s.newUser('scanned');
      await s.ask(email, 'link');
      const link = await s.linkFor(email);

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

      await s.followLink(link);
      const fresh = s.newPassword();
      await s.setPassword(fresh);
      expect(await signsIn(email, fresh)).toBe(200);
      expect(await signsIn(email, old)).toBe(400);
    });

    it('SEC-23 the browser ends on the allow-listed redirect_url after the new password, with form-action still self', async () => {
      // The application's own site: another origin (localhost is loopback, so plain http may be allow-listed).
      const target = await otherOrigin('<!doctype html><title>Back in the application</title><p id="back">back</p>', 'localhost');
      try {
        const redirectUrl = `${target.url}after-reset?from=rekey`;
        const application = await h.rekey.apps.create({ name: 'Elsewhere', allowedRedirects: [`${target.url}after-reset`] });
        const { email, password: old } = await s.newUser('redirect');
        const postCsp: string[] = [];
        page.on('response', async (response) => {
          if (response.request().method() === 'POST') postCsp.push((await response.allHeaders())['content-security-policy'] ?? '');
        });
        await page.goto(`/reset?client_id=${application.client_id}&redirect_url=${encodeURIComponent(redirectUrl)}`);
        await page.fill('#email', email);
        await page.check('#method-code');
        await Promise.all([page.waitForURL('**/reset/code**'), page.click('button[type=submit]')]);
        await page.fill('#code', await s.codeFor(email));
        await Promise.all([page.waitForURL('**/reset/new**'), page.click('button[type=submit]')]);
        const fresh = s.newPassword();
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
      const { email } = await s.newUser('referrer');
      const requests: Request[] = [];
      page.on('request', (request) => requests.push(request));
      await s.ask(email, 'link');
      const link = await s.linkFor(email);
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
      await s.setPassword(s.newPassword());
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
      const { email } = await s.newUser('history');
      await s.ask(email, 'link');
      const link = await s.linkFor(email);
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
      const { email } = await s.newUser('headers');
      const responses: Array<{ path: string; headers: Record<string, string> }> = [];
      page.on('response', async (response) => {
        const url = new URL(response.url());
        if (url.pathname.startsWith('/reset')) responses.push({ path: url.pathname, headers: await response.allHeaders() });
      });
      await s.codeUpToNew(email);
      await s.setPassword(s.newPassword());
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
      const { email, password: old } = await s.newUser('csrf');
      await s.codeUpToNew(email);
      const evil = s.newPassword();

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
      const good = s.newPassword();
      const ok = await post(`password=${encodeURIComponent(good)}&confirm=${encodeURIComponent(good)}&csrf=${encodeURIComponent(csrfIn(await form.text()))}`);
      expect(ok.status).toBe(303);
      expect(ok.headers.get('location')).toBe('/reset/done');
      expect(await signsIn(email, good)).toBe(200);
    });
  });
}
