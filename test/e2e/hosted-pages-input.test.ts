/**
 * The hosted reset pages' forms in a real browser, on every store: labels, focus order and errors tied to their
 * fields, then hostile form bodies and query strings (always a page that says what is wrong, never a 5xx).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { STORES } from '../../src/store/testing.ts';
import { managementApi } from '../support/api.ts';
import { GOOD_PASSWORD, type Harness } from '../support/harness.ts';
import { csrfIn, isHtml, Jar, launchChromium, listeningHarness, Steps } from './chromium.ts';

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
declare const CSS: { escape(value: string): string };

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

for (const factory of STORES) {
  describe(`${factory.name}: hosted reset pages: accessible forms and bad input`, () => {
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

    /** What a stack trace or a leaked internal path looks like in a response body. */
    const STACK_TRACE = /\n\s+at [^\n]+[(:]\d+|node_modules|\.ts:\d+|\bTypeError\b|\bReferenceError\b/;
    it('accessibility basics: labels, focus order, errors tied to fields', async () => {
      const { email } = await s.newUser('a11y');
      const unlabelled = () =>
        page.$$eval('input:not([type=hidden]):not([hidden])', (inputs) =>
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
      await s.codeUpToNew(email);
      expect(await unlabelled()).toEqual([]);
      await s.ask(email, 'code');
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
      await startFlow(coder, (await s.newUser('badcode')).email, 'email_code');
      const setter = client();
      const { email: setterEmail } = await s.newUser('badnew');
      await startFlow(setter, setterEmail, 'email_code');
      const verified = await setter.post('/reset/code', form({ csrf: await setter.csrf('/reset/code'), code: await s.codeFor(setterEmail) }));
      expect(verified.headers.get('location')).toBe('/reset/new');
      const linker = client();
      const { email: linkEmail } = await s.newUser('badlink');
      await startFlow(linker, linkEmail, 'email_link');
      expect((await linker.get(await s.linkFor(linkEmail))).status).toBe(303);

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
            // A form error answers 303 back to the form (Post/Redirect/Get); the page it shows must say what is wrong.
            const back = res.headers.get('location');
            if (res.status === 303 && back !== null && new URL(back, h.url).pathname === path) res = await c.get(back);
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
      const fresh = s.newPassword();
      const done = await setter.post('/reset/new', form({ csrf: await setter.csrf('/reset/new'), password: fresh, confirm: fresh }));
      expect(done.headers.get('location')).toBe('/reset/done');
      expect(await signsIn(setterEmail, fresh)).toBe(200);
      for (const path of ['/reset', '/reset/sent', '/reset/done']) expect((await fetch(new URL(path, h.url))).status, path).toBe(200);
    });
  });
}
