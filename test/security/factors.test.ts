import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FactorChallenge } from '../../src/factors/index.ts';
import { STORES } from '../../src/store/testing.ts';
import { managementApi } from '../support/api.ts';
import { browserApi, totpAt } from '../support/browser-api.ts';
import { createHarness, freshAccounts, type Harness } from '../support/harness.ts';
import { SoftAuthenticator } from './soft-authenticator.ts';

/**
 * SEC-36, SEC-37 and SEC-38 with every factor type, not only TOTP: SMS codes (read from the development mailbox),
 * recovery codes and WebAuthn (roaming and platform, answered by a software authenticator), through the reset flow API where it takes the type and
 * through the factors door where the answer is not a typed code.
 */
for (const factory of STORES) {
  describe(`${factory.name}: second factors of every type`, () => {
    let h: Harness;
    let api: ReturnType<typeof managementApi>;
    let web: ReturnType<typeof browserApi>;
    const { email, password } = freshAccounts();

    beforeAll(async () => {
      h = await createHarness(factory, { config: { rateLimitIpRequests: 10_000, rateLimitIpVerifications: 10_000 } });
      api = managementApi(h);
      web = browserApi(h);
    });
    afterAll(() => h.close());

    const origin = () => new URL(h.config.baseUrl).origin;
    let phones = 0;
    /** The newest code texted to a number (the development mailbox keeps SMS outside production). */
    const textedCode = async (phone: string) => {
      await h.deliver();
      await h.deliver();
      const code = (await h.mailbox(phone))[0]?.text.match(/\b(\d{6})\b/)?.[1];
      if (!code) throw new Error(`no SMS to ${phone}`);
      return code;
    };

    /** An account with TOTP, an SMS number, a security key, this device's authenticator and ten recovery codes. */
    const fullyEnrolled = async () => {
      const address = email('every');
      const original = password();
      const user = await api.createUser(address, original);
      const secret: string = (await api.call('POST', `/user_management/users/${user.id}/auth_factors`, { type: 'totp' })).json().authentication_factor.totp
        .secret;
      const phone = `+1415555${String(++phones).padStart(4, '0')}`;
      expect((await api.call('POST', `/user_management/users/${user.id}/auth_factors`, { type: 'sms', phone_number: phone })).statusCode).toBe(201);
      const key = new SoftAuthenticator(origin(), 'cross-platform');
      const device = new SoftAuthenticator(origin(), 'platform');
      for (const [authenticator, kind] of [
        [key, 'roaming'],
        [device, 'platform'],
      ] as const) {
        const options = await h.rekey.factors.webauthn.begin(user, kind);
        await h.rekey.factors.webauthn.finish(user, authenticator.register(options), kind);
      }
      const codes: string[] = (await api.call('POST', `/user_management/users/${user.id}/recovery_codes`)).json().codes;
      return { user, address, original, secret, phone, key, device, codes };
    };

    /** A code flow past its first factor. */
    const pastFirstFactor = async (address: string) => {
      const flow = (await web.startFlow(address, 'email_code')).json();
      const attempt = await web.attemptCode(flow.id, await web.codeFor(address));
      expect(attempt.statusCode).toBe(200);
      return attempt.json() as { id: string; status: string; grant: string; supported_second_factors: string[] };
    };

    const attemptSecond = (flow: { id: string; grant: string }, strategy: string, code: string) =>
      web.post(`/v1/reset_flows/${flow.id}/attempt_second_factor`, { strategy, code, grant: flow.grant });

    const assertWith = async (userId: string, type: 'webauthn_roaming' | 'webauthn_platform', authenticator: SoftAuthenticator) => {
      const challenge = (await h.rekey.factors.challenge(userId, type)) as FactorChallenge<'webauthn_roaming'>;
      return authenticator.assert(challenge.options);
    };

    it('SEC-36 with every type enrolled the first factor only unlocks the challenge, and the reset keeps every factor', async () => {
      const { user, address, codes } = await fullyEnrolled();
      const flow = await pastFirstFactor(address);
      expect(flow.status).toBe('needs_second_factor');
      expect(flow.supported_second_factors).toEqual(expect.arrayContaining(['totp', 'sms', 'webauthn_roaming', 'webauthn_platform', 'recovery_code']));
      expect(flow.supported_second_factors).not.toContain('email');
      const early = await web.setPassword(flow.id, flow.grant, password());
      expect(early.statusCode).toBe(403);
      expect(early.json().error.code).toBe('mfa_required');

      const wrong = await attemptSecond(flow, 'recovery_code', 'zzzzz-zzzzz');
      expect(wrong.statusCode).toBe(422);
      const passed = await attemptSecond(flow, 'recovery_code', codes[0]!);
      expect(passed.statusCode).toBe(200);
      expect(passed.json().status).toBe('needs_new_password');
      expect((await web.setPassword(flow.id, passed.json().grant, password())).statusCode).toBe(200);

      const types = (await api.call('GET', `/user_management/users/${user.id}/auth_factors?all_types=true`)).json().data.map((f: { type: string }) => f.type);
      expect(types).toEqual(['totp', 'sms', 'webauthn_roaming', 'webauthn_platform', 'recovery_code']);
      expect(await h.rekey.factors.recoveryCodesLeft(user.id)).toBe(9);
    });

    it('SEC-36 an account with only a security key, or only recovery codes, is asked for it too', async () => {
      for (const only of ['webauthn', 'recovery'] as const) {
        const address = email(`only-${only}`);
        const user = await api.createUser(address, password());
        if (only === 'webauthn') {
          const key = new SoftAuthenticator(origin());
          await h.rekey.factors.webauthn.finish(user, key.register(await h.rekey.factors.webauthn.begin(user)), 'roaming');
        } else {
          await api.call('POST', `/user_management/users/${user.id}/recovery_codes`);
        }
        const flow = await pastFirstFactor(address);
        expect(flow.status).toBe('needs_second_factor');
        expect(flow.supported_second_factors).toEqual([only === 'webauthn' ? 'webauthn_roaming' : 'recovery_code']);
        expect((await web.setPassword(flow.id, flow.grant, password())).json().error.code).toBe('mfa_required');
      }
    });

    it('SEC-37 the grant a recovery code earns sets this password and nothing else, once, for at most ten minutes', async () => {
      const { address, codes } = await fullyEnrolled();
      const flow = await pastFirstFactor(address);
      const passed = (await attemptSecond(flow, 'recovery_code', codes[1]!)).json();
      expect((await api.whoami(passed.grant)).statusCode).toBe(401);
      expect((await h.app.inject({ method: 'GET', url: '/user_management/users', headers: { authorization: `Bearer ${passed.grant}` } })).statusCode).toBe(401);
      h.clock.advance(10 * 60_000 + 1000);
      expect((await web.setPassword(flow.id, passed.grant, password())).statusCode).toBeGreaterThanOrEqual(400);
      // The code itself was spent when it was accepted: a new flow cannot use it again.
      const again = await pastFirstFactor(address);
      expect((await attemptSecond(again, 'recovery_code', codes[1]!)).statusCode).toBe(422);
    });

    it('SEC-37 the grant an SMS code, a security key or a TOTP code earns is as limited: no session, this password once, ten minutes', async () => {
      /** A fresh account's flow, its second factor met with `type` over the flow API: the grant it earns. */
      const grantBy = async (type: 'sms' | 'webauthn_roaming' | 'totp') => {
        const who = await fullyEnrolled();
        const flow = await pastFirstFactor(who.address);
        let answer: Record<string, unknown>;
        if (type === 'totp') answer = { code: await totpAt(who.secret, h.clock.now()) };
        else {
          const started = await web.post(`/v1/reset_flows/${flow.id}/challenge`, { strategy: type, grant: flow.grant });
          expect(started.statusCode, started.body).toBe(200);
          answer = type === 'sms' ? { code: await textedCode(who.phone) } : { credential: who.key.assert(started.json().options) };
        }
        const passed = await web.post(`/v1/reset_flows/${flow.id}/attempt_second_factor`, { strategy: type, ...answer, grant: flow.grant });
        expect({ type, status: passed.statusCode }).toEqual({ type, status: 200 });
        return { id: flow.id, grant: passed.json().grant as string };
      };
      for (const type of ['sms', 'webauthn_roaming', 'totp'] as const) {
        const once = await grantBy(type);
        expect({ type, whoami: (await api.whoami(once.grant)).statusCode }).toEqual({ type, whoami: 401 });
        const listed = await h.app.inject({ method: 'GET', url: '/user_management/users', headers: { authorization: `Bearer ${once.grant}` } });
        expect({ type, users: listed.statusCode }).toEqual({ type, users: 401 });
        expect((await web.setPassword(once.id, once.grant, password())).statusCode).toBe(200);
        expect({ type, twice: (await web.setPassword(once.id, once.grant, password())).statusCode >= 400 }).toEqual({ type, twice: true });

        const late = await grantBy(type);
        h.clock.advance(10 * 60_000 + 1000);
        expect({ type, late: (await web.setPassword(late.id, late.grant, password())).statusCode >= 400 }).toEqual({ type, late: true });
      }
    });

    it('SEC-38 replays are refused for every type: a recovery code, an SMS code, a WebAuthn assertion, a TOTP code', async () => {
      // Each refusal spends the account's budget (five): the checks are spread over accounts so none runs out.
      const factors = h.rekey.factors;
      const first = await fullyEnrolled();
      expect(await factors.verifyResponse(first.user.id, 'recovery_code', first.codes[2]!)).toBe(true);
      expect(await factors.verifyResponse(first.user.id, 'recovery_code', first.codes[2]!)).toBe(false);
      const code = await totpAt(first.secret, h.clock.now());
      expect(await factors.verifyTotp(first.user.id, code)).toBe(true);
      expect(await factors.verifyTotp(first.user.id, code)).toBe(false);
      await factors.challenge(first.user.id, 'sms');
      const texted = await textedCode(first.phone);
      expect(await factors.verifyResponse(first.user.id, 'sms', texted)).toBe(true);
      expect(await factors.verifyResponse(first.user.id, 'sms', texted)).toBe(false);

      for (const type of ['webauthn_roaming', 'webauthn_platform'] as const) {
        const { user, key, device } = await fullyEnrolled();
        const authenticator = type === 'webauthn_roaming' ? key : device;
        const assertion = await assertWith(user.id, type, authenticator);
        expect(await factors.verifyResponse(user.id, type, assertion)).toBe(true);
        expect(await factors.verifyResponse(user.id, type, assertion)).toBe(false);
        // A credential answers only for its own type.
        const other = type === 'webauthn_roaming' ? 'webauthn_platform' : 'webauthn_roaming';
        expect(await factors.verifyResponse(user.id, other, await assertWith(user.id, type, authenticator))).toBe(false);
        // An assertion for a challenge that was never issued (signed by the right key) is refused.
        expect(await factors.verifyResponse(user.id, type, authenticator.assert({ challenge: 'bm90LWlzc3VlZA' }))).toBe(false);
        // …and for another account, even with a challenge issued to that account.
        const stranger = await fullyEnrolled();
        expect(await factors.verifyResponse(stranger.user.id, type, await assertWith(stranger.user.id, type, authenticator))).toBe(false);
      }
    });

    it('SEC-38 wrong answers of every kind, at sign-in and in recovery, spend one budget per account', async () => {
      const { user, address, original, secret, phone, key, codes } = await fullyEnrolled();
      const valid = new Set([await totpAt(secret, h.clock.now() - 30_000), await totpAt(secret, h.clock.now()), await totpAt(secret, h.clock.now() + 30_000)]);
      const wrongTotp = ['000000', '111111', '222222', '333333'].find((code) => !valid.has(code))!;
      // 1: a wrong TOTP at sign-in.
      const login = await api.login(address, original);
      expect((await api.completeMfa(login.json().pending_authentication_token, wrongTotp)).statusCode).toBe(422);
      // 2: a wrong recovery code in a reset flow.
      const flow = await pastFirstFactor(address);
      expect((await attemptSecond(flow, 'recovery_code', 'zzzzz-zzzzz')).statusCode).toBe(422);
      // 3: an assertion from a key the account does not have.
      const stranger = new SoftAuthenticator(origin());
      const challenge = (await h.rekey.factors.challenge(user.id, 'webauthn_roaming')) as FactorChallenge<'webauthn_roaming'>;
      expect(await h.rekey.factors.verifyResponse(user.id, 'webauthn_roaming', stranger.assert(challenge.options))).toBe(false);
      // 4: the right key, signing for a challenge that was never issued.
      expect(await h.rekey.factors.verifyResponse(user.id, 'webauthn_roaming', key.assert({ challenge: 'bm90LWlzc3VlZA' }))).toBe(false);
      // 5: a wrong SMS code in the flow, the right one having been texted.
      await h.rekey.factors.challenge(user.id, 'sms');
      const texted = await textedCode(phone);
      expect((await attemptSecond(flow, 'sms', texted === '000000' ? '000001' : '000000')).statusCode).toBe(422);

      // The five are spent: a right recovery code, SMS code, assertion and TOTP are all refused, with a wait.
      const refused = await attemptSecond(flow, 'recovery_code', codes[0]!);
      expect(refused.statusCode).toBe(429);
      expect(refused.json().error.code).toBe('totp_attempts_exceeded');
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      expect((await attemptSecond(flow, 'sms', texted)).statusCode).toBe(429);
      await expect(h.rekey.factors.verifyResponse(user.id, 'webauthn_roaming', await assertWith(user.id, 'webauthn_roaming', key))).rejects.toMatchObject({
        code: 'totp_attempts_exceeded',
      });
      const signIn = await api.completeMfa((await api.login(address, original)).json().pending_authentication_token, await totpAt(secret, h.clock.now()));
      expect(signIn.statusCode).toBe(429);
      // Refused before it was compared, the recovery code was not spent.
      expect(await h.rekey.factors.recoveryCodesLeft(user.id)).toBe(10);
    });
  });
}
