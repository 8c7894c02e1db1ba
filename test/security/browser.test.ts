import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORES } from '../../src/store/testing.ts';
import { managementApi } from '../support/api.ts';
import { browserApi, comparable, totpAt } from '../support/browser-api.ts';
import { createHarness, freshAccounts, type Harness } from '../support/harness.ts';

const ALLOWED = 'https://app.example.com/after-reset';

/** SECURITY.md items of the browser-facing reset, on every store. */
for (const factory of STORES) {
  describe(`${factory.name}: browser recovery security`, () => {
    let h: Harness;
    let api: ReturnType<typeof managementApi>;
    let web: ReturnType<typeof browserApi>;
    const { email, password } = freshAccounts();

    beforeAll(async () => {
      // Generous IP limits here; the limit tests below use their own addresses.
      h = await createHarness(factory, {
        config: { baseUrl: 'https://rekey.example.test', rateLimitIpRequests: 10_000, rateLimitIpVerifications: 10_000 },
      });
      api = managementApi(h);
      web = browserApi(h);
      const application = await h.rekey.apps.getDefault();
      await h.rekey.apps.configure(application.id, { allowedRedirects: [ALLOWED] });
    });
    afterAll(() => h.close());

    /** Runs a code flow to the grant. */
    const verifiedFlow = async (address: string, redirect?: string) => {
      const flow = (await web.startFlow(address, 'email_code', redirect ? { redirect_url: redirect } : {})).json();
      const code = await web.codeFor(address);
      const attempt = await web.attemptCode(flow.id, code);
      expect(attempt.statusCode).toBe(200);
      return attempt.json() as { id: string; status: string; grant: string };
    };

    it('SEC-01 forgot and flow creation answer the same bytes for existing, unknown, disabled, unverified and password-less accounts', async () => {
      const known = await api.createUser(email('known'), password(), { email_verified: true });
      const disabled = await api.createUser(email('disabled'), password());
      await h.store.db.updateTable('users').set({ disabled_at: h.clock.now() }).where('id', '=', disabled.id).execute();
      const unverified = await api.createUser(email('unverified'), password());
      const social = await api.createUser(email('social'));
      const identifiers = [known.email, email('unknown'), disabled.email, unverified.email, social.email];

      const forgot = await Promise.all(identifiers.map((id) => web.forgot(id)));
      expect(forgot[0]!.statusCode).toBe(204);
      for (const res of forgot) expect(comparable(res)).toEqual(comparable(forgot[0]!));

      const flows = await Promise.all(identifiers.map((id) => web.startFlow(id)));
      const normalise = (res: (typeof flows)[number]) => {
        const c = comparable(res);
        return { ...c, body: c.body.replace(/flow_[0-9A-Z]{26}/, 'flow_X').replace(/"expires_at":"[^"]+"/, '"expires_at":"T"') };
      };
      expect(flows[0]!.statusCode).toBe(201);
      for (const res of flows) expect(normalise(res)).toEqual(normalise(flows[0]!));
      expect(flows[0]!.headers['set-cookie']).toBeUndefined();

      await h.deliver();
      expect(await h.mailbox(identifiers[1]!)).toHaveLength(0); // unknown addresses get no mail by default
      expect(await h.mailbox(disabled.email)).toHaveLength(0);
      expect((await h.mailbox(known.email)).length).toBeGreaterThan(0);
    });

    it('SEC-04 invalid, expired and used link tokens get one generic error without account data', async () => {
      const address = email();
      await api.createUser(address, password());
      const expired = (await api.resetToken(address)).password_reset_token;
      h.clock.advance(31 * 60_000);
      const used = (await api.resetToken(address)).password_reset_token;
      expect((await web.attemptLink(used)).statusCode).toBe(200);
      const answers = await Promise.all([web.attemptLink('x'.repeat(43)), web.attemptLink(expired), web.attemptLink(used)]);
      for (const res of answers) {
        expect(res.statusCode).toBe(400);
        expect(res.json().error.code).toBe('password_reset_token_invalid');
        expect(res.body).not.toContain(address);
      }
    });

    it('SEC-05 the flow an anonymous caller sees lists no addresses or channels', async () => {
      const address = email();
      await api.createUser(address, password());
      const flow = (await web.startFlow(address)).json();
      expect(Object.keys(flow).sort()).toEqual(['expires_at', 'id', 'object', 'status', 'strategy', 'supported_second_factors']);
      expect(JSON.stringify(flow)).not.toMatch(/@|\*\*\*/);
      await h.deliver();
      expect(JSON.stringify((await web.getFlow(flow.id)).json())).not.toContain(address.split('@')[0]!);
    });

    it('SEC-09 a token works only for its own account, purpose and flow', async () => {
      const a = email('alice');
      const b = email('bob');
      await api.createUser(a, password());
      await api.createUser(b, password());
      const tokenOfA = (await api.resetToken(a)).password_reset_token;
      const wrongAccount = await web.reset(b, tokenOfA, password());
      expect(wrongAccount.statusCode).toBe(400);
      expect(wrongAccount.json().error.code).toBe('password_reset_token_invalid');
      expect((await web.reset(a, tokenOfA, password())).statusCode).toBe(201);

      // A token minted for another purpose (email verification) never matches a reset row.
      const stray = h.rekey.deps.tokens.newLinkToken();
      const user = (await h.rekey.users.findByEmail(a))!;
      await h.store.db
        .insertInto('password_resets')
        .values({
          id: h.rekey.deps.ids.next('password_reset'),
          user_id: user.id,
          email: a,
          application_id: null,
          flow_id: null,
          token_hash: h.rekey.deps.tokens.hash(stray, 'email_verification'),
          token_sealed: null,
          created_at: h.clock.now(),
          expires_at: h.clock.now() + 60_000,
          consumed_at: null,
          invalidated_at: null,
        })
        .execute();
      expect((await web.reset(a, stray, password())).statusCode).toBe(400);

      // A code is bound to its flow.
      const flowA = (await web.startFlow(a)).json();
      const flowB = (await web.startFlow(b)).json();
      const codeOfA = await web.codeFor(a);
      expect((await web.attemptCode(flowB.id, codeOfA)).json().error.code).toBe('code_incorrect');
      expect((await web.attemptCode(flowA.id, codeOfA)).statusCode).toBe(200);
    });

    it('SEC-17 five wrong codes kill the code; fifty concurrent guesses evaluate at most five', async () => {
      const address = email();
      await api.createUser(address, password());
      const flow = (await web.startFlow(address)).json();
      const code = await web.codeFor(address);
      const wrong = code === '000000' ? '111111' : '000000';
      for (let i = 0; i < 5; i++) expect((await web.attemptCode(flow.id, wrong)).json().error.code).toBe('code_incorrect');
      const late = await web.attemptCode(flow.id, code);
      expect(late.statusCode).toBe(429);
      expect(late.json().error.code).toBe('code_attempts_exceeded');

      const other = email();
      await api.createUser(other, password());
      const racing = (await web.startFlow(other)).json();
      const right = await web.codeFor(other);
      const guesses = await Promise.all(
        Array.from({ length: 50 }, (_, i) => web.attemptCode(racing.id, String(i).padStart(6, '9') === right ? '123457' : String(i).padStart(6, '9'))),
      );
      const evaluated = guesses.filter((g) => g.json().error?.code === 'code_incorrect').length;
      expect(evaluated).toBeLessThanOrEqual(5);
      expect(guesses.filter((g) => g.json().error?.code === 'code_attempts_exceeded').length).toBeGreaterThanOrEqual(45);
      const row = await h.store.db.selectFrom('reset_flows').select('code_attempts').where('id', '=', racing.id).executeTakeFirstOrThrow();
      expect(row.code_attempts).toBe(5);
    });

    it('SEC-18 ten requests in a minute deliver at most three mails, and every answer is the same', async () => {
      const address = email();
      await api.createUser(address, password());
      const answers = [];
      for (let i = 0; i < 10; i++) answers.push(await web.forgot(address));
      for (const res of answers) expect(comparable(res)).toEqual(comparable(answers[0]!));
      await h.deliver();
      await h.deliver();
      expect((await h.mailbox(address)).length).toBeLessThanOrEqual(3);
      expect((await h.mailbox(address)).length).toBeGreaterThan(0);
    });

    it('SEC-23 redirect targets off the allow-list are never stored nor followed', async () => {
      const payloads = [
        '//evil.test',
        'https://app.example.com@evil.test',
        'https://app.example.com.evil.test',
        '/\\evil.test',
        'javascript:alert(1)',
        '%2F%2Fevil.test',
        'https://evil.test#@app.example.com',
      ];
      for (const payload of payloads) {
        const address = email();
        await api.createUser(address, password());
        const flow = await verifiedFlow(address, payload);
        const stored = await h.store.db.selectFrom('reset_flows').select('redirect_url').where('id', '=', flow.id).executeTakeFirstOrThrow();
        expect(stored.redirect_url, payload).toBeNull();
        const done = await web.setPassword(flow.id, flow.grant, password());
        expect(done.json().redirect_to, payload).toBeNull();
      }
      const address = email();
      await api.createUser(address, password());
      const flow = await verifiedFlow(address, `${ALLOWED}?from=reset`);
      expect((await web.setPassword(flow.id, flow.grant, password())).json().redirect_to).toBe(`${ALLOWED}?from=reset`);
    });

    it('SEC-25 the API takes tokens only in POST bodies', async () => {
      const address = email();
      await api.createUser(address, password());
      const token = (await api.resetToken(address)).password_reset_token;
      const inQuery = await web.post(`/auth/reset?token=${token}`, { email: address, password: password() });
      expect(inQuery.statusCode).toBeGreaterThanOrEqual(400);
      expect(inQuery.statusCode).toBeLessThan(500);
      expect((await web.post(`/v1/reset_flows/attempt_link?token=${token}`, {})).statusCode).toBe(422);
      expect((await web.attemptLink(token)).statusCode).toBe(200); // still unspent
    });

    it('SEC-26 every browser API answer is no-store', async () => {
      const address = email();
      const responses = [
        await web.forgot(address),
        await web.startFlow(address),
        await web.attemptLink('nope'),
        await web.getFlow('flow_01ARZ3NDEKTSV4RRFFQ69G5FAV'),
      ];
      for (const res of responses) expect(res.headers['cache-control']).toBe('no-store');
    });

    it('SEC-27 cross-origin and form-encoded requests are refused and change nothing', async () => {
      const address = email();
      const original = password();
      await api.createUser(address, original);
      const token2 = (await api.resetToken(address)).password_reset_token;
      const evil = await web.post('/auth/reset', { email: address, token: token2, password: password() }, { origin: 'https://evil.test' });
      expect(evil.statusCode).toBe(403);
      expect(evil.json().error.code).toBe('cross_origin_forbidden');
      const site = await web.post('/auth/reset', { email: address, token: token2, password: password() }, { 'sec-fetch-site': 'cross-site' });
      expect(site.statusCode).toBe(403);
      const form = await h.app.inject({
        method: 'POST',
        url: '/auth/reset',
        payload: `email=${encodeURIComponent(address)}&token=${token2}&password=x`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(form.statusCode).toBe(415);
      const plain = await h.app.inject({
        method: 'POST',
        url: '/auth/forgot',
        payload: JSON.stringify({ email: address }),
        headers: { 'content-type': 'text/plain' },
      });
      expect(plain.statusCode).toBe(415);
      expect((await web.attemptLink(token2)).statusCode).toBe(200); // the refused requests did not spend it
      const allowed = await web.post('/auth/forgot', { email: address }, { origin: 'https://app.example.com' });
      expect(allowed.statusCode).toBe(204);
      expect(allowed.headers['access-control-allow-origin']).toBe('https://app.example.com');
    });

    it('SEC-35/36 recovery does not bypass MFA and does not sign in', async () => {
      const address = email('mfa');
      const original = password();
      const user = await api.createUser(address, original);
      const enrolled = await api.call('POST', `/user_management/users/${user.id}/auth_factors`, { type: 'totp' });
      expect(enrolled.statusCode).toBe(201);
      const secret: string = enrolled.json().authentication_factor.totp.secret;

      const flow = await verifiedFlow(address);
      expect(flow.status).toBe('needs_second_factor');
      const chosen = password();
      const early = await web.setPassword(flow.id, flow.grant, chosen);
      expect(early.statusCode).toBe(403);
      expect(early.json().error.code).toBe('mfa_required');
      const second = await web.secondFactor(flow.id, flow.grant, await totpAt(secret, h.clock.now()));
      expect(second.statusCode).toBe(200);
      expect(second.json().status).toBe('needs_new_password');
      const done = await web.setPassword(flow.id, second.json().grant, chosen);
      expect(done.statusCode).toBe(200);
      expect(done.headers['set-cookie']).toBeUndefined();
      expect(done.body).not.toMatch(/access_token|refresh_token/);

      const factors = await api.call('GET', `/user_management/users/${user.id}/auth_factors`);
      expect(factors.json().data).toHaveLength(1); // still enrolled
      const login = await api.login(address, chosen);
      expect(login.statusCode).toBe(403);
      expect(login.json().code).toBe('mfa_challenge');
      h.clock.advance(30_000);
      const finish = await api.completeMfa(login.json().pending_authentication_token, await totpAt(secret, h.clock.now()));
      expect(finish.statusCode).toBe(200);
    });

    it('SEC-38 wrong authenticator codes at sign-in and in recovery share one limit per account', async () => {
      const address = email('mfa');
      const original = password();
      const user = await api.createUser(address, original);
      const enrolled = await api.call('POST', `/user_management/users/${user.id}/auth_factors`, { type: 'totp' });
      const secret: string = enrolled.json().authentication_factor.totp.secret;
      const right = () => totpAt(secret, h.clock.now());
      const valid = new Set([await totpAt(secret, h.clock.now() - 30_000), await right(), await totpAt(secret, h.clock.now() + 30_000)]);
      const wrong = ['000000', '111111', '222222', '333333'].find((code) => !valid.has(code))!;
      const mfaLogin = async (code: string) => {
        const login = await api.login(address, original);
        expect(login.json().code).toBe('mfa_challenge');
        return api.completeMfa(login.json().pending_authentication_token, code);
      };

      // Three wrong codes at sign-in, each with a fresh login, then two in a recovery flow…
      for (let i = 0; i < 3; i++) expect((await mfaLogin(wrong)).statusCode).toBe(422);
      const flow = await verifiedFlow(address);
      for (let i = 0; i < 2; i++) expect((await web.secondFactor(flow.id, flow.grant, wrong)).json().error.code).toBe('totp_incorrect');
      // …spend the account's five: the right code is refused on both paths, with a Retry-After.
      const recovery = await web.secondFactor(flow.id, flow.grant, await right());
      expect(recovery.statusCode).toBe(429);
      expect(recovery.json().error.code).toBe('totp_attempts_exceeded');
      expect(Number(recovery.headers['retry-after'])).toBeGreaterThan(0);
      const signIn = await mfaLogin(await right());
      expect(signIn.statusCode).toBe(429);
      expect(signIn.body).not.toMatch(/access_token/);
    });

    it('SEC-37 the grant sets this password and nothing else, once, for at most ten minutes', async () => {
      const address = email();
      await api.createUser(address, password());
      const flow = await verifiedFlow(address);
      expect((await api.whoami(flow.grant)).statusCode).toBe(401);
      expect((await h.app.inject({ method: 'GET', url: '/user_management/users', headers: { authorization: `Bearer ${flow.grant}` } })).statusCode).toBe(401);
      h.clock.advance(10 * 60_000 + 1000);
      expect((await web.setPassword(flow.id, flow.grant, password())).statusCode).toBeGreaterThanOrEqual(400);

      const fresh = email();
      await api.createUser(fresh, password());
      const again = await verifiedFlow(fresh);
      expect((await web.setPassword(again.id, again.grant, password())).statusCode).toBe(200);
      const twice = await web.setPassword(again.id, again.grant, password());
      expect(twice.statusCode).toBeGreaterThanOrEqual(400);
    });
  });
}
