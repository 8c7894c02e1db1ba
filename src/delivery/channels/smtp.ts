import { createRequire } from 'node:module';
import net from 'node:net';
import type { createTransport as CreateTransport } from 'nodemailer';
import type { Channel } from '../channel.ts';
import { ProviderError } from './http.ts';
import { composeMime } from './mime.ts';

export interface SmtpChannelOptions {
  /** Keep connections open between messages. @default true */
  pool?: boolean;
  /** TCP connect and greeting timeout. @default 10000 */
  connectTimeoutMs?: number;
  /** Inactivity timeout once connected. @default 30000 */
  socketTimeoutMs?: number;
  /** Connections the pool keeps open. @default 5 */
  maxConnections?: number;
  /** Names the provider in each message's activity. @default 'smtp' */
  id?: string;
}

/**
 * Sends through the operator's SMTP server (`smtp://user:pass@host:port`, `smtps://…`).
 * Timeouts are short on purpose: the outbox owns retries, so a dead server should fail the attempt
 * quickly and free the lease, not hold it for nodemailer's default two minutes.
 */
export function createSmtpChannel(url: string, opts: SmtpChannelOptions = {}): Channel {
  // Loaded with the first SMTP channel: a node that keeps mail in the development mailbox or sends through
  // an HTTP provider never loads nodemailer.
  const { createTransport } = createRequire(import.meta.url)('nodemailer') as { createTransport: typeof CreateTransport };
  const connectTimeout = opts.connectTimeoutMs ?? 10_000;
  const base = {
    url,
    connectionTimeout: connectTimeout,
    greetingTimeout: connectTimeout,
    dnsTimeout: connectTimeout,
    socketTimeout: opts.socketTimeoutMs ?? 30_000,
    // nodemailer's own log would print envelopes and, at debug, message bodies with their links.
    logger: false,
    debug: false,
    // nodemailer connects it (DNS, timeouts, TLS) as it would its own socket.
    getSocket: (_options: unknown, callback: (error: Error | null, socket: { socket: net.Socket }) => void) => callback(null, { socket: coalescingSocket() }),
  };
  const transporter =
    opts.pool === false
      ? createTransport(base)
      : // One in-pool requeue covers a pooled connection the server closed while idle; real retries are the outbox's.
        createTransport({ ...base, pool: true, maxConnections: opts.maxConnections ?? 5, maxRequeues: 1 });

  const id = opts.id ?? 'smtp';
  const parsed = new URL(url);
  return {
    id,
    async send(mail) {
      // A stable Message-ID per outbox row lets receiving servers drop the rare duplicate a lost reply causes.
      const messageId = mail.outboxId ? `<${mail.outboxId}@${domainOf(mail.from)}>` : undefined;
      const composed = composeMime(mail, { messageId });
      const message = composed
        ? { envelope: composed.envelope, raw: composed.raw }
        : { from: mail.from, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html, ...(messageId ? { messageId } : {}) };
      const info = await transporter.sendMail(message).catch((error: unknown) => {
        throw classify(id, error);
      });
      const providerMessageId = composed?.messageId ?? info.messageId;
      return { provider: id, ...(providerMessageId ? { providerMessageId } : {}) };
    },
    async check() {
      await transporter.verify();
    },
    async close() {
      transporter.close();
    },
    // Never the user or the password of the URL.
    describe: () => `SMTP ${parsed.protocol}//${parsed.host}`,
  };
}

/**
 * A socket that hands the kernel what one turn of the event loop wrote in one send. nodemailer streams a message in
 * a dozen pieces (headers, boundaries, each part), each its own send without this: about 5 % of a node's CPU per mail
 * on a plain connection. A TLS connection writes below this layer and is unchanged.
 */
function coalescingSocket(): net.Socket {
  const socket = new net.Socket();
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
  let corked = false;
  socket.write = ((...args: unknown[]) => {
    if (!corked) {
      corked = true;
      socket.cork();
      setImmediate(() => {
        corked = false;
        socket.uncork();
      });
    }
    return write(...args);
  }) as net.Socket['write'];
  return socket;
}

/**
 * A 5xx answer to the recipient or the message (a mailbox that does not exist, a message refused as spam) is
 * permanent. Everything else is retried: a refused or dropped connection, a 4xx ("try again later"), and
 * also a refused login, which the operator fixes in the configuration while the message waits.
 */
function classify(id: string, error: unknown): ProviderError {
  const { code, responseCode, message } = error as { code?: string; responseCode?: number; message?: string };
  const permanent = typeof responseCode === 'number' && responseCode >= 500 && (code === 'EENVELOPE' || code === 'EMESSAGE');
  return new ProviderError(`${id}: ${message ?? 'send failed'}`, { permanent, ...(responseCode ? { status: responseCode } : {}) });
}

/** `Rekey <no-reply@rekey.example>` → `rekey.example`. */
function domainOf(from: string): string {
  const match = /@([A-Za-z0-9.-]+)>?\s*$/.exec(from);
  return match?.[1] ?? 'rekey.localhost';
}
