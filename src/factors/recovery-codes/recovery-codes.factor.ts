import type { PlatformDeps } from '../../deps.ts';
import { compiled } from '../../store/compiled.ts';
import type { Factor } from '../factor.ts';
import type { RecoveryCodesTable } from '../factor.table.ts';
import { factorRow } from '../rows.ts';

/** How many codes a set holds: the usual ten (GitHub, Google, Auth0 give one to sixteen). */
export const RECOVERY_CODE_COUNT = 10;

export type RecoveryCodeDeps = Pick<PlatformDeps, 'clock' | 'ids' | 'tokens' | 'store'>;

const insertCode = compiled<RecoveryCodesTable>((db, p) => db.insertInto('recovery_codes').values(p));
/** The user's other sets, after the new one is written: excluding it by id keeps the delete off the new rows on either store. */
const deleteOtherCodes = compiled<{ user_id: string; keep: string }>((db, p) =>
  db.deleteFrom('recovery_codes').where('user_id', '=', p.user_id).where('factor_id', '!=', p.keep),
);
const deleteOtherSets = compiled<{ user_id: string; keep: string }>((db, p) =>
  db.deleteFrom('auth_factors').where('user_id', '=', p.user_id).where('type', '=', 'recovery_code').where('id', '!=', p.keep),
);
/** SEC-38: spending is the check; of two requests with one code, one changes the row. */
const spendCode = compiled<{ code_hash: string; now: number }>((db, p) =>
  db.updateTable('recovery_codes').set({ used_at: p.now }).where('code_hash', '=', p.code_hash).where('used_at', 'is', null),
);

/** Crockford's reading: what people mistype for a digit is read as that digit. */
const LOOKALIKES: Record<string, string> = { i: '1', l: '1', o: '0' };
const SHAPE = /^([0-9a-hjkmnp-tv-z]{5})-?([0-9a-hjkmnp-tv-z]{5})$/;

/** `ABCDE FGHIJ`, `abcde-fghij`, `abcdefghij` all read as `abcde-fghij`; anything else is no recovery code. */
export function normalizeRecoveryCode(input: string): string | undefined {
  if (input.length > 40) return undefined;
  const compact = input
    .toLowerCase()
    .replace(/[\s]/g, '')
    .replace(/[ilo]/g, (c) => LOOKALIKES[c]!);
  const match = SHAPE.exec(compact);
  return match ? `${match[1]}-${match[2]}` : undefined;
}

/**
 * Ten single-use codes, for when every other factor is lost. Hashed with the server HMAC like tokens, bound to the
 * account in the hash; enrolling again replaces the set in the same commit, so the old ten stop working at once.
 */
export function createRecoveryCodeFactor({ clock, ids, tokens, store }: RecoveryCodeDeps): Factor<'recovery_code'> {
  const hashOf = (userId: string, code: string) => tokens.hash(`${userId}:${code}`, 'recovery_code');
  return {
    type: 'recovery_code',

    enroll(user, _options, now) {
      const row = factorRow({ id: ids.next('auth_factor'), user_id: user.id, type: 'recovery_code', now });
      const codes = Array.from({ length: RECOVERY_CODE_COUNT }, () => tokens.newRecoveryCode());
      const writes = codes.map((code) =>
        insertCode.bind({
          id: ids.next('recovery_code'),
          user_id: user.id,
          factor_id: row.id,
          code_hash: hashOf(user.id, code),
          used_at: null,
          created_at: now,
        }),
      );
      const replaced = { user_id: user.id, keep: row.id };
      return { row, writes: [...writes, deleteOtherCodes.bind(replaced), deleteOtherSets.bind(replaced)], secrets: { codes } };
    },

    // Written on paper: nothing to send.
    challenge: async () => ({ challenge: { type: 'recovery_code' }, writes: [] }),

    parse: (input) => (typeof input === 'string' ? normalizeRecoveryCode(input) : undefined),

    async verify(userId, code) {
      const spent = await spendCode.execute(store.db, { code_hash: hashOf(userId, code), now: clock.now() });
      return Number(spent.numAffectedRows ?? 0) > 0;
    },
  };
}
