import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { PAGE_CSP } from './index.ts';
import { application, buildPages, LINK_TOKEN } from './testing.ts';

const open: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((app) => app.close()));
});

async function setup(...args: Parameters<typeof buildPages>) {
  const built = await buildPages(...args);
  open.push(built.app);
  return built;
}

const GOOD_PASSWORD = 'correct horse battery staple';

describe('hosted pages', () => {
  it('SEC-24 SEC-26 every page sends the strict headers', async () => {
    const { browser } = await setup();
    for (const url of ['/reset', '/reset/sent', '/reset/verify', '/reset/done', '/reset/code', '/reset/verify?token=x']) {
      const response = await browser.get(url);
      expect(response.statusCode, url).toBeLessThan(500);
      expect(response.headers['referrer-policy'], url).toBe('no-referrer');
      expect(response.headers['cache-control'], url).toBe('no-store');
      expect(response.headers['content-security-policy'], url).toBe(PAGE_CSP);
      expect(response.headers['x-frame-options'], url).toBe('DENY');
      expect(response.headers['x-content-type-options'], url).toBe('nosniff');
      expect(response.body, url).not.toMatch(/<script>|style=|<style|https?:\/\/(?!127\.0\.0\.1)/);
    }
  });

  it('SEC-27 sets the CSRF cookie and refuses a POST without the token, from another origin, or cross-site', async () => {
    const { browser, flows } = await setup();
    const page = await browser.get('/reset');
    const csrfCookie = page.cookies.find((c) => c.name === 'rekey_csrf');
    expect(csrfCookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    const form = { email: 'known@example.com', method: 'email_link' };

    const noToken = await browser.post('/reset', { ...form, csrf: '' });
    expect(noToken.statusCode).toBe(403);
    expect(noToken.body).toContain('data-code="csrf_invalid"');
    expect((await browser.post('/reset', form, { origin: 'https://evil.test' })).statusCode).toBe(403);
    expect((await browser.post('/reset', form, { origin: 'null', 'sec-fetch-site': 'same-site' })).statusCode).toBe(403);
    expect((await browser.post('/reset', form, { 'sec-fetch-site': 'cross-site' })).statusCode).toBe(403);
    browser.cookies.delete('rekey_csrf');
    expect((await browser.post('/reset', form)).statusCode).toBe(403);
    expect(flows.calls).toEqual([]);
  });

  it('SEC-27 uses __Host- cookies with Secure on an https base URL', async () => {
    const { browser } = await setup({ baseUrl: 'https://rekey.example.com' });
    const page = await browser.get('/reset');
    expect(page.cookies.find((c) => c.name === '__Host-rekey_csrf')).toMatchObject({ secure: true, httpOnly: true, sameSite: 'Strict', path: '/' });
    const posted = await browser.post('/reset', { email: 'known@example.com', method: 'email_code' });
    expect(posted.statusCode).toBe(303);
    expect(posted.cookies.find((c) => c.name === '__Host-rekey_flow')).toMatchObject({ secure: true, httpOnly: true, sameSite: 'Strict', path: '/' });
  });

  it('SEC-01 the request page answers the same whatever the address, and walks the code journey to the done page', async () => {
    const { browser, flows } = await setup();
    await browser.get('/reset');
    const asked = await browser.post('/reset', { email: 'known@example.com', method: 'email_code' });
    expect(asked.statusCode).toBe(303);
    expect(asked.headers.location).toBe('/reset/code');
    expect(asked.cookies.map((c) => c.name).sort()).toEqual(['rekey_csrf', 'rekey_flow']);

    const codePage = await browser.get('/reset/code');
    expect(codePage.body).toMatch(/<input id="code" name="code" type="text" autocomplete="one-time-code"[^>]*inputmode="numeric"/);
    const wrong = await browser.post('/reset/code', { code: '000000' });
    expect(wrong.statusCode).toBe(422);
    expect(wrong.body).toContain('aria-invalid="true"');
    expect(wrong.body).toContain('aria-describedby="code-hint code-error code-tries"');
    expect(wrong.body).toContain('role="alert"');
    const right = await browser.post('/reset/code', { code: '123 456' });
    expect(right.headers.location).toBe('/reset/new');

    const newPage = await browser.get('/reset/new');
    expect(newPage.body).toContain('autocomplete="new-password"');
    // SEC-34: no choice to keep other sessions; a hosted reset has no session of its own to keep.
    expect(newPage.body).not.toContain('type="checkbox"');
    // The meter's estimator is not on the page: the small page script fetches it once the password field is used.
    expect(newPage.body).toContain('<script src="/assets/pages.js" defer></script>');
    expect(newPage.body).not.toContain('meter.js');
    // Password managers file the new password under the address typed on the first page.
    expect(newPage.body).toContain('<input type="email" name="username" autocomplete="username" value="known@example.com" readonly hidden>');
    expect(newPage.body).toMatch(/<button type="button" class="link-button" data-reveal="password confirm"[^>]*hidden>Show passwords<\/button>/);
    // A mismatch keeps the password that was right, typed in again; the confirmation is emptied.
    const mismatch = await browser.post('/reset/new', { password: GOOD_PASSWORD, confirm: 'something else', sign_out_others: 'on' });
    expect(mismatch.statusCode).toBe(422);
    expect(mismatch.body).toContain('data-code="password_mismatch"');
    expect(mismatch.body).toContain(`id="password" name="password" type="password" autocomplete="new-password" required value="${GOOD_PASSWORD}"`);
    expect(mismatch.body).toContain('id="confirm" name="confirm" type="password" autocomplete="new-password" required value=""');
    expect(mismatch.body).not.toContain('something else');
    // A password the policy refuses is not typed in again.
    const short = await browser.post('/reset/new', { password: 'short', confirm: 'short', sign_out_others: 'on' });
    expect(short.statusCode).toBe(400);
    expect(short.body).toContain('Use at least 15 characters.');
    expect(short.body).toMatch(/id="password-error" data-code="password_too_short"/);
    expect(short.body).not.toMatch(/value="short"/);

    const done = await browser.post('/reset/new', { password: GOOD_PASSWORD, confirm: GOOD_PASSWORD });
    expect(done.statusCode).toBe(303);
    expect(done.headers.location).toBe('/reset/done');
    expect(flows.lastSetPassword).toEqual({ password: GOOD_PASSWORD, signOutOfOtherSessions: true });
    // SEC-35: the flow cookie is cleared and nothing takes its place.
    expect(done.cookies.map((c) => [c.name, c.value])).toEqual([['rekey_flow', '']]);
    expect(browser.cookies.has('rekey_flow')).toBe(false);
    expect((await browser.get('/reset/done')).body).toContain('Sign in again');
    expect(flows.calls).toEqual(['start:email_code:en', 'attemptCode', 'attemptCode', 'setPassword', 'setPassword']);
  });

  it('SEC-15 SEC-25 the link landing changes nothing, moves the token into a cookie and redirects to a clean URL', async () => {
    const { app, browser, flows } = await setup();
    for (let i = 0; i < 3; i++) {
      const method = i === 1 ? 'HEAD' : 'GET';
      const scanner = await app.inject({ method, url: `/reset/verify?token=${LINK_TOKEN}`, headers: { 'user-agent': 'LinkScanner/1.0' } });
      expect(scanner.statusCode).toBe(303);
      expect(scanner.headers.location).toBe('/reset/verify');
      expect(scanner.headers['referrer-policy']).toBe('no-referrer');
      expect(scanner.cookies[0]).toMatchObject({ name: 'rekey_link', httpOnly: true, sameSite: 'Strict', maxAge: 900 });
      expect(scanner.cookies[0]!.value).not.toContain(LINK_TOKEN);
    }
    expect(flows.calls).toEqual([]);

    const landing = await browser.get(`/reset/verify?token=${LINK_TOKEN}&lang=fr`);
    expect(landing.headers.location).toBe('/reset/verify?lang=fr');
    const page = await browser.get('/reset/verify?lang=fr');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<html lang="fr">');
    expect(page.body).toContain('<form method="post" action="/reset/verify">');
    expect(page.body).not.toContain(LINK_TOKEN);
    expect(flows.calls).toEqual(['isLinkUsable']);

    const confirmed = await browser.post('/reset/verify', { lang: 'fr' });
    expect(confirmed.statusCode).toBe(303);
    expect(confirmed.headers.location).toBe('/reset/new');
    expect(browser.cookies.has('rekey_link')).toBe(false);
    const newPage = await browser.get('/reset/new');
    expect(newPage.body).toContain('<html lang="fr">');
    expect(newPage.body).toContain('Choisissez un nouveau mot de passe');
    const done = await browser.post('/reset/new', { password: GOOD_PASSWORD, confirm: GOOD_PASSWORD, sign_out_others: 'on' });
    expect(done.headers.location).toBe('/reset/done?lang=fr');
    expect(flows.lastSetPassword?.signOutOfOtherSessions).toBe(true);
  });

  it('SEC-04 an unusable link gets one generic page with no account data', async () => {
    const { browser, flows } = await setup();
    const bodies: string[] = [];
    for (const token of ['b'.repeat(43), 'not a token!', LINK_TOKEN]) {
      if (token === LINK_TOKEN) flows.linkUsed = true;
      await browser.get(`/reset/verify?token=${encodeURIComponent(token)}`);
      const page = await browser.get('/reset/verify');
      expect(page.statusCode).toBe(400);
      bodies.push(page.body.replace(/value="[^"]+"/g, ''));
    }
    expect(new Set(bodies).size).toBe(1);
    expect(bodies[0]).toContain('data-code="link_invalid"');
    expect(bodies[0]).not.toMatch(/@|known/);
    // Without the cookie (opened from another site) the page cannot tell; the POST gives the same message.
    await browser.get(`/reset/verify?token=${'c'.repeat(43)}`);
    const link = browser.cookies.get('rekey_link')!;
    browser.cookies.delete('rekey_link');
    expect((await browser.get('/reset/verify')).statusCode).toBe(200);
    browser.cookies.set('rekey_link', link);
    const posted = await browser.post('/reset/verify', {});
    expect(posted.statusCode).toBe(400);
    expect(posted.body).toContain('data-code="link_invalid"');
  });

  it('SEC-36 sends a flow that needs a second factor through the TOTP page before the password', async () => {
    const { browser, flows } = await setup();
    flows.secondFactor = true;
    await browser.get('/reset');
    await browser.post('/reset', { email: 'mfa@example.com', method: 'email_code' });
    await browser.get('/reset/code');
    expect((await browser.post('/reset/code', { code: '123456' })).headers.location).toBe('/reset/second-factor');
    expect((await browser.get('/reset/new')).headers.location).toBe('/reset/second-factor');
    const page = await browser.get('/reset/second-factor');
    expect(page.body).toMatch(/<input id="totp" name="code"[^>]*autocomplete="one-time-code"/);
    const wrong = await browser.post('/reset/second-factor', { type: 'totp', code: '111111' });
    expect(wrong.statusCode).toBe(422);
    expect(wrong.body).toContain('data-code="totp_incorrect"');
    // Once the account's authenticator budget is spent (SEC-38): the same page, a 429 and when to come back.
    const throttled = await browser.post('/reset/second-factor', { type: 'totp', code: '999999' });
    expect(throttled.statusCode).toBe(429);
    expect(throttled.headers['retry-after']).toBe('840');
    expect(throttled.body).toContain('data-code="totp_attempts_exceeded"');
    expect(throttled.body).toContain('Too many wrong answers to confirm it is you. Try again in 14 minutes.');
    expect((await browser.post('/reset/second-factor', { type: 'totp', code: '654321' })).headers.location).toBe('/reset/new');
  });

  it('SEC-23 follows only an allow-listed redirect after the password is set, from the done page', async () => {
    for (const [redirectTo, expected] of [
      ['https://app.example.com/after-reset?ok=1&b=2', 'https://app.example.com/after-reset?ok=1&amp;b=2'],
      ['https://evil.test/after-reset', undefined],
    ] as const) {
      const { browser, flows } = await setup();
      flows.redirectTo = redirectTo;
      await browser.get('/reset');
      await browser.post('/reset', { email: 'known@example.com', method: 'email_code' });
      await browser.get('/reset/code');
      await browser.post('/reset/code', { code: '123456' });
      await browser.get('/reset/new');
      // The form's POST is answered on-site (form-action 'self' governs its redirects); the done page moves on with a GET.
      const changed = await browser.post('/reset/new', { password: GOOD_PASSWORD, confirm: GOOD_PASSWORD });
      expect(changed.statusCode).toBe(303);
      expect(changed.headers.location).toBe('/reset/done');
      const done = await browser.get('/reset/done');
      expect(done.statusCode).toBe(200);
      expect(done.headers['content-security-policy']).toContain("form-action 'self'");
      expect(done.body).not.toContain('evil.test');
      if (expected) {
        expect(done.body).toContain(`<meta http-equiv="refresh" content="0; url=${expected}">`);
        expect(done.body).toContain(`href="${expected}"`);
      } else expect(done.body).not.toContain('http-equiv="refresh"');
      // Once only: the target went with the first visit.
      expect((await browser.get('/reset/done')).body).not.toContain('http-equiv="refresh"');
    }

    // The target is checked again on the done page, against the application that page is for.
    const other = application({ id: 'app_b', client_id: 'client_b', is_default: 0, allowed_redirects: '["https://b.example.com/"]' });
    const { browser, flows } = await setup({ apps: [application(), other] });
    flows.redirectTo = 'https://app.example.com/after-reset';
    await browser.get('/reset');
    await browser.post('/reset', { email: 'known@example.com', method: 'email_code' });
    await browser.get('/reset/code');
    await browser.post('/reset/code', { code: '123456' });
    await browser.get('/reset/new');
    await browser.post('/reset/new', { password: GOOD_PASSWORD, confirm: GOOD_PASSWORD });
    const elsewhere = await browser.get('/reset/done?client_id=client_b');
    expect(elsewhere.statusCode).toBe(200);
    expect(elsewhere.body).not.toContain('app.example.com');
  });

  it('escapes everything it shows and applies the brand only in safe forms', async () => {
    const evil = application({ name: '<script>alert(1)</script>', brand_color: 'red;background:url(//evil.test)', logo_url: 'https://evil.test/logo.png' });
    const branded = application({
      id: 'app_b',
      client_id: 'client_b',
      is_default: 0,
      name: 'Bee',
      brand_color: '#0a0',
      logo_url: 'data:image/png;base64,iVBORw0KGgo=',
    });
    const { browser, app } = await setup({ apps: [evil, branded] });
    const page = await browser.get('/reset?redirect_url=%22%3E%3Cscript%3E');
    expect(page.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page.body).not.toContain('<script>');
    expect(page.body).not.toContain('evil.test');
    const echoed = await browser.post('/reset', { email: '"><img src=x>', method: 'email_link' });
    expect(echoed.statusCode).toBe(422);
    expect(echoed.body).toContain('value="&quot;&gt;&lt;img src=x&gt;"');

    const bee = await browser.get('/reset?client_id=client_b');
    expect(bee.body).toContain('<link rel="stylesheet" href="/assets/brand/app_b.css">');
    expect(bee.body).toContain('<img class="logo" src="data:image/png;base64,iVBORw0KGgo=" alt="">');
    expect(bee.body).toContain('name="client_id" value="client_b"');
    const css = await app.inject('/assets/brand/app_b.css');
    expect(css.headers['content-type']).toContain('text/css');
    expect(css.body).toContain('--brand: #00aa00;');
    expect((await app.inject('/assets/brand/app_default.css')).statusCode).toBe(404);
    expect((await browser.get('/reset?client_id=nope')).statusCode).toBe(404);
  });

  it('chooses the language from ?lang=, then the flow cookie, then Accept-Language', async () => {
    const { browser } = await setup();
    const french = await browser.get('/reset', { 'accept-language': 'de-CH, fr;q=0.8, en;q=0.5' });
    expect(french.body).toContain('<html lang="fr">');
    expect(french.body).toContain('Réinitialiser votre mot de passe');
    const english = await browser.get('/reset?lang=en', { 'accept-language': 'fr' });
    expect(english.body).toContain('<html lang="en">');
    expect(english.body).toContain('name="lang" value="en"');
    const chosen = await browser.get('/reset?lang=fr');
    expect(chosen.body).toContain('<a href="/reset?lang=en" hreflang="en" lang="en">English</a>');
    await browser.post('/reset', { email: 'known@example.com', method: 'email_code', lang: 'fr' });
    expect((await browser.get('/reset/code', { 'accept-language': 'en' })).body).toContain('Saisissez votre code');
  });

  it('answers bad input with a 4xx page that says what is wrong, never a 5xx', async () => {
    const { browser, app, flows } = await setup();
    await browser.get('/reset');
    const cases: Array<[string, Promise<LightMyRequestResponse>, number, string]> = [
      ['missing fields', browser.post('/reset', {}), 422, 'email_required'],
      ['long email', browser.post('/reset', { email: `${'a'.repeat(10_000)}@example.com` }), 422, 'email_too_long'],
      ['bad email', browser.post('/reset', { email: 'not-an-email' }), 422, 'email_invalid'],
      ['unknown method', browser.post('/reset', { email: 'a@example.com', method: 'sms' }), 422, 'method_invalid'],
      ['token in URL', browser.post('/reset?token=abc', { email: 'a@example.com' }), 400, 'token_in_url'],
    ];
    for (const [name, pending, status, code] of cases) {
      const response = await pending;
      expect(response.statusCode, name).toBe(status);
      expect(response.headers['content-type'], name).toContain('text/html');
      expect(response.body, name).toContain(`data-code="${code}"`);
    }
    const cookie = [...browser.cookies].map(([n, v]) => `${n}=${v}`).join('; ');
    const raw = (payload: string | Buffer, type = 'application/x-www-form-urlencoded') =>
      app.inject({ method: 'POST', url: '/reset', payload, headers: { cookie, 'content-type': type } });
    const form = `csrf=${browser.csrf}&email=`;
    const rawCases: Array<[string, LightMyRequestResponse, number, string]> = [
      ['1 MB body', await raw(`${form}${'a'.repeat(1024 * 1024)}`), 413, 'payload_too_large'],
      ['invalid UTF-8 bytes', await raw(Buffer.concat([Buffer.from(form), Buffer.from([0xff, 0xfe, 0x40])])), 400, 'form_encoding'],
      ['invalid percent-encoding', await raw(`${form}%FF%40example.com`), 400, 'form_encoding'],
      ['repeated field', await raw(`${form}a@example.com&email=b@example.com`), 400, 'field_invalid'],
      ['JSON body', await raw(JSON.stringify({ email: 'a@example.com' }), 'application/json'), 415, 'unsupported_media_type'],
    ];
    for (const [name, response, status, code] of rawCases) {
      expect(response.statusCode, name).toBe(status);
      expect(response.headers['content-type'], name).toContain('text/html');
      expect(response.body, name).toContain(`data-code="${code}"`);
      expect(response.body, name).not.toMatch(/at .*\.ts:\d+/);
    }
    expect(flows.calls).toEqual([]);
  });

  it('says when the flow cookie is unknown or expired, with a link to start again', async () => {
    const { browser, clock } = await setup();
    const none = await browser.get('/reset/code');
    expect(none.statusCode).toBe(410);
    expect(none.body).toContain('data-code="flow_not_found"');
    expect(none.body).toContain('<a class="button" href="/reset">');
    await browser.get('/reset');
    await browser.post('/reset', { email: 'known@example.com', method: 'email_code' });
    clock.advance(31 * 60_000);
    const expired = await browser.get('/reset/code');
    expect(expired.statusCode).toBe(410);
    expect(expired.body).toContain('data-code="flow_expired"');
    browser.cookies.set('rekey_flow', 'forged');
    expect((await browser.get('/reset/new')).statusCode).toBe(410);
  });

  it('the sent and code pages state the lifetimes the service is configured with, in either language', async () => {
    const { browser } = await setup({ settings: { resetTokenTtlMinutes: 60, resetCodeTtlMinutes: 5 } });
    await browser.get('/reset');
    await browser.post('/reset', { email: 'known@example.com', method: 'email_link' });
    expect((await browser.get('/reset/sent')).body).toContain('expires in 60 minutes');
    expect((await browser.get('/reset/sent?lang=fr')).body).toContain('expire dans 60 minutes');
    await browser.get('/reset');
    await browser.post('/reset', { email: 'known@example.com', method: 'email_code' });
    const code = await browser.get('/reset/code');
    expect(code.body).toContain('It expires in 5 minutes');
    expect(code.body).not.toMatch(/expires in (10|30) minutes/);
  });

  it('serves its stylesheet, icon, small page scripts and the meter list from its own origin', async () => {
    const { app } = await setup();
    const css = await app.inject('/assets/rekey.css');
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    const again = await app.inject({ url: '/assets/rekey.css', headers: { 'if-none-match': String(css.headers.etag) } });
    expect(again.statusCode).toBe(304);
    const meter = await app.inject('/assets/meter.js');
    expect(meter.statusCode).toBe(200);
    expect(meter.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(meter.body).toContain('data-strength');
    // The estimator is a few kilobytes, not a bundle of dictionaries.
    expect(meter.body.length).toBeLessThan(8_000);
    const script = await app.inject('/assets/pages.js');
    expect(script.statusCode).toBe(200);
    expect(script.body).toContain('/assets/meter.js');
    const list = await app.inject({ url: '/assets/common-passwords.txt', headers: { 'accept-encoding': 'gzip' } });
    expect(list.statusCode).toBe(200);
    expect(list.headers['content-encoding']).toBe('gzip');
    expect(list.rawPayload.length).toBeLessThan(20_000);
    for (const path of ['/assets/favicon.svg', '/favicon.ico']) {
      const icon = await app.inject(path);
      expect(icon.statusCode, path).toBe(200);
      expect(icon.headers['content-type'], path).toBe('image/svg+xml');
    }
  });
});
