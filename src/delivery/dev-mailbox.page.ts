import { createHash } from 'node:crypto';
import { escapeHtml, html, raw, type SafeHtml } from '../platform/html.ts';
import type { DevMail } from './channels/dev-mailbox.ts';

/** How often the open page asks whether a message arrived. */
export const POLL_MS = 2000;

const STYLE = `
:root { color-scheme: light dark; --muted: #6b7280; --line: #d1d5db; --accent: #2563eb; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; }
header { padding: 1rem 1.5rem; border-bottom: 1px solid var(--line); display: flex; gap: 1rem; align-items: center; flex-wrap: wrap; }
header h1 { font-size: 1.15rem; margin: 0; flex: 1; }
header form { display: flex; gap: .5rem; }
input, button { font: inherit; padding: .3rem .6rem; border: 1px solid var(--line); border-radius: 6px; }
main { max-width: 84rem; margin: 0 auto; padding: 1rem 1.5rem 3rem; }
article { border: 1px solid var(--line); border-radius: 8px; padding: 1rem 1.25rem; margin: 1rem 0; }
h2 { font-size: 1.05rem; margin: 0 0 .25rem; }
h3 { font-size: .8rem; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); margin: 0 0 .4rem; }
.meta { color: var(--muted); font-size: .85rem; margin: 0 0 .75rem; }
.badge { display: inline-block; font-size: .75rem; font-weight: 600; padding: 0 .45rem; margin-right: .4rem; border-radius: 4px; background: var(--accent); color: #fff; vertical-align: .1em; }
.parts { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 1.25rem; }
@media (max-width: 60rem) { .parts { grid-template-columns: minmax(0, 1fr); } }
pre { white-space: pre-wrap; word-break: break-word; font: 13px/1.5 ui-monospace, SFMono-Regular, Menlo, monospace; margin: 0; }
iframe { width: 100%; height: 28rem; border: 1px solid var(--line); border-radius: 6px; background: #fff; }
a { color: var(--accent); }
.empty { color: var(--muted); text-align: center; padding: 3rem 0; }
`;

/**
 * Reloads the page when the newest message differs from the one it shows, so a mail appears without a click
 * and a message being read is not reloaded away for nothing. Without JavaScript the `<noscript>` refresh does it.
 */
const SCRIPT = `(() => {
  const shown = document.body.dataset.latest;
  const query = new URLSearchParams(location.search);
  query.set('limit', '1');
  const poll = async () => {
    try {
      const res = await fetch('/dev/mailbox/messages?' + query, { cache: 'no-store' });
      if (res.ok) {
        const { data } = await res.json();
        if ((data[0] ? data[0].id : '') !== shown) return location.reload();
      }
    } catch {}
    setTimeout(poll, ${POLL_MS});
  };
  setTimeout(poll, ${POLL_MS});
})();`;

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/**
 * The style and the script are pinned by their hashes, so the page needs no 'unsafe-inline' and loads nothing
 * from elsewhere. Frames come from this origin only: each mail's HTML, served by its own route under its own CSP.
 */
export const PAGE_CSP = [
  "default-src 'none'",
  `style-src ${sha256(STYLE)}`,
  `script-src ${sha256(SCRIPT)}`,
  "connect-src 'self'",
  "frame-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The policy of one mail's HTML. `srcdoc` would inherit the page's policy, which refuses the inline styles every
 * mail relies on; served apart, the mail gets its own: its styles and images, no script (twice: the CSP
 * `sandbox` and the iframe's `sandbox` attribute both leave scripts out), no form, no plugin, framed only by
 * the mailbox. Links open in a new tab, outside the sandbox, so a reset link can be followed from here.
 */
export const MAIL_CSP = [
  "default-src 'none'",
  "style-src 'unsafe-inline'",
  'img-src http: https: data:',
  'font-src data:',
  "form-action 'none'",
  "frame-ancestors 'self'",
  'sandbox allow-popups allow-popups-to-escape-sandbox',
].join('; ');

/** The iframe's own sandbox: the same as the CSP's, so either alone keeps scripts out. */
const FRAME_SANDBOX = 'allow-popups allow-popups-to-escape-sandbox';

/** A mail's HTML as its frame shows it: links open in a new tab (the first `<base target>` wins, wherever it is). */
export function framedMailHtml(mailHtml: string): string {
  const base = '<base target="_blank">';
  const head = /<head(\s[^>]*)?>/i.exec(mailHtml);
  if (head) return `${mailHtml.slice(0, head.index + head[0].length)}${base}${mailHtml.slice(head.index + head[0].length)}`;
  return `${base}${mailHtml}`;
}

export function renderMailboxPage(messages: DevMail[], to: string): string {
  const items = messages.length ? messages.map((mail) => renderMessage(mail)) : html`<p class="empty">No messages${to && html` to ${to}`} yet.</p>`;
  const self = `/dev/mailbox${to ? `?to=${encodeURIComponent(to)}` : ''}`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<noscript><meta http-equiv="refresh" content="10"></noscript>
<title>Development mailbox · Rekey</title>
<style>${raw(STYLE)}</style>
</head>
<body data-latest="${messages[0]?.id ?? ''}">
<header>
<h1>Development mailbox</h1>
<form method="get" action="/dev/mailbox">
<input type="email" name="to" placeholder="Filter by recipient" value="${to}" aria-label="Recipient">
<button type="submit">Filter</button>
</form>
<a href="${self}">Refresh</a>
</header>
<main>
${items}
</main>
<script>${raw(SCRIPT)}</script>
</body>
</html>
`.value;
}

function renderMessage(mail: DevMail): SafeHtml {
  const time = html`<time datetime="${mail.created_at}">${formatTime(mail.created_at)}</time>`;
  const meta = html`<p class="meta">To ${mail.to}${mail.from ? html` · from ${mail.from}` : ''} · ${time}</p>`;
  const text = html`<pre>${linkify(escapeHtml(mail.text))}</pre>`;
  if (mail.channel !== 'email') {
    const label = mail.channel === 'sms' ? 'SMS' : 'Chat';
    return html`<article class="${mail.channel}">
<h2><span class="badge">${label}</span>${mail.channel === 'sms' ? html`to ${mail.to}` : 'to the chat webhook'}</h2>
<p class="meta">${mail.from ? html`From ${mail.from} · ` : ''}${time}</p>
${text}
</article>
`;
  }
  const frame = mail.html
    ? html`<iframe sandbox="${FRAME_SANDBOX}" src="/dev/mailbox/messages/${encodeURIComponent(mail.id)}/html" title="HTML of ${mail.subject}" loading="lazy" referrerpolicy="no-referrer"></iframe>`
    : html`<p class="meta">No HTML part.</p>`;
  return html`<article class="email">
<h2>${mail.subject}</h2>
${meta}
<div class="parts">
<section><h3>Text</h3>${text}</section>
<section><h3>HTML</h3>${frame}</section>
</div>
</article>
`;
}

const formatTime = (iso: string): string => `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;

/**
 * Makes http(s) links in already-escaped text clickable, so a reset link is one click away.
 * Escaped text has no `"` or `<`, so a match cannot leave the attribute or the element; it stops
 * at an escaped quote or bracket, which in mail text closes a link rather than belongs to it.
 */
const linkify = (escaped: string): SafeHtml =>
  raw(escaped.replace(/\bhttps?:\/\/(?:(?!&(?:quot|#39|lt|gt);)[^\s<>"])+/g, (url) => `<a href="${url}" rel="noreferrer noopener">${url}</a>`));
