import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { DevMail } from './channels/dev-mailbox.ts';
import { framedMailHtml, MAIL_CSP, PAGE_CSP, renderMailboxPage } from './dev-mailbox.page.ts';

const mail = (overrides: Partial<DevMail>): DevMail => ({
  id: 'mail_1',
  channel: 'email',
  to: 'ada@example.com',
  from: 'Rekey <no-reply@rekey.localhost>',
  subject: 'Reset your password',
  text: '',
  html: '',
  created_at: '2026-01-02T03:04:05.000Z',
  ...overrides,
});

describe('development mailbox page', () => {
  it('escapes every value it shows, in text and in attributes', () => {
    const page = renderMailboxPage(
      [mail({ subject: '<script>alert(1)</script>', to: 'x"><img src=x>@example.com', text: "O'Neil & <b>co</b>" })],
      '"><img src=x>',
    );
    expect(page).not.toContain('<script>alert');
    expect(page).not.toContain('<img');
    expect(page).not.toContain('<b>');
    expect(page).toContain('<h2>&lt;script&gt;alert(1)&lt;/script&gt;</h2>');
    expect(page).toContain('value="&quot;&gt;&lt;img src=x&gt;"');
    expect(page).toContain('O&#39;Neil &amp; &lt;b&gt;co&lt;/b&gt;');
    expect(page).toContain('<title>Development mailbox · Rekey</title>');
    expect(page).toContain('<p class="meta">To x&quot;&gt;&lt;img src=x&gt;@example.com · from Rekey &lt;no-reply@rekey.localhost&gt; · ');
  });

  it('makes links clickable, keeping their query and stopping at a quote or bracket', () => {
    const page = renderMailboxPage(
      [mail({ text: 'Open https://x.test/reset/verify?token=T1&lang=fr\n<https://x.test/a>, "https://x.test/b" \'https://x.test/c"onclick="alert(1)\'' })],
      '',
    );
    const links = [...page.matchAll(/<a href="([^"]*)" rel="noreferrer noopener">([^<]*)<\/a>/g)].map((match) => [match[1], match[2]]);
    expect(links.filter(([href]) => href!.startsWith('https'))).toEqual([
      ['https://x.test/reset/verify?token=T1&amp;lang=fr', 'https://x.test/reset/verify?token=T1&amp;lang=fr'],
      ['https://x.test/a', 'https://x.test/a'],
      ['https://x.test/b', 'https://x.test/b'],
      ['https://x.test/c', 'https://x.test/c'],
    ]);
    expect(page).not.toContain('onclick="');
  });

  it('says when there is no mail, naming the filter escaped', () => {
    expect(renderMailboxPage([], '')).toContain('<p class="empty">No messages yet.</p>');
    expect(renderMailboxPage([], '<i>@x')).toContain('<p class="empty">No messages to &lt;i&gt;@x yet.</p>');
    expect(renderMailboxPage([], 'a b@x')).toContain('<a href="/dev/mailbox?to=a%20b%40x">Refresh</a>');
  });

  it('frames a mail’s HTML from its own route, sandboxed without scripts, beside its text', () => {
    const page = renderMailboxPage([mail({ id: 'mail_"x', text: 'Plain part', html: '<p>Rich part</p><script>alert(1)</script>' })], '');
    expect(page).not.toContain('Rich part');
    expect(page).toContain('<section><h3>Text</h3><pre>Plain part</pre></section>');
    const frame = /<iframe ([^>]*)><\/iframe>/.exec(page)?.[1];
    expect(frame).toContain('sandbox="allow-popups allow-popups-to-escape-sandbox"');
    expect(frame).not.toMatch(/allow-scripts|allow-same-origin|allow-forms|allow-top-navigation/);
    expect(frame).toContain('src="/dev/mailbox/messages/mail_%22x/html"');
    expect(renderMailboxPage([mail({ html: '' })], '')).toContain('No HTML part.');
  });

  it('shows an SMS as an SMS: a badge, the number, the text and no frame', () => {
    const page = renderMailboxPage([mail({ channel: 'sms', to: '+15551234567', from: '', subject: '', text: 'Your code is 123456' })], '');
    expect(page).toContain('<article class="sms">');
    expect(page).toContain('<h2><span class="badge">SMS</span>to +15551234567</h2>');
    expect(page).toContain('<pre>Your code is 123456</pre>');
    expect(page).not.toContain('<iframe');
    expect(page).not.toContain(' · from ');
  });

  it('refreshes itself under its CSP: the inline script and style are allowed by hash, nothing else', () => {
    const page = renderMailboxPage([mail({ id: 'mail_9' })], '');
    expect(page).toContain('<body data-latest="mail_9">');
    expect(page).toContain('<noscript><meta http-equiv="refresh" content="10"></noscript>');
    const hash = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
    const script = /<script>([\s\S]*?)<\/script>/.exec(page)![1]!;
    const style = /<style>([\s\S]*?)<\/style>/.exec(page)![1]!;
    expect(PAGE_CSP).toContain(`script-src ${hash(script)}`);
    expect(PAGE_CSP).toContain(`style-src ${hash(style)}`);
    expect(PAGE_CSP).not.toContain('unsafe');
    expect(PAGE_CSP).toContain("frame-src 'self'");
    expect(PAGE_CSP).toContain("default-src 'none'");
  });

  it('gives the framed HTML a policy with no script and links that leave the frame', () => {
    expect(MAIL_CSP).toContain("default-src 'none'");
    expect(MAIL_CSP).not.toContain('script-src');
    expect(MAIL_CSP).toMatch(/(^|; )sandbox allow-popups allow-popups-to-escape-sandbox($|;)/);
    expect(MAIL_CSP).toContain("frame-ancestors 'self'");
    expect(framedMailHtml('<html><head><title>x</title></head><body>y</body></html>')).toBe(
      '<html><head><base target="_blank"><title>x</title></head><body>y</body></html>',
    );
    expect(framedMailHtml('<p>y</p>')).toBe('<base target="_blank"><p>y</p>');
  });
});
