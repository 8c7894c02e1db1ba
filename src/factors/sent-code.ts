import type { PlatformDeps } from '../deps.ts';
import { RekeyError } from '../errors/index.ts';
import { windowed, type RateLimits } from '../platform/ratelimit.ts';
import { compiled, type BoundWrite } from '../store/compiled.ts';
import type { ChallengeContext, EnrollingUser, Factor, FactorChallenge, SentCodeChallenge } from './factor.ts';
import type { FactorChallengesTable } from './factor.table.ts';

/** A sent code works for ten minutes: long enough for a slow SMS, short against guessing. */
export const SENT_CODE_TTL_MS = 10 * 60_000;
const SIX_DIGITS = /^[0-9]{6}$/;

/** What the notifications engine is asked to send: a code, to one address or number. */
export interface VerificationCodeMessage {
  channel: 'sms' | 'email';
  userId: string;
  /** E.164 for SMS, the account's address for mail. */
  to: string;
  code: string;
  expiresInMinutes: number;
  locale: string | null;
  applicationId: string | null;
}

/**
 * How a code leaves Rekey: the writes that queue its message (factors.module.ts triggers the notifications engine's
 * `verification-code` workflow), committed in the same transaction as the code's hash, so no code is stored unsent
 * nor sent unstored.
 */
export interface CodeDelivery {
  verificationCode(message: VerificationCodeMessage): BoundWrite[];
}

export type SentCodeDeps = Pick<PlatformDeps, 'clock' | 'ids' | 'tokens' | 'store'> & { rateLimits: RateLimits; delivery?: CodeDelivery };

const insertChallenge = compiled<FactorChallengesTable>((db, p) => db.insertInto('factor_challenges').values(p));
/** A new code voids the user's earlier open ones of the same kind: only the latest message counts. */
const voidOpen = compiled<{ user_id: string; kind: FactorChallengesTable['kind']; now: number }>((db, p) =>
  db.updateTable('factor_challenges').set({ consumed_at: p.now }).where('user_id', '=', p.user_id).where('kind', '=', p.kind).where('consumed_at', 'is', null),
);
/** SEC-38: spending is the check; of two requests with one code, one changes the row. */
const spend = compiled<{ secret_hash: string; now: number }>((db, p) =>
  db
    .updateTable('factor_challenges')
    .set({ consumed_at: p.now })
    .where('secret_hash', '=', p.secret_hash)
    .where('consumed_at', 'is', null)
    .where('expires_at', '>', p.now),
);

/**
 * A six-digit code sent by SMS (to an enrolled number) or by mail (to the account's address). The code rests only
 * as an HMAC bound to the account and the channel, works once and for ten minutes, and a new one voids the last.
 * Sends are limited per account and channel (five per 15 minutes, twenty a day): each costs money or a mailbox's
 * patience, and SMS pumping lives on unlimited sends.
 */
export function createSentCodeFactor<T extends 'sms' | 'email'>(
  type: T,
  deps: SentCodeDeps,
  destination: (user: EnrollingUser) => Promise<{ to: string; masked: string } | undefined>,
): Pick<Factor<T>, 'type' | 'challenge' | 'parse' | 'verify'> {
  const { clock, ids, tokens, store } = deps;
  const hashOf = (userId: string, code: string) => tokens.hash(`${userId}:${type}:${code}`, 'factor_challenge');
  const sends = windowed(deps.rateLimits, `factor_${type}_sends`, [
    { points: 5, durationSeconds: 15 * 60 },
    { points: 20, durationSeconds: 24 * 3600 },
  ]);

  return {
    type,

    async challenge(user: EnrollingUser, context: ChallengeContext, now: number) {
      if (!deps.delivery) throw new RekeyError('factor_unavailable', { type });
      const target = await destination(user);
      if (!target) throw new RekeyError('factor_not_enrolled', { type });
      const allowed = await sends.consume(user.id);
      if (!allowed.allowed) throw new RekeyError('rate_limited', { retryAfterSeconds: allowed.retryAfterSeconds });
      const code = tokens.newCode(6);
      const expiresAt = now + SENT_CODE_TTL_MS;
      const writes = [
        voidOpen.bind({ user_id: user.id, kind: type, now }),
        insertChallenge.bind({
          id: ids.next('factor_challenge'),
          user_id: user.id,
          kind: type,
          secret_hash: hashOf(user.id, code),
          expires_at: expiresAt,
          consumed_at: null,
          created_at: now,
        }),
        ...deps.delivery.verificationCode({
          channel: type,
          userId: user.id,
          to: target.to,
          code,
          expiresInMinutes: SENT_CODE_TTL_MS / 60_000,
          locale: context.locale ?? null,
          applicationId: context.applicationId ?? null,
        }),
      ];
      const challenge: SentCodeChallenge<T> = { type, sentTo: target.masked, expiresAt };
      return { challenge: challenge as FactorChallenge<T>, writes };
    },

    parse: (input: unknown) => (typeof input === 'string' && SIX_DIGITS.test(input) ? input : undefined),

    async verify(userId: string, code: string) {
      const spent = await spend.execute(store.db, { secret_hash: hashOf(userId, code), now: clock.now() });
      return Number(spent.numAffectedRows ?? 0) > 0;
    },
  } as Pick<Factor<T>, 'type' | 'challenge' | 'parse' | 'verify'>;
}
