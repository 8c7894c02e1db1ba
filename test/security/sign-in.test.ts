import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORES } from '../../src/store/testing.ts';
import { managementApi } from '../support/api.ts';
import { comparable, totpAt } from '../support/browser-api.ts';
import { createHarness, GOOD_PASSWORD, type Harness } from '../support/harness.ts';

const redisUrl = process.env.REKEY_TEST_REDIS_URL;
const BACKENDS = [{ name: 'memory', redisUrl: undefined }, ...(redisUrl ? [{ name: 'redis', redisUrl }] : [])];

/** The password grant from a given end-user address (the `ip_address` an application reports). */
const signInFrom = (h: Harness, ip: string, email: string, password: string) =>
  h.app.inject({
    method: 'POST',
    url: '/user_management/authenticate',
    payload: { grant_type: 'password', client_id: h.clientId, client_secret: h.secretKey, email, password, ip_address: ip },
  });

const liveSessions = async (h: Harness, userId: string) => {
  const listed = await managementApi(h).call('GET', `/user_management/users/${userId}/sessions?limit=100`);
  expect(listed.statusCode).toBe(200);
  return (listed.json().data as Array<{ status: string }>).filter((s) => s.status === 'active').length;
};

/** A promise and the function that settles it. */
const gate = () => {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
};

