import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { STORES, type TestStore } from '../store/testing.ts';
import { createFactorService, defaultFactors } from './factor.service.ts';
import type { Factor } from './factor.ts';
import { factorRow } from './rows.ts';
import { factorTestDeps, insertUser } from './testing.ts';

/** A factor that accepts one fixed code once, and records what the service asked of it. */
function fakeFactor(calls: string[]): Factor<'totp'> {
  const used = new Set<string>();
  return {
    type: 'totp',
    enroll: (user, options, now) => {
      calls.push(`enroll:${options.label ?? ''}`);
      const row = factorRow(
        { id: `auth_factor_fake${now}`, user_id: user.id, type: 'totp', now },
        { secret_sealed: 'sealed', totp_issuer: 'Fake', totp_user: options.label ?? user.email },
      );
      return { row, writes: [], secrets: { secret: 'fake-secret', uri: 'fake://uri' } };
    },
    challenge: async () => ({ challenge: { type: 'totp' }, writes: [] }),
    parse: (input) => (typeof input === 'string' && input.startsWith('fake-') ? input : undefined),
    async verify(userId, code) {
      calls.push(`verify:${code}`);
      if (code !== 'fake-right' || used.has(userId)) return false;
      used.add(userId);
      return true;
    },
  };
}

/** The service reaches a factor only through the `Factor` port, by its type. */
for (const factory of STORES) {
  describe(`${factory.name}: the Factor port`, () => {
    let store: TestStore;
    afterEach(() => store.close());
    let calls: string[];
    let setup: () => Promise<{ factors: ReturnType<typeof createFactorService>; user: { id: string; email: string } }>;

    beforeEach(async () => {
      store = await factory.open();
      calls = [];
      setup = async () => {
        const deps = await factorTestDeps(store);
        const factors = createFactorService({
          ...deps,
          config: { ...deps.config, totpFailuresPer15Minutes: 2, totpFailuresPerDay: 2 },
          factors: (d) => ({ ...defaultFactors(d), totp: fakeFactor(calls) }),
        });
        return { factors, user: await insertUser(deps, 'port@example.com') };
      };
    });

    it('enrolls and verifies through the factor registered for the type', async () => {
      const { factors, user } = await setup();
      const { factor, secret } = await factors.enroll('totp', user, { label: 'ada' });
      expect(secret).toBe('fake-secret');
      expect(factor).toMatchObject({ type: 'totp', totp_user: 'ada' });
      expect(await factors.list(user.id)).toEqual([factor]);
      expect(await factors.enrolledTypes(user.id)).toEqual(['totp']);
      expect(await factors.verify(user.id, 'fake-right', 'totp')).toBe(true);
      expect(await factors.verify(user.id, 'fake-right')).toBe(false);
      expect(calls).toEqual(['enroll:ada', 'verify:fake-right', 'verify:fake-right']);
    });

    it('SEC-38 the shared budget is the service’s: a malformed code is never shown to the factor, a wrong one spends an attempt', async () => {
      const { factors, user } = await setup();
      await factors.enroll('totp', user);
      expect(await factors.verify(user.id, 'no shape at all')).toBe(false);
      expect(await factors.verify(user.id, 'fake-wrong')).toBe(false);
      expect(await factors.verify(user.id, 'fake-wrong')).toBe(false);
      await expect(factors.verify(user.id, 'fake-right')).rejects.toMatchObject({ code: 'totp_attempts_exceeded' });
      expect(calls).toEqual(['enroll:', 'verify:fake-wrong', 'verify:fake-wrong']);
    });

    it('an account without factors has no types to offer', async () => {
      const { factors, user } = await setup();
      expect(await factors.enrolledTypes(user.id)).toEqual([]);
    });
  });
}
