import { createHash } from 'node:crypto';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { RekeyError } from '../errors/index.ts';
import { escapeHtml, html, raw, type SafeHtml } from '../platform/html.ts';
import type { Database } from '../store/database.ts';
import { listDevMailbox, type DevMail } from './channels/dev-mailbox.ts';

const mailboxQuery = z.object({
  /** Only mail to this address (case-insensitive). Empty means all, so a blank filter form still works. */
  to: z.string().max(320).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

const devMail = z.object({
  id: z.string(),
  to: z.string(),
  from: z.string(),
  subject: z.string(),
  text: z.string(),
  html: z.string(),
  created_at: z.string(),
});

export interface DevMailboxOptions {
  db: Kysely<Database>;
  /** The configured `baseUrl`: its host may read the mailbox too. Without it, loopback names only. */
  baseUrl?: string;
}

/** Names that can only mean this machine, whatever a DNS server says. */
const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]'];
/** A Host header's name and optional port; anything else (userinfo, a path, spaces) is refused. */
const HOST_HEADER = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::\d{1,5})?$/i;

/**
 * SEC-49: a page on a hostile site whose name is made to resolve to 127.0.0.1 (DNS rebinding) can send
 * requests to a development server and read the answers, reset links included; but its requests carry
 * the hostile name in `Host`. So development routes answer only for loopback names and the base URL's host.
 */
export function isDevelopmentHost(hostHeader: string | undefined, baseUrlHost?: string): boolean {
  const match = hostHeader ? HOST_HEADER.exec(hostHeader) : null;
  if (!match) return false;
  const name = match[1]!.toLowerCase();
  return LOOPBACK_HOSTS.includes(name) || name === baseUrlHost;
}

/**
 * The development mailbox: what Rekey would have sent, readable in a browser and by tests.
 * Registered only outside production. Its pages hold live reset links, so nothing is cached.
 */
export const devMailboxRoutes: FastifyPluginAsyncZod<DevMailboxOptions> = async (app, opts) => {
  const baseUrlHost = opts.baseUrl ? new URL(opts.baseUrl).hostname.toLowerCase() : undefined;
  app.addHook('onRequest', async (request) => {
    if (!isDevelopmentHost(request.headers.host, baseUrlHost)) throw new RekeyError('dev_host_not_allowed');
  });
  const list = (query: z.infer<typeof mailboxQuery>) => listDevMailbox(opts.db, { limit: query.limit, ...(query.to?.trim() ? { to: query.to.trim() } : {}) });

  app.get(
    '/dev/mailbox/messages',
    {
      schema: {
        tags: ['development'],
        summary: 'List the development mailbox (not in production)',
        operationId: 'listDevMailbox',
        querystring: mailboxQuery,
        response: { 200: z.object({ data: z.array(devMail) }) },
        errors: ['dev_host_not_allowed'],
      },
      config: { surface: 'browser' },
    },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      return { data: await list(request.query) };
    },
  );

  app.get(
    '/dev/mailbox',
    {
      schema: {
        tags: ['development'],
        summary: 'The development mailbox as a page (not in production)',
        operationId: 'showDevMailbox',
        produces: ['text/html'],
        querystring: mailboxQuery,
        response: { 200: z.string().describe('An HTML page of the newest mail.') },
        errors: ['dev_host_not_allowed'],
      },
      config: { surface: 'browser' },
    },
    async (request, reply) => {
      const messages = await list(request.query);
      return reply
        .header('cache-control', 'no-store')
        .header('referrer-policy', 'no-referrer')
        .header('content-security-policy', PAGE_CSP)
        .type('text/html; charset=utf-8')
        .send(renderMailboxPage(messages, request.query.to?.trim() ?? ''));
    },
  );
};

const STYLE = `
:root { color-scheme: light dark; --muted: #6b7280; --line: #d1d5db; --accent: #2563eb; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; }
header { padding: 1rem 1.5rem; border-bottom: 1px solid var(--line); display: flex; gap: 1rem; align-items: center; flex-wrap: wrap; }
header h1 { font-size: 1.15rem; margin: 0; flex: 1; }
header form { display: flex; gap: .5rem; }
input, button { font: inherit; padding: .3rem .6rem; border: 1px solid var(--line); border-radius: 6px; }
main { max-width: 56rem; margin: 0 auto; padding: 1rem 1.5rem 3rem; }
article { border: 1px solid var(--line); border-radius: 8px; padding: 1rem 1.25rem; margin: 1rem 0; }
h2 { font-size: 1.05rem; margin: 0 0 .25rem; }
.meta { color: var(--muted); font-size: .85rem; margin: 0 0 .75rem; }
pre { white-space: pre-wrap; word-break: break-word; font: 13px/1.5 ui-monospace, SFMono-Regular, Menlo, monospace; margin: 0; }
a { color: var(--accent); }
.empty { color: var(--muted); text-align: center; padding: 3rem 0; }
`;

// The style is pinned by its hash so the page needs no 'unsafe-inline' and loads nothing from elsewhere.
const PAGE_CSP = [
  "default-src 'none'",
  `style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`,
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

export function renderMailboxPage(messages: DevMail[], to: string): string {
  const items = messages.length ? messages.map((mail) => renderMessage(mail)) : html`<p class="empty">No messages${to && html` to ${to}`} yet.</p>`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Development mailbox · Rekey</title>
<style>${raw(STYLE)}</style>
</head>
<body>
<header>
<h1>Development mailbox</h1>
<form method="get" action="/dev/mailbox">
<input type="email" name="to" placeholder="Filter by recipient" value="${to}" aria-label="Recipient">
<button type="submit">Filter</button>
</form>
<a href="/dev/mailbox${to ? `?to=${encodeURIComponent(to)}` : ''}">Refresh</a>
</header>
<main>
${items}
</main>
</body>
</html>
`.value;
}

function renderMessage(mail: DevMail): SafeHtml {
  return html`<article>
<h2>${mail.subject}</h2>
<p class="meta">To ${mail.to} · from ${mail.from} · <time datetime="${mail.created_at}">${formatTime(mail.created_at)}</time></p>
<pre>${linkify(escapeHtml(mail.text))}</pre>
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
