import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORES } from '../src/store/testing.ts';
import { managementApi } from './support/api.ts';
import { totpAt } from './support/browser-api.ts';
import { createHarness, freshAccounts, type Harness } from './support/harness.ts';
import { startSmtpSink, type SmtpSink } from './support/smtp-sink.ts';

const FIREFOX_LINUX = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';
const FIREFOX_LINUX_UPDATED = 'Mozilla/5.0 (X11; Linux x86_64; rv:134.0) Gecko/20100101 Firefox/134.0';
const CHROME_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const SAFARI_MAC = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15';
const EDGE_WINDOWS = `${CHROME_WINDOWS} Edg/131.0.0.0`;

const SUBJECT = 'New sign-in to your Rekey account';

/** "Someone signed in from a device you have not used": from each path that creates a session, to the SMTP server. */
for (const factory of STORES) {
  describe(`${factory.name}: new-sign-in notices`, () => {
    let sink: SmtpSink;
    let h: Harness;
    let api: ReturnType<typeof managementApi>;
    const accounts = freshAccounts('sign-in.example.com');

    beforeAll(async () => {
      sink = await startSmtpSink();
      // Concurrent sign-ins of one account would otherwise meet the per-account limit (SEC-44).
      h = await createHarness(factory, { config: { smtpUrl: `smtp://127.0.0.1:${sink.port}`, signInFailuresPerAccount: 1_000 } });
      api = managementApi(h);
    });
    afterAll(async () => {
      await h.close();
      await sink.stop();
    });

    const signIn = (email: string, password: string, userAgent: string, ip = '198.51.100.7') =>
      h.app.inject({
        method: 'POST',
        url: '/user_management/authenticate',
        payload: { grant_type: 'password', client_id: h.clientId, client_secret: h.secretKey, email, password, ip_address: ip, user_agent: userAgent },
      });
    const signedIn = async (email: string, password: string, userAgent: string, ip?: string) => {
      const res = await signIn(email, password, userAgent, ip);
      expect(res.statusCode, res.body).toBe(200);
      return res.json() as { user: { id: string }; access_token: string; refresh_token: string };
    };
    const noticesTo = async (email: string) => {
      await h.deliver();
      return sink.messages.filter((mail) => mail.to === email && mail.subject === SUBJECT);
    };
    const newAccount = async (extra: Record<string, unknown> = {}) => {
      const email = accounts.email();
      const password = accounts.password();
      const user = await api.createUser(email, password, extra);
      return { email, password, id: user.id };
    };
    /** The account's new-sign-in executions as `GET /v1/notifications` lists them: each step's status and reason, sorted. */
    const activity = async (subscriberId: string) => {
      const res = await h.app.inject({
        method: 'GET',
        url: `/v1/notifications?subscriberIds=${subscriberId}&templates=new-sign-in&limit=100`,
        headers: { authorization: `ApiKey ${h.secretKey}` },
      });
      expect(res.statusCode).toBe(200);
      return (res.json().data as Array<{ transactionId: string; jobs: Array<{ type: string; status: string; reason: string | null }> }>)
        .map((entry) => entry.jobs.map((job) => [job.type, job.status, job.reason]))
        .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    };

    it('the first sign-in and the same browser again (updated, elsewhere) send nothing; a new browser sends one notice naming it', async () => {
      const account = await newAccount();
      await signedIn(account.email, account.password, FIREFOX_LINUX);
      await signedIn(account.email, account.password, FIREFOX_LINUX);
      await signedIn(account.email, account.password, FIREFOX_LINUX_UPDATED, '192.0.2.44');
      expect(await noticesTo(account.email)).toEqual([]);

      const session = await signedIn(account.email, account.password, CHROME_WINDOWS, '203.0.113.9');
      const [notice, ...more] = await noticesTo(account.email);
      expect(more).toEqual([]);
      expect(notice!.body).toContain('Chrome on Windows');
      expect(notice!.body).toContain('203.0.113.9');
      expect(notice!.body).toContain(new Date(h.clock.now()).toISOString().slice(0, 16).replace('T', ' ') + ' UTC');
      expect(notice!.body).toContain('your Rekey account');
      expect(notice!.body).toContain(`${h.config.baseUrl}/reset`);
      // The mail names the device in words; nothing that signs in travels with it.
      expect(notice!.body).not.toContain('AppleWebKit');
      for (const secret of [account.password, session.access_token, session.refresh_token]) expect(notice!.body).not.toContain(secret);

      // Chrome is known now; another browser on the same system is not.
      await signedIn(account.email, account.password, CHROME_WINDOWS, '203.0.113.10');
      expect(await noticesTo(account.email)).toHaveLength(1);
      await signedIn(account.email, account.password, EDGE_WINDOWS);
      const notices = await noticesTo(account.email);
      expect(notices).toHaveLength(2);
      expect(notices[1]!.body).toContain('Edge on Windows');
      expect(await activity(account.id)).toEqual([[['email', 'sent', null]], [['email', 'sent', null]]]);
    });

    it('the known devices are keyed hashes: no user agent, browser or system name at rest', async () => {
      const account = await newAccount();
      await signedIn(account.email, account.password, FIREFOX_LINUX);
      await signedIn(account.email, account.password, SAFARI_MAC);
      const rows = await h.store.db.selectFrom('sign_in_devices').selectAll().where('user_id', '=', account.id).execute();
      expect(rows).toHaveLength(2);
      for (const row of rows) expect(row.device_key).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(JSON.stringify(rows)).not.toMatch(/firefox|safari|linux|mac/i);
    });

    it('completing a second-factor sign-in from a new browser sends the notice; the password step alone does not', async () => {
      const account = await newAccount();
      const enrolled = await api.call('POST', `/user_management/users/${account.id}/auth_factors`, { type: 'totp' });
      expect(enrolled.statusCode).toBe(201);
      const secret = enrolled.json().authentication_factor.totp.secret as string;
      const mfaSignIn = async (userAgent: string) => {
        const started = await signIn(account.email, account.password, userAgent);
        expect(started.json().code).toBe('mfa_challenge');
        expect(await noticesTo(account.email)).toHaveLength(notices);
        // A code is good once per time step.
        h.clock.advance(30_000);
        const done = await h.app.inject({
          method: 'POST',
          url: '/user_management/authenticate',
          payload: {
            grant_type: 'urn:workos:oauth:grant-type:mfa-totp',
            client_id: h.clientId,
            client_secret: h.secretKey,
            pending_authentication_token: started.json().pending_authentication_token,
            code: await totpAt(secret, h.clock.now()),
            user_agent: userAgent,
          },
        });
        expect(done.statusCode, done.body).toBe(200);
      };
      let notices = 0;
      await mfaSignIn(FIREFOX_LINUX);
      expect(await noticesTo(account.email)).toHaveLength(0);
      await mfaSignIn(SAFARI_MAC);
      const [notice] = await noticesTo(account.email);
      notices = 1;
      expect(notice!.body).toContain('Safari on Mac OS');
      await mfaSignIn(SAFARI_MAC);
      expect(await noticesTo(account.email)).toHaveLength(1);
    });

    it('a refresh is no sign-in, and a wrong password sends nothing', async () => {
      const account = await newAccount();
      const first = await signedIn(account.email, account.password, FIREFOX_LINUX);
      const refreshed = await api.refresh(first.refresh_token);
      expect(refreshed.statusCode).toBe(200);
      expect((await signIn(account.email, `${account.password} wrong`, CHROME_WINDOWS)).statusCode).toBe(400);
      expect(await noticesTo(account.email)).toEqual([]);
      expect(await activity(account.id)).toEqual([]);
    });

    it("with the user's email for new-sign-in turned off, the notice is skipped with the reason preference", async () => {
      const account = await newAccount();
      await signedIn(account.email, account.password, FIREFOX_LINUX);
      await signedIn(account.email, account.password, CHROME_WINDOWS);
      expect(await noticesTo(account.email)).toHaveLength(1);
      const off = await h.app.inject({
        method: 'PATCH',
        url: `/v2/subscribers/${account.id}/preferences`,
        headers: { authorization: `ApiKey ${h.secretKey}` },
        payload: { workflowId: 'new-sign-in', channels: { email: false } },
      });
      expect(off.statusCode, off.body).toBe(200);

      await signedIn(account.email, account.password, SAFARI_MAC);
      expect(await noticesTo(account.email)).toHaveLength(1);
      expect(await activity(account.id)).toEqual([[['email', 'sent', null]], [['email', 'skipped', 'preference']]]);
      // The device counts as seen all the same: turning the email back on does not bring old sign-ins back.
      await h.app.inject({
        method: 'PATCH',
        url: `/v2/subscribers/${account.id}/preferences`,
        headers: { authorization: `ApiKey ${h.secretKey}` },
        payload: { workflowId: 'new-sign-in', channels: { email: true } },
      });
      await signedIn(account.email, account.password, SAFARI_MAC);
      expect(await noticesTo(account.email)).toHaveLength(1);
    });

    it('ten sign-ins racing from one new browser send one notice', async () => {
      const account = await newAccount();
      await signedIn(account.email, account.password, FIREFOX_LINUX);
      // The ten are held once their password is checked and let go together, so that each looks the device up
      // before any has recorded it: each triggers the notice, and the one transaction they name sends it once.
      const users = h.rekey.users;
      const verify = users.verifyCredentials;
      let checked = 0;
      let release!: () => void;
      const together = new Promise<void>((resolve) => (release = resolve));
      users.verifyCredentials = async (...args) => {
        const user = await verify.apply(users, args);
        if (++checked === 10) release();
        await together;
        return user;
      };
      try {
        const racing = await Promise.all(Array.from({ length: 10 }, () => signIn(account.email, account.password, CHROME_WINDOWS)));
        expect(racing.map((res) => res.statusCode)).toEqual(Array(10).fill(200));
      } finally {
        users.verifyCredentials = verify;
      }
      expect(await noticesTo(account.email)).toHaveLength(1);
      expect(await activity(account.id)).toEqual([[['email', 'sent', null]]]);
      const sessions = await h.store.db.selectFrom('sessions').select('id').where('user_id', '=', account.id).execute();
      expect(sessions).toHaveLength(11);
    });

    it('a sign-in that loses to a password change gets no session, and its notice and device go with it', async () => {
      const account = await newAccount();
      await signedIn(account.email, account.password, FIREFOX_LINUX);
      // The password is right when checked, then an administrator changes it before the session is written.
      const sessions = h.rekey.sessions;
      const issue = sessions.issue;
      sessions.issue = async (input) => {
        expect((await api.call('PUT', `/user_management/users/${account.id}`, { password: accounts.password() })).statusCode).toBe(200);
        return issue.call(sessions, input);
      };
      try {
        const lost = await signIn(account.email, account.password, SAFARI_MAC);
        expect([lost.statusCode, lost.json().code]).toEqual([400, 'invalid_credentials']);
      } finally {
        sessions.issue = issue;
      }
      expect(await noticesTo(account.email)).toEqual([]);
      expect(await activity(account.id)).toEqual([]);
      expect(await h.store.db.selectFrom('sign_in_devices').select('device_key').where('user_id', '=', account.id).execute()).toHaveLength(1);
    });

    it('the activity and the logs hold no password or token of the sign-in', async () => {
      const account = await newAccount();
      await signedIn(account.email, account.password, FIREFOX_LINUX);
      const session = await signedIn(account.email, account.password, CHROME_WINDOWS);
      await noticesTo(account.email);
      const listed = await h.app.inject({
        method: 'GET',
        url: `/v1/notifications?subscriberIds=${account.id}`,
        headers: { authorization: `ApiKey ${h.secretKey}` },
      });
      const steps = await h.store.db.selectFrom('notification_steps').selectAll().execute();
      const outbox = await h.store.db.selectFrom('outbox').selectAll().execute();
      for (const text of [listed.body, JSON.stringify(steps), JSON.stringify(outbox), h.logs.join('\n')]) {
        for (const secret of [account.password, session.access_token, session.refresh_token]) expect(text).not.toContain(secret);
      }
    });
  });

  describe(`${factory.name}: new-sign-in notices turned off`, () => {
    let h: Harness;

    beforeAll(async () => {
      h = await createHarness(factory, { config: { notifyNewSignIn: false } });
    });
    afterAll(() => h.close());

    it('sends nothing and records no device', async () => {
      const api = managementApi(h);
      const { email, password } = { email: 'off@sign-in.example.com', password: freshAccounts().password() };
      const user = await api.createUser(email, password);
      for (const userAgent of [FIREFOX_LINUX, CHROME_WINDOWS]) {
        const res = await h.app.inject({
          method: 'POST',
          url: '/user_management/authenticate',
          payload: { grant_type: 'password', client_id: h.clientId, client_secret: h.secretKey, email, password, user_agent: userAgent },
        });
        expect(res.statusCode).toBe(200);
      }
      await h.deliver();
      expect(await h.mailbox(email)).toEqual([]);
      expect(await h.store.db.selectFrom('sign_in_devices').selectAll().where('user_id', '=', user.id).execute()).toEqual([]);
    });
  });
}
