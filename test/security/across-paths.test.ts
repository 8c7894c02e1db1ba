import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORES } from '../../src/store/testing.ts';
import { managementApi } from '../support/api.ts';
import { browserApi, comparable, totpAt } from '../support/browser-api.ts';
import { createHarness, freshAccounts, type Harness } from '../support/harness.ts';

const REDIS_URL = process.env.REKEY_TEST_REDIS_URL;
/** Where rate limits live in these tests: this process, and Redis when the suite has one. */
const LIMIT_BACKENDS: Array<{ name: string; redisUrl?: string }> = [{ name: 'memory' }, ...(REDIS_URL ? [{ name: 'redis', redisUrl: REDIS_URL }] : [])];

/** SECURITY.md I: what spans paths and time (SEC-45, SEC-46) and the lifecycle items it touches (SEC-12, SEC-13). */
for (const factory of STORES) {
  for (const backend of LIMIT_BACKENDS) {
    describe(`${factory.name}, ${backend.name} limits: across paths and over time`, () => {
      let h: Harness;
      let api: ReturnType<typeof managementApi>;
      let web: ReturnType<typeof browserApi>;
      const { email, password } = freshAccounts();

      beforeAll(async () => {
        h = await createHarness(factory, {
          config: {
            baseUrl: 'https://rekey.example.test',
            rateLimitIpRequests: 10_000,
            rateLimitIpVerifications: 10_000,
            codeFailuresPerDay: 6,
            ...(backend.redisUrl ? { redisUrl: backend.redisUrl } : {}),
          },
        });
        api = managementApi(h);
        web = browserApi(h);
      });
      afterAll(() => h.close());

      /** One address of each kind SEC-46 names: existing, unknown, disabled and password-less. */
      const accountsOfEveryKind = async () => {
        const known = await api.createUser(email('known'), password());
        const disabled = await api.createUser(email('disabled'), password());
        await h.store.db.updateTable('users').set({ disabled_at: h.clock.now() }).where('id', '=', disabled.id).execute();
        const passwordless = await api.createUser(email('social'));
        return [known.email, email('unknown'), disabled.email, passwordless.email];
      };
      const sameForAll = <T>(answers: T[]) => {
        for (const answer of answers) expect(answer).toEqual(answers[0]);
      };
      const flowAnswer = (res: { statusCode: number; headers: Record<string, unknown>; body: string }) => {
        const c = comparable(res);
        return { ...c, body: c.body.replace(/flow_[0-9A-Z]{26}/, 'flow_X').replace(/"expires_at":"[^"]+"/, '"expires_at":"T"') };
      };

      it('SEC-46 a second request does the same to the first flow whether or not the account exists', async () => {
        const addresses = await accountsOfEveryKind();
        const first = await Promise.all(addresses.map(async (address) => (await web.startFlow(address)).json().id as string));
        for (const address of addresses) expect((await web.startFlow(address)).statusCode).toBe(201);
        await h.deliver();
        const status = await Promise.all(first.map((id) => web.getFlow(id)));
        sameForAll(status.map(flowAnswer));
        expect(status[0]!.json().status).toBe('expired');
        sameForAll((await Promise.all(first.map((id) => web.attemptCode(id, '123456')))).map(comparable));

        // The forgot endpoint ends earlier flows the same way.
        const before = await Promise.all(addresses.map(async (address) => (await web.startFlow(address)).json().id as string));
        for (const address of addresses) expect((await web.forgot(address)).statusCode).toBe(204);
        await h.deliver();
        const after = await Promise.all(before.map((id) => web.getFlow(id)));
        sameForAll(after.map(flowAnswer));
        expect(after[0]!.json().status).toBe('expired');
      });

      it('SEC-46 the day budget of wrong codes runs out at the same guess for existing and unknown addresses (SEC-03)', async () => {
        const addresses = [(await api.createUser(email('known'), password())).email, email('unknown')];
        const history = async (address: string) => {
          const answers = [];
          // Two flows of three wrong codes each spend the day's six (codeFailuresPerDay), then a fresh flow.
          for (let flow = 0; flow < 3; flow++) {
            const id = (await web.startFlow(address)).json().id as string;
            await h.deliver();
            for (let guess = 0; guess < 3; guess++) answers.push(comparable(await web.attemptCode(id, '000000')));
          }
          return answers;
        };
        const [known, unknown] = [await history(addresses[0]!), await history(addresses[1]!)];
        expect(unknown).toEqual(known);
        expect(known[6]!.status).toBe(429);
        expect(JSON.parse(known[6]!.body).error.code).toBe('code_attempts_exceeded');
      });

      it('SEC-02 a wrong code costs the same work whether or not the flow has a code', async () => {
        const known = (await api.createUser(email('known'), password())).email;
        const work = { hmacs: 0, limiter: 0 };
        const tokens = h.rekey.deps.tokens;
        const hash = tokens.hash;
        tokens.hash = (value, purpose) => {
          work.hmacs++;
          return hash(value, purpose);
        };
        const budget = h.rekey.rateLimits.limiter('code_failures', { points: 6, durationSeconds: 24 * 3600 });
        const { peek, consume } = budget;
        budget.peek = (key) => (work.limiter++, peek(key));
        budget.consume = (key, points) => (work.limiter++, consume(key, points));
        const measure = async (address: string) => {
          const id = (await web.startFlow(address)).json().id as string;
          await h.deliver();
          Object.assign(work, { hmacs: 0, limiter: 0 });
          const res = await web.attemptCode(id, '000000');
          return { status: res.statusCode, ...work };
        };
        try {
          const [a, b] = [await measure(known), await measure(email('unknown'))];
          expect(a.status).toBe(422);
          expect(b).toEqual(a);
        } finally {
          tokens.hash = hash;
          Object.assign(budget, { peek, consume });
        }
      });
    });
  }

  describe(`${factory.name}: every path that sets a password passes one gate`, () => {
    let h: Harness;
    let api: ReturnType<typeof managementApi>;
    let web: ReturnType<typeof browserApi>;
    const { email, password } = freshAccounts();

    beforeAll(async () => {
      h = await createHarness(factory, { config: { baseUrl: 'https://rekey.example.test', rateLimitIpRequests: 10_000, rateLimitIpVerifications: 10_000 } });
      api = managementApi(h);
      web = browserApi(h);
    });
    afterAll(() => h.close());

    /** An account with a TOTP factor and a live session (signed in with both factors). */
    const mfaAccount = async () => {
      const address = email('mfa');
      const original = password();
      const user = await api.createUser(address, original);
      const secret: string = (await api.call('POST', `/user_management/users/${user.id}/auth_factors`, { type: 'totp' })).json().authentication_factor.totp
        .secret;
      const login = await api.login(address, original);
      h.clock.advance(30_000);
      const signedIn = await api.completeMfa(login.json().pending_authentication_token, await totpAt(secret, h.clock.now()));
      expect(signedIn.statusCode).toBe(200);
      h.clock.advance(30_000);
      return { user, address, original, secret, refreshToken: signedIn.json().refresh_token as string };
    };
    const noticesTo = async (address: string) => (await h.mailbox(address)).filter((m) => /password.*changed/i.test(m.subject)).length;
    /** What every completed change must have done (SEC-34, SEC-39, SEC-13). */
    const expectChangeConsequences = async (account: Awaited<ReturnType<typeof mfaAccount>>, outstanding: string, noticesBefore: number) => {
      expect((await api.refresh(account.refreshToken)).statusCode).toBe(400);
      await h.deliver();
      expect(await noticesTo(account.address)).toBe(noticesBefore + 1);
      expect((await web.attemptLink(outstanding)).json().error.code).toBe('password_reset_token_invalid');
    };

    it('SEC-45 SEC-36 /auth/reset refuses the token alone for an account with a second factor and leaves the token unspent', async () => {
      const account = await mfaAccount();
      const token = (await api.resetToken(account.address)).password_reset_token;
      const res = await web.reset(account.address, token, password());
      expect(res.statusCode).toBe(403);
      expect(res.json().error.code).toBe('mfa_required');
      expect((await api.login(account.address, account.original)).json().code).toBe('mfa_challenge'); // old password still the password
      expect((await api.refresh(account.refreshToken)).statusCode).toBe(200);
      const flow = await web.attemptLink(token); // the token still works, through the flow API
      expect(flow.json().status).toBe('needs_second_factor');
    });

    it('SEC-45 SEC-36 the management confirm answers mfa_challenge with a pending token, completed with the factor', async () => {
      const account = await mfaAccount();
      const other = (await api.resetToken(account.address)).password_reset_token;
      const token = (await api.resetToken(account.address)).password_reset_token;
      await h.deliver();
      const notices = await noticesTo(account.address);
      const chosen = password();
      const challenge = await api.confirm(token, chosen);
      expect(challenge.statusCode).toBe(403);
      expect(challenge.json()).toMatchObject({ code: 'mfa_challenge', user: { id: account.user.id } });
      const pending: string = challenge.json().pending_authentication_token;
      expect(pending.length).toBeGreaterThan(20);
      expect(challenge.body).not.toContain(token);
      expect((await api.confirm(token, chosen)).json().errors[0].code).toBe('password_reset_token_invalid'); // spent into the pending token
      const complete = (code: string) =>
        api.call('POST', '/user_management/password_reset/confirm', { pending_authentication_token: pending, code, new_password: chosen });
      expect((await complete('000000')).json().code).toBe('totp_incorrect');
      const done = await complete(await totpAt(account.secret, h.clock.now()));
      expect(done.statusCode).toBe(200);
      expect(done.json().user.id).toBe(account.user.id);
      expect((await complete(await totpAt(account.secret, h.clock.now()))).statusCode).toBeGreaterThanOrEqual(400);
      expect((await api.login(account.address, chosen)).json().code).toBe('mfa_challenge');
      await expectChangeConsequences(account, other, notices);
    });

    it('SEC-45 the management confirm sets the password on the token alone only when the call opts out explicitly', async () => {
      const account = await mfaAccount();
      const token = (await api.resetToken(account.address)).password_reset_token;
      await h.deliver();
      const notices = await noticesTo(account.address);
      const chosen = password();
      const res = await api.call('POST', '/user_management/password_reset/confirm', { token, new_password: chosen, skip_second_factor: true });
      expect(res.statusCode).toBe(200);
      expect((await api.refresh(account.refreshToken)).statusCode).toBe(400);
      await h.deliver();
      expect(await noticesTo(account.address)).toBe(notices + 1);
    });

    it("SEC-45 SEC-34 SEC-39 an administrator's new password revokes every session, voids outstanding tokens and tells the user", async () => {
      const account = await mfaAccount();
      const outstanding = (await api.resetToken(account.address)).password_reset_token;
      await h.deliver();
      const notices = await noticesTo(account.address);
      const res = await api.call('PUT', `/user_management/users/${account.user.id}`, { password: password() });
      expect(res.statusCode).toBe(200);
      await expectChangeConsequences(account, outstanding, notices);
      // An update without a password changes no session.
      const again = await mfaAccount();
      expect((await api.call('PUT', `/user_management/users/${again.user.id}`, { first_name: 'Ada' })).statusCode).toBe(200);
      expect((await api.refresh(again.refreshToken)).statusCode).toBe(200);
    });

    it('SEC-45 the flow API needs the second factor, then brings the same consequences', async () => {
      const account = await mfaAccount();
      const outstanding = (await api.resetToken(account.address)).password_reset_token;
      const flowToken = (await api.resetToken(account.address)).password_reset_token;
      await h.deliver();
      const notices = await noticesTo(account.address);
      const first = (await web.attemptLink(flowToken)).json();
      expect(first.status).toBe('needs_second_factor');
      expect((await web.setPassword(first.id, first.grant, password())).json().error.code).toBe('mfa_required');
      const second = (await web.secondFactor(first.id, first.grant, await totpAt(account.secret, h.clock.now()))).json();
      expect((await web.setPassword(first.id, second.grant, password())).statusCode).toBe(200);
      await expectChangeConsequences(account, outstanding, notices);
    });

    it('SEC-13 enrolling or removing a second factor voids outstanding tokens and grants', async () => {
      const address = email();
      const user = await api.createUser(address, password());
      const token = (await api.resetToken(address)).password_reset_token;
      const granted = (await web.attemptLink((await api.resetToken(address)).password_reset_token)).json();
      expect(granted.status).toBe('needs_new_password');
      const enrolled = await api.call('POST', `/user_management/users/${user.id}/auth_factors`, { type: 'totp' });
      expect(enrolled.statusCode).toBe(201);
      expect((await web.attemptLink(token)).json().error.code).toBe('password_reset_token_invalid');
      expect((await web.setPassword(granted.id, granted.grant, password())).statusCode).toBeGreaterThanOrEqual(400);

      const later = (await api.resetToken(address)).password_reset_token;
      expect((await api.call('DELETE', `/user_management/auth_factors/${enrolled.json().authentication_factor.id}`)).statusCode).toBe(204);
      expect((await web.attemptLink(later)).json().error.code).toBe('password_reset_token_invalid');
    });

    it('SEC-12 of resets issued at once for one account, one token works', async () => {
      const address = email();
      await api.createUser(address, password());
      const issued = await Promise.all(Array.from({ length: 20 }, () => api.createReset(address)));
      for (const res of issued) expect(res.statusCode).toBe(201);
      const used = await Promise.all(issued.map((res) => web.attemptLink(res.json().password_reset_token)));
      expect(used.filter((res) => res.statusCode === 200)).toHaveLength(1);
    });
  });
}
