import type { Config } from '../config/schema.ts';
import { RekeyError } from '../errors/index.ts';
import type { RateLimits } from '../platform/ratelimit.ts';
import type { Tokens } from '../platform/tokens.ts';
import { normalizeEmail } from '../users/index.ts';

/** A password attempt allowed through: give it back once the password proves right. */
export interface SpentAttempt {
  refund(): Promise<void>;
}

/** SEC-44: password guesses per account and per client address, each a fixed window. */
export interface SignInThrottle {
  /**
   * Spends one attempt of the account's and of the address's budget, before the password is checked, so
   * parallel guesses cannot share one. With either budget spent it throws `rate_limited` (Retry-After),
   * whatever the password: a guesser learns nothing from the 429, not even that the last guess was right.
   */
  spend(email: string, address: string): Promise<SpentAttempt>;
}

export function createSignInThrottle(limits: RateLimits, config: Config, tokens: Tokens): SignInThrottle {
  const perAccount = limits.limiter('sign_in_account_failures', {
    points: config.signInFailuresPerAccount,
    durationSeconds: config.signInAccountWindowSeconds,
  });
  const perAddress = limits.limiter('sign_in_ip_failures', { points: config.signInFailuresPerIp, durationSeconds: config.signInIpWindowSeconds });
  // Keyed by the address typed, not by an account id: an unknown email is counted exactly like a known one,
  // so the request at which the 429 starts says nothing about whether the account exists (SEC-44, SEC-46).
  // The prefix keeps this HMAC apart from the identifier hashes of the reset limits and the outbox.
  const accountKey = (email: string) => tokens.hash(`sign-in:${normalizeEmail(email)}`, 'identifier');

  return {
    async spend(email, address) {
      const account = accountKey(email);
      const byAddress = await perAddress.consume(address);
      if (!byAddress.allowed) throw new RekeyError('rate_limited', { retryAfterSeconds: byAddress.retryAfterSeconds });
      const byAccount = await perAccount.consume(account);
      if (!byAccount.allowed) {
        // Refused before any password was checked: no guess, so the address gets its attempt back.
        await perAddress.reward(address);
        throw new RekeyError('rate_limited', { retryAfterSeconds: byAccount.retryAfterSeconds });
      }
      return {
        refund: async () => {
          await Promise.all([perAddress.reward(address), perAccount.reward(account)]);
        },
      };
    },
  };
}
