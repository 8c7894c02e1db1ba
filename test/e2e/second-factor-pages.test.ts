import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from '../../src/pages/testing.ts';
import { STORES } from '../../src/store/testing.ts';
import { SoftAuthenticator } from '../security/soft-authenticator.ts';
import { actionsHarness, fixture, type ActionsHarness } from '../support/actions.ts';
import { totpAt } from '../support/browser-api.ts';

/** What a stack trace or a leaked internal path looks like in a response body. */
const STACK_TRACE = /\n\s+at [^\n]+[(:]\d+|node_modules|\.ts:\d+|\bTypeError\b|\bReferenceError\b/;
const SIX_DIGITS = /\b(\d{6})\b/;

/** The WebAuthn request options a page put in its form's `data-options`. */
const optionsIn = (body: string): { challenge: string } => {
  const raw = body.match(/data-webauthn="get" data-options="([^"]+)"/)?.[1];
  if (!raw) throw new Error('no WebAuthn form on the page');
  return JSON.parse(
    raw
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'")
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&amp;/g, '&'),
  );
};

/**
 * The reset's second-factor step on the hosted pages, without a browser, over the real services: an action asks for
 * any enrolled factor (and the account's address, for users the application marked so), and each kind is met on
 * `/reset/second-factor`. The Chromium walks are in second-factor-browser.test.ts.
 */