for (const factory of STORES) {
  describe(`${factory.name}: a session exists only for the password it was checked against`, () => {
    let h: Harness;
    let api: ReturnType<typeof managementApi>;
    let n = 0;
    const email = () => `race${++n}@example.com`;
    const password = () => `${GOOD_PASSWORD} ${++n}`;

    beforeAll(async () => {
      // Twenty sign-ins of one account at once would otherwise meet the per-account limit (SEC-44).
      h = await createHarness(factory, { config: { signInFailuresPerAccount: 1_000 } });
      api = managementApi(h);
    });
    afterAll(() => h.close());

    /**
     * An administrator's password change: it revokes and voids as a reset does (SEC-45), without the reset's
     * own second-factor step, which would spend this test's authenticator code.
     */
    const changePassword = async (userId: string, newPassword: string) => {
      const res = await api.call('PUT', `/user_management/users/${userId}`, { password: newPassword });
      expect(res.statusCode).toBe(200);
    };

    const enrollTotp = async (userId: string): Promise<string> => {
      const enrolled = await api.call('POST', `/user_management/users/${userId}/auth_factors`, { type: 'totp' });
      expect(enrolled.statusCode).toBe(201);
      return enrolled.json().authentication_factor.totp.secret;
    };

    it('SEC-47 20 old-password sign-ins racing a reset confirm leave 0 live sessions (five rounds)', async () => {
      for (let round = 0; round < 5; round++) {
        const address = email();
        const old = password();
        const user = await api.createUser(address, old);
        const { password_reset_token: token } = await api.resetToken(address);
        const [confirm, ...logins] = await Promise.all([api.confirm(token, password()), ...Array.from({ length: 20 }, () => api.login(address, old))]);
        expect(confirm.statusCode).toBe(200);
        // Each sign-in either came first (and the reset revoked it) or lost: never a session of its own.
        for (const res of logins) {
          if (res.statusCode !== 200) expect(res.json().code).toBe('invalid_credentials');
        }
        expect(await liveSessions(h, user.id)).toBe(0);
      }
    });

    it('SEC-47 sign-ins that checked the old password just before a reset commits get no session', async () => {
      const address = email();
      const old = password();
      const user = await api.createUser(address, old);
      const { password_reset_token: token } = await api.resetToken(address);
      // Hold each sign-in between its password check and what follows until the reset has committed: the
      // interleaving the race above hits only sometimes, every time.
      const users = h.rekey.users;
      const verify = users.verifyCredentials;
      const resetCommitted = gate();
      const allChecked = gate();
      let checked = 0;
      users.verifyCredentials = async (e, p) => {
        const result = await verify.call(users, e, p);
        if (++checked === 20) allChecked.open();
        await resetCommitted.opened;
        return result;
      };
      try {
        const logins = Promise.all(Array.from({ length: 20 }, () => api.login(address, old)));
        await allChecked.opened;
        expect((await api.confirm(token, password())).statusCode).toBe(200);
        resetCommitted.open();
        const answers = await logins;
        expect(answers.map((res) => [res.statusCode, res.json().code])).toEqual(Array.from({ length: 20 }, () => [400, 'invalid_credentials']));
      } finally {
        users.verifyCredentials = verify;
      }
      expect(await liveSessions(h, user.id)).toBe(0);
      expect(await h.store.db.selectFrom('sessions').select('id').where('user_id', '=', user.id).execute()).toEqual([]);
    });

    it('SEC-47 a second-factor sign-in started with the old password cannot complete after a password change', async () => {
      const address = email();
      const old = password();
      const user = await api.createUser(address, old);
      const secret = await enrollTotp(user.id);
      const started = await api.login(address, old);
      expect(started.json().code).toBe('mfa_challenge');
      const pending: string = started.json().pending_authentication_token;

      const fresh = password();
      await changePassword(user.id, fresh);

      const late = await api.completeMfa(pending, await totpAt(secret, h.clock.now()));
      expect(late.statusCode).toBe(400);
      expect(late.json().code).toBe('invalid_credentials');
      expect(await liveSessions(h, user.id)).toBe(0);
      // Refused for good, and without spending the code: the new password's sign-in uses it.
      expect((await api.completeMfa(pending, await totpAt(secret, h.clock.now()))).statusCode).toBe(422);
      const again = await api.login(address, fresh);
      expect(again.json().code).toBe('mfa_challenge');
      expect((await api.completeMfa(again.json().pending_authentication_token, await totpAt(secret, h.clock.now()))).statusCode).toBe(200);
      expect(await liveSessions(h, user.id)).toBe(1);
    });

    it('SEC-47 a second-factor sign-in whose password changes while it completes gets no session', async () => {
      const address = email();
      const old = password();
      const user = await api.createUser(address, old);
      const secret = await enrollTotp(user.id);
      const started = await api.login(address, old);
      // The code is accepted, then the change commits before the session is written.
      const sessions = h.rekey.sessions;
      const issue = sessions.issue;
      sessions.issue = async (input) => {
        await changePassword(user.id, password());
        return issue.call(sessions, input);
      };
      try {
        const done = await api.completeMfa(started.json().pending_authentication_token, await totpAt(secret, h.clock.now()));
        expect([done.statusCode, done.json().code]).toEqual([400, 'invalid_credentials']);
      } finally {
        sessions.issue = issue;
      }
      expect(await liveSessions(h, user.id)).toBe(0);
    });
  });

  for (const backend of BACKENDS) {
    describe(`${factory.name}, ${backend.name} limits: sign-in throttle`, () => {
      let h: Harness;
      let api: ReturnType<typeof managementApi>;
      let n = 0;
      const email = () => `throttle${++n}@example.com`;
      const password = () => `${GOOD_PASSWORD} ${++n}`;

      beforeAll(async () => {
        h = await createHarness(factory, { config: { redisUrl: backend.redisUrl, signInFailuresPerIp: 25 } });
        api = managementApi(h);
      });
      afterAll(() => h.close());

      /** Status, headers and body, with the wait (which counts from each key's first failure) set apart. */
      const shape = (res: Awaited<ReturnType<typeof signInFrom>>) => {
        const { status, headers, body } = comparable(res);
        const { 'retry-after': retryAfter, ...rest } = headers;
        const wait = (JSON.parse(body) as { retryAfterSeconds?: number }).retryAfterSeconds;
        return { status, headers: rest, body: body.replace(/"retryAfterSeconds":\d+/, '"retryAfterSeconds":"…"'), retryAfter, wait };
      };

      it('SEC-44 40 wrong passwords, then the right one: 429 with Retry-After, at the same request for an unknown email', async () => {
        const known = email();
        const right = password();
        await api.createUser(known, right);
        const run = async (address: string) => {
          const answers = [];
          for (let i = 0; i < 40; i++) answers.push(shape(await signInFrom(h, '198.51.100.1', address, `${GOOD_PASSWORD} wrong ${i}`)));
          answers.push(shape(await signInFrom(h, '198.51.100.1', address, right)));
          return answers;
        };
        const forKnown = await run(known);
        const forUnknown = await run('nobody@example.com');

        const limit = h.config.signInFailuresPerAccount;
        expect(forKnown.findIndex((a) => a.status === 429)).toBe(limit);
        expect(forKnown.slice(0, limit).every((a) => a.status === 400 && a.body.includes('"invalid_credentials"'))).toBe(true);
        const last = forKnown.at(-1)!;
        expect(last.status).toBe(429);
        expect(JSON.parse(last.body).code).toBe('rate_limited');
        const wait = Number(last.retryAfter);
        expect(wait).toBeGreaterThan(0);
        expect(wait).toBeLessThanOrEqual(h.config.signInAccountWindowSeconds);
        expect(last.wait).toBe(wait);

        // The same answers at the same requests; only the wait may differ, as each key's window began at its own first failure.
        const apart = (answers: typeof forKnown) => answers.map(({ retryAfter, wait: _wait, ...rest }) => ({ ...rest, waits: retryAfter !== undefined }));
        expect(apart(forUnknown)).toEqual(apart(forKnown));
      });

      it('SEC-44 a right password costs nothing: only failures use up the budget', async () => {
        const address = email();
        const right = password();
        await api.createUser(address, right);
        const attempt = (guess: string) => signInFrom(h, '198.51.100.2', address, guess);
        const limit = h.config.signInFailuresPerAccount;
        for (let i = 0; i < limit - 1; i++) expect((await attempt(`${GOOD_PASSWORD} wrong ${i}`)).statusCode).toBe(400);
        for (let i = 0; i < 3; i++) expect((await attempt(right)).statusCode).toBe(200);
        expect((await attempt(`${GOOD_PASSWORD} wrong last`)).statusCode).toBe(400);
        expect((await attempt(right)).statusCode).toBe(429);
      });

      it('SEC-44 wrong passwords from one address, across accounts, stop every sign-in from it', async () => {
        const accounts = await Promise.all(Array.from({ length: 6 }, async () => ({ address: email(), right: password() })));
        for (const account of accounts) await api.createUser(account.address, account.right);
        const ip = '198.51.100.3';
        // Fewer wrong passwords per account than its own limit, more in all than the address's.
        for (let i = 0; i < h.config.signInFailuresPerIp; i++) {
          const { address } = accounts[i % 5]!;
          expect((await signInFrom(h, ip, address, `${GOOD_PASSWORD} wrong ${i}`)).statusCode).toBe(400);
        }
        const fresh = accounts[5]!;
        const refused = await signInFrom(h, ip, fresh.address, fresh.right);
        expect(refused.statusCode).toBe(429);
        expect(refused.json().code).toBe('rate_limited');
        expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
        expect((await signInFrom(h, '198.51.100.4', fresh.address, fresh.right)).statusCode).toBe(200);
      });
    });
  }

  describe(`${factory.name}: refresh tokens and applications`, () => {
    let h: Harness;
    let api: ReturnType<typeof managementApi>;
    beforeAll(async () => {
      h = await createHarness(factory);
      api = managementApi(h);
    });
    afterAll(() => h.close());

    it("a refresh token works only for the application that was issued it: another application's refresh gets invalid_grant", async () => {
      const address = 'two-apps@example.com';
      const right = `${GOOD_PASSWORD} two apps`;
      await api.createUser(address, right);
      const issued = (await api.login(address, right)).json();

      const other = await h.rekey.apps.create({ name: 'Other application' });
      const { key: otherKey } = await h.rekey.apps.createKey(other.id, 'other');
      const refreshAs = (clientId: string, clientSecret: string, refreshToken: string) =>
        h.app.inject({
          method: 'POST',
          url: '/user_management/authenticate',
          payload: { grant_type: 'refresh_token', client_id: clientId, client_secret: clientSecret, refresh_token: refreshToken },
        });
      const stolen = await refreshAs(other.client_id, otherKey, issued.refresh_token);
      expect(stolen.statusCode).toBe(400);
      expect(stolen.json().code).toBe('invalid_grant');
      // The refusal left the session alone: its own application still refreshes it.
      const own = await refreshAs(h.clientId, h.secretKey, issued.refresh_token);
      expect(own.statusCode).toBe(200);
      expect((await refreshAs(other.client_id, otherKey, own.json().refresh_token)).json().code).toBe('invalid_grant');
    });
  });
}
