import argon2 from 'argon2';
import { describe, expect, it } from 'vitest';
import { normalizePassword } from './password-policy.ts';
import { createPasswordHasher, verifyLimits } from './passwords.ts';

const hasher = createPasswordHasher({ memoryKib: 19456, timeCost: 2 });
const PHC = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

describe('password hashing', () => {
  it('SEC-33 stored hash is argon2id with m>=19456,t>=2,p=1 and two users with the same password get different hashes', async () => {
    const password = 'correct horse battery staple';
    const [first, second] = await Promise.all([hasher.hash(password), hasher.hash(password)]);
    for (const stored of [first, second]) {
      const match = PHC.exec(stored);
      expect(match, stored).not.toBeNull();
      const [, m, t, p, salt] = match!;
      expect(Number(m)).toBeGreaterThanOrEqual(19456);
      expect(Number(t)).toBeGreaterThanOrEqual(2);
      expect(Number(p)).toBe(1);
      expect(Buffer.from(salt!, 'base64').length).toBe(16);
    }
    expect(first).not.toBe(second);
    expect(await hasher.verify(first, password)).toBe(true);
    expect(await hasher.verify(second, password)).toBe(true);
    expect(await hasher.verify(first, 'correct horse battery stapl')).toBe(false);
  });

  it('SEC-29 the whole password is hashed: P[:72] and P[:99] of a 100-char P fail', async () => {
    const password = 'a1b2c3d4e5'.repeat(10);
    expect(password).toHaveLength(100);
    const stored = await hasher.hash(password);
    expect(await hasher.verify(stored, password)).toBe(true);
    expect(await hasher.verify(stored, password.slice(0, 72))).toBe(false);
    expect(await hasher.verify(stored, password.slice(0, 99))).toBe(false);
  });

  it('SEC-32 the decomposed form verifies after normalizePassword', async () => {
    const stored = await hasher.hash(normalizePassword('p\u00e4ssw\u00f6rd-ist-lang-genug'));
    const decomposed = 'pa\u0308sswo\u0308rd-ist-lang-genug';
    expect(await hasher.verify(stored, normalizePassword(decomposed))).toBe(true);
    expect(await hasher.verify(stored, decomposed)).toBe(false); // why every caller must normalise
  });

  it('verify returns false, never throws, on malformed or unsupported hashes', async () => {
    const valid = await hasher.hash('maple orbit jar');
    for (const bad of [
      '',
      'not a hash',
      '$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW', // bcrypt
      '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$',
      '$argon2id$v=19$m=19456,t=2,p=1$!!!$abc',
      '$argon2id$v=19$m=4294967295,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA', // would eat 4 TiB
      valid.slice(0, -10),
      `${valid}x`,
    ]) {
      await expect(hasher.verify(bad, 'maple orbit jar'), bad).resolves.toBe(false);
    }
  });

  it('SEC-33 verify refuses a hash whose cost is beyond the ceiling, even with the right password', async () => {
    const password = 'maple orbit jar';
    const cheap = { type: argon2.argon2id, memoryCost: 64, timeCost: 1, parallelism: 1 } as const;
    const withinCeiling = await argon2.hash(password, { ...cheap, timeCost: 10, parallelism: 4 });
    expect(await hasher.verify(withinCeiling, password)).toBe(true);
    for (const beyond of [await argon2.hash(password, { ...cheap, timeCost: 11 }), await argon2.hash(password, { ...cheap, parallelism: 5 })]) {
      expect(hasher.accepts(beyond), beyond).toBe(false);
      expect(await hasher.verify(beyond, password), beyond).toBe(false);
    }
  });

  it('SEC-33 the memory ceiling is 4× the configured memory or 256 MiB, whichever is more; costs Argon2 cannot verify are refused too', () => {
    expect(verifyLimits(19456)).toEqual({ memoryKib: 262144, timeCost: 10, parallelism: 4 });
    expect(verifyLimits(131072).memoryKib).toBe(524288);
    const phc = (params: string, type = 'id', version = 'v=19$') =>
      `$argon2${type}$${version}${params}$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g`;
    expect(hasher.accepts(phc('m=262144,t=10,p=4'))).toBe(true);
    expect(hasher.accepts(phc('m=8,t=1,p=1', 'd'))).toBe(true); // weak, but upgraded at the next sign-in
    expect(hasher.accepts(phc('m=8,t=1,p=1', 'i', ''))).toBe(true); // Argon2 1.0 strings carry no version
    for (const refused of [
      phc('m=262145,t=1,p=1'),
      phc('m=1048576,t=64,p=1'),
      phc('m=19456,t=0,p=1'),
      phc('m=19456,t=2,p=0'),
      phc('m=7,t=2,p=1'),
      phc('m=19456,t=2,p=1', 'id', 'v=20$'),
    ]) {
      expect(hasher.accepts(refused), refused).toBe(false);
    }
    const larger = createPasswordHasher({ memoryKib: 131072, timeCost: 2 });
    expect(larger.accepts(phc('m=524288,t=2,p=1'))).toBe(true);
    expect(larger.accepts(phc('m=524289,t=2,p=1'))).toBe(false);
  });

  it('needsRehash is true for other costs, other argon2 types and garbage', async () => {
    const stored = await hasher.hash('maple orbit jar');
    expect(hasher.needsRehash(stored)).toBe(false);
    expect(createPasswordHasher({ memoryKib: 47104, timeCost: 2 }).needsRehash(stored)).toBe(true);
    expect(createPasswordHasher({ memoryKib: 19456, timeCost: 3 }).needsRehash(stored)).toBe(true);
    expect(hasher.needsRehash(stored.replace('$argon2id$', '$argon2i$'))).toBe(true);
    expect(hasher.needsRehash('garbage')).toBe(true);
    const weak = await argon2.hash('maple orbit jar', { type: argon2.argon2d, memoryCost: 8, timeCost: 1, parallelism: 1 });
    expect(hasher.needsRehash(weak)).toBe(true);
  });

  it('dummyVerify resolves false after doing a real verification', async () => {
    await expect(hasher.dummyVerify()).resolves.toBe(false);
    const started = performance.now();
    await expect(hasher.dummyVerify()).resolves.toBe(false);
    // Same work as a real verify at the same cost: it cannot be a no-op.
    expect(performance.now() - started).toBeGreaterThan(5);
  });
});