for (const factory of STORES) {
  describe(`${factory.name}: the reset's second-factor pages, every kind`, () => {
    let h: ActionsHarness;
    beforeAll(async () => {
      h = await actionsHarness(
        factory,
        { postChallenge: [{ name: 'every-factor', path: fixture('every-factor/action.js') }] },
        { config: { rateLimitIpRequests: 10_000, rateLimitIpVerifications: 10_000 } },
      );
    });
    afterAll(() => h.close());

    const origin = () => new URL(h.config.baseUrl).origin;
    let phones = 0;

    /** An account with TOTP, an SMS number, a security key and ten recovery codes, whose address counts too. */
    const enrolled = async () => {
      const who = await h.account({ totp: true, metadata: { mailbox_factor: 'yes' } });
      const phone = `+1415666${factory.name === 'sqlite' ? 1 : 2}${String(++phones).padStart(3, '0')}`;
      expect((await h.api.call('POST', `/user_management/users/${who.user.id}/auth_factors`, { type: 'sms', phone_number: phone })).statusCode).toBe(201);
      const key = new SoftAuthenticator(origin());
      await h.rekey.factors.webauthn.finish(who.user, key.register(await h.rekey.factors.webauthn.begin(who.user, 'roaming')), 'roaming');
      const codes: string[] = (await h.api.call('POST', `/user_management/users/${who.user.id}/recovery_codes`)).json().codes;
      return { ...who, secret: who.secret!, phone, key, codes };
    };
    const everyType = ['totp', 'sms', 'webauthn_roaming', 'recovery_code'];

    /** A browser past the first factor: the reset asked for on the pages, the emailed code typed. */
    const atSecondFactor = async (address: string) => {
      const browser = new Browser(h.app, origin());
      await browser.get('/reset');
      await browser.post('/reset', { email: address, method: 'email_code' });
      await browser.get('/reset/code');
      const passed = await browser.postOnly('/reset/code', { code: await h.web.codeFor(address) });
      expect(passed.headers.location).toBe('/reset/second-factor');
      return browser;
    };

    /** The codes sent to a number or an address since the reset began, newest first. */
    const sentCodes = async (to: string) => {
      await h.deliver();
      await h.deliver();
      return (await h.mailbox(to)).filter((m) => m.text.includes('verification code')).map((m) => m.text.match(SIX_DIGITS)![1]!);
    };

    /** The new-password page, then a sign-in with it (the account's authenticator app as its second step). */
    const finish = async (browser: Browser, who: { address: string; original: string; secret: string }) => {
      await browser.get('/reset/new');
      const chosen = h.password();
      const done = await browser.postOnly('/reset/new', { password: chosen, confirm: chosen });
      expect(done.headers.location).toBe('/reset/done');
      expect((await h.api.login(who.address, who.original)).statusCode).toBe(400);
      const login = await h.api.login(who.address, chosen);
      expect(login.json().code).toBe('mfa_challenge');
      expect((await h.api.completeMfa(login.json().pending_authentication_token, await h.totp(who.secret))).statusCode).toBe(200);
    };

    it('with several factors the user chooses; an SMS code goes once, stays the one after a wrong code, goes anew on demand, and passes', async () => {
      const who = await enrolled();
      const browser = await atSecondFactor(who.address);
      const first = await browser.get('/reset/second-factor');
      expect([first.statusCode, first.headers.location]).toEqual([303, '/reset/choose']);
      const choose = await browser.get('/reset/choose');
      expect(choose.statusCode).toBe(200);
      expect([...choose.body.matchAll(/name="method" value="(\w+)"/g)].map((m) => m[1])).toEqual([...everyType, 'email']);
      expect(choose.body).toContain('A code by text message');
      const picked = await browser.postOnly('/reset/choose', { method: 'sms' });
      expect(picked.headers.location).toBe('/reset/second-factor?method=sms');

      const form = await browser.get('/reset/second-factor?method=sms');
      expect(form.statusCode).toBe(200);
      expect(form.body).toContain(`•${who.phone.slice(-2)}`);
      expect(form.body).not.toContain(who.phone);
      expect(form.body).toMatch(/<input type="hidden" name="type" value="sms">/);
      // The other kinds stay a link away.
      expect([...form.body.matchAll(/data-method="(\w+)"/g)].map((m) => m[1])).toEqual(['totp', 'webauthn_roaming', 'recovery_code', 'email']);
      const [code] = await sentCodes(who.phone);
      // Shown again (a reload, another language): the code sent stands, and none other goes.
      const french = await browser.get('/reset/second-factor?method=sms&lang=fr');
      expect(french.body).toContain('lang="fr"');
      expect(french.body).toContain('Saisissez le code reçu par SMS');
      expect(french.body).toContain(`•${who.phone.slice(-2)}`);
      const wrong = await browser.post('/reset/second-factor', { type: 'sms', code: code === '000000' ? '000001' : '000000' });
      expect(wrong.statusCode).toBe(422);
      expect(browser.followed).toBe('/reset/second-factor?method=sms');
      expect(wrong.body).toContain('data-code="sms_code_incorrect"');
      expect(wrong.body).toContain('Check the text message');
      expect(await sentCodes(who.phone)).toEqual([code]);

      const resent = await browser.postOnly('/reset/second-factor/resend', { type: 'sms' });
      expect(resent.headers.location).toBe('/reset/second-factor?method=sms');
      expect((await browser.get(resent.headers.location as string)).statusCode).toBe(200);
      const codes = await sentCodes(who.phone);
      expect(codes).toHaveLength(2);
      const passed = await browser.postOnly('/reset/second-factor', { type: 'sms', code: codes[0]! });
      expect(passed.headers.location).toBe('/reset/new');
      await finish(browser, who);
      expect(await h.rekey.factors.enrolledTypes(who.user.id)).toEqual(everyType);
    });

    it('each other kind passes the step on its own: TOTP, the mailed code an action asked for, a security key, a recovery code', async () => {
      for (const type of ['totp', 'email', 'webauthn_roaming', 'recovery_code'] as const) {
        const who = await enrolled();
        const browser = await atSecondFactor(who.address);
        const form = await browser.get(`/reset/second-factor?method=${type}`);
        expect({ type, status: form.statusCode }).toEqual({ type, status: 200 });
        expect(form.body).toContain(`<input type="hidden" name="type" value="${type}">`);
        let answer: Record<string, string>;
        if (type === 'totp') answer = { code: await h.totp(who.secret) };
        else if (type === 'email') {
          expect(form.body).toMatch(/We sent a 6-digit code to \w•+@/);
          answer = { code: (await sentCodes(who.address))[0]! };
        } else if (type === 'webauthn_roaming') {
          expect(form.body).toContain('<script src="/assets/webauthn.js" defer></script>');
          // Hidden until its script runs; without JavaScript the page says so, and the other ways are links.
          expect(form.body).toMatch(/<form [^>]*data-webauthn="get"[^>]* hidden>/);
          expect(form.body).toContain('data-webauthn-nojs');
          answer = { credential: JSON.stringify(who.key.assert(optionsIn(form.body))) };
        } else answer = { code: who.codes[3]!.toUpperCase() };
        const passed = await browser.postOnly('/reset/second-factor', { type, ...answer });
        expect({ type, location: passed.headers.location }).toEqual({ type, location: '/reset/new' });
        await finish(browser, who);
        expect(await h.rekey.factors.enrolledTypes(who.user.id)).toEqual(everyType);
        expect(await h.rekey.factors.recoveryCodesLeft(who.user.id)).toBe(type === 'recovery_code' ? 9 : 10);
      }
    });

    it('SEC-38 a wrong answer of every kind on the pages spends the account’s one budget; then even a right one waits', async () => {
      const who = await enrolled();
      const browser = await atSecondFactor(who.address);
      const valid = new Set(await Promise.all([-30_000, 0, 30_000].map((d) => totpAt(who.secret, h.clock.now() + d))));
      const wrongTotp = ['000000', '111111', '222222', '333333'].find((c) => !valid.has(c))!;
      await browser.get('/reset/second-factor?method=sms');
      const [sms] = await sentCodes(who.phone);
      await browser.get('/reset/second-factor?method=email');
      const [mailed] = await sentCodes(who.address);
      const other = (code: string | undefined) => (code === '000000' ? '000001' : '000000');
      // A key the account does not have, signing the options the page gave.
      const stranger = new SoftAuthenticator(origin());
      const options = optionsIn((await browser.get('/reset/second-factor?method=webauthn_roaming')).body);
      const attempts = [
        ['totp', { code: wrongTotp }, 'totp_incorrect'],
        ['sms', { code: other(sms) }, 'sms_code_incorrect'],
        ['email', { code: other(mailed) }, 'code_incorrect'],
        ['recovery_code', { code: 'zzzzz-zzzzz' }, 'recovery_code_incorrect'],
        ['webauthn_roaming', { credential: JSON.stringify(stranger.assert(options)) }, 'webauthn_incorrect'],
      ] as const;
      for (const [type, answer, code] of attempts) {
        const wrong = await browser.post('/reset/second-factor', { type, ...answer });
        expect({ type, status: wrong.statusCode, code: wrong.body.match(/data-code="(\w+)"/)?.[1] }).toEqual({ type, status: 422, code });
      }
      const refused = await browser.post('/reset/second-factor', { type: 'recovery_code', code: who.codes[0]! });
      expect(refused.statusCode).toBe(429);
      expect(refused.body).toContain('data-code="totp_attempts_exceeded"');
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      // The budget is the account's, not one factor's: every kind's page says so without naming a kind, in each language.
      for (const [type, answer] of attempts) {
        for (const [lang, says] of [
          ['en', /Too many wrong answers to confirm it is you\. Try again in \d+ minutes\./],
          ['fr', /Trop de réponses erronées pour confirmer votre identité\. Réessayez dans \d+ minutes\./],
        ] as const) {
          const page = await browser.post('/reset/second-factor', { type, ...answer, lang });
          const shown = page.body.match(/data-code="totp_attempts_exceeded"[^>]*>([^<]+)</)?.[1];
          expect({ type, lang, status: page.statusCode, shown }).toEqual({ type, lang, status: 429, shown: expect.stringMatching(says) });
        }
      }
      // Refused before it was compared: the code is not spent, and the flow still waits.
      expect(await h.rekey.factors.recoveryCodesLeft(who.user.id)).toBe(10);
      expect((await browser.get('/reset/new')).headers.location).toBe('/reset/second-factor');
    });

    it('bad input gets a 4xx page that says what is wrong, never a stack trace, and costs no attempt', async () => {
      const who = await enrolled();
      const browser = await atSecondFactor(who.address);
      await browser.get('/reset/second-factor?method=totp');
      const answers = [
        [await browser.post('/reset/second-factor', { type: 'push', code: '123456' }), 400, 'factor_type_invalid'],
        [await browser.post('/reset/second-factor', { code: '123456' }), 400, 'factor_type_invalid'],
        [await browser.post('/reset/second-factor', { type: 'webauthn_platform', credential: '{}' }), 409, 'factor_not_requested'],
        [await browser.post('/reset/second-factor', { type: 'totp', code: '' }), 422, 'totp_required'],
        [await browser.post('/reset/second-factor', { type: 'totp', code: '12345a' }), 422, 'totp_format'],
        [await browser.post('/reset/second-factor', { type: 'sms', code: '12' }), 422, 'code_format_six'],
        [await browser.post('/reset/second-factor', { type: 'email', code: '' }), 422, 'code_required'],
        [await browser.post('/reset/second-factor', { type: 'recovery_code', code: 'nope' }), 422, 'recovery_code_format'],
        [await browser.post('/reset/second-factor', { type: 'webauthn_roaming', credential: '' }), 422, 'webauthn_failed'],
        [await browser.post('/reset/second-factor/resend', { type: 'totp' }), 409, 'factor_not_requested'],
        [await browser.post('/reset/choose', {}), 422, 'factor_choice_required'],
        [await browser.post('/reset/choose', { method: 'push' }), 422, 'factor_choice_required'],
        [await browser.post('/reset/second-factor/resend', { type: 'carrier-pigeon' }), 400, 'factor_type_invalid'],
        [await browser.post('/reset/second-factor', { type: 'totp', code: '123456', csrf: 'forged' }), 403, 'csrf_invalid'],
        [await browser.post('/reset/second-factor', { type: 'totp', code: '123456' }, { origin: 'https://evil.example' }), 403, 'cross_origin_forbidden'],
        [await new Browser(h.app, origin()).get('/reset/second-factor?method=sms'), 410, 'flow_not_found'],
      ] as const;
      for (const [response, status, code] of answers) {
        expect({ status: response.statusCode, code }).toEqual({ status, code });
        expect(response.body).toContain(`data-code="${code}"`);
        expect(response.body).not.toMatch(STACK_TRACE);
      }
      // An unknown or unrequested `?method=` is no choice: the choose page asks.
      expect((await browser.get('/reset/second-factor?method=push')).headers.location).toBe('/reset/choose');
      expect((await browser.get('/reset/second-factor?method=webauthn_platform')).headers.location).toBe('/reset/choose');
      // None of it was a guess at a secret: the right code still passes, the budget untouched (five wrong ones would stop it).
      const passed = await browser.postOnly('/reset/second-factor', { type: 'totp', code: await h.totp(who.secret) });
      expect(passed.headers.location).toBe('/reset/new');
    });
  });
}
