import { generateSecret, generateURI, verify } from 'otplib';
import type { PlatformDeps } from '../../deps.ts';
import type { Factor } from '../factor.ts';
import type { FactorTables } from '../factor.table.ts';
import { factorRow } from '../rows.ts';

/** RFC 6238 defaults, which every authenticator app understands. */
const PERIOD_SECONDS = 30;
/** ±1 step of clock drift between the server and the phone. */
const TOLERANCE_SECONDS = PERIOD_SECONDS;
const SIX_DIGITS = /^[0-9]{6}$/;

export type TotpFactorDeps = Pick<PlatformDeps, 'store' | 'clock' | 'ids' | 'tokens' | 'config' | 'logger'>;

/** Authenticator-app codes (RFC 6238): a sealed secret per factor, and the last step accepted so no code works twice. */
export function createTotpFactor({ store, clock, ids, tokens, config, logger }: TotpFactorDeps): Factor<'totp'> {
  const db = store.db.withTables<FactorTables>();
  return {
    type: 'totp',

    enroll(user, { issuer, label }, now) {
      const secret = generateSecret(); // 20 random bytes, base32
      const totpIssuer = issuer ?? config.appName;
      const totpUser = label ?? user.email;
      const row = factorRow(
        { id: ids.next('auth_factor'), user_id: user.id, type: 'totp', now },
        { secret_sealed: tokens.seal(secret), totp_issuer: totpIssuer, totp_user: totpUser },
      );
      return { row, writes: [], secrets: { secret, uri: generateURI({ issuer: totpIssuer, label: totpUser, secret }) } };
    },

    // The app shows the code; nothing to send.
    challenge: async () => ({ challenge: { type: 'totp' }, writes: [] }),

    parse: (input) => (typeof input === 'string' && SIX_DIGITS.test(input) ? input : undefined),

    /** The current 30 s step ±1, never a step at or before the last one used (SEC-38); records the step it matched. */
    async verify(userId, code) {
      const factors = await db
        .selectFrom('auth_factors')
        .select(['id', 'secret_sealed', 'last_used_step'])
        .where('user_id', '=', userId)
        .where('type', '=', 'totp')
        .orderBy('id')
        .execute();
      const epoch = Math.floor(clock.now() / 1000);
      const latestStep = Math.floor((epoch + TOLERANCE_SECONDS) / PERIOD_SECONDS);
      for (const factor of factors) {
        // Every step in the window is already used: nothing this factor accepts can be new.
        if (factor.last_used_step !== null && factor.last_used_step >= latestStep) continue;
        const secret = factor.secret_sealed === null ? undefined : tokens.unseal(factor.secret_sealed);
        if (secret === undefined) {
          logger.error({ factorId: factor.id }, 'auth factor secret cannot be unsealed (server secret changed?)');
          continue;
        }
        const result = await verify({
          secret,
          token: code,
          epoch,
          period: PERIOD_SECONDS,
          epochTolerance: TOLERANCE_SECONDS,
          afterTimeStep: factor.last_used_step ?? undefined,
        });
        // The functional API also covers HOTP; only a TOTP match carries the step it matched.
        if (!result.valid || !('timeStep' in result)) continue;
        // SEC-38: one conditional UPDATE records the step. Two requests with the same code both get here,
        // but only one changes the row; the other sees a step that is no longer newer and is refused.
        const step = result.timeStep;
        const recorded = await db
          .updateTable('auth_factors')
          .set({ last_used_step: step })
          .where('id', '=', factor.id)
          .where((eb) => eb.or([eb('last_used_step', 'is', null), eb('last_used_step', '<', step)]))
          .executeTakeFirst();
        if (Number(recorded.numUpdatedRows) > 0) return true;
      }
      return false;
    },
  };
}
