import { CompiledQuery, sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { STORES, type TestStore } from '../store/testing.ts';
import { createFactorService, type FactorService } from './factor.service.ts';
import type { VerificationCodeMessage } from './sent-code.ts';
import { factorTestDeps, insertUser } from './testing.ts';

/** Recovery codes and sent codes through the service, on both stores. */
for (const factory of STORES) {
  describe(`${factory.name}: factor types`, () => {
    let store: TestStore;
    let deps: Awaited<ReturnType<typeof factorTestDeps>>;
    let factors: FactorService;
    let user: { id: string; email: string };
    let sent: VerificationCodeMessage[];

    beforeEach(async () => {
      store = await factory.open();
      deps = await factorTestDeps(store);
      sent = [];
      const users = new Map<string, { id: string; email: string }>();
      factors = createFactorService({
        ...deps,
        // Generous: these tests are about each type, the budget has its own.
        config: { ...deps.config, totpFailuresPer15Minutes: 50, totpFailuresPerDay: 50 },
        delivery: { verificationCode: (message) => (sent.push(message), []) },
        findUser: async (id) => users.get(id),
      });
      user = await insertUser(deps, 'types@example.com');
      users.set(user.id, user);
    });
    afterEach(() => store.close());

    const lastCode = () => sent.at(-1)!.code;

    it('recovery codes: ten, hashed at rest, each works once, and a new set voids the old', async () => {
      const { factor, codes } = await factors.regenerateRecoveryCodes(user);
      expect(factor.type).toBe('recovery_code');
      expect(codes).toHaveLength(10);
      expect(new Set(codes).size).toBe(10);
      for (const code of codes) expect(code).toMatch(/^[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}$/);
      const rows = await store.db.selectFrom('recovery_codes').selectAll().execute();
      expect(rows).toHaveLength(10);
      for (const code of codes) expect(JSON.stringify(rows)).not.toContain(code);
      expect(await factors.enrolledTypes(user.id)).toEqual(['recovery_code']);
      expect(await factors.enrolledFactorsOf(user.id)).toEqual([{ type: 'recovery-code' }]);

      // Typed loosely (upper case, a space for the dash) it is the same code; it works once.
      const loose = codes[0]!.toUpperCase().replace('-', ' ');
      expect(await factors.verifyResponse(user.id, 'recovery_code', loose)).toBe(true);
      expect(await factors.verifyResponse(user.id, 'recovery_code', codes[0]!)).toBe(false);
      expect(await factors.recoveryCodesLeft(user.id)).toBe(9);
      // Untyped, a recovery code is recognised by its shape.
      expect(await factors.verify(user.id, codes[1]!)).toBe(true);

      const again = await factors.regenerateRecoveryCodes(user);
      expect(await factors.verifyResponse(user.id, 'recovery_code', codes[2]!)).toBe(false);
      expect(await factors.recoveryCodesLeft(user.id)).toBe(10);
      expect((await factors.list(user.id)).map((f) => f.id)).toEqual([again.factor.id]);
      expect(await factors.verifyResponse(user.id, 'recovery_code', again.codes[0]!)).toBe(true);
    });

    it('SEC-38 recovery codes: racing requests with one code get one success', async () => {
      const { codes } = await factors.regenerateRecoveryCodes(user);
      await Promise.all(Array.from({ length: 10 }, () => sql`select 1`.execute(store.db)));
      const results = await Promise.all(Array.from({ length: 10 }, () => factors.verifyResponse(user.id, 'recovery_code', codes[3]!)));
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it('a spent set is no longer an enrolled factor', async () => {
      const { codes } = await factors.regenerateRecoveryCodes(user);
      for (const code of codes) expect(await factors.verifyResponse(user.id, 'recovery_code', code)).toBe(true);
      expect(await factors.enrolledTypes(user.id)).toEqual([]);
      expect(await factors.hasSecondFactor(user.id)).toBe(false);
      await expect(factors.challenge(user.id, 'recovery_code')).rejects.toMatchObject({ code: 'factor_not_enrolled' });
    });

    it('the no-second-factor condition finds a row exactly when hasSecondFactor says false', async () => {
      const holds = async () => {
        const { sql: text, parameters } = factors.noSecondFactorGuard(user.id).compile(store.db);
        return (await store.db.executeQuery(CompiledQuery.raw(text, [...parameters]))).rows.length > 0;
      };
      const agree = async (hasFactor: boolean) => {
        expect(await factors.hasSecondFactor(user.id)).toBe(hasFactor);
        expect(await holds()).toBe(!hasFactor);
      };
      await agree(false);
      const { codes } = await factors.regenerateRecoveryCodes(user);
      await agree(true);
      for (const code of codes.slice(1)) await factors.verifyResponse(user.id, 'recovery_code', code);
      await agree(true);
      await factors.verifyResponse(user.id, 'recovery_code', codes[0]!);
      // A spent set is no factor.
      await agree(false);
      const { factor } = await factors.enroll('sms', user, { phoneNumber: '+33612345678' });
      await agree(true);
      await factors.delete(factor.id);
      await agree(false);
      await factors.enrollTotp(user);
      await agree(true);
      // Another account's factors are not this one's.
      const other = await insertUser(deps, 'other@example.com');
      const { sql: text, parameters } = factors.noSecondFactorGuard(other.id).compile(store.db);
      expect((await store.db.executeQuery(CompiledQuery.raw(text, [...parameters]))).rows).toHaveLength(1);
    });

    it('SMS: a code to the enrolled number, masked in the answer, once, for ten minutes; a new one voids the last', async () => {
      const { factor } = await factors.enroll('sms', user, { phoneNumber: '+33612345678' });
      expect(factor).toMatchObject({ type: 'sms', phone_number: '+33612345678' });
      expect(await factors.enrolledFactorsOf(user.id)).toEqual([{ type: 'phone' }]);

      const challenge = await factors.challenge(user.id, 'sms', { locale: 'fr', applicationId: null });
      expect(challenge).toMatchObject({ type: 'sms', sentTo: '••••••••••78' });
      expect(sent.at(-1)).toMatchObject({ channel: 'sms', to: '+33612345678', locale: 'fr', expiresInMinutes: 10, userId: user.id });
      const first = lastCode();
      expect(JSON.stringify(await store.db.selectFrom('factor_challenges').selectAll().execute())).not.toContain(first);

      await factors.challenge(user.id, 'sms');
      const second = lastCode();
      if (second !== first) expect(await factors.verifyResponse(user.id, 'sms', first)).toBe(false);
      expect(await factors.verifyResponse(user.id, 'sms', second)).toBe(true);
      expect(await factors.verifyResponse(user.id, 'sms', second)).toBe(false);

      await factors.challenge(user.id, 'sms');
      deps.clock.advance(10 * 60_000 + 1);
      expect(await factors.verifyResponse(user.id, 'sms', lastCode())).toBe(false);
    });

    it('SMS: refuses a number not in E.164, challenges only an enrolled number, and limits sends', async () => {
      await expect(factors.enroll('sms', user, { phoneNumber: '0612345678' })).rejects.toMatchObject({ code: 'phone_number_invalid' });
      await expect(factors.challenge(user.id, 'sms')).rejects.toMatchObject({ code: 'factor_not_enrolled' });
      await factors.enroll('sms', user, { phoneNumber: '+14155550123' });
      for (let i = 0; i < 5; i++) await factors.challenge(user.id, 'sms');
      await expect(factors.challenge(user.id, 'sms')).rejects.toMatchObject({ code: 'rate_limited' });
      expect(sent).toHaveLength(5);
    });

    it('email: never enrolled, sent only when asked by name, and never tried for an untyped code', async () => {
      expect(await factors.enrolledTypes(user.id)).toEqual([]);
      const challenge = await factors.challenge(user.id, 'email', { locale: 'en' });
      expect(challenge).toMatchObject({ type: 'email', sentTo: 't•••@example.com' });
      expect(sent.at(-1)).toMatchObject({ channel: 'email', to: 'types@example.com' });
      expect(await factors.verify(user.id, lastCode())).toBe(false);
      expect(await factors.verifyResponse(user.id, 'email', lastCode())).toBe(true);
      expect(await factors.enrolledTypes(user.id)).toEqual([]);
    });

    it('without a channel for codes, SMS and email say so instead of storing a code nobody receives', async () => {
      const bare = createFactorService({ ...deps, findUser: async () => user });
      await expect(bare.enroll('sms', user, { phoneNumber: '+14155550123' })).rejects.toMatchObject({ code: 'factor_unavailable' });
      await expect(bare.challenge(user.id, 'email')).rejects.toMatchObject({ code: 'factor_unavailable' });
    });

    it('SEC-38 wrong answers of every type spend the one budget', async () => {
      const tight = createFactorService({
        ...deps,
        config: { ...deps.config, totpFailuresPer15Minutes: 4, totpFailuresPerDay: 4 },
        delivery: { verificationCode: (message) => (sent.push(message), []) },
        findUser: async () => user,
      });
      await tight.enrollTotp(user);
      await tight.enroll('sms', user, { phoneNumber: '+14155550123' });
      const { codes } = await tight.regenerateRecoveryCodes(user);
      await tight.challenge(user.id, 'sms');
      const sms = lastCode();
      const wrong = sms === '000000' ? '000001' : '000000';
      expect(await tight.verifyResponse(user.id, 'sms', wrong)).toBe(false);
      expect(await tight.verifyResponse(user.id, 'recovery_code', 'aaaaa-aaaaa')).toBe(false);
      expect(await tight.verifyResponse(user.id, 'email', wrong)).toBe(false);
      // A WebAuthn assertion for a credential the account does not have is a wrong answer too.
      const assertion = {
        id: 'AAAA',
        rawId: 'AAAA',
        type: 'public-key',
        response: { clientDataJSON: 'e30', authenticatorData: 'AA', signature: 'AA' },
        clientExtensionResults: {},
      };
      expect(await tight.verifyResponse(user.id, 'webauthn_roaming', JSON.stringify(assertion))).toBe(false);
      // Four spent: the right SMS code and an unused recovery code are refused with a wait.
      await expect(tight.verifyResponse(user.id, 'sms', sms)).rejects.toMatchObject({ code: 'totp_attempts_exceeded', status: 429 });
      await expect(tight.verifyResponse(user.id, 'recovery_code', codes[0]!)).rejects.toMatchObject({ code: 'totp_attempts_exceeded' });
      // Malformed answers are no guesses and cost nothing, even now.
      expect(await tight.verifyResponse(user.id, 'webauthn_platform', '{not json')).toBe(false);
      expect(await tight.verifyResponse(user.id, 'sms', '12')).toBe(false);
    });

    it('deleting a recovery-code factor removes its codes; deleting the user removes everything', async () => {
      const { factor, codes } = await factors.regenerateRecoveryCodes(user);
      expect(await factors.delete(factor.id)).toBe(true);
      expect(await store.db.selectFrom('recovery_codes').selectAll().execute()).toEqual([]);
      expect(await factors.verifyResponse(user.id, 'recovery_code', codes[0]!)).toBe(false);
    });
  });
}
