import { describe, expect, it } from 'vitest';
import { createMailTemplates } from './mail-templates.ts';

const app = { name: 'Acme', logo_url: 'https://acme.test/logo.png', brand_color: '#ff5500' };
const link = 'https://rekey.test/reset/verify?token=tok_abc123&client_id=client_1';

describe('mail templates', () => {
  const templates = createMailTemplates();

  it('password-reset: the text part carries the link as is, the html part escapes user input', async () => {
    const mail = await templates.render('password-reset', {
      app,
      user: { email: 'ada@example.com', first_name: '<script>alert(1)</script> O\'Neil' },
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
      app, user: { email: 'ada@example.com' }, changed_at: '2025-03-04T05:06:07.000Z', ip_address: null, user_agent: null,
      help_url: 'https://rekey.test/auth/forgot',
    });
    expect(mail.text).toMatch(/IP:\s+unknown/);
    expect(mail.text).toMatch(/Device:\s+unknown/);
  });

  it('falls back to safe branding when a colour or logo could break out of its attribute', async () => {
    const mail = await templates.render('password-reset', {
      app: { name: 'Acme', logo_url: 'javascript:alert(1)', brand_color: 'red;background:url(https://evil.test/x)' },
      user: { email: 'ada@example.com' }, link, expires_in_minutes: 30,
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
});
