import type { Config } from '../config/schema.ts';
import { RekeyError } from '../errors/index.ts';
import { windowed, type RateLimits } from '../platform/ratelimit.ts';

/**
 * SEC-38: one budget of wrong second-factor codes per account, shared by sign-in and recovery and by every
 * factor type, so no path and no type is a way around another's limit (a fresh sign-in or a fresh reset flow
 * gets no fresh guesses).
 */
export interface WrongCodeBudget {
  /** Spends one attempt before a code is compared, so parallel guesses cannot share one; throws `totp_attempts_exceeded` when spent. */
  spend(userId: string): Promise<void>;
  /** An accepted code gives its attempt back. */
  giveBack(userId: string): Promise<void>;
}

export function createWrongCodeBudget(rateLimits: RateLimits, config: Pick<Config, 'totpFailuresPer15Minutes' | 'totpFailuresPerDay'>): WrongCodeBudget {
  // The limiter keeps its first name: counters already in a shared store stay valid across an upgrade.
  const failures = windowed(rateLimits, 'totp_failures', [
    { points: config.totpFailuresPer15Minutes, durationSeconds: 15 * 60 },
    { points: config.totpFailuresPerDay, durationSeconds: 24 * 3600 },
  ]);
  return {
    async spend(userId) {
      const attempt = await failures.consume(userId);
      if (!attempt.allowed) throw new RekeyError('totp_attempts_exceeded', { retryAfterSeconds: attempt.retryAfterSeconds });
    },
    giveBack: async (userId) => void (await failures.reward(userId)),
  };
}
