import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORES } from '../../src/store/testing.ts';
import { managementApi } from '../support/api.ts';
import { createHarness, GOOD_PASSWORD, type Harness } from '../support/harness.ts';

/**
 * The SECURITY.md items the core (users, sessions, reset tokens, outbox) must prove, on every store.
 * Every secret a test handles is recorded and, last, searched for in the captured logs (SEC-41).
 */
for (const factory of STORES) {
  describe(`${factory.name}: core recovery security`, () => {
    let h: Harness;
    let api: ReturnType<typeof managementApi>;
    const secrets: string[] = [];
    let n = 0;
    const email = () => `user${++n}@example.com`;
    const remember = <T extends string>(value: T): T => (secrets.push(value), value);
    const password = (suffix = '') => remember(`${GOOD_PASSWORD} ${++n}${suffix}`);

    beforeAll(async () => {
      h = await createHarness(factory, { config: { baseUrl: 'https://rekey.example.test' } });
      api = managementApi(h);
      const issue = api.resetToken;
      api.resetToken = async (address) => {
        const reset = await issue(address);
        remember(reset.password_reset_token);
        return reset;
      };
    });
    afterAll(() => h.close());

    it('SEC-08 only a keyed hash of a reset token rests in the store', async () => {
      const address = email();
      await api.createUser(address, password());
      const { password_reset_token: token } = await api.resetToken(address);
      remember(token);
      const tables = ['password_resets', 'outbox', 'users', 'sessions'] as const;
      const dump = JSON.stringify(await Promise.all(tables.map((t) => h.store.db.selectFrom(t).selectAll().execute())));
      const raw = Buffer.from(token, 'base64url');
      for (const form of [token, raw.toString('hex'), raw.toString('base64'), raw.toString('base64url')]) expect(dump).not.toContain(form);
    });

    it('SEC-10 twenty concurrent confirms of one token: exactly one succeeds and one notice is sent', async () => {
      const address = email();
      await api.createUser(address, password());
      const { password_reset_token: token } = await api.resetToken(address);
      const candidates = Array.from({ length: 20 }, (_, i) => password(`-${i}`));
      const responses = await Promise.all(candidates.map((candidate) => api.confirm(token, candidate)));
      const winners = responses.flatMap((res, i) => (res.statusCode === 200 ? [candidates[i]!] : []));
      expect(winners).toHaveLength(1);
      for (const res of responses.filter((r) => r.statusCode !== 200)) {
        expect(res.statusCode).toBe(400);
        expect(res.json()).toMatchObject({ code: 'password_reset_error', errors: [{ code: 'password_reset_token_invalid' }] });
      }
      expect((await api.login(address, winners[0]!)).statusCode).toBe(200);
      expect(
        (
          await api.login(
            address,
            candidates.find((c) => c !== winners[0])!,
          )
        ).statusCode,
      ).toBe(400);
      await h.deliver();
      const notices = (await h.mailbox(address)).filter((m) => /password (was )?changed/i.test(m.subject));
      expect(notices).toHaveLength(1);
    });

    it('SEC-11 a link works at TTL − 1 s and not at TTL + 1 s', async () => {
      const ttl = h.config.resetTokenTtlMinutes * 60_000;
      const early = email();
      const late = email();
      await api.createUser(early, password());
      await api.createUser(late, password());
      const a = await api.resetToken(early);
      const b = await api.resetToken(late);
      h.clock.advance(ttl - 1000);
      expect((await api.confirm(a.password_reset_token, password())).statusCode).toBe(200);
      h.clock.advance(2000);
      const expired = await api.confirm(b.password_reset_token, password());
      expect(expired.statusCode).toBe(400);
      expect(expired.json().errors[0].code).toBe('password_reset_token_invalid');
      // Nothing usable rests once it has expired: the sealed copy is gone from the GET.
      expect((await api.call('GET', `/user_management/password_reset/${b.id}`)).json().password_reset_token).toBe('');
    });

    it('SEC-12 a new token voids the older unused ones', async () => {
      const address = email();
      await api.createUser(address, password());
      const first = await api.resetToken(address);
      const second = await api.resetToken(address);
      expect((await api.confirm(first.password_reset_token, password())).statusCode).toBe(400);
      expect((await api.confirm(second.password_reset_token, password())).statusCode).toBe(200);
    });

    it('SEC-13 a password change or an email change voids outstanding tokens', async () => {
      const user = await api.createUser(email(), password());
      const before = await api.resetToken(user.email);
      expect((await api.call('PUT', `/user_management/users/${user.id}`, { password: password() })).statusCode).toBe(200);
      expect((await api.confirm(before.password_reset_token, password())).statusCode).toBe(400);

      const again = await api.resetToken(user.email);
      expect((await api.call('PUT', `/user_management/users/${user.id}`, { email: email() })).statusCode).toBe(200);
      expect((await api.confirm(again.password_reset_token, password())).statusCode).toBe(400);
    });

    it('SEC-14 a rejected password does not spend the token', async () => {
      const address = email();
      await api.createUser(address, password());
      const { password_reset_token: token } = await api.resetToken(address);
      const weak = await api.confirm(token, 'password1234567');
      expect(weak.statusCode).toBe(400);
      expect(weak.json()).toMatchObject({ code: 'password_reset_error' });
      expect(['password_common', 'password_breached']).toContain(weak.json().errors[0].code);
      expect((await api.confirm(token, password())).statusCode).toBe(200);
    });

    it('SEC-16 fifty reset requests change nothing: old password and sessions keep working', async () => {
      const address = email();
      const old = password();
      await api.createUser(address, old);
      const session = (await api.login(address, old)).json();
      for (let i = 0; i < 50; i++) expect((await api.createReset(address)).statusCode).toBe(201);
      expect((await api.login(address, old)).statusCode).toBe(200);
      expect((await api.whoami(session.access_token)).statusCode).toBe(200);
    });

    it('SEC-21 the link origin comes from configuration, not from Host or X-Forwarded-Host', async () => {
      const address = email();
      await api.createUser(address, password());
      const spoofs: Array<Record<string, string>> = [
        { host: 'evil.test' },
        { 'x-forwarded-host': 'evil.test', forwarded: 'host=evil.test', 'x-original-host': 'evil.test' },
      ];
      for (const headers of spoofs) {
        const res = await api.createReset(address, headers);
        expect(res.statusCode).toBe(201);
        expect(new URL(res.json().password_reset_url).origin).toBe('https://rekey.example.test');
      }
      await h.deliver();
      const [mail] = await h.mailbox(address);
      expect(mail!.text).toContain('https://rekey.example.test/reset/verify?token=');
      expect(mail!.text + mail!.html).not.toContain('evil.test');
    });

    it('SEC-22 every link in the mail sink is https', async () => {
      await h.deliver();
      const links = (await h.mailbox()).flatMap((m) => m.text.match(/\bhttps?:\/\/\S+/g) ?? []);
      expect(links.length).toBeGreaterThan(0);
      for (const link of links) expect(link.startsWith('https://')).toBe(true);
    });

    it('SEC-28 14 code points are refused and 15 accepted, the same on create, update and reset', async () => {
      const fourteen = 'kettle-morning7'.slice(0, 14);
      const fifteen = 'kettle-morning7';
      const refused = await api.call('POST', '/user_management/users', { email: email(), password: fourteen });
      expect(refused.statusCode).toBe(400);
      expect(refused.json()).toMatchObject({ code: 'password_strength_error', errors: [{ code: 'password_too_short' }] });
      const user = await api.createUser(email(), fifteen);
      expect((await api.call('PUT', `/user_management/users/${user.id}`, { password: fourteen })).json().errors[0].code).toBe('password_too_short');
      expect((await api.call('PUT', `/user_management/users/${user.id}`, { password: `${fifteen}x` })).statusCode).toBe(200);
      const { password_reset_token: token } = await api.resetToken(user.email);
      expect((await api.confirm(token, fourteen)).json().errors[0].code).toBe('password_too_short');
      expect((await api.confirm(token, `x${fifteen}`)).statusCode).toBe(200);
    });

    it('SEC-29 64 and 128 characters work, nothing is truncated, 300 is a clear 4xx', async () => {
      for (const length of [64, 128]) {
        const address = email();
        const long = remember(('violet-anchor-' + 'q'.repeat(200)).slice(0, length - 3) + String(n).padStart(3, '0'));
        await api.createUser(address, long);
        expect((await api.login(address, long)).statusCode).toBe(200);
      }
      const address = email();
      const hundred = remember(`${'granite-lantern-'.repeat(7)}`.slice(0, 100));
      expect([...hundred]).toHaveLength(100);
      await api.createUser(address, hundred);
      expect((await api.login(address, hundred.slice(0, 72))).statusCode).toBe(400);
      expect((await api.login(address, hundred.slice(0, 99))).statusCode).toBe(400);
      expect((await api.login(address, hundred)).statusCode).toBe(200);
      const tooLong = await api.call('POST', '/user_management/users', { email: email(), password: 'w'.repeat(300) });
      expect(tooLong.statusCode).toBe(400);
      expect(tooLong.json().errors[0].code).toBe('password_too_long');
    });

    it('SEC-30 no composition rules; length counts code points', async () => {
      await api.createUser(email(), 'correct horse battery staple');
      const emoji = '🦊🌵🎈🧲🪁🍋🚲🧩🌋🎻🦉🍄🛶🧭🪐';
      expect(emoji.length).toBe(30);
      const res = await api.call('POST', '/user_management/users', { email: email(), password: emoji });
      expect(res.statusCode).toBe(201);
      expect((await api.call('POST', '/user_management/users', { email: email(), password: emoji.slice(0, 28) })).json().errors[0].code).toBe(
        'password_too_short',
      );
    });

    it('SEC-31 common, breached and context passwords are refused with a machine-readable reason', async () => {
      const address = 'alice.smith@example.com';
      await api.createUser(address, password());
      const { password_reset_token: token } = await api.resetToken(address);
      for (const candidate of ['password1234567', 'qwertyuiopasdfg', `${h.config.appName.toLowerCase()}2025!!!!!!!!`, 'alice.smith123456789']) {
        const res = await api.confirm(token, candidate);
        expect(res.statusCode, candidate).toBe(400);
        expect(['password_breached', 'password_common', 'password_context'], candidate).toContain(res.json().errors[0].code);
      }
      expect((await api.confirm(token, password())).statusCode).toBe(200);
    });

    it('SEC-32 passwords are NFKC-normalised before hashing', async () => {
      const address = email();
      const precomposed = remember('p\u00e4ssw\u00f6rd-ist-lang-genug');
      await api.createUser(address, precomposed);
      const decomposed = 'pa\u0308ssw\u006f\u0308rd-ist-lang-genug';
      expect(decomposed).not.toBe(precomposed);
      expect((await api.login(address, decomposed)).statusCode).toBe(200);
    });

    it('SEC-33 hashes are Argon2id at or above the floor, salted per user', async () => {
      const shared = password();
      const a = await api.createUser(email(), shared);
      const b = await api.createUser(email(), shared);
      const rows = await h.store.db.selectFrom('users').select(['id', 'password_hash']).where('id', 'in', [a.id, b.id]).execute();
      const [first, second] = rows.map((r) => r.password_hash!);
      expect(first).not.toBe(second);
      for (const hash of [first!, second!]) {
        const [, m, t, p] = hash.match(/^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/)!;
        expect(Number(m)).toBeGreaterThanOrEqual(19456);
        expect(Number(t)).toBeGreaterThanOrEqual(2);
        expect(Number(p)).toBe(1);
      }
    });

    it('SEC-34 a completed reset revokes every session and refresh token', async () => {
      const address = email();
      const old = password();
      const user = await api.createUser(address, old);
      const deviceA = (await api.login(address, old)).json();
      const deviceB = (await api.login(address, old)).json();
      remember(deviceA.refresh_token);
      expect((await api.whoami(deviceA.access_token)).statusCode).toBe(200);
      const rotated = await api.refresh(deviceB.refresh_token);
      expect(rotated.statusCode).toBe(200);
      expect((await api.refresh(deviceB.refresh_token)).statusCode).toBe(400); // a refresh token is single use

      const { password_reset_token: token } = await api.resetToken(address);
      const done = await api.confirm(token, password());
      expect(done.statusCode).toBe(200);
      expect(done.json().user.email_verified).toBe(true);
      expect(done.json()).not.toHaveProperty('access_token'); // SEC-35: no automatic sign-in
      expect(done.headers['set-cookie']).toBeUndefined();

      expect((await api.whoami(deviceA.access_token)).statusCode).toBe(401);
      expect((await api.refresh(deviceA.refresh_token)).statusCode).toBe(400);
      expect((await api.refresh(rotated.json().refresh_token)).statusCode).toBe(400);
      const listed = await api.call('GET', `/user_management/users/${user.id}/sessions?limit=10`);
      expect(listed.json().data.map((s: { status: string }) => s.status)).toEqual(['revoked', 'revoked']);
      expect((await api.login(address, old)).statusCode).toBe(400);
    });

    it('SEC-39 one "password changed" notice per reset, with time, IP and device, and no secret', async () => {
      const address = email();
      await api.createUser(address, password());
      const { password_reset_token: token } = await api.resetToken(address);
      const chosen = password();
      const res = await h.app.inject({
        method: 'POST',
        url: '/user_management/password_reset/confirm',
        headers: { ...h.auth, 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0' },
        payload: { token, new_password: chosen },
      });
      expect(res.statusCode).toBe(200);
      await h.deliver();
      await h.deliver();
      const notices = (await h.mailbox(address)).filter((m) => /changed/i.test(m.subject));
      expect(notices).toHaveLength(1);
      const body = notices[0]!.text + notices[0]!.html;
      // The device in words (issue #10), not the raw user agent.
      expect(body).toContain('Firefox on Linux');
      expect(body).not.toContain('Gecko');
      expect(body).toContain('127.0.0.1');
      expect(body).toContain('https://rekey.example.test/reset');
      expect(body).not.toContain(chosen);
      expect(body).not.toContain(token);
    });

    it('SEC-41 no token, password or key reached a log line', async () => {
      const sessions = (await h.store.db.selectFrom('sessions').select('id').execute()).length;
      expect(sessions).toBeGreaterThan(0);
      expect(secrets.length).toBeGreaterThan(20);
      const logs = h.logs.join('\n');
      expect(logs.length).toBeGreaterThan(1000);
      for (const secret of [...secrets, h.secretKey]) expect(logs).not.toContain(secret);
    });
  });
}
