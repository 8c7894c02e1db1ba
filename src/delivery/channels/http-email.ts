import type { z } from 'zod';
import type { httpEmailProvider } from '../../config/providers.ts';
import type { Channel } from '../channel.ts';
import { callProvider, endpointOf, idFrom, secretHeader } from './http.ts';

export type HttpEmailOptions = Omit<z.input<typeof httpEmailProvider>, 'type'>;

/**
 * A generic HTTP email API: `POST {from, to, subject, text, html}` as JSON, the secret in a header, and the
 * outbox row id as `Idempotency-Key` so a provider that honours it drops the duplicate a lost answer causes.
 * The answer's `id` (or `messageId`, `message_id`, `MessageID`) becomes the provider message id.
 */
export function createHttpEmailChannel(opts: HttpEmailOptions): Channel {
  const id = opts.id ?? 'http-email';
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const auth = secretHeader(opts.header ?? 'authorization', opts.secret);
  return {
    id,
    async send(mail) {
      const { json } = await callProvider(id, opts.url, {
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          ...(mail.outboxId ? { 'idempotency-key': mail.outboxId } : {}),
          ...auth,
        },
        body: JSON.stringify({ from: mail.from, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html }),
        timeoutMs,
      });
      const providerMessageId = idFrom(json, ['id', 'messageId', 'message_id', 'MessageID']);
      return { provider: id, ...(providerMessageId ? { providerMessageId } : {}) };
    },
    // Reachability only: a generic API has no call that tests a key without sending.
    async check() {
      await reachable(id, opts.url, timeoutMs);
    },
    describe: () => `HTTP email API ${endpointOf(opts.url)}`,
  };
}

/** Any HTTP answer means the endpoint is there; only a network failure or a timeout fails. */
export async function reachable(id: string, url: string, timeoutMs: number): Promise<void> {
  try {
    await callProvider(id, url, { method: 'HEAD', timeoutMs });
  } catch (error) {
    if ((error as { status?: number }).status === undefined) throw error;
  }
}
