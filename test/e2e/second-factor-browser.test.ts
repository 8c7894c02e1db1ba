import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { STORES } from '../../src/store/testing.ts';
import { managementApi } from '../support/api.ts';
import { browserApi, totpAt } from '../support/browser-api.ts';
import { fixture } from '../support/actions.ts';
import { freshAccounts, type Harness } from '../support/harness.ts';
import { axeViolations, launchChromium, linkingSite, listeningHarness } from './chromium.ts';

/**
 * Resets in a real Chromium whose second factor is demanded by the built-in rule: a security key enrolled through
 * the enrollment link (a CDP virtual authenticator) chosen among it and recovery codes; a recovery code, and an SMS
 * code chosen among it and TOTP, both with JavaScript turned off. Each ends with the new password signing in and the
 * factors still enrolled. WebAuthn needs a secure context and a domain as RP ID: the base URL is `http://localhost`.
 */

let browser: Browser;
/** The application's own site, with a link to where `?to=` says. */
let appSite: Awaited<ReturnType<typeof linkingSite>>;
beforeAll(async () => {
  browser = await launchChromium({ localhost: true });
  appSite = await linkingSite('Manage your sign-in protection');
});
afterAll(async () => {
  await browser?.close();
  await appSite?.close();
});

for (const factory of STORES) {
  describe(`${factory.name}: every second factor on the reset pages, in Chromium`, () => {
    let h: Harness;
    let api: ReturnType<typeof managementApi>;
    let web: ReturnType<typeof browserApi>;
    const contexts: BrowserContext[] = [];
    const { email, password } = freshAccounts();

    beforeAll(async () => {
      h = await listeningHarness(factory, { host: 'localhost' });
      api = managementApi(h);
      web = browserApi(h);
    });
    afterAll(() => h?.close());
    afterEach(async () => {
      await Promise.all(contexts.splice(0).map((c) => c.close()));
    });

    const newPage = async (javaScriptEnabled = true) => {
      const context = await browser.newContext({ javaScriptEnabled });
      contexts.push(context);
      return context.newPage();
    };

    const newUser = async (tag: string) => {
      const address = email(tag);
      const original = password();
      const user = await api.createUser(address, original, { email_verified: true });
      return { user, address, original };
    };

    /** The reset asked for with a code, the code typed: the browser is then at the second factor. */
    const pastFirstFactor = async (page: Page, address: string) => {
      await page.goto(`${h.config.baseUrl}/reset`);
      await page.fill('#email', address);
      await page.check('#method-code');
      await Promise.all([page.waitForURL('**/reset/code'), page.click('form[action="/reset"] button[type=submit]')]);
      await page.fill('#code', await web.codeFor(address));
      await page.click('form[action="/reset/code"] button[type=submit]');
    };

    /** The new-password page (no meter needed: it may run without JavaScript), then the done page. */
    const setPassword = async (page: Page) => {
      await page.waitForURL('**/reset/new');
      const chosen = password(' new');
      await page.fill('#password', chosen);
      await page.fill('#confirm', chosen);
      await Promise.all([page.waitForURL(/\/reset\/done/), page.click('form[action="/reset/new"] button[type=submit]')]);
      return chosen;
    };

    /** A sign-in with the new password, whose second step is `code` (TOTP or a recovery code); the old one no longer works. */
    const signsIn = async (who: { address: string; original: string }, chosen: string, code: () => Promise<string>) => {
      expect((await api.login(who.address, who.original)).statusCode).toBe(400);
      const login = await api.login(who.address, chosen);
      expect(login.json().code).toBe('mfa_challenge');
      return (await api.completeMfa(login.json().pending_authentication_token, await code())).statusCode;
    };

    it('a security key enrolled through the link, chosen among it and recovery codes, answers the reset; the new password signs in', async () => {
      const page = await newPage();
      const cdp = await page.context().newCDPSession(page);
      await cdp.send('WebAuthn.enable');
      const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
        options: {
          protocol: 'ctap2',
          transport: 'usb',
          hasResidentKey: true,
          hasUserVerification: true,
          isUserVerified: true,
          automaticPresenceSimulation: true,
        },
      });
      const who = await newUser('key');
      const link = (await api.call('POST', `/user_management/users/${who.user.id}/factor_enrollment_links`)).json();
      await page.goto(`${appSite.url}?to=${encodeURIComponent(link.url)}`);
      await page.getByRole('link', { name: 'Manage your sign-in protection' }).click();
      await page.waitForURL(`${h.config.baseUrl}/factors/enroll`);
      await page.getByRole('button', { name: 'Add a security key' }).click();
      await page.waitForURL(/\/factors\/enroll\?added=1$/);
      await page.getByRole('button', { name: 'Create recovery codes' }).click();
      const codes = await page.locator('[data-recovery-codes] code').allTextContents();
      expect(codes).toHaveLength(10);

      await pastFirstFactor(page, who.address);
      // The built-in rule asks for any enrolled factor: the user chooses.
      await page.waitForURL('**/reset/choose');
      expect(await page.locator('fieldset.choices label').allTextContents()).toEqual(['Your security key', 'One of your recovery codes']);
      expect(await axeViolations(page)).toEqual([]);
      await page.getByLabel('Your security key').check();
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.waitForURL('**/reset/second-factor?method=webauthn_roaming');
      await page.getByRole('heading', { name: 'Confirm with your security key' }).waitFor();
      // The form shows once its script has loaded; the other way is a link beside it.
      await page.locator('form[data-webauthn="get"]:not([hidden])').waitFor();
      expect(await page.locator('[data-method]').allTextContents()).toEqual(['One of your recovery codes']);
      expect(await axeViolations(page)).toEqual([]);
      await page.getByRole('button', { name: 'Use my security key' }).click();
      const chosen = await setPassword(page);

      expect(await signsIn(who, chosen, async () => codes[0]!)).toBe(200);
      expect(await h.rekey.factors.enrolledTypes(who.user.id)).toEqual(['webauthn_roaming', 'recovery_code']);
      expect(await h.rekey.factors.recoveryCodesLeft(who.user.id)).toBe(9);
      // The key signed its registration and the reset's assertion.
      expect((await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials[0]?.signCount).toBe(2);
    });

    it('a recovery code answers the reset without JavaScript, after a wrong one; it is spent afterwards', async () => {
      const page = await newPage(false);
      const who = await newUser('recovery');
      const codes: string[] = (await api.call('POST', `/user_management/users/${who.user.id}/recovery_codes`)).json().codes;
      await pastFirstFactor(page, who.address);
      await page.waitForURL('**/reset/second-factor');
      await page.getByRole('heading', { name: 'Enter a recovery code' }).waitFor();
      await page.getByLabel('Recovery code').fill('zzzzz-zzzzz');
      await page.getByRole('button', { name: 'Confirm' }).click();
      // Post/Redirect/Get: the form again, at its own address, with what is wrong beside the field.
      await page.waitForURL('**/reset/second-factor?method=recovery_code');
      expect(await page.locator('#recovery-code-error').textContent()).toBe('That recovery code is not correct or was already used.');
      // Without JavaScript, axe audits a copy of the page in a page that runs it.
      expect(await axeViolations(page, await newPage())).toEqual([]);
      await page.getByLabel('Recovery code').fill(codes[2]!);
      await page.getByRole('button', { name: 'Confirm' }).click();
      const chosen = await setPassword(page);

      expect(await h.rekey.factors.recoveryCodesLeft(who.user.id)).toBe(9);
      expect(await signsIn(who, chosen, async () => codes[2]!)).not.toBe(200);
      expect(await signsIn(who, chosen, async () => codes[5]!)).toBe(200);
      expect(await h.rekey.factors.enrolledTypes(who.user.id)).toEqual(['recovery_code']);
      expect(await h.rekey.factors.recoveryCodesLeft(who.user.id)).toBe(8);
    });

    it('an SMS code chosen among it and TOTP answers the reset without JavaScript; the factors stay', async () => {
      const page = await newPage(false);
      const who = await newUser('sms');
      const secret: string = (await api.call('POST', `/user_management/users/${who.user.id}/auth_factors`, { type: 'totp' })).json().authentication_factor.totp
        .secret;
      const phone = `+1415777${factory.name === 'sqlite' ? '1' : '2'}001`;
      expect((await api.call('POST', `/user_management/users/${who.user.id}/auth_factors`, { type: 'sms', phone_number: phone })).statusCode).toBe(201);
      await pastFirstFactor(page, who.address);
      await page.waitForURL('**/reset/choose');
      await page.getByLabel('A code by text message').check();
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.waitForURL('**/reset/second-factor?method=sms');
      expect(await page.textContent('main')).toContain(`•${phone.slice(-2)}`);
      expect(await axeViolations(page, await newPage())).toEqual([]);
      await h.deliver();
      await h.deliver();
      const texted = (await h.mailbox(phone))[0]?.text.match(/\b(\d{6})\b/)?.[1];
      expect(texted).toBeDefined();
      await page.getByLabel('Code from the text message').fill(texted!);
      await page.getByRole('button', { name: 'Confirm' }).click();
      const chosen = await setPassword(page);

      expect(await signsIn(who, chosen, async () => totpAt(secret, h.clock.now()))).toBe(200);
      expect(await h.rekey.factors.enrolledTypes(who.user.id)).toEqual(['totp', 'sms']);
    });
  });
}

