import { describe, expect, it } from 'vitest';
import { createRenderer, pickVariant, parseVariants, type RenderScope } from './content.ts';
import { compileWorkflow } from './registry.ts';
import { BUILTIN, builtinWorkflows, describeDevice, layoutSource } from './workflows/builtins.ts';

const app = { name: 'Acme', logo_url: 'https://acme.test/logo.png', brand_color: '#ff5500' };
const link = 'https://rekey.test/reset/verify?token=tok_abc123&client_id=client_1';
const renderer = createRenderer(layoutSource());
const workflows = new Map(builtinWorkflows().map((workflow) => [workflow.workflowId, compileWorkflow(workflow)]));

/** Renders a built-in's step as the engine does: the payload through the workflow's schema first. */
async function render(
  workflowId: string,
  payload: Record<string, unknown>,
  subscriber: Record<string, unknown>,
  opts: { locale?: string | null; app?: Record<string, unknown>; stepId?: string } = {},
) {
  const workflow = workflows.get(workflowId)!;
  const parsed = workflow.payloadSchema!.parse(payload);
  const step = workflow.steps.find((s) => s.stepId === (opts.stepId ?? 'email'))!;
  const scope: RenderScope = { payload: parsed, subscriber, app: opts.app ?? app, step: { stepId: step.stepId } };
  return renderer.render(step.type, workflow.variants.get(step.stepId)!, scope, opts.locale ?? subscriber.locale);
}

