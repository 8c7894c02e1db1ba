import { RekeyError } from '../../errors/index.ts';
import { writeTogether, writeTogetherIf } from '../../store/compiled.ts';
import { effectiveStatus, GRANT_TTL_MS, openFlow, type ResetFlow } from '../flow.ts';
import type { PasswordReset } from '../reset.store.ts';
import type { LinkRedemption, ResetStrategy, StrategyDeps } from './strategy.ts';

/** `email_link`: a single-use token in a mailed URL. The token finds its reset, and through it its flow. */
export function createLinkStrategy(deps: StrategyDeps): ResetStrategy<'email_link'> & LinkRedemption {
  const { store, clock, ids, tokens, config, flows, resets, resetService } = deps;
  return {
    id: 'email_link',
    ttlMs: config.resetTokenTtlMinutes * 60_000,

    // The older tokens void (SEC-12), the new one and its mail exist together; the management API issues the same way.
    issue: ({ user, application, flowId, now, locale }) => resetService.issueWrites(user, application, { flowId, now, locale }).writes,

    async redeem(token) {
      const now = clock.now();
      const consumed = await writeTogetherIf<PasswordReset>(store.db, resets.consumeToken(tokens.hash(token, 'password_reset'), now), []);
      if (!consumed) throw new RekeyError('password_reset_token_invalid');
      const flow: ResetFlow | undefined = consumed.flow_id ? await flows.findById(consumed.flow_id) : undefined;
      if (flow && effectiveStatus(flow, now) === 'needs_first_factor') return flow;
      // A link made by the management API (or the forgot endpoint) has no flow yet: open one for it.
      const opened = openFlow(
        {
          id: ids.opaque('flow'),
          application_id: consumed.application_id ?? (await deps.defaultApplicationId()),
          strategy: 'email_link',
          identifier_hash: tokens.hash(consumed.email, 'identifier'),
          user_id: consumed.user_id,
          redirect_url: flow?.redirect_url ?? null,
          expires_at: now + GRANT_TTL_MS,
        },
        now,
      );
      await writeTogether(store.db, [flows.insert(opened)]);
      return opened;
    },
  };
}
