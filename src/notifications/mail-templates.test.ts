import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createMailTemplates, MAIL_LANGS, MAIL_PARTS, mailLang } from './mail-templates.ts';

const app = { name: 'Acme', logo_url: 'https://acme.test/logo.png', brand_color: '#ff5500' };
const link = 'https://rekey.test/reset/verify?token=tok_abc123&client_id=client_1';

describe('mail templates', () => {
  const templates = createMailTemplates();

  it('password-reset: the text part carries the link as is, the html part escapes user input', async () => {
    const mail = await templates.render('password-reset', {
      app,
      user: { email: 'ada@example.com', first_name: "<script>alert(1)</script> O'Neil" },
      link,
      expires_in_minutes: 30,
    });

    expect(mail.subject).toBe('Reset your Acme password');
    expect(mail.text).toContain(link);
    expect(mail.text).toContain('expires in 30 minutes');
    expect(mail.text).toContain("Hi <script>alert(1)</script> O'Neil,");

    expect(mail.html).not.toContain('<script>');
    expect(mail.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(mail.html).toContain('href="https://rekey.test/reset/verify?token=tok_abc123&amp;client_id=client_1"');
    expect(mail.html).toContain('src="https://acme.test/logo.png"');
    expect(mail.html).toContain('background:#ff5500');
  });

  it('password-reset: a code-only mail shows the code', async () => {
    const mail = await templates.render('password-reset', { app, user: { email: 'ada@example.com' }, code: '042917', expires_in_minutes: 10 });
    expect(mail.text).toContain('Enter this code on the reset page:\n\n042917');
    expect(mail.html).toContain('042917');
    expect(mail.text).not.toContain('open this link');
  });

  it('password-changed: time, IP, device and the way back, and no token or password', async () => {
    const vars = {
      app,
      user: { email: 'ada@example.com', first_name: 'Ada' },
      changed_at: '2025-03-04T05:06:07.000Z',
      ip_address: '203.0.113.9',
      user_agent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0',
      help_url: 'https://rekey.test/auth/forgot?email=ada%40example.com',
      // Stray secrets in the scope must not leak: the template never names them.
      token: 'tok_SECRET_TOKEN',
      password: 'correct horse battery staple',
    };
    const mail = await templates.render('password-changed', vars);

    expect(mail.subject).toBe('Your Acme password was changed');
    for (const part of [mail.text, mail.html]) {
      expect(part).toContain('2025-03-04 05:06 UTC');
      expect(part).toContain('203.0.113.9');
      expect(part).toContain('Firefox/128.0');
      expect(part).not.toContain('tok_SECRET_TOKEN');
      expect(part).not.toContain('correct horse');
    }
    expect(mail.text).toContain("This wasn't me");
    expect(mail.text).toContain(vars.help_url);
    expect(mail.html).toContain(`href="${vars.help_url}"`);
    expect(mail.html).toContain("This wasn't me");
  });

  it('password-changed: unknown IP and device say so', async () => {
    const mail = await templates.render('password-changed', {
      app,
      user: { email: 'ada@example.com' },
      changed_at: '2025-03-04T05:06:07.000Z',
      ip_address: null,
      user_agent: null,
      help_url: 'https://rekey.test/auth/forgot',
    });
    expect(mail.text).toMatch(/IP:\s+unknown/);
    expect(mail.text).toMatch(/Device:\s+unknown/);
  });

  it('falls back to safe branding when a colour or logo could break out of its attribute', async () => {
    const mail = await templates.render('password-reset', {
      app: { name: 'Acme', logo_url: 'javascript:alert(1)', brand_color: 'red;background:url(https://evil.test/x)' },
      user: { email: 'ada@example.com' },
      link,
      expires_in_minutes: 30,
    });
    expect(mail.html).not.toContain('javascript:');
    expect(mail.html).not.toContain('evil.test');
    expect(mail.html).toContain('background:#2563eb');
  });

  it('refuses a link that is not http(s)', async () => {
    await expect(
      templates.render('password-reset', { app, user: { email: 'a@example.com' }, link: 'javascript:alert(1)', expires_in_minutes: 30 }),
    ).rejects.toThrow(/"link" must be an http\(s\) URL/);
  });

  it('throws a clear error for an unknown template, including a path-like name', async () => {
    await expect(templates.render('welcome-aboard', {})).rejects.toThrow('Unknown mail template "welcome-aboard"');
    await expect(templates.render('../package', {})).rejects.toThrow('Unknown mail template "../package"');
  });

  it('keeps a subject on one line', async () => {
    const mail = await templates.render('password-reset', { app: { name: 'Acme\r\nBcc: evil@example.com' }, user: {}, link, expires_in_minutes: 1 });
    expect(mail.subject).toBe('Reset your Acme Bcc: evil@example.com password');
  });

  it('reset-unknown-account: says no account uses the address, points back to the reset page, and has no link to set a password', async () => {
    const help = 'https://rekey.test/reset';
    const mail = await templates.render('reset-unknown-account', { app, user: { email: 'nobody@example.com' }, help_url: help });
    expect(mail.subject).toBe('Acme password reset: no account uses this address');
    for (const part of [mail.text, mail.html]) {
      expect(part).toContain('nobody@example.com');
      expect(part).toContain('No Acme account uses this address');
      expect(part).not.toContain('token=');
    }
    expect(mail.text).toContain(help);
    expect(mail.html).toContain(`href="${help}"`);
  });
});

const TEMPLATE_DIR = fileURLToPath(new URL('./templates/', import.meta.url));
const NAMES = [...new Set(readdirSync(TEMPLATE_DIR).map((file) => file.split('.')[0]!))].sort();
const FR_VARS: Record<string, Record<string, unknown>> = {
  'password-reset': { app, user: { email: 'ada@example.com', first_name: 'Ada' }, link, code: '042917', expires_in_minutes: 30 },
  'password-changed': {
    app,
    user: { email: 'ada@example.com' },
    changed_at: '2025-03-04T05:06:07.000Z',
    ip_address: null,
    user_agent: null,
    help_url: 'https://rekey.test/reset',
  },
  'reset-unknown-account': { app, user: { email: 'nobody@example.com' }, help_url: 'https://rekey.test/reset' },
};

/** The prose of a part: no URLs, times, tags or entities, whose colons and semicolons are not punctuation. */
const prose = (part: string) =>
  part
    .replace(/<head>[\s\S]*?<\/head>/, '')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&#?\w+;/g, ' ')
    .replace(/https?:\/\/\S+/g, ' ')
    .replace(/\d:\d/g, ' ');

describe('mail languages', () => {
  const templates = createMailTemplates();

  it('picks the language from the primary subtag of the locale, and English for anything else', () => {
    for (const locale of ['fr', 'fr-FR', 'fr-CA', 'FR', 'fr_BE', ' fr-ch ']) expect(mailLang(locale), locale).toBe('fr');
    for (const locale of ['en', 'en-GB', 'de-DE', 'pt-BR', 'french', 'x-fr', '', null, undefined, 42]) expect(mailLang(locale), String(locale)).toBe('en');
  });

  it('ships every template in every language, each with its three parts', () => {
    expect(NAMES).toEqual(Object.keys(FR_VARS).sort());
    const files = new Set(readdirSync(TEMPLATE_DIR));
    for (const name of NAMES) {
      for (const lang of MAIL_LANGS) for (const part of MAIL_PARTS) expect(files.has(`${name}.${lang}.${part}.liquid`), `${name}.${lang}.${part}`).toBe(true);
    }
  });

  it('renders every template in French for fr, fr-FR and fr-CA, with the html in lang="fr"', async () => {
    for (const name of NAMES) {
      for (const locale of ['fr', 'fr-FR', 'fr-CA']) {
        const mail = await templates.render(name, FR_VARS[name]!, locale);
        expect(mail.html, `${name} ${locale}`).toContain('<html lang="fr">');
        expect(mail.text, `${name} ${locale}`).toMatch(/^Bonjour/);
        expect(mail.text, `${name} ${locale}`).not.toMatch(/\b(Hi|the|your|password)\b/);
      }
    }
    const reset = await templates.render('password-reset', FR_VARS['password-reset']!, 'fr-CA');
    expect(reset.subject).toBe('Réinitialisez votre mot de passe Acme');
    expect(reset.text).toContain(link);
    expect(reset.text).toContain('Ou saisissez ce code sur la page de réinitialisation\u00a0:\n\n042917');
    expect(reset.text).toContain('expire dans 30 minutes');
    const changed = await templates.render('password-changed', FR_VARS['password-changed']!, 'fr');
    expect(changed.text).toContain('04/03/2025 05:06 UTC');
    expect(changed.text).toMatch(/Adresse IP\u00a0:\s+inconnue/);
    expect((await templates.render('reset-unknown-account', FR_VARS['reset-unknown-account']!, 'fr')).subject).toBe(
      'Réinitialisation du mot de passe Acme\u00a0: aucun compte n’utilise cette adresse',
    );
  });

  it('French mail puts a no-break space before : ; ? and !, in the subject, the text and the html', async () => {
    for (const name of NAMES) {
      const mail = await templates.render(name, FR_VARS[name]!, 'fr');
      for (const [part, content] of Object.entries(mail)) {
        expect(prose(content), `${name} ${part}`).not.toMatch(/[^\u00a0\u202f][:;?!]/);
      }
    }
  });

  it('an unknown or missing locale gets the English mail', async () => {
    for (const locale of ['de-DE', 'pt-BR', null, undefined]) {
      const mail = await templates.render('password-reset', FR_VARS['password-reset']!, locale);
      expect(mail.subject, String(locale)).toBe('Reset your Acme password');
      expect(mail.html).toContain('<html lang="en">');
    }
  });

  it('a template without a translation falls back to English; half a translation is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rekey-mail-'));
    try {
      for (const part of MAIL_PARTS) writeFileSync(join(dir, `notice.en.${part}.liquid`), `english ${part}`);
      const custom = createMailTemplates({ directory: dir });
      expect((await custom.render('notice', {}, 'fr-FR')).subject).toBe('english subject');
      writeFileSync(join(dir, 'notice.fr.subject.liquid'), 'sujet');
      await expect(createMailTemplates({ directory: dir }).render('notice', {}, 'fr')).rejects.toThrow(/"notice" \(fr\) has no text, html part/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
