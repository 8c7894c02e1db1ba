import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { STORES } from '../../src/store/testing.ts';
import { managementApi } from '../support/api.ts';
import { freshAccounts, type Harness } from '../support/harness.ts';
import { launchChromium, linkingSite, listeningHarness } from './chromium.ts';

/**
 * Enrollment through the one-time link in a real Chromium with CDP virtual authenticators (a USB security key and
 * the device's own), a WebAuthn challenge answered by each, and recovery codes made on the page and one used.
 * WebAuthn needs a secure context and a domain as RP ID, so the server's base URL is `http://localhost:<port>`.
 */

/** The page globals the functions handed to `page.evaluate` use (the project's types are Node's, without the DOM's). */
interface PageNode {
  value: string;
  submit(): void;
  click(): void;
  getAttribute(name: string): string | null;
  querySelector(selector: string): PageNode;
}
declare const document: { querySelector(selector: string): PageNode };

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
  describe(`${factory.name}: factor enrollment in Chromium`, () => {
    let h: Harness & { url: string };
    let api: ReturnType<typeof managementApi>;
    let context: BrowserContext;
    let page: Page;
    const { email, password } = freshAccounts();

    beforeAll(async () => {
      h = await listeningHarness(factory, { host: 'localhost' });
      api = managementApi(h);
    });
    afterAll(() => h.close());
    beforeEach(async () => {
      context = await browser.newContext();
      page = await context.newPage();
    });
    afterEach(async () => {
      await context.close();
    });

    /** A virtual authenticator in this page's browser: `usb` is a roaming security key, `internal` the platform's own. */
    const addAuthenticator = async (transport: 'usb' | 'internal') => {
      const cdp = await page.context().newCDPSession(page);
      await cdp.send('WebAuthn.enable');
      const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
        options: { protocol: 'ctap2', transport, hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
      });
      return { cdp, authenticatorId };
    };

    const followEnrollmentLink = async () => {
      const user = await api.createUser(email('webauthn'), password());
      const link = (await api.call('POST', `/user_management/users/${user.id}/factor_enrollment_links`)).json();
      expect(link.url.startsWith(`${h.config.baseUrl}/factors/enroll?token=`)).toBe(true);
      // The application's page, on another site, links to the enrollment link: the user clicks it.
      await page.goto(`${appSite.url}?to=${encodeURIComponent(link.url)}`);
      await page.getByRole('link', { name: 'Manage your sign-in protection' }).click();
      await page.waitForURL(`${h.config.baseUrl}/factors/enroll`);
      await page.getByRole('heading', { name: 'Your sign-in protection' }).waitFor();
      return user;
    };

    it('enrolls a security key and this device through the link, then each answers a challenge', async () => {
      const key = await addAuthenticator('usb');
      const device = await addAuthenticator('internal');
      const user = await followEnrollmentLink();

      // The form is hidden until its script has loaded; the no-JavaScript note goes away then.
      await page.getByRole('button', { name: 'Add a security key' }).click();
      await page.waitForURL(/\/factors\/enroll\?added=1$/);
      await page.goto(`${h.config.baseUrl}/factors/enroll`);
      await page.getByRole('button', { name: 'Use this device' }).click();
      await page.waitForURL(/\/factors\/enroll\?added=1$/);
      expect(await page.locator('[data-factors] li').evaluateAll((items) => items.map((li) => (li as unknown as PageNode).getAttribute('data-type')))).toEqual([
        'webauthn_roaming',
        'webauthn_platform',
      ]);
      const listed = (await api.call('GET', `/user_management/users/${user.id}/auth_factors?all_types=true`)).json();
      expect(listed.data.map((f: { type: string }) => f.type)).toEqual(['webauthn_roaming', 'webauthn_platform']);
      expect(await h.rekey.factors.enrolledFactorsOf(user.id)).toEqual([{ type: 'webauthn-roaming' }, { type: 'webauthn-platform' }]);
      const { credentials } = await key.cdp.send('WebAuthn.getCredentials', { authenticatorId: key.authenticatorId });
      expect(credentials).toHaveLength(1);
      expect((await device.cdp.send('WebAuthn.getCredentials', { authenticatorId: device.authenticatorId })).credentials).toHaveLength(1);

      for (const [type, button] of [
        ['webauthn_roaming', 'Use my security key'],
        ['webauthn_platform', 'Use this device'],
      ] as const) {
        await page.locator(`[data-try="${type}"]`).click();
        await page.getByRole('button', { name: button }).click();
        await page.waitForSelector('[data-checked]');
        await page.goto(`${h.config.baseUrl}/factors/enroll`);
      }
      // Each authenticator counted its registration and the one assertion: the stored counter follows its own.
      const rows = await h.store.db.selectFrom('auth_factors').select(['type', 'webauthn_counter']).where('user_id', '=', user.id).orderBy('id').execute();
      expect(rows.map((row) => [row.type, Number(row.webauthn_counter)])).toEqual([
        ['webauthn_roaming', 2],
        ['webauthn_platform', 2],
      ]);
    });

    it('a WebAuthn assertion for a spent challenge is refused and spends the shared budget', async () => {
      await addAuthenticator('usb');
      const user = await followEnrollmentLink();
      await page.getByRole('button', { name: 'Add a security key' }).click();
      await page.waitForURL(/added=1/);
      await page.locator('[data-try="webauthn_roaming"]').click();
      // The link navigates: evaluate only on the check page, not the one being left.
      await page.waitForURL(/\/check\?/);
      await page.waitForSelector('form[data-webauthn="get"]');
      // Keep the browser's answer instead of sending it, then send it twice.
      const answer = await page.evaluate(async () => {
        const form = document.querySelector('form[data-webauthn="get"]');
        return new Promise<string>((resolve) => {
          form.submit = () => resolve(form.querySelector('input[name="credential"]').value);
          form.querySelector('button').click();
        });
      });
      expect(await h.rekey.factors.verifyResponse(user.id, 'webauthn_roaming', answer)).toBe(true);
      expect(await h.rekey.factors.verifyResponse(user.id, 'webauthn_roaming', answer)).toBe(false);
      // Another account cannot use it either.
      const other = await api.createUser(email('other'), password());
      expect(await h.rekey.factors.verifyResponse(other.id, 'webauthn_roaming', answer)).toBe(false);
    });

    it('makes recovery codes on the page and uses one', async () => {
      const user = await followEnrollmentLink();
      await page.getByRole('button', { name: 'Create recovery codes' }).click();
      const codes = await page.locator('[data-recovery-codes] code').allTextContents();
      expect(codes).toHaveLength(10);
      await page.getByRole('link', { name: 'Back to your sign-in protection' }).click();
      await page.locator('[data-try="recovery_code"]').click();
      await page.getByLabel('Recovery code').fill(codes[4]!);
      await page.getByRole('button', { name: 'Confirm' }).click();
      await page.waitForSelector('[data-checked]');
      expect(await h.rekey.factors.recoveryCodesLeft(user.id)).toBe(9);
      expect(await h.rekey.factors.verifyResponse(user.id, 'recovery_code', codes[4]!)).toBe(false);
    });
  });
}
