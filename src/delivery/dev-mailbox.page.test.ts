import { describe, expect, it } from 'vitest';
import type { DevMail } from './channels/dev-mailbox.ts';
import { renderMailboxPage } from './dev-mailbox.routes.ts';

const mail = (overrides: Partial<DevMail>): DevMail => ({
  id: 'mail_1',
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
    expect(page).not.toContain('<script>');
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
});
