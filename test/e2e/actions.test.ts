import { jwtVerify, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORES } from '../../src/store/testing.ts';
import { SoftAuthenticator } from '../security/soft-authenticator.ts';
import { actionsHarness, fixture, type ActionsHarness } from '../support/actions.ts';

/**
 * Auth0's three post-challenge samples, run verbatim from files on disk, and the three worked examples of
 * docs/actions.md, through the reset-flow API on both stores.
 */
for (const factory of STORES) {
  describe(`${factory.name}: Auth0's post-challenge samples, verbatim`, () => {
    describe('challengeWith webauthn-roaming, the enrolled factors as additional factors', () => {
      let h: ActionsHarness;
      beforeAll(async () => {
        h = await actionsHarness(factory, { postChallenge: [{ name: 'webauthn', path: fixture('auth0-challenge-webauthn/action.js') }] });
      });
      afterAll(() => h.close());

      it('demands an enrolled factor (TOTP: no security key is enrolled), then sets the password; the factor stays', async () => {
        const who = await h.account({ totp: true });
        const { flowId, res, body } = await h.firstFactor(who.address);
        expect(res.statusCode).toBe(200);
        expect(body).toMatchObject({ status: 'needs_second_factor', next_step: { challenge: { factors: ['totp'], any: false } } });
        expect((await h.web.setPassword(flowId, body.grant, h.password())).json().error.code).toBe('mfa_required');
        const passed = await h.web.secondFactor(flowId, body.grant, await h.totp(who.secret!));
        expect(passed.json()).toMatchObject({ status: 'needs_new_password', next_step: null });
        const chosen = h.password();
        expect((await h.web.setPassword(flowId, passed.json().grant, chosen)).statusCode).toBe(200);
        expect((await h.api.login(who.address, chosen)).json().code).toBe('mfa_challenge');
      });

      it('with a security key enrolled, asks for it first; its assertion over the flow API passes and the key stays', async () => {
        const who = await h.account({ totp: true });
        const key = new SoftAuthenticator(new URL(h.config.baseUrl).origin);
        await h.rekey.factors.webauthn.finish(who.user, key.register(await h.rekey.factors.webauthn.begin(who.user, 'roaming')), 'roaming');
        const { flowId, body } = await h.firstFactor(who.address);
        expect(body).toMatchObject({ status: 'needs_second_factor', next_step: { challenge: { factors: ['webauthn_roaming', 'totp'], any: false } } });
        const started = await h.web.post(`/v1/reset_flows/${flowId}/challenge`, { strategy: 'webauthn_roaming', grant: body.grant });
        expect(started.statusCode, started.body).toBe(200);
        const credential = key.assert(started.json().options);
        const passed = await h.web.post(`/v1/reset_flows/${flowId}/attempt_second_factor`, { strategy: 'webauthn_roaming', credential, grant: body.grant });
        expect(passed.json(), passed.body).toMatchObject({ status: 'needs_new_password' });
        expect((await h.web.setPassword(flowId, passed.json().grant, h.password())).statusCode).toBe(200);
        expect(await h.rekey.factors.enrolledTypes(who.user.id)).toEqual(['totp', 'webauthn_roaming']);
      });

      it('fails the reset of an account with no factor at all: none of the requested factors remains', async () => {
        const who = await h.account();
        const { flowId, res } = await h.firstFactor(who.address);
        expect(res.statusCode).toBe(403);
        expect(res.json().error.code).toBe('flow_denied');
        expect(res.body).not.toContain('enrolled');
        expect((await h.web.getFlow(flowId)).json().status).toBe('denied');
        expect(h.denials().at(-1)).toMatchObject({ action: 'webauthn', reason: expect.stringContaining('none of the factors') });
      });
    });

    describe('redirect, then on continue challengeWith email or another enrolled factor', () => {
      let h: ActionsHarness;
      beforeAll(async () => {
        h = await actionsHarness(factory, { postChallenge: [{ name: 'redirect', path: fixture('auth0-redirect-continue/action.js') }] });
      });
      afterAll(() => h.close());

      const redirected = async () => {
        const who = await h.account({ totp: true });
        const { flowId, body } = await h.firstFactor(who.address);
        expect(body.status).toBe('needs_second_factor');
        const url = new URL(body.next_step.redirect.url);
        expect(url.origin).toBe('https://my-app.example.com');
        return { who, flowId, grant: body.grant as string, state: url.searchParams.get('state')! };
      };

      it('suspends at the redirect, resumes in onContinuePostChallenge with the state, and refuses it a second time', async () => {
        const { who, flowId, grant, state } = await redirected();
        expect(state.length).toBeGreaterThanOrEqual(40);
        const tampered = `${state.slice(0, -2)}${state.endsWith('AA') ? 'BB' : 'AA'}`;
        expect((await h.continueFlow(flowId, grant, tampered)).json().error.code).toBe('action_state_invalid');
        const resumed = await h.continueFlow(flowId, grant, state);
        expect(resumed.statusCode).toBe(200);
        // The email factor is offered first where Rekey has it; TOTP, enrolled, is among the choices either way.
        expect(resumed.json().status).toBe('needs_second_factor');
        expect(resumed.json().next_step.challenge.factors).toContain('totp');
        const replayed = await h.continueFlow(flowId, resumed.json().grant, state);
        expect(replayed.json().error.code).toBe('action_state_invalid');
        const passed = await h.web.post(`/v1/reset_flows/${flowId}/attempt_second_factor`, {
          strategy: 'totp',
          code: await h.totp(who.secret!),
          grant: resumed.json().grant,
        });
        expect(passed.json().status).toBe('needs_new_password');
        const chosen = h.password();
        expect((await h.web.setPassword(flowId, passed.json().grant, chosen)).statusCode).toBe(200);
        // The action that redirected ran once: onExecute before the redirect, onContinue after it.
        expect(h.logs.filter((l) => l.includes(flowId) && l.includes('post-challenge action ran')).length).toBeLessThanOrEqual(2);
      });

      it('after continue, the code by email the sample asks for is mailed and passes', async () => {
        const { who, flowId, grant, state } = await redirected();
        const resumed = (await h.continueFlow(flowId, grant, state)).json();
        expect(resumed.next_step.challenge.factors).toContain('email');
        const before = (await h.mailbox(who.address)).length;
        const started = await h.web.post(`/v1/reset_flows/${flowId}/challenge`, { strategy: 'email', grant: resumed.grant });
        expect(started.json(), started.body).toMatchObject({ type: 'email', sent_to: expect.any(String) });
        await h.deliver();
        const mails = await h.mailbox(who.address);
        expect(mails).toHaveLength(before + 1);
        const code = mails[0]!.text.match(/\b(\d{6})\b/)![1]!;
        const passed = await h.web.post(`/v1/reset_flows/${flowId}/attempt_second_factor`, { strategy: 'email', code, grant: resumed.grant });
        expect(passed.json(), passed.body).toMatchObject({ status: 'needs_new_password' });
        const chosen = h.password();
        expect((await h.web.setPassword(flowId, passed.json().grant, chosen)).statusCode).toBe(200);
        expect((await h.api.login(who.address, chosen)).json().code).toBe('mfa_challenge');
      });

      it('refuses an expired state, and a state of another flow', async () => {
        const first = await redirected();
        const second = await redirected();
        expect((await h.continueFlow(second.flowId, second.grant, first.state)).json().error.code).toBe('action_state_invalid');
        h.clock.advance(5 * 60_000 + 1);
        expect((await h.continueFlow(first.flowId, first.grant, first.state)).json().error.code).toBe('action_state_invalid');
      });
    });

    describe('challengeWithAny email or sms', () => {
      let h: ActionsHarness;
      beforeAll(async () => {
        h = await actionsHarness(factory, { postChallenge: [{ name: 'any', path: fixture('auth0-challenge-any/action.js') }] });
      });
      afterAll(() => h.close());

      it('offers the code by mail (the account has no phone enrolled), by name, even to an account with no factor', async () => {
        for (const who of [await h.account({ totp: true }), await h.account()]) {
          const { body } = await h.firstFactor(who.address);
          expect(body).toMatchObject({ status: 'needs_second_factor', next_step: { challenge: { factors: ['email'], any: true } } });
        }
      });

      it('offers both to an account with a phone enrolled; the SMS code, texted when that challenge starts, passes', async () => {
        const who = await h.account();
        const phone = `+1415555${factory.name === 'sqlite' ? 1 : 2}301`;
        expect((await h.api.call('POST', `/user_management/users/${who.user.id}/auth_factors`, { type: 'sms', phone_number: phone })).statusCode).toBe(201);
        const { flowId, body } = await h.firstFactor(who.address);
        expect(body).toMatchObject({ status: 'needs_second_factor', next_step: { challenge: { factors: ['email', 'sms'], any: true } } });
        const started = await h.web.post(`/v1/reset_flows/${flowId}/challenge`, { strategy: 'sms', grant: body.grant });
        expect(started.json(), started.body).toMatchObject({ type: 'sms', sent_to: expect.stringContaining(phone.slice(-2)) });
        expect(started.body).not.toContain(phone);
        await h.deliver();
        await h.deliver();
        const texted = (await h.mailbox(phone))[0]?.text.match(/\b(\d{6})\b/)?.[1];
        expect(texted).toBeDefined();
        const passed = await h.web.post(`/v1/reset_flows/${flowId}/attempt_second_factor`, { strategy: 'sms', code: texted, grant: body.grant });
        expect(passed.json()).toMatchObject({ status: 'needs_new_password' });
        expect((await h.web.setPassword(flowId, passed.json().grant, h.password())).statusCode).toBe(200);
      });

      it('sends the code by mail when the flow starts that challenge, and takes it', async () => {
        const who = await h.account();
        const { flowId, body } = await h.firstFactor(who.address);
        const before = (await h.mailbox(who.address)).length;
        const started = await h.web.post(`/v1/reset_flows/${flowId}/challenge`, { strategy: 'email', grant: body.grant });
        expect(started.json(), started.body).toMatchObject({ type: 'email', sent_to: expect.any(String) });
        expect(started.body).not.toContain(who.address);
        await h.deliver();
        const mails = await h.mailbox(who.address);
        expect(mails.length).toBe(before + 1);
        const code = mails[0]!.text.match(/\b(\d{6,8})\b/)![1]!;
        const answer = (value: string) => h.web.post(`/v1/reset_flows/${flowId}/attempt_second_factor`, { strategy: 'email', code: value, grant: body.grant });
        expect((await answer(code === '000000' ? '111111' : '000000')).json().error.code).toBe('factor_incorrect');
        const passed = await answer(code);
        expect(passed.json()).toMatchObject({ status: 'needs_new_password' });
        expect((await h.web.setPassword(flowId, passed.json().grant, h.password())).statusCode).toBe(200);
      });
    });
  });

  describe(`${factory.name}: the worked examples of docs/actions.md`, () => {
    describe('WebAuthn for administrators, by app_metadata', () => {
      let h: ActionsHarness;
      beforeAll(async () => {
        h = await actionsHarness(factory, {
          postChallenge: [{ name: 'admins', path: fixture('admins-webauthn/action.js') }],
          requireEnrolledSecondFactor: true,
        });
      });
      afterAll(() => h.close());

      it('leaves other users alone, asks administrators for a security key (and fails the reset of one without any)', async () => {
        const user = await h.account();
        expect((await h.firstFactor(user.address)).body.status).toBe('needs_new_password');
        const admin = await h.account({ metadata: { role: 'admin' }, totp: true });
        const { flowId, body } = await h.firstFactor(admin.address);
        // The built-in rule runs first: the enrolled TOTP, then the administrators' rule.
        expect(body.next_step.challenge.factors).toEqual(['totp']);
        const passed = await h.web.secondFactor(flowId, body.grant, await h.totp(admin.secret!));
        // No security key enrolled: none of the factors asked for remains, and the reset fails.
        expect(passed.json().error.code).toBe('flow_denied');
        expect(h.denials().at(-1)).toMatchObject({ action: 'admins' });
      });
    });

    describe('redirect to a third-party verifier and continue', () => {
      let h: ActionsHarness;
      const secret = 'verifier-shared-secret-0123456789abcdef';
      const key = new TextEncoder().encode(secret);
      beforeAll(async () => {
        h = await actionsHarness(factory, {
          postChallenge: [
            { name: 'verifier', path: fixture('verifier/action.mjs'), secrets: { VERIFIER_SECRET: secret, VERIFIER_URL: 'https://verify.example/check' } },
          ],
        });
      });
      afterAll(() => h.close());

      const verdict = (state: string, verified: boolean) =>
        new SignJWT({ state, verified }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('2 minutes').sign(key);

      it('hands the verifier a token it can check with jose, and continues on its signed verdict', async () => {
        const who = await h.account();
        const { flowId, body } = await h.firstFactor(who.address);
        const url = new URL(body.next_step.redirect.url);
        expect(url.origin + url.pathname).toBe('https://verify.example/check');
        const { payload } = await jwtVerify(url.searchParams.get('session_token')!, key, { currentDate: new Date(h.clock.now()) });
        expect(payload).toMatchObject({ sub: who.user.id, email: who.address, iss: new URL(h.config.baseUrl).host });
        const state = url.searchParams.get('state')!;
        const resumed = await h.continueFlow(flowId, body.grant, state, { body: { verdict: await verdict(state, true) } });
        expect(resumed.json()).toMatchObject({ status: 'needs_new_password' });
        expect((await h.web.setPassword(flowId, resumed.json().grant, h.password())).statusCode).toBe(200);
      });

      it('denies on a negative verdict, and on a verdict signed for another redirect', async () => {
        for (const forge of [(state: string) => verdict(state, false), () => verdict('another-state-entirely-0123456789', true)]) {
          const who = await h.account();
          const { flowId, body } = await h.firstFactor(who.address);
          const state = new URL(body.next_step.redirect.url).searchParams.get('state')!;
          const resumed = await h.continueFlow(flowId, body.grant, state, { body: { verdict: await forge(state) } });
          expect(resumed.json().error.code).toBe('flow_denied');
        }
      });
    });

    describe('deny resets from countries given in a header set by the proxy', () => {
      let h: ActionsHarness;
      beforeAll(async () => {
        h = await actionsHarness(factory, {
          postChallenge: [{ name: 'countries', path: fixture('deny-countries/action.js'), secrets: { BLOCKED_COUNTRIES: 'KP, IR' } }],
          countryHeader: 'x-client-country',
        });
      });
      afterAll(() => h.close());

      it('lets a reset from France through and refuses one from a listed country, with a generic answer', async () => {
        const who = await h.account();
        expect((await h.firstFactor(who.address, { 'x-client-country': 'FR' })).body.status).toBe('needs_new_password');
        const refused = await h.firstFactor(who.address, { 'x-client-country': 'KP' });
        expect(refused.res.statusCode).toBe(403);
        expect(refused.body.error.code).toBe('flow_denied');
        expect(refused.res.body).not.toContain('KP');
        expect(h.denials().at(-1)).toMatchObject({ action: 'countries', reason: 'password reset from KP refused' });
      });
    });
  });
}
