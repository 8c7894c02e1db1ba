import type { PlatformDeps } from '../deps.ts';
import { RekeyError } from '../errors/index.ts';
import type { FactorTables } from './factor.table.ts';

export interface MfaLoginContext {
  ipAddress: string | null;
  userAgent: string | null;
}

export const MFA_MAX_ATTEMPTS = 5;
export const PENDING_AUTHENTICATION_TTL_MS = 10 * 60_000;

export interface MfaLogins {
  /**
   * After the first factor: a token that only a second factor can turn into a login. It records which password
   * `user.password_hash` names (an HMAC of it), so the login cannot outlive that password (SEC-47).
   */
  beginMfaLogin(
    user: { id: string; password_hash?: string | null },
    applicationId: string | null,
    ctx: MfaLoginContext,
  ): Promise<{ pendingAuthenticationToken: string }>;
  /**
   * At most `MFA_MAX_ATTEMPTS` codes per token, and one success; `undefined` for any failure.
   * `currentPasswordHash` reads the account's password hash now: if it is not the one the login began with,
   * the token is spent and `invalid_credentials` thrown before any code is compared. Without it, only a login
   * that began with no password can complete.
   */
  completeMfaLogin(
    pendingAuthenticationToken: string,
    code: string,
    currentPasswordHash?: (userId: string) => Promise<string | null | undefined>,
  ): Promise<{ userId: string; applicationId: string | null } | undefined>;
}

/** WorkOS's pending authentication: the second step of a sign-in, checked by `verify` (the account's shared budget). */
export function createMfaLogins(deps: PlatformDeps, verify: (userId: string, code: string) => Promise<boolean>): MfaLogins {
  const { clock, ids, tokens } = deps;
  const db = deps.store.db.withTables<FactorTables>();
  // The 'identifier' purpose is shared, so the prefix keeps these hashes apart from every other identifier.
  const hashPending = (token: string) => tokens.hash(`pending:${token}`, 'identifier');
  // Names a password without keeping its hash in a second table.
  const passwordStamp = (passwordHash: string | null | undefined) => (passwordHash ? tokens.hash(`pending-password:${passwordHash}`, 'identifier') : null);

  return {
    async beginMfaLogin(user, applicationId, ctx) {
      const now = clock.now();
      const token = tokens.newLinkToken();
      await db
        .insertInto('pending_authentications')
        .values({
          id: ids.opaque('pending_auth'),
          token_hash: hashPending(token),
          user_id: user.id,
          application_id: applicationId,
          password_stamp: passwordStamp(user.password_hash),
          ip_address: ctx.ipAddress,
          user_agent: ctx.userAgent,
          attempts: 0,
          expires_at: now + PENDING_AUTHENTICATION_TTL_MS,
          consumed_at: null,
          created_at: now,
        })
        .execute();
      return { pendingAuthenticationToken: token };
    },

    async completeMfaLogin(pendingAuthenticationToken, code, currentPasswordHash) {
      const now = clock.now();
      const tokenHash = hashPending(pendingAuthenticationToken);
      // Spend an attempt before comparing, in one statement: parallel guesses cannot share an attempt.
      const pending = await db
        .updateTable('pending_authentications')
        .set((eb) => ({ attempts: eb('attempts', '+', 1) }))
        .where('token_hash', '=', tokenHash)
        .where('consumed_at', 'is', null)
        .where('expires_at', '>', now)
        .where('attempts', '<', MFA_MAX_ATTEMPTS)
        .returning(['id', 'user_id', 'application_id', 'password_stamp'])
        .executeTakeFirst();
      if (!pending) return undefined;
      // SEC-47: a login that began with a password that has since changed is over; it costs no code.
      if (pending.password_stamp !== null || currentPasswordHash) {
        const current = currentPasswordHash ? passwordStamp(await currentPasswordHash(pending.user_id)) : undefined;
        if (current === undefined || current !== pending.password_stamp) {
          await db.updateTable('pending_authentications').set({ consumed_at: now }).where('id', '=', pending.id).where('consumed_at', 'is', null).execute();
          throw new RekeyError('invalid_credentials');
        }
      }
      if (!(await verify(pending.user_id, code))) return undefined;
      // Single use: of two completions that both verified a code, only one consumes the token.
      const consumed = await db
        .updateTable('pending_authentications')
        .set({ consumed_at: now })
        .where('id', '=', pending.id)
        .where('consumed_at', 'is', null)
        .where('expires_at', '>', now)
        .returning(['user_id', 'application_id'])
        .executeTakeFirst();
      return consumed ? { userId: consumed.user_id, applicationId: consumed.application_id } : undefined;
    },
  };
}
