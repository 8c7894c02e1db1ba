import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Browser, BrowserContext, Page, Response } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Application } from '../../src/apps/index.ts';
import { en } from '../../src/pages/messages/en.ts';
import { fr } from '../../src/pages/messages/fr.ts';
import { STORES } from '../../src/store/testing.ts';
import { managementApi } from '../support/api.ts';
import { totpAt } from '../support/browser-api.ts';
import type { Harness } from '../support/harness.ts';
import { ARTIFACTS, axeViolations, launchChromium, listeningHarness, otherOrigin, Steps } from './chromium.ts';

/**
 * The end user's journey through the hosted pages in Chromium, at 1280 and 390 px, in English and French, with
 * JavaScript on and off: a form error and the back button, "check your email" with its resend cooldown and "use a
 * code instead", the code page's tries and a pasted code, the new-password page (kept values, reveal toggle,
 * username field, strength meter loaded on use, page weight), the way back to the application, and the error
 * pages. On every page: axe-core finds no serious or critical violation, no request is answered 404, and a
 * screenshot goes to test/artifacts/.
 *
 * The pages do not depend on the store, the flows behind them do: the whole matrix runs on the first store, two
 * corners of it (wide, English, script on; narrow, French, script off) on the others.
 */

interface Combo {
  width: number;
  height: number;
  lang: 'en' | 'fr';
  js: boolean;
}
const MATRIX: Combo[] = [1280, 390].flatMap((width) =>
  (['en', 'fr'] as const).flatMap((lang) => [true, false].map((js) => ({ width, height: width > 800 ? 900 : 844, lang, js }))),
);
const CORNERS = MATRIX.filter((c) => (c.width === 1280 && c.lang === 'en' && c.js) || (c.width === 390 && c.lang === 'fr' && !c.js));
const tagOf = (c: Combo) => `${c.width}-${c.lang}-${c.js ? 'js' : 'nojs'}`;

/** The whole new-password page, gzipped, with the meter and its list loaded (issue 10: under 150 KB). */
const PAGE_WEIGHT_LIMIT = 150 * 1024;
const weights: Record<string, unknown> = {};

/** A 1×1 logo as a data URL: the pages' favicon and logo for the application, with no request at all. */
const LOGO =
  'data:image/svg+xml;base64,' +
  Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><circle cx="16" cy="16" r="14" fill="#0f766e"/></svg>').toString('base64');

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  if (Object.keys(weights).length) writeFileSync(join(ARTIFACTS, 'page-weights.json'), `${JSON.stringify(weights, null, 2)}\n`);
});

