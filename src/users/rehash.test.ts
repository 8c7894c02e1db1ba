import argon2 from 'argon2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { managementApi } from '../../test/support/api.ts';
import { createHarness, GOOD_PASSWORD, type Harness } from '../../test/support/harness.ts';
import { STORES } from '../store/testing.ts';
import { hashPoolFor } from './hash-pool.ts';
import { createPasswordHasher } from './passwords.ts';

const CONFIGURED = /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/;

/** What a weaker system exported: Argon2d with the least memory and one pass. */
const weakHash = (password: string) => argon2.hash(password, { type: argon2.argon2d, memoryCost: 8, timeCost: 1, parallelism: 1 });

/** A task that holds a hashing slot until `release()`. */
function held() {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  return { release, task: () => gate };
}

for (const factory of STORES) {
  describe(`${factory.name}: imported password hashes`, () => {
    let h: Harness;
    let api: ReturnType<typeof managementApi>;
    let n = 0;
    const email = () => `imported${++n}@example.com`;
    const storedUser = (id: string) => h.store.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    const importUser = (address: string, passwordHash: string) =>
      api.call('POST', '/user_management/users', { email: address, password_hash: passwordHash, password_hash_type: 'argon2' });

    beforeAll(async () => {
      // One hash at a time, so a test can hold the gate and order a sign-in's upgrade behind a reset.
      h = await createHarness(factory, { config: { threadPoolSize: 2, hashConcurrency: 1, hashQueue: 10 } });
      api = managementApi(h);
    });
    afterAll(() => h.close());

    it('SEC-33 a weak imported hash (argon2d, m=8, t=1) is upgraded to the configured Argon2id at the next sign-in, without counting as a password change', async () => {
      const address = email();
      const created = await importUser(address, await weakHash(GOOD_PASSWORD));
      expect(created.statusCode).toBe(201);
      const { id } = created.json() as { id: string };
      const before = await storedUser(id);
      expect(before.password_hash).toMatch(/^\$argon2d\$/);

      h.clock.advance(60_000);
      const first = await api.login(address, GOOD_PASSWORD);
      expect(first.statusCode).toBe(200);
      const after = await storedUser(id);
      expect(after.password_hash).toMatch(CONFIGURED);
      expect(after.password_changed_at).toBe(before.password_changed_at);
      expect(after.updated_at).toBe(before.updated_at);

      // The same password still works, and the session of the upgrading sign-in is untouched.
      const second = await api.login(address, GOOD_PASSWORD);
      expect(second.statusCode).toBe(200);
      expect((await storedUser(id)).password_hash).toBe(after.password_hash);
      const { access_token, refresh_token } = first.json() as { access_token: string; refresh_token: string };
      expect((await api.whoami(access_token)).statusCode).toBe(200);
      expect((await api.refresh(refresh_token)).statusCode).toBe(200);
      await h.deliver();
      expect(await h.mailbox(address)).toEqual([]); // no "password changed" notice
      expect((await api.login(address, `${GOOD_PASSWORD}!`)).statusCode).toBe(400);
    });

    it('SEC-33 a hash at the configured cost is left as it is', async () => {
      const address = email();
      const { id } = await api.createUser(address, GOOD_PASSWORD);
      const before = (await storedUser(id)).password_hash;
      expect(before).toMatch(CONFIGURED);
      expect((await api.login(address, GOOD_PASSWORD)).statusCode).toBe(200);
      expect((await storedUser(id)).password_hash).toBe(before);
    });

    it('SEC-33 a reset committed while a sign-in upgrades the old hash wins: the upgrade only replaces the hash it verified', async () => {
      const address = email();
      const { id } = (await importUser(address, await weakHash(GOOD_PASSWORD))).json() as { id: string };
      const pool = hashPoolFor(h.config);
      const ahead = held();
      const between = held();
      const holdingAhead = pool.run(ahead.task);
      const signIn = api.login(address, GOOD_PASSWORD);
      await settledQueue(() => pool.queued === 1); // the sign-in's verification waits behind `ahead`
      // Next in line after the verification: the sign-in's upgrade can only queue behind this.
      const holdingBetween = pool.run(between.task);
      ahead.release();
      await holdingAhead;

      // Meanwhile a reset sets another password (hashed outside the held gate, written as a reset writes it).
      const resetHash = await createPasswordHasher({ memoryKib: 19456, timeCost: 2 }).hash(`${GOOD_PASSWORD} after reset`);
      await h.store.db.updateTable('users').set({ password_hash: resetHash, password_changed_at: h.clock.now() }).where('id', '=', id).execute();
      between.release();
      await holdingBetween;

      // Whether the racing sign-in still gets a session is for the session rules to say; the hash is this test's concern.
      expect([200, 400]).toContain((await signIn).statusCode);
      expect((await storedUser(id)).password_hash).toBe(resetHash);
      expect((await api.login(address, `${GOOD_PASSWORD} after reset`)).statusCode).toBe(200);
      expect((await api.login(address, GOOD_PASSWORD)).statusCode).toBe(400);
    });

    it('SEC-33 an import whose cost is beyond the ceiling (m=1048576, t=64) is refused with 400 invalid_password_hash', async () => {
      const salt = Buffer.alloc(16, 7).toString('base64').replace(/=+$/, '');
      const digest = Buffer.alloc(32, 9).toString('base64').replace(/=+$/, '');
      for (const params of ['m=1048576,t=64,p=1', 'm=19456,t=11,p=1', 'm=19456,t=2,p=5', 'm=262145,t=1,p=1']) {
        const res = await importUser(email(), `$argon2id$v=19$${params}$${salt}$${digest}`);
        expect(res.statusCode, params).toBe(400);
        expect(JSON.stringify(res.json()), params).toContain('invalid_password_hash');
      }
      // At the ceiling it is still accepted (another system's stronger hash).
      expect((await importUser(email(), `$argon2id$v=19$m=262144,t=10,p=4$${salt}$${digest}`)).statusCode).toBe(201);
    });
  });
}

/** Lets pending I/O and promise callbacks run until `ready()` holds (no timer, no sleep). */
async function settledQueue(ready: () => boolean): Promise<void> {
  for (let turn = 0; !ready(); turn++) {
    if (turn > 100_000) throw new Error('the sign-in never reached the hashing gate');
    await new Promise((resolve) => setImmediate(resolve));
  }
}
