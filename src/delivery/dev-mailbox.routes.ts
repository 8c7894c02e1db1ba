import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { RekeyError } from '../errors/index.ts';
import type { Database } from '../store/database.ts';
import { findDevMail, listDevMailbox } from './channels/dev-mailbox.ts';
import { framedMailHtml, MAIL_CSP, PAGE_CSP, renderMailboxPage } from './dev-mailbox.page.ts';

export { renderMailboxPage } from './dev-mailbox.page.ts';

const mailboxQuery = z.object({
  /** Only mail to this address (case-insensitive). Empty means all, so a blank filter form still works. */
  to: z.string().max(320).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

const devMail = z.object({
  id: z.string(),
  /** `email`, `sms` or `chat`: SMS and chat messages land here too in development. */
  channel: z.enum(['email', 'sms', 'chat']),
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

  // One mail's HTML, framed by the mailbox page under its own policy (see MAIL_CSP).
  app.get(
    '/dev/mailbox/messages/:id/html',
    {
      schema: {
        tags: ['development'],
        summary: 'One development mail’s HTML, for the mailbox page’s sandboxed frame (not in production)',
        operationId: 'showDevMailHtml',
        produces: ['text/html'],
        params: z.object({ id: z.string().max(100) }),
        response: { 200: z.string().describe('The mail’s HTML part, under a CSP without scripts.') },
        errors: ['dev_host_not_allowed', 'entity_not_found'],
      },
      config: { surface: 'browser' },
    },
    async (request, reply) => {
      const mail = await findDevMail(opts.db, request.params.id);
      if (!mail?.html) throw new RekeyError('entity_not_found');
      return reply
        .header('cache-control', 'no-store')
        .header('referrer-policy', 'no-referrer')
        .header('content-security-policy', MAIL_CSP)
        .header('x-frame-options', 'SAMEORIGIN')
        .header('cross-origin-resource-policy', 'same-origin')
        .type('text/html; charset=utf-8')
        .send(framedMailHtml(mail.html));
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
        .header('x-frame-options', 'DENY')
        .type('text/html; charset=utf-8')
        .send(renderMailboxPage(messages, request.query.to?.trim() ?? ''));
    },
  );
};
