import type { PlatformDeps } from '../deps.ts';
import { RekeyError } from '../errors/index.ts';
import type { RateLimits } from '../platform/ratelimit.ts';
import { compiled, writeTogether, type BoundWrite } from '../store/compiled.ts';
import { createWrongCodeBudget } from './budget.ts';
import { SECOND_FACTOR_TYPES, type EnrollingUser, type FactorKinds, type FactorRegistry, type FactorType } from './factor.ts';
import type { AuthFactorsTable, FactorTables } from './factor.table.ts';
import { createTotpFactor } from './totp/totp.factor.ts';

/** A factor as the rest of Rekey sees it: never the secret, sealed or not. */
export type AuthFactor = Omit<AuthFactorsTable, 'secret_sealed' | 'last_used_step'>;

/** A new factor and, this once, what the user needs to set it up. */
export type Enrolled<T extends FactorType> = { factor: AuthFactor } & FactorKinds[T]['secrets'];

export type EnrolledTotp = Enrolled<'totp'>;

export interface MfaLoginContext {
  ipAddress: string | null;
  userAgent: string | null;
}

export interface FactorService {
  /** Enrolls a factor of `type` through its `Factor`, in one statement with the change hooks. */
  enroll<T extends FactorType>(type: T, user: EnrollingUser, options?: FactorKinds[T]['options']): Promise<Enrolled<T>>;
  /** `enroll('totp', …)`. @param opts.issuer defaults to `config.appName`; `opts.label` defaults to the user's email. */
  enrollTotp(user: EnrollingUser, opts?: FactorKinds['totp']['options']): Promise<EnrolledTotp>;
  list(userId: string): Promise<AuthFactor[]>;
  /** The types the account has enrolled, in `SECOND_FACTOR_TYPES` order: what a flow offers it. */
  enrolledTypes(userId: string): Promise<FactorType[]>;
  get(id: string): Promise<AuthFactor | undefined>;
  delete(id: string): Promise<boolean>;
  hasSecondFactor(userId: string): Promise<boolean>;
  /** Runs with every enrollment and removal, in its statement: what was earned before the change must not outlive it. */
  onFactorChange(hook: FactorChangeHook): void;
  /**
   * True once per accepted code, checked by the `Factor` of `type` (or, without one, by every type whose codes
   * have this shape). Every well-formed attempt spends one of the account's wrong-code budget first, whether it
   * comes from sign-in or from recovery, and an accepted code gives it back; with the budget spent it throws
   * `totp_attempts_exceeded` (SEC-38).
   */
  verify(userId: string, code: string, type?: FactorType): Promise<boolean>;
  /** `verify(userId, code, 'totp')`: the current 30 s step ±1, never a step at or before the last one used. */
  verifyTotp(userId: string, code: string): Promise<boolean>;
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

/** Writes that must commit with a change of an account's factors (resets void outstanding tokens: SEC-13). */
export type FactorChangeHook = (userId: string, now: number) => BoundWrite[];

const insertFactor = compiled<AuthFactorsTable>((db, p) => db.insertInto('auth_factors').values(p));
const deleteFactor = compiled<{ id: string }>((db, p) => db.deleteFrom('auth_factors').where('id', '=', p.id));

export const MFA_MAX_ATTEMPTS = 5;
export const PENDING_AUTHENTICATION_TTL_MS = 10 * 60_000;

const FACTOR_COLUMNS = ['id', 'user_id', 'type', 'totp_issuer', 'totp_user', 'created_at', 'updated_at'] as const;

const defaultFactors = (deps: PlatformDeps): FactorRegistry => ({ totp: createTotpFactor(deps) });

export interface FactorServiceDeps extends PlatformDeps {
  rateLimits: RateLimits;
  /** The factor behind each type; defaults to Rekey's own. */
  factors?: (deps: PlatformDeps) => FactorRegistry;
}

export function createFactorService(deps: FactorServiceDeps): FactorService {
  const { clock, ids, tokens } = deps;
  const budget = createWrongCodeBudget(deps.rateLimits, deps.config);
  // The store's Database type learns these tables when store/database.ts lists them; until then, add them here.
  const db = deps.store.db.withTables<FactorTables>();
  const registry: FactorRegistry = (deps.factors ?? defaultFactors)(deps);
  const factorOf = <T extends FactorType>(type: T) => registry[type] as FactorRegistry[T];
  // The 'identifier' purpose is shared, so the prefix keeps these hashes apart from every other identifier.
  const hashPending = (token: string) => tokens.hash(`pending:${token}`, 'identifier');
  // Names a password without keeping its hash in a second table.
  const passwordStamp = (passwordHash: string | null | undefined) => (passwordHash ? tokens.hash(`pending-password:${passwordHash}`, 'identifier') : null);

  const changeHooks: FactorChangeHook[] = [];
  const changeWrites = (userId: string, now: number) => changeHooks.flatMap((hook) => hook(userId, now));

  const service: FactorService = {
    async enroll(type, user, options = {}) {
      const now = clock.now();
      const { row, secrets } = factorOf(type).enroll(user, options, now);
      await writeTogether(deps.store.db, [insertFactor.bind(row), ...changeWrites(user.id, now)]);
      const { secret_sealed: _sealed, last_used_step: _step, ...factor } = row;
      return { factor, ...secrets };
    },

    enrollTotp: (user, opts) => service.enroll('totp', user, opts),

    list: (userId) => db.selectFrom('auth_factors').select(FACTOR_COLUMNS).where('user_id', '=', userId).orderBy('id').execute(),

    get: (id) => db.selectFrom('auth_factors').select(FACTOR_COLUMNS).where('id', '=', id).executeTakeFirst(),

    async delete(id) {
      const factor = await db.selectFrom('auth_factors').select('user_id').where('id', '=', id).executeTakeFirst();
      if (!factor) return false;
      await writeTogether(deps.store.db, [deleteFactor.bind({ id }), ...changeWrites(factor.user_id, clock.now())]);
      return true;
    },

    async enrolledTypes(userId) {
      const rows = await db.selectFrom('auth_factors').select('type').distinct().where('user_id', '=', userId).execute();
      const enrolled = new Set(rows.map((row) => row.type));
      return SECOND_FACTOR_TYPES.filter((type) => enrolled.has(type));
    },

    onFactorChange: (hook) => void changeHooks.push(hook),

    async hasSecondFactor(userId) {
      return (await db.selectFrom('auth_factors').select('id').where('user_id', '=', userId).limit(1).executeTakeFirst()) !== undefined;
    },

    async verify(userId, code, type) {
      // A code in no type's shape is no guess at a secret, so it costs nothing.
      const candidates = (type ? [factorOf(type)] : SECOND_FACTOR_TYPES.map(factorOf)).filter((factor) => factor.isWellFormed(code));
      if (candidates.length === 0) return false;
      // One attempt of the shared budget, spent before comparing, however many types may hold the code.
      await budget.spend(userId);
      for (const factor of candidates) {
        if (await factor.verify(userId, code)) {
          await budget.giveBack(userId);
          return true;
        }
      }
      return false;
    },

    verifyTotp: (userId, code) => service.verify(userId, code, 'totp'),

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
      if (!(await service.verify(pending.user_id, code))) return undefined;
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
