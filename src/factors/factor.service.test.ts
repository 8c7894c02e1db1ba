import { sql } from 'kysely';
import { generate } from 'otplib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ManualClock } from '../platform/clock.ts';
import { STORES, type TestStore } from '../store/testing.ts';
import { createFactorService, MFA_MAX_ATTEMPTS, PENDING_AUTHENTICATION_TTL_MS, type FactorService } from './factor.service.ts';
import type { FactorTables } from './factor.table.ts';
import { factorTestDeps, insertUser } from './testing.ts';

const STEP_MS = 30_000;

for (const factory of STORES) {
  describe(`${factory.name}: factors`, () => {
    let store: TestStore;
    let deps: Awaited<ReturnType<typeof factorTestDeps>>;
    let clock: ManualClock;
    let factors: FactorService;
    let user: { id: string; email: string };

    beforeEach(async () => {
      store = await factory.open();
      const testDeps = await factorTestDeps(store);
      deps = testDeps;
      clock = testDeps.clock;
      factors = createFactorService(deps);
      user = await insertUser(deps, 'mfa@example.com');
    });
    afterEach(() => store.close());
    const db = () => store.db.withTables<FactorTables>();

    /** The code an authenticator app shows `steps` periods away from the injected clock. */
    const codeAt = (secret: string, steps = 0) => generate({ secret, epoch: Math.floor((clock.now() + steps * STEP_MS) / 1000) });
    /** A six-digit code that matches none of the steps the server accepts right now. */
    const wrongCode = async (secret: string) => {
      const valid = new Set(await Promise.all([-1, 0, 1].map((s) => codeAt(secret, s))));
      for (let n = 0; ; n++) if (!valid.has(String(n).padStart(6, '0'))) return String(n).padStart(6, '0');
    };

    it('enrolls a TOTP factor and accepts the current code', async () => {
      const { factor, secret, uri } = await factors.enrollTotp(user);
      expect(factor).toMatchObject({ user_id: user.id, type: 'totp', totp_issuer: 'Rekey', totp_user: 'mfa@example.com' });
      expect(factor.id).toMatch(/^auth_factor_/);
      expect(uri).toMatch(/^otpauth:\/\/totp\/Rekey:mfa%40example\.com\?/);
      expect(uri).toContain(`secret=${secret}`);
      expect(await factors.hasSecondFactor(user.id)).toBe(true);
      expect(await factors.list(user.id)).toEqual([factor]);
      expect(await factors.get(factor.id)).toEqual(factor);

      // The secret rests sealed, never in the clear.
      const row = await db().selectFrom('auth_factors').selectAll().executeTakeFirstOrThrow();
      expect(JSON.stringify(row)).not.toContain(secret);

      expect(await factors.verifyTotp(user.id, await codeAt(secret))).toBe(true);
    });

    it('takes the issuer and label from the caller', async () => {
      const { factor, uri } = await factors.enrollTotp(user, { issuer: 'Acme Co', label: 'ada' });
      expect(factor).toMatchObject({ totp_issuer: 'Acme Co', totp_user: 'ada' });
      expect(uri).toContain('issuer=Acme');
    });

    it('refuses a wrong or malformed code, and a user without a factor', async () => {
      const { secret } = await factors.enrollTotp(user);
      const right = await codeAt(secret);
      expect(await factors.verifyTotp(user.id, await wrongCode(secret))).toBe(false);
      for (const bad of ['', '12345', '1234567', 'abcdef', ` ${right}`, `${right}\n`, '１２３４５６']) {
        expect(await factors.verifyTotp(user.id, bad)).toBe(false);
      }
      const other = await insertUser(deps, 'other@example.com');
      expect(await factors.hasSecondFactor(other.id)).toBe(false);
      expect(await factors.verifyTotp(other.id, right)).toBe(false);
      expect(await factors.verifyTotp(user.id, right)).toBe(true);
    });

    it('accepts one step of drift either way, not two', async () => {
      const { secret } = await factors.enrollTotp(user);
      expect(await factors.verifyTotp(user.id, await codeAt(secret, -2))).toBe(false);
      expect(await factors.verifyTotp(user.id, await codeAt(secret, 2))).toBe(false);
      expect(await factors.verifyTotp(user.id, await codeAt(secret, -1))).toBe(true);
      expect(await factors.verifyTotp(user.id, await codeAt(secret, 1))).toBe(true);
    });

    it('follows the injected clock', async () => {
      const { secret } = await factors.enrollTotp(user);
      const code = await codeAt(secret);
      clock.advance(2 * STEP_MS);
      expect(await factors.verifyTotp(user.id, code)).toBe(false);
    });

    /** @see SECURITY.md SEC-38 */
    it('SEC-38 a replayed TOTP is refused', async () => {
      // A budget that the eleven refusals below do not exhaust: this is about replays, not the limit.
      factors = createFactorService({ ...deps, config: { ...deps.config, totpFailuresPer15Minutes: 50, totpFailuresPerDay: 50 } });
      const { secret } = await factors.enrollTotp(user);
      const code = await codeAt(secret);
      expect(await factors.verifyTotp(user.id, code)).toBe(true);
      expect(await factors.verifyTotp(user.id, code)).toBe(false);
      // An earlier step still inside the window is no newer than the one used.
      expect(await factors.verifyTotp(user.id, await codeAt(secret, -1))).toBe(false);

      clock.advance(STEP_MS);
      const fresh = await codeAt(secret);
      // Open the pool's connections first, so the ten verifications really overlap on PostgreSQL.
      await Promise.all(Array.from({ length: 10 }, () => sql`select 1`.execute(store.db)));
      const results = await Promise.all(Array.from({ length: 10 }, () => factors.verifyTotp(user.id, fresh)));
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it('enrolling twice keeps both factors; a code of either is accepted', async () => {
      const first = await factors.enrollTotp(user);
      const second = await factors.enrollTotp(user);
      expect((await factors.list(user.id)).map((f) => f.id)).toEqual([first.factor.id, second.factor.id]);
      expect(await factors.verifyTotp(user.id, await codeAt(second.secret))).toBe(true);
    });

    it('deletes a factor once; deleting the user removes its factors', async () => {
      const { factor } = await factors.enrollTotp(user);
      expect(await factors.delete(factor.id)).toBe(true);
      expect(await factors.delete(factor.id)).toBe(false);
      expect(await factors.hasSecondFactor(user.id)).toBe(false);

      await factors.enrollTotp(user);
      await store.db.deleteFrom('users').where('id', '=', user.id).execute();
      expect(await factors.list(user.id)).toEqual([]);
    });

    describe('pending MFA login', () => {
      const ctx = { ipAddress: '203.0.113.7', userAgent: 'test' };

      it('turns a pending token and a code into a login, once', async () => {
        const { secret } = await factors.enrollTotp(user);
        const { pendingAuthenticationToken } = await factors.beginMfaLogin(user, 'app_1', ctx);
        expect(pendingAuthenticationToken).toMatch(/^[A-Za-z0-9_-]{43}$/);

        const row = await db().selectFrom('pending_authentications').selectAll().executeTakeFirstOrThrow();
        expect(JSON.stringify(row)).not.toContain(pendingAuthenticationToken);

        expect(await factors.completeMfaLogin(pendingAuthenticationToken, await codeAt(secret))).toEqual({ userId: user.id, applicationId: 'app_1' });
        clock.advance(STEP_MS);
        expect(await factors.completeMfaLogin(pendingAuthenticationToken, await codeAt(secret))).toBeUndefined();
      });

      it(`SEC-38 dies after ${MFA_MAX_ATTEMPTS} wrong codes, even for the right one`, async () => {
        // An account budget above the token's, to see the token's own limit.
        factors = createFactorService({ ...deps, config: { ...deps.config, totpFailuresPer15Minutes: 50, totpFailuresPerDay: 50 } });
        const { secret } = await factors.enrollTotp(user);
        const { pendingAuthenticationToken } = await factors.beginMfaLogin(user, null, ctx);
        const wrong = await wrongCode(secret);
        for (let i = 0; i < MFA_MAX_ATTEMPTS; i++) expect(await factors.completeMfaLogin(pendingAuthenticationToken, wrong)).toBeUndefined();
        expect(await factors.completeMfaLogin(pendingAuthenticationToken, await codeAt(secret))).toBeUndefined();
        // The code itself was never spent: a new login can still use it.
        const again = await factors.beginMfaLogin(user, null, ctx);
        expect(await factors.completeMfaLogin(again.pendingAuthenticationToken, await codeAt(secret))).toEqual({ userId: user.id, applicationId: null });
      });

      /** @see SECURITY.md SEC-38 */
      it('SEC-38 sign-in and recovery spend one budget of wrong codes per account', async () => {
        const { secret } = await factors.enrollTotp(user);
        const wrong = await wrongCode(secret);
        // Three wrong codes at sign-in, over two logins, and two in recovery (which asks verifyTotp directly)…
        const first = await factors.beginMfaLogin(user, null, ctx);
        expect(await factors.completeMfaLogin(first.pendingAuthenticationToken, wrong)).toBeUndefined();
        expect(await factors.completeMfaLogin(first.pendingAuthenticationToken, wrong)).toBeUndefined();
        const second = await factors.beginMfaLogin(user, null, ctx);
        expect(await factors.completeMfaLogin(second.pendingAuthenticationToken, wrong)).toBeUndefined();
        expect(await factors.verifyTotp(user.id, wrong)).toBe(false);
        expect(await factors.verifyTotp(user.id, wrong)).toBe(false);
        // …and the account's five are spent: now even the right code is refused on either path, with a wait.
        const right = await codeAt(secret);
        const throttled = { code: 'totp_attempts_exceeded', status: 429 };
        await expect(factors.verifyTotp(user.id, right)).rejects.toMatchObject(throttled);
        const third = await factors.beginMfaLogin(user, null, ctx);
        await expect(factors.completeMfaLogin(third.pendingAuthenticationToken, right)).rejects.toMatchObject(throttled);
        await expect(factors.verifyTotp(user.id, right)).rejects.toMatchObject({ context: { retryAfterSeconds: expect.any(Number) } });
        // Another account is not affected.
        const other = await insertUser(deps, 'other-mfa@example.com');
        const otherFactor = await factors.enrollTotp(other);
        expect(await factors.verifyTotp(other.id, await codeAt(otherFactor.secret))).toBe(true);
      });

      it('an accepted code gives its attempt back: a user who types the code right is never locked out', async () => {
        const { secret } = await factors.enrollTotp(user);
        for (let step = 0; step < 8; step++) {
          clock.advance(STEP_MS);
          expect(await factors.verifyTotp(user.id, await codeAt(secret))).toBe(true);
        }
      });

      it('counts parallel guesses against the same limit', async () => {
        const { secret } = await factors.enrollTotp(user);
        const { pendingAuthenticationToken } = await factors.beginMfaLogin(user, null, ctx);
        const wrong = await wrongCode(secret);
        await Promise.all(Array.from({ length: 12 }, () => factors.completeMfaLogin(pendingAuthenticationToken, wrong)));
        const row = await db().selectFrom('pending_authentications').select('attempts').executeTakeFirstOrThrow();
        expect(row).toEqual({ attempts: MFA_MAX_ATTEMPTS });
      });

      it('expires, and refuses an unknown token', async () => {
        const { secret } = await factors.enrollTotp(user);
        const { pendingAuthenticationToken } = await factors.beginMfaLogin(user, null, ctx);
        clock.advance(PENDING_AUTHENTICATION_TTL_MS);
        expect(await factors.completeMfaLogin(pendingAuthenticationToken, await codeAt(secret))).toBeUndefined();
        expect(await factors.completeMfaLogin('not-a-token', await codeAt(secret))).toBeUndefined();
      });
    });
  });
}
