import type { Logger } from 'pino';
import type { Port, SendResult } from '../channel.ts';
import { isPermanent, scrubError } from '../dispatcher.ts';
import { ProviderError } from './http.ts';

/**
 * A channel's primary provider with its fallback. When the primary fails — down, or refusing the message — the
 * fallback is tried in the same delivery attempt, and the result names the one that sent. When both fail the
 * attempt fails, permanently only if both refusals are permanent: a primary that is merely down may be back
 * for the next attempt. Without a fallback this is the primary, its result named.
 *
 * A provider that writes into Rekey's own store (the development mailbox) keeps its `write` only when it
 * stands alone: a write commits later, with the outbox mark, so a fallback could not follow its failure.
 */
export function withFallback<M>(primary: Port<M>, fallback: Port<M> | undefined, logger?: Logger): Port<M> {
  if (!fallback) {
    return {
      ...primary,
      async send(message) {
        return { provider: primary.id, ...(await primary.send(message)) };
      },
    };
  }
  return {
    id: `${primary.id}+${fallback.id}`,
    async send(message): Promise<SendResult> {
      let first: unknown;
      try {
        return { provider: primary.id, ...(await primary.send(message)) };
      } catch (error) {
        first = error;
      }
      const reason = scrubError(first);
      // Provider ids and the scrubbed reason only: the message carries an address or a number.
      logger?.warn({ provider: primary.id, fallback: fallback.id, error: reason }, 'delivery.failover');
      try {
        return { provider: fallback.id, ...(await fallback.send(message)), failedOver: { provider: primary.id, error: reason } };
      } catch (second) {
        throw new ProviderError(`${reason}; fallback ${scrubError(second)}`, { permanent: isPermanent(first) && isPermanent(second) });
      }
    },
    async check() {
      const results = await Promise.allSettled([primary.check?.(), fallback.check?.()]);
      const failed = results.flatMap((result, i) => (result.status === 'rejected' ? [`${i ? 'fallback' : 'primary'}: ${scrubError(result.reason)}`] : []));
      if (failed.length) throw new Error(failed.join('; '));
    },
    describe: () => `${primary.describe?.() ?? primary.id}, falling back to ${fallback.describe?.() ?? fallback.id}`,
    async close() {
      await Promise.all([primary.close?.(), fallback.close?.()]);
    },
  };
}
