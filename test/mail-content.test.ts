import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from '../src/pages/testing.ts';
import { STORES } from '../src/store/testing.ts';
import { managementApi } from './support/api.ts';
import { browserApi } from './support/browser-api.ts';
import { createHarness, GOOD_PASSWORD, type Harness } from './support/harness.ts';

const BASE_URL = 'https://rekey.example.test';

/** What the mail says, end to end: which mail, in which language, and the lifetimes the pages promise. */
for (const factory of STORES) {
  describe(`${factory.name}: mail content`, () => {
    let h: Harness;
    let n = 0;

    beforeAll(async () => {
      h = await createHarness(factory, {
        config: { baseUrl: BASE_URL, notifyUnknownRecipients: true, resetTokenTtlMinutes: 60, resetCodeTtlMinutes: 5 },
      });
    });
    afterAll(() => h.close());

    const newUser = async (extra: Record<string, unknown> = {}) => {
      const user = await managementApi(h).createUser(`mail.content.${++n}@example.com`, `${GOOD_PASSWORD} ${n}`, extra);
      return user;
    };
    /** Runs the request job and then its mail, and returns every mail the address got. */
    const mailsTo = async (email: string) => {
      await h.deliver();
      await h.deliver();
      return h.mailbox(email);
    };
    const browser = () => new Browser(h.app, BASE_URL);

    it('notifyUnknownRecipients: an unknown address gets the reset-unknown-account mail; a disabled account gets nothing', async () => {
      const web = browserApi(h);
      const known = await newUser();
      const disabled = await newUser();
      await h.store.db.updateTable('users').set({ disabled_at: h.clock.now() }).where('id', '=', disabled.id).execute();
      const unknown = 'nobody.here@example.com';
      for (const email of [unknown, disabled.email, known.email]) expect((await web.forgot(email)).statusCode).toBe(204);

      const [notice, ...more] = await mailsTo(unknown);
      expect(more).toEqual([]);
      expect(notice).toMatchObject({ subject: 'Rekey password reset: no account uses this address' });
      expect(notice!.text).toContain('No Rekey account uses this address');
      expect(notice!.text).toContain(`${BASE_URL}/reset`);
      expect(notice!.text).not.toContain('token=');
      // Kratos's notify_unknown_recipients: only addresses without an account; a disabled account is not told anything.
      expect(await h.mailbox(disabled.email)).toEqual([]);
      expect((await h.mailbox(known.email)).map((m) => m.subject)).toEqual(['Reset your Rekey password']);
      expect(await h.store.db.selectFrom('outbox').select(['kind', 'last_error']).where('status', '=', 'dead').execute()).toEqual([]);
    });

    it('a flow started on the French pages gets its mail in French; a user locale of fr-CA too, an unknown locale English', async () => {
      const french = await newUser();
      const page = browser();
      await page.get('/reset?lang=fr');
      expect((await page.post('/reset', { email: french.email, method: 'email_code', lang: 'fr' })).headers.location).toBe('/reset/code');
      const [code] = await mailsTo(french.email);
      expect(code!.subject).toBe('Réinitialisez votre mot de passe Rekey');
      expect(code!.text).toMatch(/Saisissez ce code sur la page de réinitialisation\u00a0:\n\n\d{6}\n/);
      expect(code!.html).toContain('<html lang="fr">');

      // A link asked for on the French pages comes in French too, whatever the account's own locale.
      const frenchLink = await newUser();
      const linkPage = browser();
      await linkPage.get('/reset?lang=fr');
      await linkPage.post('/reset', { email: frenchLink.email, method: 'email_link', lang: 'fr' });
      const [frenchLinkMail] = await mailsTo(frenchLink.email);
      expect(frenchLinkMail!.subject).toBe('Réinitialisez votre mot de passe Rekey');
      expect(frenchLinkMail!.html).toContain('<html lang="fr">');

      const api = managementApi(h);
      const canadian = await newUser();
      const german = await newUser();
      for (const [user, locale] of [
        [canadian, 'fr-CA'],
        [german, 'de-DE'],
      ] as const) {
        expect((await api.call('PUT', `/user_management/users/${user.id}`, { locale })).statusCode).toBe(200);
        expect((await api.createReset(user.email)).statusCode).toBe(201);
      }
      const [link] = await mailsTo(canadian.email);
      expect(link!.subject).toBe('Réinitialisez votre mot de passe Rekey');
      expect(link!.text).toContain('ouvrez ce lien\u00a0:');
      const [english] = await mailsTo(german.email);
      expect(english!.subject).toBe('Reset your Rekey password');
      expect(english!.html).toContain('<html lang="en">');
    });

    it('with resetTokenTtlMinutes 60 and resetCodeTtlMinutes 5, the pages and the mails say 60 and 5', async () => {
      const linkUser = await newUser();
      const linkPage = browser();
      await linkPage.get('/reset');
      expect((await linkPage.post('/reset', { email: linkUser.email, method: 'email_link' })).headers.location).toBe('/reset/sent');
      expect((await linkPage.get('/reset/sent')).body).toContain('expires in 60 minutes');
      expect((await mailsTo(linkUser.email))[0]!.text).toContain('expires in 60 minutes');
      // The flow waits as long as its link lives: still open at 45 minutes, over after 60.
      const flow = (await browserApi(h).startFlow(linkUser.email, 'email_link')).json();
      h.clock.advance(45 * 60_000);
      expect((await browserApi(h).getFlow(flow.id)).json().status).toBe('needs_first_factor');
      h.clock.advance(15 * 60_000);
      expect((await browserApi(h).getFlow(flow.id)).json().status).toBe('expired');

      const codeUser = await newUser();
      const codePage = browser();
      await codePage.get('/reset');
      await codePage.post('/reset', { email: codeUser.email, method: 'email_code' });
      expect((await codePage.get('/reset/code')).body).toContain('It expires in 5 minutes');
      expect((await mailsTo(codeUser.email))[0]!.text).toContain('expires in 5 minutes');
    });
  });
}
