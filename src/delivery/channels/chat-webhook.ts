import { Webhook } from 'standardwebhooks';
import type { z } from 'zod';
import type { chatWebhookProvider } from '../../config/providers.ts';
import type { Clock } from '../../platform/clock.ts';
import type { ChatChannel } from '../channel.ts';
import { reachable } from './http-email.ts';
import { callProvider, endpointOf, idFrom } from './http.ts';

export type ChatWebhookOptions = Omit<z.input<typeof chatWebhookProvider>, 'type'>;

/**
 * A chat message as a signed JSON POST (Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`).
 * The body keeps `text` at the top level, so a Slack- or Mattermost-style incoming webhook shows it as is; a
 * receiver that verifies the signature gets `type`, `timestamp` and `data` too. The `webhook-id` is the outbox
 * row id, the same on every retry, so a receiver can drop a duplicate.
 */
export function createChatWebhookChannel(opts: ChatWebhookOptions, deps: { clock: Clock }): ChatChannel {
  const id = opts.id ?? 'chat-webhook';
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const signer = new Webhook(opts.secret);
  return {
    id,
    async send(chat) {
      const at = new Date(deps.clock.now());
      const body = JSON.stringify({ type: 'chat.message', timestamp: at.toISOString(), text: chat.text, data: chat.data ?? {} });
      const { json } = await callProvider(id, opts.url, {
        headers: {
          'content-type': 'application/json',
          'webhook-id': chat.outboxId,
          'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
          'webhook-signature': signer.sign(chat.outboxId, at, body),
        },
        body,
        timeoutMs,
      });
      return { provider: id, providerMessageId: idFrom(json, ['id', 'ts', 'message_id']) ?? chat.outboxId };
    },
    check: () => reachable(id, opts.url, timeoutMs),
    describe: () => `chat webhook ${endpointOf(opts.url)}`,
  };
}
