import type { z } from 'zod';
import type { httpSmsProvider } from '../../config/providers.ts';
import type { SmsChannel } from '../channel.ts';
import { reachable } from './http-email.ts';
import { callProvider, endpointOf, idFrom, secretHeader } from './http.ts';

export type HttpSmsOptions = Omit<z.input<typeof httpSmsProvider>, 'type'>;

/** A generic HTTP SMS API: `POST {from, to, text}` as JSON, the secret in a header, the outbox row id as `Idempotency-Key`. */
export function createHttpSmsChannel(opts: HttpSmsOptions): SmsChannel {
  const id = opts.id ?? 'http-sms';
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const auth = secretHeader(opts.header ?? 'authorization', opts.secret);
  return {
    id,
    async send(sms) {
      const from = sms.from ?? opts.from;
      const { json } = await callProvider(id, opts.url, {
        headers: { 'content-type': 'application/json', accept: 'application/json', 'idempotency-key': sms.outboxId, ...auth },
        body: JSON.stringify({ ...(from ? { from } : {}), to: sms.to, text: sms.text }),
        timeoutMs,
      });
      const providerMessageId = idFrom(json, ['id', 'messageId', 'message_id', 'sid']);
      return { provider: id, ...(providerMessageId ? { providerMessageId } : {}) };
    },
    check: () => reachable(id, opts.url, timeoutMs),
    describe: () => `HTTP SMS API ${endpointOf(opts.url)}`,
  };
}
