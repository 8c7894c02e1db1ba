import { generateSecret, generateURI, verify } from 'otplib';
import type { PlatformDeps } from '../deps.ts';
import { RekeyError } from '../errors/index.ts';
import { windowed, type RateLimits } from '../platform/ratelimit.ts';
import { compiled, writeTogether, type BoundWrite } from '../store/compiled.ts';
import type { AuthFactorsTable, FactorTables } from './factor.table.ts';

/** A factor as the rest of Rekey sees it: never the secret, sealed or not. */
export type AuthFactor = Omit<AuthFactorsTable, 'secret_sealed' | 'last_used_step'>;

export interface EnrolledTotp {
  factor: AuthFactor;
  /** The base32 secret, handed out once at enrollment and never again. */
  secret: string;
  /** `otpauth://totp/…` for a QR code. */
  uri: string;
}

export interface MfaLoginContext {
  ipAddress: string | null;
  userAgent: string | null;
}

export interface FactorService {
  /** @param opts.issuer defaults to `config.appName`; `opts.label` defaults to the user's email. */
  enrollTotp(user: { id: string; email: string }, opts?: { issuer?: string; label?: string }): Promise<EnrolledTotp>;
  list(userId: string): Promise<AuthFactor[]>;
  get(id: string): Promise<AuthFactor | undefined>;
  delete(id: string): Promise<boolean>;
  hasSecondFactor(userId: string): Promise<boolean>;
  /** Runs with every enrollment and removal, in its statement: what was earned before the change must not outlive it. */
  onFactorChange(hook: FactorChangeHook): void;
  /**
   * True once per accepted code: the current 30 s step ±1, never a step at or before the last one used (SEC-38).
   * Every attempt spends one of the account's wrong-code budget first, whether it comes from sign-in or from
   * recovery, and an accepted code gives it back; with the budget spent it throws `totp_attempts_exceeded`.
   */
  verifyTotp(userId: string, code: string): Promise<boolean>;
  /**
   * After the first factor: a token that only a second factor can turn into a login. It records which password
   * `user.password_hash` names (an HMAC of it), so the login cannot outlive that password (SEC-47).
   */
  beginMfaLogin(user: { id: string; password_hash?: string | null }, applicationId: string | null, ctx: MfaLoginContext): Promise<{ pendingAuthenticationToken: string }>;
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

/** Writes that must commit with a change of an account's factors (resets void outstanding tokens: SEC-13). */
export type FactorChangeHook = (userId: string, now: number) => BoundWrite[];

const insertFactor = compiled<AuthFactorsTable>((db, p) => db.insertInto('auth_factors').values(p));
const deleteFactor = compiled<{ id: string }>((db, p) => db.deleteFrom('auth_factors').where('id', '=', p.id));

/** RFC 6238 defaults, which every authenticator app understands. */
const PERIOD_SECONDS = 30;
/** ±1 step of clock drift between the server and the phone. */
const TOLERANCE_SECONDS = PERIOD_SECONDS;
export const MFA_MAX_ATTEMPTS = 5;
export const PENDING_AUTHENTICATION_TTL_MS = 10 * 60_000;
const SIX_DIGITS = /^[0-9]{6}$/;

const FACTOR_COLUMNS = ['id', 'user_id', 'type', 'totp_issuer', 'totp_user', 'created_at', 'updated_at'] as const;

export function createFactorService(deps: PlatformDeps & { rateLimits: RateLimits }): FactorService {
  const { clock, ids, tokens, config, logger } = deps;
  // SEC-38: one budget of wrong codes per account, shared by sign-in and recovery, so neither path is a way
  // around the other's limit (a fresh sign-in or a fresh reset flow gets no fresh guesses).
  const totpFailures = windowed(deps.rateLimits, 'totp_failures', [
    { points: config.totpFailuresPer15Minutes, durationSeconds: 15 * 60 },
    { points: config.totpFailuresPerDay, durationSeconds: 24 * 3600 },
  ]);
  // The store's Database type learns these tables when store/database.ts lists them; until then, add them here.
  const db = deps.store.db.withTables<FactorTables>();
  // The 'identifier' purpose is shared, so the prefix keeps these hashes apart from every other identifier.
  const hashPending = (token: string) => tokens.hash(`pending:${token}`, 'identifier');
  // Names a password without keeping its hash in a second table.
  const passwordStamp = (passwordHash: string | null | undefined) => (passwordHash ? tokens.hash(`pending-password:${passwordHash}`, 'identifier') : null);

  /** Whether `code` is a new step of one of the account's TOTP factors; records the step it matched. */
  async function matchTotp(userId: string, code: string): Promise<boolean> {
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
      const secret = tokens.unseal(factor.secret_sealed);
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
  }

  const changeHooks: FactorChangeHook[] = [];
  const changeWrites = (userId: string, now: number) => changeHooks.flatMap((hook) => hook(userId, now));

  const service: FactorService = {
    async enrollTotp(user, opts = {}) {
      const now = clock.now();
      const secret = generateSecret(); // 20 random bytes, base32
      const row: AuthFactorsTable = {
        id: ids.next('auth_factor'),
        user_id: user.id,
        type: 'totp',
        secret_sealed: tokens.seal(secret),
        totp_issuer: opts.issuer ?? config.appName,
        totp_user: opts.label ?? user.email,
        last_used_step: null,
        created_at: now,
        updated_at: now,
      };
      await writeTogether(deps.store.db, [insertFactor.bind(row), ...changeWrites(user.id, now)]);
      const uri = generateURI({ issuer: row.totp_issuer, label: row.totp_user, secret });
      const { secret_sealed: _sealed, last_used_step: _step, ...factor } = row;
      return { factor, secret, uri };
    },

    list: (userId) => db.selectFrom('auth_factors').select(FACTOR_COLUMNS).where('user_id', '=', userId).orderBy('id').execute(),

    get: (id) => db.selectFrom('auth_factors').select(FACTOR_COLUMNS).where('id', '=', id).executeTakeFirst(),

    async delete(id) {
      const factor = await db.selectFrom('auth_factors').select('user_id').where('id', '=', id).executeTakeFirst();
      if (!factor) return false;
      await writeTogether(deps.store.db, [deleteFactor.bind({ id }), ...changeWrites(factor.user_id, clock.now())]);
      return true;
    },

    onFactorChange: (hook) => void changeHooks.push(hook),

    async hasSecondFactor(userId) {
      return (await db.selectFrom('auth_factors').select('id').where('user_id', '=', userId).limit(1).executeTakeFirst()) !== undefined;
    },

    async verifyTotp(userId, code) {
      // Not six digits is no guess at the secret, so it costs nothing.
      if (!SIX_DIGITS.test(code)) return false;
      // Spent before comparing, so parallel guesses cannot share one attempt.
      const attempt = await totpFailures.consume(userId);
      if (!attempt.allowed) throw new RekeyError('totp_attempts_exceeded', { retryAfterSeconds: attempt.retryAfterSeconds });
      const accepted = await matchTotp(userId, code);
      if (accepted) await totpFailures.reward(userId);
      return accepted;
    },

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
      if (!(await service.verifyTotp(pending.user_id, code))) return undefined;
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
  return service;
}
