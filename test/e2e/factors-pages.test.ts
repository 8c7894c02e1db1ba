import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from '../../src/pages/testing.ts';
import { STORES } from '../../src/store/testing.ts';
import { managementApi } from '../support/api.ts';
import { totpAt } from '../support/browser-api.ts';
import { createHarness, freshAccounts, type Harness } from '../support/harness.ts';

/** What a stack trace or a leaked internal path looks like in a response body. */
const STACK_TRACE = /\n\s+at [^\n]+[(:]\d+|node_modules|\.ts:\d+|\bTypeError\b|\bReferenceError\b/;

/** The enrollment page and its "try it" challenges over the real services, without a browser (the WebAuthn half is in factors-browser). */
for (const factory of STORES) {
  describe(`${factory.name}: factor enrollment pages`, () => {
    let h: Harness;
    let api: ReturnType<typeof managementApi>;
    const { email, password } = freshAccounts();
    beforeAll(async () => {
      h = await createHarness(factory);
      api = managementApi(h);
    });
    afterAll(() => h.close());

    const origin = () => new URL(h.config.baseUrl).origin;
    /** A user and a browser that followed a fresh enrollment link. */
    const enrolled = async () => {
      const user = await api.createUser(email('enroll'), password());
      const link = (await api.call('POST', `/user_management/users/${user.id}/factor_enrollment_links`)).json();
      const browser = new Browser(h.app, origin());
      const url = new URL(link.url);
      const landing = await browser.get(`${url.pathname}${url.search}`);
      return { user, browser, landing, link: `${url.pathname}${url.search}` };
    };

    it('a followed link becomes a short session; the token leaves the URL and works once', async () => {
      const { browser, landing, link } = await enrolled();
      // A page that moves on with a GET of the browser's own: a 303 would end the application's cross-site
      // navigation without the SameSite=Strict cookie.
      expect(landing.statusCode).toBe(200);
      expect(landing.body).toContain('<meta http-equiv="refresh" content="0; url=/factors/enroll">');
      expect(String(landing.headers['set-cookie'])).toMatch(/^rekey_enroll=.*HttpOnly; SameSite=Strict/);
      const page = await browser.get('/factors/enroll');
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain('data-webauthn="create"');
      expect(page.body).toContain('<script src="/assets/webauthn.js" defer></script>');
      expect(page.headers['content-security-policy']).toContain("script-src 'self'");

      const replay = await new Browser(h.app, origin()).get(link);
      expect(replay.statusCode).toBe(400);
      expect(replay.body).toContain('data-code="enrollment_link_invalid"');

      const stranger = await new Browser(h.app, origin()).get('/factors/enroll');
      expect(stranger.statusCode).toBe(401);
      expect(stranger.body).toContain('data-code="enrollment_session_missing"');

      h.clock.advance(15 * 60_000 + 1);
      expect((await browser.get('/factors/enroll')).statusCode).toBe(401);
    });

    it('recovery codes are made on the page without JavaScript, shown once, and one is used in a challenge', async () => {
      const { user, browser } = await enrolled();
      await browser.get('/factors/enroll');
      const made = await browser.post('/factors/enroll/recovery-codes', {});
      expect(made.statusCode).toBe(201);
      const codes = [...made.body.matchAll(/<li><code>([0-9a-z]{5}-[0-9a-z]{5})<\/code><\/li>/g)].map((m) => m[1]!);
      expect(codes).toHaveLength(10);

      const page = await browser.get('/factors/enroll');
      expect(page.body).toContain('data-recovery-left>10 of 10');
      expect(page.body).not.toContain(codes[0]);
      const challenge = await browser.get('/factors/enroll/check?type=recovery_code');
      expect(challenge.statusCode).toBe(200);
      const wrong = await browser.post('/factors/enroll/check', { type: 'recovery_code', code: 'zzzzz-zzzzz' });
      expect(wrong.statusCode).toBe(422);
      expect(wrong.body).toContain('data-code="recovery_code_incorrect"');
      const malformed = await browser.post('/factors/enroll/check', { type: 'recovery_code', code: 'nope' });
      expect(malformed.statusCode).toBe(422);
      expect(malformed.body).toContain('data-code="recovery_code_format"');
      const used = await browser.post('/factors/enroll/check', { type: 'recovery_code', code: codes[0]!.toUpperCase() });
      expect(used.statusCode).toBe(200);
      expect(used.body).toContain('data-checked');
      expect(await h.rekey.factors.recoveryCodesLeft(user.id)).toBe(9);
      const again = await browser.post('/factors/enroll/check', { type: 'recovery_code', code: codes[0]! });
      expect(again.statusCode).toBe(422);
    });

    it('a TOTP factor enrolled through the API can be tried on the page, in French', async () => {
      const { user, browser } = await enrolled();
      const secret: string = (await api.call('POST', `/user_management/users/${user.id}/auth_factors`, { type: 'totp' })).json().authentication_factor.totp
        .secret;
      const page = await browser.get('/factors/enroll?lang=fr');
      expect(page.body).toContain('lang="fr"');
      expect(page.body).toContain('data-try="totp"');
      expect((await browser.get('/factors/enroll/check?type=totp&lang=fr')).body).toContain('Confirmez avec votre application');
      const ok = await browser.post('/factors/enroll/check', { type: 'totp', code: await totpAt(secret, h.clock.now()), lang: 'fr' });
      expect(ok.statusCode).toBe(200);
      expect(ok.body).toContain('Cela fonctionne');
    });

    it('an SMS factor: the code goes out through the notifications engine, masked on the page, and works once', async () => {
      const { user, browser } = await enrolled();
      const phone = `+33612340${factory.name === 'sqlite' ? 1 : 2}01`;
      const made = await api.call('POST', `/user_management/users/${user.id}/auth_factors`, { type: 'sms', phone_number: phone });
      expect(made.statusCode).toBe(201);
      const challenge = await browser.get('/factors/enroll/check?type=sms');
      expect(challenge.statusCode).toBe(200);
      expect(challenge.body).toContain(`•${phone.slice(-2)}`);
      expect(challenge.body).not.toContain(phone);
      await h.deliver();
      await h.deliver();
      const sms = (await h.mailbox(phone)).find((m) => m.text.includes('verification code'));
      const code = sms?.text.match(/\b(\d{6})\b/)?.[1];
      expect(code).toBeDefined();
      // The code rests nowhere in the clear: not in the challenge table, not in the outbox or the engine's records.
      for (const table of ['factor_challenges', 'outbox'] as const) {
        expect(JSON.stringify(await h.store.db.selectFrom(table).selectAll().execute())).not.toContain(code);
      }
      const wrong = await browser.post('/factors/enroll/check', { type: 'sms', code: code === '000000' ? '000001' : '000000' });
      expect(wrong.statusCode).toBe(422);
      expect(wrong.body).toContain('data-code="sms_code_incorrect"');
      expect((await browser.post('/factors/enroll/check', { type: 'sms', code: code! })).statusCode).toBe(200);
      expect((await browser.post('/factors/enroll/check', { type: 'sms', code: code! })).statusCode).toBe(422);
    });

    it('"try it" for SMS sends one code however often the page is shown; "send a new code" sends the next, which voids the first', async () => {
      const { user, browser } = await enrolled();
      const phone = `+33612341${factory.name === 'sqlite' ? 1 : 2}01`;
      expect((await api.call('POST', `/user_management/users/${user.id}/auth_factors`, { type: 'sms', phone_number: phone })).statusCode).toBe(201);
      const codesSent = async () => {
        await h.deliver();
        await h.deliver();
        return (await h.mailbox(phone)).filter((m) => m.text.includes('verification code')).map((m) => m.text.match(/\b(\d{6})\b/)![1]!);
      };
      // Reloads, a language switch and a wrong code: the form each time, the number masked, and one message in all.
      for (const path of ['/factors/enroll/check?type=sms', '/factors/enroll/check?type=sms', '/factors/enroll/check?type=sms&lang=fr']) {
        const shown = await browser.get(path);
        expect({ path, status: shown.statusCode }).toEqual({ path, status: 200 });
        expect(shown.body).toContain(`•${phone.slice(-2)}`);
        expect(shown.body).toContain('action="/factors/enroll/check/resend"');
      }
      const [first] = await codesSent();
      const wrong = await browser.post('/factors/enroll/check', { type: 'sms', code: first === '000000' ? '000001' : '000000' });
      expect(wrong.body).toContain('data-code="sms_code_incorrect"');
      expect(wrong.body).toContain(`•${phone.slice(-2)}`);
      expect(await codesSent()).toEqual([first]);

      const resend = await browser.postOnly('/factors/enroll/check/resend', { type: 'sms' });
      expect([resend.statusCode, resend.headers.location]).toEqual([303, '/factors/enroll/check?type=sms']);
      await browser.get('/factors/enroll/check?type=sms');
      await browser.get('/factors/enroll/check?type=sms');
      const codes = await codesSent();
      expect(codes).toHaveLength(2);
      expect((await browser.post('/factors/enroll/check', { type: 'sms', code: first! })).statusCode).toBe(422);
      expect((await browser.post('/factors/enroll/check', { type: 'sms', code: codes[0]! })).statusCode).toBe(200);
      // Used: the next "try it" sends a fresh code.
      await browser.get('/factors/enroll/check?type=sms');
      expect(await codesSent()).toHaveLength(3);
    });

    it('an email code, asked for by name, goes to the account address and works once', async () => {
      const user = await api.createUser(email('mailed'), password());
      const sent = await h.rekey.factors.challenge(user.id, 'email', { locale: 'fr' });
      expect(sent).toMatchObject({ type: 'email', sentTo: expect.stringMatching(/^m•••@example\.com$/) });
      await h.deliver();
      await h.deliver();
      const mail = (await h.mailbox(user.email))[0];
      const code = mail?.text.match(/\b(\d{6})\b/)?.[1];
      expect(code).toBeDefined();
      expect(await h.rekey.factors.verify(user.id, code!)).toBe(false);
      expect(await h.rekey.factors.verifyResponse(user.id, 'email', code!)).toBe(true);
      expect(await h.rekey.factors.verifyResponse(user.id, 'email', code!)).toBe(false);
      expect(await h.rekey.factors.enrolledTypes(user.id)).toEqual([]);
    });

    it('bad input on every enrollment route gets a 4xx page that says what is wrong, never a stack trace', async () => {
      const { browser } = await enrolled();
      await browser.get('/factors/enroll');
      const answers = [
        [await new Browser(h.app, origin()).get('/factors/enroll?token=short'), 400, 'enrollment_link_invalid'],
        [await new Browser(h.app, origin()).get(`/factors/enroll?token=${'x'.repeat(43)}`), 400, 'enrollment_link_invalid'],
        [await browser.get('/factors/enroll/check?type=push'), 400, 'factor_type_invalid'],
        [await browser.get('/factors/enroll/check?type=email'), 400, 'factor_type_invalid'],
        [await browser.get('/factors/enroll/check?type=webauthn_roaming'), 409, 'factor_not_enrolled'],
        [await browser.get('/factors/enroll/check?type=totp'), 409, 'factor_not_enrolled'],
        [await browser.post('/factors/enroll/check', { type: 'sms', code: '12' }), 422, 'code_format_six'],
        [await browser.post('/factors/enroll/check', { type: 'totp', code: '' }), 422, 'totp_required'],
        [await browser.post('/factors/enroll/check', { type: 'webauthn_platform', credential: '' }), 422, 'webauthn_failed'],
        [await browser.post('/factors/enroll/webauthn', { kind: 'roaming', credential: '{"id":1}' }), 400, 'webauthn_registration_failed'],
        [await browser.post('/factors/enroll/webauthn', { kind: 'roaming', credential: 'not json' }), 400, 'webauthn_registration_failed'],
        [await browser.post('/factors/enroll/check/resend', { type: 'push' }), 400, 'factor_type_invalid'],
        [await browser.post('/factors/enroll/check/resend', { type: 'sms', csrf: 'forged' }), 403, 'csrf_invalid'],
        [await browser.post('/factors/enroll/recovery-codes', { csrf: 'forged' }), 403, 'csrf_invalid'],
        [await browser.post('/factors/enroll/check', { type: 'totp', code: '123456' }, { origin: 'https://evil.example' }), 403, 'cross_origin_forbidden'],
        [await new Browser(h.app, origin()).post('/factors/enroll/recovery-codes', {}), 403, 'csrf_invalid'],
      ] as const;
      for (const [response, status, code] of answers) {
        expect({ status: response.statusCode, code }).toEqual({ status, code });
        expect(response.body).toContain(`data-code="${code}"`);
        expect(response.body).not.toMatch(STACK_TRACE);
      }
      const json = await h.app.inject({
        method: 'POST',
        url: '/factors/enroll/check',
        payload: '{"type":"totp"}',
        headers: { 'content-type': 'application/json', origin: origin() },
      });
      expect(json.statusCode).toBe(415);
    });
  });
}
