import type { PlatformDeps } from '../deps.ts';
import { compiled } from '../store/compiled.ts';
import type { FactorEnrollmentLinksTable } from './factor.table.ts';

/** Long enough to follow a redirect, short enough that a leaked link is soon worthless. */
export const ENROLLMENT_LINK_TTL_MS = 10 * 60_000;
/** The hosted page under which a followed link lets its user enroll. */
export const ENROLLMENT_PATH = '/factors/enroll';

export interface EnrollmentLinks {
  /** A one-time link for `userId`; only its HMAC rests. */
  create(userId: string): Promise<{ url: string; expiresAt: number }>;
  /** Spends a link's token (one conditional UPDATE): the user it was made for, or undefined if invalid, expired or used. */
  redeem(token: string): Promise<string | undefined>;
}

const insertLink = compiled<FactorEnrollmentLinksTable>((db, p) => db.insertInto('factor_enrollment_links').values(p));
const spendLink = compiled<{ token_hash: string; now: number }, { user_id: string }>((db, p) =>
  db
    .updateTable('factor_enrollment_links')
    .set({ consumed_at: p.now })
    .where('token_hash', '=', p.token_hash)
    .where('consumed_at', 'is', null)
    .where('expires_at', '>', p.now)
    .returning('user_id'),
);

/**
 * Links an application hands its signed-in user to reach the enrollment page: the application vouches for the
 * user, as WorkOS's admin-portal links do. Born and hashed like reset tokens (SEC-06, SEC-10).
 */
export function createEnrollmentLinks({ clock, ids, tokens, store, config }: PlatformDeps): EnrollmentLinks {
  const hashOf = (token: string) => tokens.hash(token, 'factor_enrollment');
  return {
    async create(userId) {
      const now = clock.now();
      const token = tokens.newLinkToken();
      const expiresAt = now + ENROLLMENT_LINK_TTL_MS;
      await insertLink.execute(store.db, {
        id: ids.opaque('factor_enrollment_link'),
        token_hash: hashOf(token),
        user_id: userId,
        expires_at: expiresAt,
        consumed_at: null,
        created_at: now,
      });
      const url = new URL(`${config.baseUrl}${ENROLLMENT_PATH}`);
      url.searchParams.set('token', token);
      return { url: url.toString(), expiresAt };
    },

    async redeem(token) {
      const row = await spendLink.first(store.db, { token_hash: hashOf(token), now: clock.now() });
      return row?.user_id;
    },
  };
}
