import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORES } from '../src/store/testing.ts';
import { managementApi } from './support/api.ts';
import { createHarness, GOOD_PASSWORD, type Harness } from './support/harness.ts';
import { startSmtpSink, type SmtpSink } from './support/smtp-sink.ts';

/** A well-formed id that names nothing. */
const MISSING = '01ARZ3NDEKTSV4RRFFQ69G5FAV';

/** The operator's management API: applications and their settings, dead letters and their replay. */
for (const factory of STORES) {
  describe(`${factory.name}: /user_management/applications`, () => {
    let h: Harness;
    let api: ReturnType<typeof managementApi>;
    const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown, headers?: Record<string, string>) =>
      h.app.inject({ method, url, payload: payload as object, headers: headers ?? h.auth });

    beforeAll(async () => {
      h = await createHarness(factory);
      api = managementApi(h);
    });
    afterAll(() => h.close());

    it('creates, shows, lists, updates and clears an application’s settings', async () => {
      const created = await call('POST', '/user_management/applications', {
        name: 'Billing',
        allowed_redirects: ['https://billing.example.com/'],
        sign_in_url: 'https://billing.example.com/login',
        support_email: 'Help@Billing.Example.com',
        mail_from: 'Billing <no-reply@billing.example.com>',
        brand_color: '#0A7',
      });
      expect(created.statusCode, created.body).toBe(201);
      const app = created.json();
      expect(app).toMatchObject({
        object: 'application',
        id: expect.stringMatching(/^app_/),
        name: 'Billing',
        is_default: false,
        reset_url: null,
        allowed_redirects: ['https://billing.example.com/'],
        sign_in_url: 'https://billing.example.com/login',
        support_email: 'help@billing.example.com',
        mail_from: '"Billing" <no-reply@billing.example.com>',
        brand_color: '#0a7',
        logo_url: null,
      });

      expect((await call('GET', `/user_management/applications/${app.id}`)).json()).toEqual(app);
      const list = (await call('GET', '/user_management/applications?order=asc')).json();
      expect(list.object).toBe('list');
      expect(list.data.map((a: { id: string }) => a.id)).toEqual([expect.stringMatching(/^app_/), app.id]);
      expect(list.data[0].is_default).toBe(true);

      const updated = await call('PATCH', `/user_management/applications/${app.id}`, { name: 'Billing portal', mail_from: null, brand_color: null });
      expect(updated.statusCode, updated.body).toBe(200);
      expect(updated.json()).toMatchObject({ name: 'Billing portal', mail_from: null, brand_color: null, support_email: 'help@billing.example.com' });
      // What the API stored is what the services read.
      expect(await h.rekey.apps.get(app.id)).toMatchObject({ name: 'Billing portal', mail_from: null, sign_in_url: 'https://billing.example.com/login' });
    });

    it('refuses bad settings with 422 and a code naming the field; nothing changes', async () => {
      const app = (await call('POST', '/user_management/applications', { name: 'Strict', allowed_redirects: ['https://strict.example.com/after'] })).json();
      const refused = async (method: 'POST' | 'PATCH', url: string, body: unknown, code: string, field?: string) => {
        const res = await call(method, url, body);
        expect(res.statusCode, JSON.stringify(body)).toBe(422);
        expect(res.json(), JSON.stringify(body)).toMatchObject({ code, ...(field ? { field } : {}) });
        expect(res.body).not.toMatch(/\n\s+at /);
      };
      const patch = `/user_management/applications/${app.id}`;
      await refused('PATCH', patch, { sign_in_url: 'https://strict.example.com/login' }, 'application_setting_invalid', 'sign_in_url');
      await refused('PATCH', patch, { sign_in_url: 'javascript:alert(1)' }, 'application_setting_invalid', 'sign_in_url');
      await refused('PATCH', patch, { mail_from: 'a@b.example, c@d.example' }, 'application_setting_invalid', 'mail_from');
      await refused('PATCH', patch, { mail_from: 'Acme <a@b.example>\r\nBcc: x@evil.test' }, 'application_setting_invalid', 'mail_from');
      await refused('PATCH', patch, { support_email: 'nobody' }, 'application_setting_invalid', 'support_email');
      await refused('PATCH', patch, { brand_color: 'red;x:y' }, 'application_setting_invalid', 'brand_color');
      await refused('PATCH', patch, { allowed_redirects: ['http://strict.example.com/'] }, 'application_setting_invalid', 'allowed_redirects');
      await refused('PATCH', patch, { reset_url: 'https://u:p@strict.example.com/reset' }, 'application_setting_invalid', 'reset_url');
      await refused('PATCH', patch, { name: '' }, 'invalid_request_parameters');
      await refused('PATCH', patch, { name: null }, 'invalid_request_parameters');
      await refused('PATCH', patch, { client_id: 'mine' }, 'invalid_request_parameters');
      await refused('PATCH', patch, { allowed_redirects: 'https://strict.example.com/' }, 'invalid_request_parameters');
      await refused('POST', '/user_management/applications', {}, 'invalid_request_parameters');
      await refused(
        'POST',
        '/user_management/applications',
        { name: 'x', sign_in_url: 'https://elsewhere.example/' },
        'application_setting_invalid',
        'sign_in_url',
      );
      expect((await call('GET', patch)).json()).toEqual(app);
      expect((await call('GET', '/user_management/applications/not-an-id')).statusCode).toBe(422);
      expect((await call('GET', '/user_management/applications?limit=0')).statusCode).toBe(422);
    });

    it('deletes an application once its keys are revoked; never the default one', async () => {
      const app = (await call('POST', '/user_management/applications', { name: 'Temporary' })).json();
      const { record } = await h.rekey.apps.createKey(app.id, 'temp');
      const live = await call('DELETE', `/user_management/applications/${app.id}`);
      expect(live.statusCode).toBe(409);
      expect(live.json()).toMatchObject({ code: 'application_has_active_keys' });
      await h.rekey.apps.revokeKey(record.id);
      expect((await call('DELETE', `/user_management/applications/${app.id}`)).statusCode).toBe(204);
      expect((await call('GET', `/user_management/applications/${app.id}`)).json()).toMatchObject({ code: 'application_not_found' });
      expect((await call('DELETE', `/user_management/applications/${app.id}`)).statusCode).toBe(404);

      const defaultApp = await h.rekey.apps.getDefault();
      const refused = await call('DELETE', `/user_management/applications/${defaultApp.id}`);
      expect(refused.statusCode).toBe(409);
      expect(refused.json()).toMatchObject({ code: 'application_is_default' });
      expect((await call('PATCH', `/user_management/applications/app_${MISSING}`, { name: 'x' })).json()).toMatchObject({ code: 'application_not_found' });
    });

    it('answers 401 without a secret key', async () => {
      for (const [method, url] of [
        ['GET', '/user_management/applications'],
        ['POST', '/user_management/applications'],
        ['PATCH', `/user_management/applications/app_${MISSING}`],
        ['DELETE', `/user_management/applications/app_${MISSING}`],
      ] as const) {
        const res = await call(method, url, { name: 'x' }, {});
        expect(res.statusCode, `${method} ${url}`).toBe(401);
        expect(res.json()).toMatchObject({ code: 'unauthorized' });
      }
      void api;
    });
  });

  describe(`${factory.name}: /user_management/deliveries`, () => {
    let sink: SmtpSink;
    let h: Harness;
    let api: ReturnType<typeof managementApi>;
    const call = (method: 'GET' | 'POST', url: string, payload?: unknown, headers?: Record<string, string>) =>
      h.app.inject({ method, url, payload: payload as object, headers: headers ?? h.auth });

    beforeAll(async () => {
      sink = await startSmtpSink();
      // One attempt each: a mail that fails once is dead.
      h = await createHarness(factory, { config: { smtpUrl: `smtp://127.0.0.1:${sink.port}`, deliveryMaxAttempts: 1 } });
      api = managementApi(h);
    });
    afterAll(async () => {
      await h.close();
      await sink.stop();
    });

    it('lists dead letters without their secrets, replays them while what they carry is valid, and refuses them after', async () => {
      const email = 'dead.letters@example.com';
      await api.createUser(email, `${GOOD_PASSWORD} before`);
      const reset = await api.resetToken(email);

      // While pending, the reset mail holds its payload sealed: the API names it and never shows it.
      const pending = await call('GET', '/user_management/deliveries?status=pending');
      expect(pending.statusCode).toBe(200);
      const [queued] = pending.json().data;
      expect(queued).toMatchObject({ object: 'delivery', kind: 'notification.step', status: 'pending', sealed: ['run'], attempts: 0 });
      expect(pending.body).not.toContain(reset.password_reset_token);
      const row = await h.store.db.selectFrom('outbox').select('payload').where('id', '=', queued.id).executeTakeFirstOrThrow();
      const sealedValue = (JSON.parse(row.payload) as { sealed: { run: string } }).sealed.run;
      expect(pending.body).not.toContain(sealedValue);

      await sink.stop();
      await h.deliver();
      expect((await api.confirm(reset.password_reset_token, `${GOOD_PASSWORD} after`)).statusCode).toBe(200);
      await h.deliver();

      const dead = await call('GET', `/user_management/deliveries?status=dead&order=asc`);
      expect(dead.statusCode).toBe(200);
      const mine = dead.json().data.filter((d: { payload: { to?: string } }) => d.payload.to === email);
      expect(mine).toHaveLength(2);
      const [resetMail, notice] = mine;
      expect(resetMail).toMatchObject({ id: queued.id, status: 'dead', attempts: 1, sealed: ['run'], last_error: expect.any(String) });
      expect(notice).toMatchObject({ status: 'dead', sealed: ['run'] });
      expect(dead.body).not.toContain(reset.password_reset_token);
      expect(dead.body).not.toContain(sealedValue);
      expect((await call('GET', `/user_management/deliveries/${notice.id}`)).json()).toEqual(notice);

      // Retried while its link is valid, the reset mail goes out with the link.
      const retried = await call('POST', `/user_management/deliveries/${resetMail.id}/retry`);
      expect(retried.statusCode, retried.body).toBe(200);
      expect(retried.json()).toMatchObject({ id: resetMail.id, status: 'pending', attempts: 0 });
      expect((await call('POST', `/user_management/deliveries/${resetMail.id}/retry`)).json()).toMatchObject({ code: 'delivery_not_dead' });
      await sink.start();
      await h.deliver();
      const mail = await sink.waitFor((m) => m.to === email && m.body.includes(reset.password_reset_token));
      expect(mail.subject).toMatch(/reset/i);
      expect((await call('GET', `/user_management/deliveries/${resetMail.id}`)).json()).toMatchObject({ status: 'sent', sealed: [] });

      // Once the longest token lifetime has passed, the sweeper wipes what the dead notice carried: no retry then.
      h.clock.advance(Math.max(h.config.resetTokenTtlMinutes, h.config.resetCodeTtlMinutes) * 60_000);
      expect(await h.rekey.dispatcher.sweep()).toMatchObject({ 'outbox.dead_sealed_wiped': 1 });
      const refused = await call('POST', `/user_management/deliveries/${notice.id}/retry`);
      expect(refused.statusCode).toBe(409);
      expect(refused.json()).toMatchObject({ code: 'delivery_not_replayable', message: expect.stringMatching(/wiped/) });
      const all = await call('POST', '/user_management/deliveries/retry', { status: 'dead' });
      expect(all.statusCode).toBe(200);
      expect(all.json()).toEqual({ retried: [], skipped: [{ id: notice.id, reason: expect.stringMatching(/wiped/) }] });
    });

    it('retries every dead delivery at once', async () => {
      const email = 'all.dead@example.com';
      await api.createUser(email, `${GOOD_PASSWORD} one`);
      const user = (await call('GET', `/user_management/users?email=${email}`)).json().data[0];
      await sink.stop();
      // Two password changes: two notices, both dead.
      for (const n of ['two', 'three']) {
        const res = await h.app.inject({
          method: 'PUT',
          url: `/user_management/users/${user.id}`,
          payload: { password: `${GOOD_PASSWORD} ${n}` },
          headers: h.auth,
        });
        expect(res.statusCode, res.body).toBe(200);
      }
      await h.deliver();
      const dead = (await call('GET', `/user_management/deliveries?status=dead&limit=100`))
        .json()
        .data.filter((d: { payload: { to?: string } }) => d.payload.to === email);
      expect(dead.length).toBeGreaterThan(0);
      await sink.start();
      const all = (await call('POST', '/user_management/deliveries/retry', { status: 'dead' })).json();
      expect(all.retried).toEqual(expect.arrayContaining(dead.map((d: { id: string }) => d.id)));
      await h.deliver();
      for (const d of dead) expect((await call('GET', `/user_management/deliveries/${d.id}`)).json()).toMatchObject({ status: 'sent' });
    });

    it('refuses bad input with 4xx and stable codes', async () => {
      const cases: Array<[string, string, unknown, number, string]> = [
        ['GET', '/user_management/deliveries?status=lost', undefined, 422, 'invalid_request_parameters'],
        ['GET', '/user_management/deliveries?limit=1000', undefined, 422, 'invalid_request_parameters'],
        ['GET', '/user_management/deliveries/nope', undefined, 422, 'invalid_request_parameters'],
        ['GET', `/user_management/deliveries/msg_${MISSING}`, undefined, 404, 'delivery_not_found'],
        ['POST', `/user_management/deliveries/msg_${MISSING}/retry`, undefined, 404, 'delivery_not_found'],
        ['POST', '/user_management/deliveries/retry', {}, 422, 'invalid_request_parameters'],
        ['POST', '/user_management/deliveries/retry', { status: 'pending' }, 422, 'invalid_request_parameters'],
      ];
      for (const [method, url, body, status, code] of cases) {
        const res = await call(method as 'GET' | 'POST', url, body);
        expect(res.statusCode, `${method} ${url}`).toBe(status);
        expect(res.json()).toMatchObject({ code });
      }
      const anonymous = await call('GET', '/user_management/deliveries', undefined, {});
      expect(anonymous.statusCode).toBe(401);
    });
  });
}