for (const factory of STORES) {
  describe(`${factory.name}: an action that demands a security key, in Chromium`, () => {
    let h: Harness;
    const contexts: BrowserContext[] = [];
    const { email, password } = freshAccounts();

    beforeAll(async () => {
      h = await listeningHarness(factory, {
        host: 'localhost',
        config: {
          actions: { requireEnrolledSecondFactor: false, postChallenge: [{ name: 'webauthn', path: fixture('auth0-challenge-webauthn/action.js') }] },
        },
      });
    });
    afterAll(() => h?.close());
    afterEach(async () => {
      await Promise.all(contexts.splice(0).map((c) => c.close()));
    });

    it("Auth0's WebAuthn sample, verbatim, asks for the key enrolled through the link; the new password is accepted and the key stays", async () => {
      const api = managementApi(h);
      const web = browserApi(h);
      const context = await browser.newContext();
      contexts.push(context);
      const page = await context.newPage();
      const cdp = await context.newCDPSession(page);
      await cdp.send('WebAuthn.enable');
      const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
        options: {
          protocol: 'ctap2',
          transport: 'usb',
          hasResidentKey: true,
          hasUserVerification: true,
          isUserVerified: true,
          automaticPresenceSimulation: true,
        },
      });
      const address = email('key');
      const original = password();
      const user = await api.createUser(address, original, { email_verified: true });
      const link = (await api.call('POST', `/user_management/users/${user.id}/factor_enrollment_links`)).json();
      await page.goto(link.url);
      await page.waitForURL(`${h.config.baseUrl}/factors/enroll`);
      await page.getByRole('button', { name: 'Add a security key' }).click();
      await page.waitForURL(/\/factors\/enroll\?added=1$/);

      await page.goto(`${h.config.baseUrl}/reset`);
      await page.fill('#email', address);
      await page.check('#method-code');
      await Promise.all([page.waitForURL('**/reset/code'), page.click('form[action="/reset"] button[type=submit]')]);
      await page.fill('#code', await web.codeFor(address));
      await page.click('form[action="/reset/code"] button[type=submit]');
      // The action names the key itself: no choice is offered first.
      await page.waitForURL('**/reset/second-factor**');
      await page.getByRole('heading', { name: 'Confirm with your security key' }).waitFor();
      await page.locator('form[data-webauthn="get"]:not([hidden])').waitFor();
      await page.getByRole('button', { name: 'Use my security key' }).click();
      await page.waitForURL('**/reset/new');
      const chosen = password(' new');
      await page.fill('#password', chosen);
      await page.fill('#confirm', chosen);
      await Promise.all([page.waitForURL(/\/reset\/done/), page.click('form[action="/reset/new"] button[type=submit]')]);

      expect((await api.login(address, original)).statusCode).toBe(400);
      // The new password is right: the sign-in goes on to the account's second factor.
      expect((await api.login(address, chosen)).json().code).toBe('mfa_challenge');
      expect(await h.rekey.factors.enrolledTypes(user.id)).toEqual(['webauthn_roaming']);
      expect((await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials[0]?.signCount).toBe(2);
    });
  });
}