STORES.forEach((factory, storeIndex) => {
  describe(`${factory.name}: the end user's journey in Chromium`, () => {
    let h: Harness & { url: string };
    let s: Steps;
    let target: { url: string; close(): Promise<void> };
    let app: Application;

    beforeAll(async () => {
      h = await listeningHarness(factory);
      s = new Steps(h, managementApi(h), factory.name);
      // The application's own site, on another origin (localhost is loopback, so plain http may be allow-listed).
      target = await otherOrigin('<!doctype html><html lang="en"><title>Back in the application</title><p id="back">back</p></html>', 'localhost');
      app = await h.rekey.apps.create({
        name: 'Elsewhere',
        allowedRedirects: [`${target.url}after-reset`, `${target.url}sign-in`],
        signInUrl: `${target.url}sign-in`,
        supportEmail: 'help@elsewhere.example',
        brandColor: '#0f766e',
        logoUrl: LOGO,
      });
    });
    afterAll(async () => {
      await target?.close();
      await h?.close();
    });

    for (const combo of storeIndex === 0 ? MATRIX : CORNERS) {
      const tag = tagOf(combo);
      const T = combo.lang === 'fr' ? fr : en;
      const fill = (text: string, vars: Record<string, string | number> = {}) => text.replace(/\{(\w+)\}/g, (_, name: string) => String(vars[name]));

      describe(`${combo.width} px, ${combo.lang}, JavaScript ${combo.js ? 'on' : 'off'}`, () => {
        let context: BrowserContext;
        let page: Page;
        /** Without JavaScript, axe runs on a copy of each page in here (see axeViolations). */
        let auditor: Page | undefined;
        /** Every 404 and failed request of the test: none is allowed (a missing favicon would be one). */
        let broken: string[];

        beforeAll(async () => {
          // One context per corner of the matrix, reused by its tests; the locale sets Accept-Language.
          context = await browser.newContext({
            baseURL: h.url,
            viewport: { width: combo.width, height: combo.height },
            javaScriptEnabled: combo.js,
            locale: combo.lang === 'fr' ? 'fr-FR' : 'en-GB',
          });
          context.setDefaultTimeout(15_000);
          if (!combo.js) {
            const audit = await browser.newContext({ viewport: { width: combo.width, height: combo.height } });
            auditor = await audit.newPage();
          }
        });
        afterAll(async () => {
          await context?.close();
          await auditor?.context().close();
        });
        beforeEach(async () => {
          await context.clearCookies();
          for (const old of context.pages()) await old.close();
          page = await context.newPage();
          s.page = page;
          broken = [];
          page.on('response', (response) => {
            if (response.status() === 404) broken.push(`404 ${response.url()}`);
          });
          page.on('requestfailed', (request) => {
            // A meta refresh leaving the done page may cut the page's own late requests short; nothing else may fail.
            if (request.failure()?.errorText !== 'net::ERR_ABORTED') broken.push(`failed ${request.url()}: ${request.failure()?.errorText}`);
          });
        });

        /** The page in its language, accessible, and on file. */
        const check = async (step: string) => {
          expect(await page.getAttribute('html', 'lang'), step).toBe(combo.lang);
          expect(await axeViolations(page, auditor), step).toEqual([]);
          if (storeIndex === 0) await s.shot(`${tag}-${step}`);
        };
        const submit = (form: string) => page.click(`form[action="${form}"] button[type=submit]`);

        it('code journey: a form error and the back button, resend after its cooldown, a code instead, a pasted code, a kept password, back to the application', async () => {
          const { email, password: old } = await s.newUser(`code-${tag}-`);
          // The address as the user types it, capitals and all; the pages show it back exactly so.
          const typed = email.replace('@example.com', '@Example.COM');
          const redirectUrl = `${target.url}after-reset?from=rekey`;
          await page.goto(`/reset?client_id=${app.client_id}&redirect_url=${encodeURIComponent(redirectUrl)}`);
          expect(await page.getAttribute('link[rel=icon]', 'href')).toBe(LOGO);
          expect(await page.textContent('.app-name')).toBe('Elsewhere');
          await check('01-ask');

          // A form error: POST, 303, GET. The page says what is wrong and keeps what was typed.
          await page.fill('#email', 'not-an-address');
          await submit('/reset');
          await page.waitForSelector('#email-error');
          expect(new URL(page.url()).pathname).toBe('/reset');
          expect(await page.inputValue('#email')).toBe('not-an-address');
          expect(await page.textContent('title')).toContain(fill(T.messages.title_with_errors, { title: T.messages.ask_title }));
          await check('02-ask-error');

          await page.fill('#email', typed);
          await Promise.all([page.waitForURL('**/reset/sent'), submit('/reset')]);
          // The mail goes out (a request whose mail is still queued when a newer one comes sends nothing: SEC-46).
          await s.mail.mailText(email);
          // Back from "check your email": the form again, fetched with a GET, never a prompt to resend a form.
          const back = await page.goBack();
          expect(back?.request().method()).toBe('GET');
          expect(back?.status()).toBe(200);
          expect(new URL(page.url()).pathname).toBe('/reset');
          expect(await page.isVisible('#email')).toBe(true);
          expect(await page.locator('.error-summary').count()).toBe(0);
          await page.goForward();
          expect(new URL(page.url()).pathname).toBe('/reset/sent');

          // "Check your email": the address as typed, and "send again" after a visible cooldown.
          expect(await page.textContent('.address strong')).toBe(typed);
          const resend = page.locator('form.resend button[type=submit]');
          if (combo.js) {
            expect(await resend.isDisabled()).toBe(true);
            expect(await page.textContent('[data-cooldown-text]')).toMatch(/\d+/);
          } else {
            expect(await resend.isDisabled()).toBe(false);
            expect(await page.textContent('[data-cooldown-text]')).toBe(fill(T.messages.resend_wait, { seconds: 30 }));
          }
          await check('03-sent');
          if (!combo.js) {
            // Without the script the button is there; too early, the page says how long to wait, and sends nothing.
            const [early] = await Promise.all([
              page.waitForResponse((r) => new URL(r.url()).pathname === '/reset/sent' && r.request().method() === 'GET'),
              resend.click(),
            ]);
            expect(early.status()).toBe(429);
            expect(await page.textContent('.error-summary li')).toBe(fill(T.errors.resend_too_soon, { wait: fill(T.messages.wait_seconds, { n: 30 }) }));
            await check('04-sent-too-soon');
          }
          h.clock.advance(31_000);
          await page.reload();
          expect(await page.textContent('[data-cooldown-text]')).toBe(T.messages.resend_ready);
          expect(await resend.isDisabled()).toBe(false);
          await Promise.all([page.waitForResponse((r) => new URL(r.url()).pathname === '/reset/sent' && r.request().method() === 'GET'), resend.click()]);
          await h.deliver();
          await h.deliver();
          expect(await h.mailbox(email)).toHaveLength(2);

          // "Use a code instead": a code for the same address, and the code page says how many tries are left.
          await Promise.all([page.waitForURL('**/reset/code'), page.click('form.switch button[type=submit]')]);
          expect(await page.textContent('.address strong')).toBe(typed);
          expect(await page.textContent('#code-tries')).toBe(fill(T.messages.code_tries_other, { n: 5 }));
          await check('05-code');
          const code = await s.codeFor(email);
          await page.fill('#code', code === '000000' ? '111111' : '000000');
          await submit('/reset/code');
          await page.waitForSelector('#code-error');
          expect(await page.textContent('#code-tries')).toBe(fill(T.messages.code_tries_other, { n: 4 }));
          await check('06-code-error');
          // Pasted as the mail shows it, or with dashes: both are the code.
          await page.fill('#code', combo.js ? ` ${code.slice(0, 3)} ${code.slice(3)} ` : `${code.slice(0, 3)}-${code.slice(3)}`);
          await Promise.all([page.waitForURL('**/reset/new'), submit('/reset/code')]);

          // The new-password page: the username for password managers, the meter's script only once it is needed.
          expect(await page.getAttribute('input[name=username]', 'autocomplete')).toBe('username');
          expect(await page.getAttribute('input[name=username]', 'value')).toBe(email);
          await measureWeight(tag);
          const meterRequested = () => page.evaluate(() => performance.getEntriesByType('resource').some((e) => e.name.endsWith('/assets/meter.js')));
          expect(await meterRequested()).toBe(false);
          await check('07-new');
          const fresh = s.newPassword();
          await page.fill('#password', fresh);
          if (combo.js) {
            await page.waitForSelector('[data-strength][data-score]');
            expect(await meterRequested()).toBe(true);
            expect(await page.isVisible('[data-strength] .bar span')).toBe(true);
            expect((await page.textContent('[data-strength-text]'))?.trim()).not.toBe('');
            const reveal = page.locator('[data-reveal]');
            await reveal.click();
            expect(await page.getAttribute('#password', 'type')).toBe('text');
            expect(await reveal.textContent()).toBe(T.messages.hide_passwords);
            await check('07-new-meter-shown');
            await reveal.click();
            expect(await page.getAttribute('#password', 'type')).toBe('password');
          } else {
            expect(await page.isVisible('[data-reveal]')).toBe(false);
            expect(await page.isVisible('[data-strength]')).toBe(false);
          }
          // A mismatch: the password that was right is still there, the confirmation is to type again.
          await page.fill('#confirm', `${fresh} typo`);
          await submit('/reset/new');
          await page.waitForSelector('#confirm-error');
          expect(await page.inputValue('#password')).toBe(fresh);
          expect(await page.inputValue('#confirm')).toBe('');
          await check('08-new-error');
          await page.fill('#confirm', fresh);
          // The done page sends the browser back to the allow-listed redirect_url, on the application's own origin.
          await Promise.all([page.waitForURL(redirectUrl), submit('/reset/new')]);
          expect(await page.textContent('#back')).toBe('back');

          expect(await s.signsIn(email, fresh)).toBe(200);
          expect(await s.signsIn(email, old)).toBe(400);
          expect(broken).toEqual([]);
        });

        it('link journey with a second factor: the link, the authenticator, the new password, the done page and its sign-in button', async () => {
          const { email, password: old } = await s.newUser(`link-${tag}-`);
          const user = (await h.rekey.users.findByEmail(email))!;
          const enrolled = await s.api.call('POST', `/user_management/users/${user.id}/auth_factors`, { type: 'totp' });
          expect(enrolled.statusCode).toBe(201);
          const secret: string = enrolled.json().authentication_factor.totp.secret;

          await page.goto(`/reset?client_id=${app.client_id}`);
          await page.fill('#email', email);
          await Promise.all([page.waitForURL('**/reset/sent'), submit('/reset')]);
          await page.goto(await s.linkFor(email));
          await Promise.all([page.waitForURL('**/reset/second-factor'), submit('/reset/verify')]);
          await check('10-second-factor');
          // A fresh time step: a code is taken once (SEC-38).
          h.clock.advance(30_000);
          await page.fill('#totp', await totpAt(secret, h.clock.now()));
          await Promise.all([page.waitForURL('**/reset/new'), submit('/reset/second-factor')]);
          const fresh = s.newPassword();
          await page.fill('#password', fresh);
          await page.fill('#confirm', fresh);
          await Promise.all([page.waitForURL(/\/reset\/done/), submit('/reset/new')]);
          expect(await page.textContent('h1')).toBe(T.messages.done_title);
          const signIn = page.locator('a.button');
          expect(await signIn.textContent()).toBe(fill(T.messages.done_sign_in, { app: 'Elsewhere' }));
          expect(await signIn.getAttribute('href')).toBe(`${target.url}sign-in`);
          expect(await page.textContent('.support a')).toBe('help@elsewhere.example');
          await check('11-done');
          await Promise.all([page.waitForURL(`${target.url}sign-in`), signIn.click()]);
          expect(await s.signsIn(email, old)).toBe(400);
          // The new password signs in, its second step the same authenticator, still enrolled.
          const login = await s.api.login(email, fresh);
          expect(login.json().code).toBe('mfa_challenge');
          h.clock.advance(30_000);
          expect((await s.api.completeMfa(login.json().pending_authentication_token, await totpAt(secret, h.clock.now()))).statusCode).toBe(200);
          expect(await h.rekey.factors.enrolledTypes(user.id)).toEqual(['totp']);
          expect(broken).toEqual([]);
        });

        it('error pages say what happened and what to do, keep the branding and offer to start again', async () => {
          // A link that cannot be used, opened for the application.
          await page.goto(`/reset/verify?token=${'x'.repeat(43)}&client_id=${app.client_id}`);
          expect(await page.textContent('h1')).toBe(T.messages.link_invalid_title);
          expect(await page.textContent('[role=alert] [data-code]')).toBe(T.errors.link_invalid);
          expect(await page.textContent('.app-name')).toBe('Elsewhere');
          expect(await page.getAttribute('a.button', 'href')).toContain(`client_id=${app.client_id}`);
          await check('09-verify-link-invalid');

          // A good link's landing page, before the user's decision.
          const { email } = await s.newUser(`errors-${tag}-`);
          await page.goto(`/reset?client_id=${app.client_id}`);
          await page.fill('#email', email);
          await Promise.all([page.waitForURL('**/reset/sent'), submit('/reset')]);
          await page.goto(await s.linkFor(email));
          expect(new URL(page.url()).pathname).toBe('/reset/verify');
          await check('09-verify');

          // A reset that has ended (the browser holds nothing of it): say so, and start again.
          await context.clearCookies();
          const gone = await page.goto('/reset/code');
          expect(gone?.status()).toBe(410);
          expect(await page.textContent('h1')).toBe(T.messages.flow_gone_title);
          await check('12-flow-gone');
          await Promise.all([page.waitForURL(/\/reset(\?|$)/), page.click('a.button')]);

          // A rate limit: which one, and when to try again, on the application's form.
          const limited = `limited-${tag}-${factory.name}@example.com`;
          for (let i = 0; i < h.config.rateLimitIdentifierRequests; i++) {
            await h.rekey.flows.start({ identifier: limited, strategy: 'email_link', application: app, ipAddress: '198.51.100.9' });
          }
          await page.goto(`/reset?client_id=${app.client_id}`);
          await page.fill('#email', limited);
          const [answer] = await Promise.all([page.waitForResponse((r) => r.url().includes('/reset?') && r.request().method() === 'GET'), submit('/reset')]);
          expect(answer.status()).toBe(429);
          const wait = fill(T.messages.wait_minutes, { n: Math.ceil(h.config.rateLimitIdentifierWindowSeconds / 60) });
          expect(await page.textContent('.error-summary li')).toBe(fill(T.errors.rate_limited_identifier_requests, { wait }));
          expect(await page.inputValue('#email')).toBe(limited);
          expect(await page.textContent('.app-name')).toBe('Elsewhere');
          await check('13-rate-limited');
          expect(broken).toEqual([]);
        });

        /**
         * The new-password page as a first visit loads it (a fresh cache in its own context): the document, its
         * stylesheets, scripts and icon, and with JavaScript the meter and its list once the password field is used.
         * Each response is weighed gzipped (what a browser fetches compressed, which Rekey serves for its assets).
         */
        async function measureWeight(label: string) {
          const cold = await browser.newContext({ baseURL: h.url, viewport: { width: combo.width, height: combo.height }, javaScriptEnabled: combo.js });
          try {
            await cold.addCookies(await context.cookies());
            const fresh = await cold.newPage();
            const responses: Response[] = [];
            fresh.on('response', (response) => responses.push(response));
            await fresh.goto('/reset/new');
            if (combo.js) {
              // Waited for by name: the page reached 'networkidle' before the field was used, so waiting for that
              // state again returns at once, with the list possibly still on its way.
              const list = fresh.waitForResponse((response) => new URL(response.url()).pathname === '/assets/common-passwords.txt');
              await fresh.fill('#password', 'a fairly long pass phrase');
              await fresh.waitForSelector('[data-strength][data-score]');
              await (await list).finished();
            }
            const items = await Promise.all(
              responses.map(async (r) => {
                const body = await r.body().catch(() => Buffer.alloc(0));
                return { url: new URL(r.url()).pathname, status: r.status(), bytes: body.length, gzipped: gzipSync(body).length };
              }),
            );
            const total = items.reduce((sum, item) => sum + item.gzipped, 0);
            weights[`${factory.name}-${label}`] = { totalGzippedBytes: total, responses: items };
            expect(items.map((i) => i.url)).toContain('/reset/new');
            if (combo.js) expect(items.map((i) => i.url)).toEqual(expect.arrayContaining(['/assets/meter.js', '/assets/common-passwords.txt']));
            expect(total).toBeLessThan(PAGE_WEIGHT_LIMIT);
          } finally {
            await cold.close();
          }
        }
      });
    }
  });
});

/*
 * `page.evaluate` callbacks run in the page; the project's types are Node's only (no DOM lib), so the page global
 * they use is declared here, for this file alone.
 */
declare const performance: { getEntriesByType(type: string): Array<{ name: string }> };