describe('built-in templates', () => {
  it('password-reset: the text part carries the link as is, the html part escapes input and wears the branding', async () => {
    const mail = await render(
      BUILTIN.passwordReset,
      { resetUrl: link, expiresInMinutes: 30 },
      { email: 'ada@example.com', firstName: "<script>alert(1)</script> O'Neil" },
    );
    expect(mail.subject).toBe('Reset your Acme password');
    expect(mail.text).toContain(link);
    expect(mail.text).toContain('expires in 30 minutes');
    expect(mail.text).toContain("Hi <script>alert(1)</script> O'Neil,");
    expect(mail.html).not.toContain('<script>');
    expect(mail.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(mail.html).toContain('href="https://rekey.test/reset/verify?token=tok_abc123&amp;client_id=client_1"');
    expect(mail.html).toContain('src="https://acme.test/logo.png"');
    expect(mail.html).toContain('background:#ff5500');
    expect(mail.html).toContain('<title>Reset your Acme password</title>');
  });

  it("password-reset: Novu's snippet payload (firstName, resetUrl, expiresInMinutes) renders unchanged", async () => {
    const mail = await render(BUILTIN.passwordReset, { firstName: 'Grace', resetUrl: link, expiresInMinutes: 15 }, { email: 'grace@example.com' });
    expect(mail.text).toMatch(/^Hi Grace,/);
    expect(mail.text).toContain(link);
    expect(mail.text).toContain('expires in 15 minutes');
  });

  it('password-reset-code: the code, and no link', async () => {
    const mail = await render(BUILTIN.passwordResetCode, { code: '042917', expiresInMinutes: 10 }, { email: 'ada@example.com' });
    expect(mail.text).toContain('Enter this code on the reset page:\n\n042917');
    expect(mail.html).toContain('042917');
    expect(mail.text).not.toContain('open this link');
  });

  it('password-changed: time, IP, the device in words and the way back; never a token or password', async () => {
    const payload = {
      changedAt: '2025-03-04T05:06:07.000Z',
      ipAddress: '203.0.113.9',
      userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
      helpUrl: 'https://rekey.test/reset',
      token: 'tok_SECRET_TOKEN',
    };
    const mail = await render(
      BUILTIN.passwordChanged,
      payload,
      { email: 'ada@example.com', firstName: 'Ada' },
      { app: { ...app, support_email: 'help@acme.test' } },
    );
    expect(mail.subject).toBe('Your Acme password was changed');
    for (const part of [mail.text, mail.html]) {
      expect(part).toContain('2025-03-04 05:06 UTC');
      expect(part).toContain('203.0.113.9');
      expect(part).toContain('Firefox on Linux');
      expect(part).not.toContain('Gecko');
      expect(part).not.toContain('tok_SECRET_TOKEN');
      expect(part).toContain('help@acme.test');
    }
    expect(mail.text).toContain("This wasn't me: reset your password now");
    expect(mail.html).toContain('href="https://rekey.test/reset"');
  });

  it('new-sign-in: when, from where, on what, in which application, escaped in HTML and plain in text; in French too', async () => {
    const payload = {
      signedInAt: '2025-03-04T05:06:07.000Z',
      ipAddress: '2001:db8::7',
      userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
      helpUrl: 'https://rekey.test/reset',
    };
    const subscriber = { email: 'ada@example.com', firstName: '<script>alert(1)</script>' };
    const hostile = { ...app, name: 'Acme <b>&</b> Co' };
    const mail = await render(BUILTIN.newSignIn, payload, subscriber, { app: hostile });
    expect(mail.subject).toBe('New sign-in to your Acme <b>&</b> Co account');
    for (const part of [mail.text, mail.html]) {
      expect(part).toContain('2025-03-04 05:06 UTC');
      expect(part).toContain('2001:db8::7');
      expect(part).toContain('Chrome on Windows');
      expect(part).not.toContain('AppleWebKit');
    }
    expect(mail.text).toContain('Hi <script>alert(1)</script>,');
    expect(mail.text).toContain('your Acme <b>&</b> Co account');
    expect(mail.text).toContain('https://rekey.test/reset');
    expect(mail.html).not.toContain('<script>');
    expect(mail.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(mail.html).toContain('your Acme &lt;b&gt;&amp;&lt;/b&gt; Co account');
    expect(mail.html).toContain('href="https://rekey.test/reset"');

    const french = await render(BUILTIN.newSignIn, payload, { ...subscriber, locale: 'fr' }, { app: hostile });
    expect(french.subject).toBe('Nouvelle connexion à votre compte Acme <b>&</b> Co');
    expect(french.text).toMatch(/Date\s:\s+04\/03\/2025 05:06 UTC/);
    expect(french.text).toMatch(/Adresse IP\s:\s+2001:db8::7/);
    expect(french.text).toMatch(/Appareil\s:\s+Chrome sur Windows/);
    expect(french.html).toContain('<td>Chrome sur Windows</td>');
    expect(french.html).toContain('votre compte Acme &lt;b&gt;&amp;&lt;/b&gt; Co');
    expect(french.html).not.toContain('<script>');
  });

  it('describes devices in words', () => {
    expect(describeDevice('Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0')).toBe('Firefox on Linux');
    expect(
      describeDevice('Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1'),
    ).toBe('Mobile Safari on iOS');
    expect(describeDevice('curl/8.5.0')).toBe(null);
    expect(describeDevice(null)).toBe(null);
  });

  it('password-changed: an unknown IP and device say so', async () => {
    const mail = await render(
      BUILTIN.passwordChanged,
      { changedAt: '2025-03-04T05:06:07.000Z', ipAddress: null, userAgent: null, helpUrl: 'https://rekey.test/reset' },
      { email: 'a@example.com' },
    );
    expect(mail.text).toMatch(/IP:\s+unknown/);
    expect(mail.text).toMatch(/Device:\s+unknown/);
  });

  it('falls back to safe branding when a colour or logo could break out of its attribute', async () => {
    const mail = await render(
      BUILTIN.passwordReset,
      { resetUrl: link, expiresInMinutes: 30 },
      { email: 'ada@example.com' },
      {
        app: { name: 'Acme', logo_url: 'javascript:alert(1)', brand_color: 'red;background:url(https://evil.test/x)' },
      },
    );
    expect(mail.html).not.toContain('javascript:');
    expect(mail.html).not.toContain('evil.test');
    expect(mail.html).toContain('background:#2563eb');
  });

  it('refuses a payload whose link is not http(s), before anything is queued', () => {
    const schema = workflows.get(BUILTIN.passwordReset)!.payloadSchema!;
    expect(schema.safeParse({ resetUrl: 'javascript:alert(1)', expiresInMinutes: 30 }).success).toBe(false);
    expect(schema.safeParse({ resetUrl: link }).success).toBe(false);
  });

  it('keeps a subject on one line', async () => {
    const mail = await render(BUILTIN.passwordReset, { resetUrl: link, expiresInMinutes: 1 }, {}, { app: { name: 'Acme\r\nBcc: evil@example.com' } });
    expect(mail.subject).toBe('Reset your Acme Bcc: evil@example.com password');
  });

  it('reset-unknown-account: says no account uses the address and has no link to set a password', async () => {
    const mail = await render(BUILTIN.resetUnknownAccount, { helpUrl: 'https://rekey.test/reset' }, { email: 'nobody@example.com' });
    expect(mail.subject).toBe('Acme password reset: no account uses this address');
    for (const part of [mail.text, mail.html]) {
      expect(part).toContain('nobody@example.com');
      expect(part).toContain('No Acme account uses this address');
      expect(part).not.toContain('token=');
    }
  });

  it('verification-code: an email step and an SMS step, each chosen by payload.channel', async () => {
    const workflow = workflows.get(BUILTIN.verificationCode)!;
    expect(workflow.critical).toBe(true);
    expect(workflow.steps.map((s) => [s.stepId, s.type])).toEqual([
      ['email', 'email'],
      ['sms', 'sms'],
    ]);
    const sms = await render(BUILTIN.verificationCode, { code: '123456', channel: 'sms', expiresInMinutes: 5 }, { phone: '+33612345678' }, { stepId: 'sms' });
    expect(sms.text).toBe('Acme: your verification code is 123456. It expires in 5 min. Never share it.');
    expect(sms.html).toBe('');
  });
});

const SAMPLES: Record<string, Record<string, unknown>> = {
  [BUILTIN.passwordReset]: { resetUrl: link, expiresInMinutes: 30 },
  [BUILTIN.passwordResetCode]: { code: '042917', expiresInMinutes: 10 },
  [BUILTIN.passwordChanged]: { changedAt: '2025-03-04T05:06:07.000Z', ipAddress: null, userAgent: null, helpUrl: 'https://rekey.test/reset' },
  [BUILTIN.emailVerification]: { verificationUrl: link, code: '042917', expiresInMinutes: 30 },
  [BUILTIN.newSignIn]: { signedInAt: '2025-03-04T05:06:07.000Z', ipAddress: '203.0.113.9', userAgent: null, helpUrl: 'https://rekey.test/reset' },
  [BUILTIN.resetUnknownAccount]: { helpUrl: 'https://rekey.test/reset' },
  [BUILTIN.verificationCode]: { code: '042917', channel: 'email', expiresInMinutes: 10 },
};

/** The prose of a part: no URLs, times, tags or entities, whose colons and semicolons are not punctuation. */
const prose = (part: string) =>
  part
    .replace(/<head>[\s\S]*?<\/head>/, '')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&#?\w+;/g, ' ')
    .replace(/https?:\/\/\S+/g, ' ')
    .replace(/\d:\d/g, ' ');

describe('built-in languages', () => {
  it('every built-in has a payload schema and content in English and French', () => {
    expect([...workflows.keys()].sort()).toEqual(Object.keys(SAMPLES).sort());
    for (const workflow of workflows.values()) {
      expect(workflow.payloadSchema, workflow.workflowId).toBeDefined();
      for (const step of workflow.steps)
        expect([...workflow.variants.get(step.stepId)!.keys()].sort(), `${workflow.workflowId}/${step.stepId}`).toEqual(['en', 'fr']);
    }
  });

  it('picks the variant from the exact tag, then the language, then English', () => {
    const variants = parseVariants('w', 's', 'sms', { en: { body: 'en' }, fr: { body: 'fr' }, 'fr-CA': { body: 'ca' } });
    for (const [locale, key] of [
      ['fr-CA', 'fr-CA'],
      ['fr_ca', 'fr-CA'],
      ['fr-FR', 'fr'],
      [' FR ', 'fr'],
      ['fr_BE', 'fr'],
      ['de-DE', 'en'],
      ['french', 'en'],
      [null, 'en'],
    ] as const) {
      expect(pickVariant(variants, locale)?.[0], String(locale)).toBe(key);
    }
  });

  it('renders every built-in in French for fr, fr-FR and fr-CA, with no-break spaces before : ; ? and !', async () => {
    for (const [workflowId, payload] of Object.entries(SAMPLES)) {
      for (const locale of ['fr', 'fr-FR', 'fr-CA']) {
        const mail = await render(workflowId, payload, { email: 'ada@example.com' }, { locale });
        expect(mail.html, `${workflowId} ${locale}`).toContain('<html lang="fr">');
        expect(mail.text, `${workflowId} ${locale}`).toMatch(/^Bonjour/);
        expect(mail.text, `${workflowId} ${locale}`).not.toMatch(/\b(Hi|the|your|password)\b/);
        for (const [part, content] of Object.entries({ subject: mail.subject, text: mail.text, html: mail.html })) {
          expect(prose(content), `${workflowId} ${part}`).not.toMatch(/[^\u00a0\u202f][:;?!]/);
        }
      }
    }
    const reset = await render(BUILTIN.passwordReset, SAMPLES[BUILTIN.passwordReset]!, {}, { locale: 'fr-CA' });
    expect(reset.subject).toBe('Réinitialisez votre mot de passe Acme');
    expect(reset.text).toContain('ouvrez ce lien\u00a0:');
    const changed = await render(BUILTIN.passwordChanged, SAMPLES[BUILTIN.passwordChanged]!, {}, { locale: 'fr' });
    expect(changed.text).toContain('04/03/2025 05:06 UTC');
    expect(changed.text).toMatch(/Adresse IP\u00a0:\s+inconnue/);
    expect(changed.text).toMatch(/Appareil\u00a0:\s+inconnu\n/);
    const firefox = { ...SAMPLES[BUILTIN.passwordChanged]!, userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0' };
    const named = await render(BUILTIN.passwordChanged, firefox, {}, { locale: 'fr' });
    expect(named.text).toMatch(/Appareil\u00a0:\s+Firefox sur Linux\n/);
    expect(named.html).toContain('<td>Firefox sur Linux</td>');
  });

  it('an unknown or missing locale gets the English mail', async () => {
    for (const locale of ['de-DE', 'pt-BR', null]) {
      const mail = await render(BUILTIN.passwordReset, SAMPLES[BUILTIN.passwordReset]!, {}, { locale });
      expect(mail.subject, String(locale)).toBe('Reset your Acme password');
      expect(mail.html).toContain('<html lang="en">');
    }
  });
});
