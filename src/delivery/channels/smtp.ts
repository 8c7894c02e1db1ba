import { createTransport } from 'nodemailer';
import type { Channel } from '../channel.ts';

export interface SmtpChannelOptions {
  /** Keep connections open between messages. @default true */
  pool?: boolean;
  /** TCP connect and greeting timeout. @default 10000 */
  connectTimeoutMs?: number;
  /** Inactivity timeout once connected. @default 30000 */
  socketTimeoutMs?: number;
}

/**
 * Sends through the operator's SMTP server (`smtp://user:pass@host:port`, `smtps://…`).
 * Timeouts are short on purpose: the outbox owns retries, so a dead server should fail the attempt
 * quickly and free the lease, not hold it for nodemailer's default two minutes.
 */
export function createSmtpChannel(url: string, opts: SmtpChannelOptions = {}): Channel {
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
  };
  const transporter =
    opts.pool === false
      ? createTransport(base)
      : // One in-pool requeue covers a pooled connection the server closed while idle; real retries are the outbox's.
        createTransport({ ...base, pool: true, maxConnections: 5, maxRequeues: 1 });

  return {
    id: 'smtp',
    async send(mail) {
      await transporter.sendMail({
        from: mail.from,
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        // A stable Message-ID per outbox row lets receiving servers drop the rare duplicate a lost reply causes.
        ...(mail.outboxId ? { messageId: `<${mail.outboxId}@${domainOf(mail.from)}>` } : {}),
      });
    },
    async check() {
      await transporter.verify();
    },
    async close() {
      transporter.close();
    },
  };
}

/** `Rekey <no-reply@rekey.example>` → `rekey.example`. */
function domainOf(from: string): string {
  const match = /@([A-Za-z0-9.-]+)>?\s*$/.exec(from);
  return match?.[1] ?? 'rekey.localhost';
}
