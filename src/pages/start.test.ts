import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { RekeyError } from '../errors/index.ts';
import { actionTexts } from './actions.messages.ts';
import { en } from './messages/en.ts';
import { fr } from './messages/fr.ts';
import { application, buildPages } from './testing.ts';

const open: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((app) => app.close()));
});

async function setup(...args: Parameters<typeof buildPages>) {
  const built = await buildPages(...args);
  open.push(built.app);
  return built;
}

const GOOD_PASSWORD = 'correct horse battery staple';

describe('hosted pages: the way through', () => {
  it('a form error is a 303 back to the form (Post/Redirect/Get), shown once with what was typed', async () => {
    const { browser } = await setup();
    await browser.get('/reset?redirect_url=https%3A%2F%2Fapp.example.com%2Fafter-reset');
    const posted = await browser.postOnly('/reset', { email: 'not-an-address', method: 'email_code', redirect_url: 'https://app.example.com/after-reset' });
    expect(posted.statusCode).toBe(303);
    expect(posted.headers.location).toBe('/reset?redirect_url=https%3A%2F%2Fapp.example.com%2Fafter-reset');
    expect(posted.body).toBe('');
    const form = posted.cookies.find((c) => c.name === 'rekey_form');
    expect(form).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    expect(form!.value).not.toContain('not-an-address');

    const shown = await browser.get(posted.headers.location!);
    expect(shown.statusCode).toBe(422);
    expect(shown.body).toContain('data-code="email_invalid"');
    expect(shown.body).toContain('value="not-an-address"');
    expect(shown.body).toMatch(/id="method-code" name="method" value="email_code"[^>]* checked/);
    expect(shown.body).toContain('name="redirect_url" value="https://app.example.com/after-reset"');
    expect(shown.body).toContain('<title>Error: Reset your password · Acme</title>');
    // Shown once: a reload (or the back button later) shows the plain form.
    const again = await browser.get('/reset');
    expect(again.statusCode).toBe(200);
    expect(again.body).not.toContain('data-code=');
    // Errors left for one page never show on another.
    await browser.postOnly('/reset', { email: '', method: 'email_link' });
    expect((await browser.get('/reset/sent')).body).not.toContain('email_required');
  });

  it('"check your email" shows the address as typed, resends after its cooldown and offers a code instead', async () => {
    const { browser, flows, clock } = await setup();
    await browser.get('/reset');
    expect((await browser.post('/reset', { email: '  Ada.Lovelace@Example.COM ', method: 'email_link' })).headers.location).toBe('/reset/sent');
    const sent = await browser.get('/reset/sent');
    expect(sent.statusCode).toBe(200);
    expect(sent.body).toContain('<strong>Ada.Lovelace@Example.COM</strong>');
    expect(sent.body).toContain('data-cooldown="30"');
    expect(sent.body).toContain('You can ask for another email in 30 seconds.');
    expect(sent.body).toContain('<script src="/assets/pages.js" defer></script>');

    // Too early: the same page says how long to wait, and nothing is sent.
    const early = await browser.post('/reset/resend', { method: 'email_link', back: 'sent' });
    expect(early.statusCode).toBe(429);
    expect(browser.followed).toBe('/reset/sent');
    expect(early.headers['retry-after']).toBe('30');
    expect(early.body).toContain('Wait 30 seconds before asking for another email.');
    expect(flows.calls).toEqual(['start:email_link:en']);

    clock.advance(20_000);
    expect((await browser.get('/reset/sent')).body).toContain('You can ask for another email in 10 seconds.');
    clock.advance(11_000);
    expect((await browser.get('/reset/sent')).body).toContain('You can ask for another email now.');
    const resent = await browser.post('/reset/resend', { method: 'email_link', back: 'sent' });
    expect(resent.statusCode).toBe(303);
    expect(resent.headers.location).toBe('/reset/sent');
    expect(flows.calls).toEqual(['start:email_link:en', 'start:email_link:en']);
    expect((await browser.get('/reset/sent')).body).toContain('data-cooldown="30"');

    // "Use a code instead" right away: another method, a new request for the same address.
    const code = await browser.post('/reset/resend', { method: 'email_code', back: 'sent' });
    expect(code.headers.location).toBe('/reset/code');
    expect(flows.calls.at(-1)).toBe('start:email_code:en');
    expect([...flows.flows.values()].at(-1)?.strategy).toBe('email_code');
    const codePage = await browser.get('/reset/code');
    expect(codePage.body).toContain('<strong>Ada.Lovelace@Example.COM</strong>');
    expect(codePage.body).toContain('Send a new code');
  });

  it('the code page says how many tries are left, takes a pasted code with spaces or dashes, and offers a new code', async () => {
    const { browser, flows, clock } = await setup();
    await browser.get('/reset');
    await browser.post('/reset', { email: 'ada@example.com', method: 'email_code' });
    const page = await browser.get('/reset/code');
    expect(page.body).toContain('You have 5 tries left with this code.');
    expect(page.body).toMatch(/id="code"[^>]*maxlength="24"/);
    const wrong = await browser.post('/reset/code', { code: '000-000' });
    expect(wrong.statusCode).toBe(422);
    expect(wrong.body).toContain('data-code="code_incorrect"');
    expect(wrong.body).toContain('You have 4 tries left with this code.');
    // A typed code in the wrong shape is shown back, so the user sees what was sent.
    const shape = await browser.post('/reset/code', { code: '12a456' });
    expect(shape.body).toContain('data-code="code_format"');
    expect(shape.body).toContain('value="12a456"');

    clock.advance(31_000);
    const renewed = await browser.post('/reset/resend', { method: 'email_code', back: 'code' });
    expect(renewed.headers.location).toBe('/reset/code');
    expect((await browser.get('/reset/code')).body).toContain('You have 5 tries left with this code.');
    expect((await browser.post('/reset/code', { code: ' 123 - 456 ' })).headers.location).toBe('/reset/new');
    expect(flows.calls).toEqual(['start:email_code:en', 'attemptCode', 'start:email_code:en', 'attemptCode']);
  });

  it('the resend cooldown is a setting: the page counts down from it and refuses a resend until it has passed', async () => {
    const { browser, flows, clock } = await setup({ settings: { resendCooldownSeconds: 90 } });
    await browser.get('/reset');
    await browser.post('/reset', { email: 'ada@example.com', method: 'email_link' });
    const sent = await browser.get('/reset/sent');
    expect(sent.body).toContain('data-cooldown="90"');
    expect(sent.body).toContain('You can ask for another email in 90 seconds.');

    clock.advance(60_000);
    const early = await browser.post('/reset/resend', { method: 'email_link', back: 'sent' });
    expect(early.statusCode).toBe(429);
    expect(early.headers['retry-after']).toBe('30');
    expect(early.body).toContain('Wait 30 seconds before asking for another email.');
    clock.advance(29_000);
    expect((await browser.post('/reset/resend', { method: 'email_link', back: 'sent' })).headers['retry-after']).toBe('1');
    expect(flows.calls).toEqual(['start:email_link:en']);

    clock.advance(1_000);
    expect((await browser.get('/reset/sent')).body).toContain('You can ask for another email now.');
    expect((await browser.postOnly('/reset/resend', { method: 'email_link', back: 'sent' })).headers.location).toBe('/reset/sent');
    expect(flows.calls).toEqual(['start:email_link:en', 'start:email_link:en']);
    expect((await browser.get('/reset/sent')).body).toContain('data-cooldown="90"');
  });

  it('resend without an address typed in this browser says to start again', async () => {
    const { browser } = await setup();
    await browser.get('/reset');
    const refused = await browser.post('/reset/resend', { method: 'email_link', back: 'sent' });
    expect(refused.statusCode).toBe(400);
    expect(refused.body).toContain('data-code="resend_unavailable"');
    expect(refused.body).toContain('<a class="button" href="/reset">Start again</a>');
  });

  it('a rate limit says which limit tripped and when to try again, on the form, in either language', async () => {
    const { browser, flows } = await setup();
    await browser.get('/reset');
    flows.failNext.set('start', new RekeyError('rate_limited', { retryAfterSeconds: 95, limit: 'identifier_requests' }));
    const limited = await browser.post('/reset', { email: 'ada@example.com', method: 'email_link' });
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBe('95');
    expect(limited.body).toContain('Too many reset requests for this email address. Try again in 2 minutes.');
    expect(limited.body).toContain('value="ada@example.com"');
    flows.failNext.set('start', new RekeyError('rate_limited', { retryAfterSeconds: 40, limit: 'ip_requests' }));
    const french = await browser.post('/reset', { email: 'ada@example.com', method: 'email_link', lang: 'fr' });
    expect(french.body).toContain('Trop de demandes de réinitialisation depuis votre réseau. Réessayez dans 40 secondes.');
    expect(french.body).toContain('<title>Erreur\u202f: Réinitialiser votre mot de passe · Acme</title>');
  });

  it('the done page offers the way back as a button: the allow-listed redirect, else the sign-in URL', async () => {
    const acme = application({
      sign_in_url: 'https://app.example.com/sign-in',
      support_email: 'help@example.com',
      allowed_redirects: '["https://app.example.com/after-reset", "https://app.example.com/sign-in"]',
    });
    const { browser, flows } = await setup({ apps: [acme] });
    const done = await browser.get('/reset/done');
    expect(done.body).toContain('<a class="button" href="https://app.example.com/sign-in">Sign in to Acme</a>');
    expect(done.body).toContain('<a href="mailto:help@example.com">help@example.com</a>');
    expect(done.body).not.toContain('http-equiv="refresh"');

    flows.redirectTo = 'https://app.example.com/after-reset';
    await browser.get('/reset');
    await browser.post('/reset', { email: 'ada@example.com', method: 'email_code' });
    await browser.get('/reset/code');
    await browser.post('/reset/code', { code: '123456' });
    await browser.get('/reset/new');
    expect((await browser.post('/reset/new', { password: GOOD_PASSWORD, confirm: GOOD_PASSWORD })).headers.location).toBe('/reset/done');
    const back = await browser.get('/reset/done');
    expect(back.body).toContain('<a class="button" href="https://app.example.com/after-reset">Continue to Acme</a>');
    expect(back.body).not.toContain('Sign in to Acme');

    // Unsafe settings are not shown, nor a sign-in URL that has left the allow-list.
    const unsafe = application({ sign_in_url: 'https://evil.test/sign-in', support_email: 'a@b.c\r\nBcc: x@evil.test' });
    const { browser: other } = await setup({ apps: [unsafe] });
    const plain = await other.get('/reset/done');
    expect(plain.body).not.toMatch(/evil\.test|mailto:/);
  });

  it("an error page keeps the flow's application branding and offers to start again there", async () => {
    const bee = application({
      id: 'app_b',
      client_id: 'client_b',
      is_default: 0,
      name: 'Bee',
      brand_color: '#0a0',
      logo_url: 'data:image/png;base64,iVBORw0KGgo=',
      support_email: 'help@bee.example',
    });
    const { browser, clock } = await setup({ apps: [application(), bee] });
    await browser.get('/reset?client_id=client_b');
    await browser.post('/reset', { email: 'ada@example.com', method: 'email_code', client_id: 'client_b' });
    clock.advance(31 * 60_000);
    const expired = await browser.get('/reset/code');
    expect(expired.statusCode).toBe(410);
    expect(expired.body).toContain('<p class="app-name">Bee</p>');
    expect(expired.body).toContain('<link rel="stylesheet" href="/assets/brand/app_b.css">');
    expect(expired.body).toContain('<link rel="icon" href="data:image/png;base64,iVBORw0KGgo=">');
    expect(expired.body).toContain('<a class="button" href="/reset?client_id=client_b">Start again</a>');
    expect(expired.body).toContain('mailto:help@bee.example');
    // Opened for an application by its client id: that one's branding too.
    const unknown = await browser.get('/reset/done?client_id=nope');
    expect(unknown.statusCode).toBe(404);
  });

  it('every page names its icon, so no browser asks for one that is not there', async () => {
    const { browser } = await setup();
    for (const url of ['/reset', '/reset/sent', '/reset/done', '/reset/code']) {
      expect((await browser.get(url)).body, url).toContain('<link rel="icon" href="/assets/favicon.svg">');
    }
  });
});

describe('French typography', () => {
  it('puts a narrow no-break space before : ; ! ? in every French text, and never another space', () => {
    const texts = [...Object.values(fr.messages), ...Object.values(fr.errors), ...actionTexts('fr')];
    const wrong = texts.filter((text) => /(?<!\u202f)[:;!?]|[ \u00a0]\u202f/.test(text));
    expect(wrong).toEqual([]);
    expect(texts.filter((text) => /\u202f[:;!?]/.test(text)).length).toBeGreaterThan(5);
    // English keeps its own rule: no space before them.
    expect([...Object.values(en.messages), ...Object.values(en.errors), ...actionTexts('en')].filter((text) => /\s[:;!?]/.test(text))).toEqual([]);
  });

  it('renders French pages with it', async () => {
    const { browser } = await setup();
    const page = await browser.get('/reset?lang=fr');
    expect(page.body).toContain('Comment voulez-vous confirmer qu’il s’agit bien de vous\u202f?');
    expect(page.body).not.toMatch(/[ \u00a0][:;!?]/);
  });
});
