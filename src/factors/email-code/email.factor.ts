import type { Factor } from '../factor.ts';
import { maskEmail } from '../rows.ts';
import { createSentCodeFactor, type SentCodeDeps } from '../sent-code.ts';

/**
 * A code mailed to the account's own address. Nothing is enrolled: the address is the factor, and it counts as a
 * second factor only when an action asks for it by name (a reset's first factor already proved the mailbox).
 */
export function createEmailCodeFactor(deps: SentCodeDeps): Factor<'email'> {
  return createSentCodeFactor('email', deps, async (user) => ({ to: user.email, masked: maskEmail(user.email) }));
}
