import { sql } from 'kysely';
import type { PlatformDeps } from '../deps.ts';
import { RekeyError } from '../errors/index.ts';
import type { RateLimits } from '../platform/ratelimit.ts';
import { compiled, writeTogether, writeTogetherIf, type BoundWrite } from '../store/compiled.ts';
import { createWrongCodeBudget } from './budget.ts';
import { createEmailCodeFactor } from './email-code/email.factor.ts';
import { createEnrollmentLinks, type EnrollmentLinks } from './enrollment-links.ts';
import {
  AUTH0_FACTOR_TYPES,
  ENROLLABLE_FACTOR_TYPES,
  type Auth0FactorType,
  type ChallengeContext,
  type EnrollingUser,
  type FactorChallenge,
  type FactorKinds,
  type FactorRegistry,
  type FactorType,
} from './factor.ts';
import type { AuthFactorsTable, FactorTables } from './factor.table.ts';
import { createMfaLogins, type MfaLogins } from './mfa-login.ts';
import { createRecoveryCodeFactor } from './recovery-codes/recovery-codes.factor.ts';
import type { CodeDelivery } from './sent-code.ts';
import { createSmsFactor } from './sms-code/sms.factor.ts';
import { createTotpFactor } from './totp/totp.factor.ts';
import { createWebAuthnRegistration, type WebAuthnKind } from './webauthn/registration.ts';
import { createWebAuthnFactor } from './webauthn/webauthn.factor.ts';

export { MFA_MAX_ATTEMPTS, PENDING_AUTHENTICATION_TTL_MS, type MfaLoginContext } from './mfa-login.ts';

/** A factor as the rest of Rekey sees it: never a secret or a key, sealed or not. */
export type AuthFactor = Pick<AuthFactorsTable, 'id' | 'user_id' | 'type' | 'totp_issuer' | 'totp_user' | 'phone_number' | 'created_at' | 'updated_at'>;

/** The types enrolled with one call (the others: WebAuthn in the browser; email is never enrolled). */
export type DirectlyEnrolled = 'totp' | 'sms' | 'recovery_code';

/** A new factor and, this once, what the user needs to set it up. */
export type Enrolled<T extends FactorType> = { factor: AuthFactor } & FactorKinds[T]['secrets'];
export type EnrolledTotp = Enrolled<'totp'>;

/** Auth0's `event.user.enrolledFactors[]` entry. */
export interface Auth0EnrolledFactor {
  type: Auth0FactorType;
  options?: Record<string, unknown>;
}

/**
 * The factors door (`rekey.factors`, `deps.factors.service`). What the reset flow and the actions pipeline use:
 *
 *   const types = await factors.enrolledTypes(userId);            // what the built-in rule demands one of
 *   const auth0 = await factors.enrolledFactorsOf(userId);        // event.user.enrolledFactors
 *   const c = await factors.challenge(userId, 'sms', { locale, applicationId }); // sends the code; c.sentTo
 *   const ok = await factors.verifyResponse(userId, 'sms', form.get('code'));    // or a WebAuthn assertion (JSON text or object)
 *
 * `challenge` of `email` mails a code to the account's address: call it only when an action asked for `email` by name.
 * Every verification, of any type, spends the account's shared wrong-code budget first and gives it back on success;
 * with the budget spent it throws `totp_attempts_exceeded` (SEC-38). A malformed answer costs nothing and is false.
 */
export interface FactorService extends MfaLogins {
  /** Enrolls a factor of `type` through its `Factor`, in one commit with the change hooks. */
  enroll<T extends DirectlyEnrolled>(type: T, user: EnrollingUser, options?: FactorKinds[T]['options']): Promise<Enrolled<T>>;
  /** `enroll('totp', …)`. @param opts.issuer defaults to `config.appName`; `opts.label` defaults to the user's email. */
  enrollTotp(user: EnrollingUser, opts?: FactorKinds['totp']['options']): Promise<EnrolledTotp>;
  /** Ten new recovery codes, shown once; the previous ten stop working in the same commit. */
  regenerateRecoveryCodes(user: EnrollingUser): Promise<Enrolled<'recovery_code'>>;
  /** The WebAuthn registration ceremony: options for the browser, then its answer verified and enrolled. */
  webauthn: {
    begin(user: EnrollingUser, kind?: WebAuthnKind): Promise<import('@simplewebauthn/server').PublicKeyCredentialCreationOptionsJSON>;
    finish(user: EnrollingUser, response: unknown, kind: WebAuthnKind): Promise<AuthFactor>;
  };
  /** The account factors are enrolled for (id and address), or undefined. */
  findUser(userId: string): Promise<EnrollingUser | undefined>;
  /** One-time links to the hosted enrollment page. */
  enrollmentLinks: EnrollmentLinks;
  list(userId: string): Promise<AuthFactor[]>;
  /** The enrolled types, in `ENROLLABLE_FACTOR_TYPES` order, recovery codes only while one is unused: what a flow offers. */
  enrolledTypes(userId: string): Promise<FactorType[]>;
  /** `enrolledTypes` in Auth0's names, for `event.user.enrolledFactors`. */
  enrolledFactorsOf(userId: string): Promise<Auth0EnrolledFactor[]>;
  /** How many of the account's recovery codes are unused. */
  recoveryCodesLeft(userId: string): Promise<number>;
  get(id: string): Promise<AuthFactor | undefined>;
  delete(id: string): Promise<boolean>;
  hasSecondFactor(userId: string): Promise<boolean>;
  /**
   * `!hasSecondFactor(userId)` as a condition for `writeTogetherIf` (a row while the account has no second factor):
   * the check made in the statement that commits a change, rather than a read before it.
   */
  noSecondFactorGuard(userId: string): BoundWrite;
  /** Runs with every enrollment and removal, in its commit: what was earned before the change must not outlive it. */
  onFactorChange(hook: FactorChangeHook): void;
  /**
   * Starts a challenge of `type`: sends a code (SMS, email), produces WebAuthn request options, or nothing (TOTP,
   * recovery code). Throws `factor_not_enrolled` when the account has no factor of the type, `factor_unavailable`
   * when nothing can deliver its codes, `rate_limited` past the sends allowed.
   */
  challenge<T extends FactorType>(userId: string, type: T, context?: ChallengeContext): Promise<FactorChallenge<T>>;
  /** Checks an answer of `type` (a code, or a WebAuthn assertion as JSON text or object): true once per accepted answer. */
  verifyResponse(userId: string, type: FactorType, response: unknown): Promise<boolean>;
  /**
   * True once per accepted code of `type`, or, without a type, of any enrolled type whose codes look like it (TOTP,
   * SMS, recovery code: never email, which must be asked for by name).
   */
  verify(userId: string, code: string, type?: FactorType): Promise<boolean>;
  /** `verify(userId, code, 'totp')`: the current 30 s step ±1, never a step at or before the last one used. */
  verifyTotp(userId: string, code: string): Promise<boolean>;
}

/** Writes that must commit with a change of an account's factors (resets void outstanding tokens: SEC-13). */
export type FactorChangeHook = (userId: string, now: number) => BoundWrite[];

const insertFactor = compiled<AuthFactorsTable>((db, p) => db.insertInto('auth_factors').values(p));
const deleteFactor = compiled<{ id: string }>((db, p) => db.deleteFrom('auth_factors').where('id', '=', p.id));
const deleteFactorCodes = compiled<{ factor_id: string }>((db, p) => db.deleteFrom('recovery_codes').where('factor_id', '=', p.factor_id));

/** A row only while `hasSecondFactor` would say false: no enrollable factor, recovery codes only with one unused. */
const noSecondFactor = compiled<{ userId: string }>((db, p) =>
  db.selectNoFrom(sql<number>`1`.as('one')).where(({ not, exists, selectFrom }) =>
    not(
      exists(
        selectFrom('auth_factors as f')
          .select(sql<number>`1`.as('one'))
          .where('f.user_id', '=', p.userId)
          .where('f.type', 'in', ENROLLABLE_FACTOR_TYPES)
          .where(({ or, eb, exists: codes, selectFrom: from }) =>
            or([
              eb('f.type', '!=', 'recovery_code'),
              codes(
                from('recovery_codes as r')
                  .select(sql<number>`1`.as('one'))
                  .where('r.user_id', '=', p.userId)
                  .where('r.used_at', 'is', null),
              ),
            ]),
          ),
      ),
    ),
  ),
);

const FACTOR_COLUMNS = ['id', 'user_id', 'type', 'totp_issuer', 'totp_user', 'phone_number', 'created_at', 'updated_at'] as const;
/** What a code typed without naming its type may be. */
const UNTYPED: readonly FactorType[] = ['totp', 'sms', 'recovery_code'];

export interface FactorServiceDeps extends PlatformDeps {
  rateLimits: RateLimits;
  /** How SMS and mailed codes leave (the notifications engine); without it those types answer `factor_unavailable`. */
  delivery?: CodeDelivery;
  /** The account a challenge is for (its address, for mailed codes). */
  findUser?: (userId: string) => Promise<EnrollingUser | undefined>;
  /** The factor behind each type; defaults to Rekey's own. */
  factors?: (deps: FactorServiceDeps) => FactorRegistry;
}

export const defaultFactors = (deps: FactorServiceDeps): FactorRegistry => ({
  totp: createTotpFactor(deps),
  sms: createSmsFactor(deps),
  email: createEmailCodeFactor(deps),
  webauthn_roaming: createWebAuthnFactor('webauthn_roaming', deps),
  webauthn_platform: createWebAuthnFactor('webauthn_platform', deps),
  recovery_code: createRecoveryCodeFactor(deps),
});

export function createFactorService(deps: FactorServiceDeps): FactorService {
  const { clock } = deps;
  const budget = createWrongCodeBudget(deps.rateLimits, deps.config);
  const db = deps.store.db.withTables<FactorTables>();
  const registry: FactorRegistry = (deps.factors ?? defaultFactors)(deps);
  const factorOf = <T extends FactorType>(type: T) => registry[type] as FactorRegistry[T];
  const registration = createWebAuthnRegistration(deps);

  const changeHooks: FactorChangeHook[] = [];
  const changeWrites = (userId: string, now: number) => changeHooks.flatMap((hook) => hook(userId, now));
  const publicOf = (row: AuthFactorsTable): AuthFactor => {
    const { id, user_id, type, totp_issuer, totp_user, phone_number, created_at, updated_at } = row;
    return { id, user_id, type, totp_issuer, totp_user, phone_number, created_at, updated_at };
  };

  const findUser = async (userId: string): Promise<EnrollingUser> => {
    const user = deps.findUser ? await deps.findUser(userId) : undefined;
    if (!user) throw new RekeyError('user_not_found');
    return user;
  };

  /** Spends one attempt of the shared budget, then asks the factors in turn; an accepted answer gives it back. */
  const spendAndVerify = async (userId: string, candidates: Array<{ type: FactorType; response: unknown }>) => {
    if (candidates.length === 0) return false;
    await budget.spend(userId);
    for (const { type, response } of candidates) {
      if (await factorOf(type).verify(userId, response as never)) {
        await budget.giveBack(userId);
        return true;
      }
    }
    return false;
  };

  const mfa = createMfaLogins(deps, (userId, code) => service.verify(userId, code));

  const service: FactorService = {
    ...mfa,

    async enroll(type, user, options) {
      const enroll = factorOf(type).enroll;
      if (!enroll) throw new RekeyError('invalid_request_parameters', { type });
      const now = clock.now();
      const enrolled = enroll(user, (options ?? {}) as never, now);
      await writeTogether(deps.store.db, [insertFactor.bind(enrolled.row), ...enrolled.writes, ...changeWrites(user.id, now)]);
      return { factor: publicOf(enrolled.row), ...enrolled.secrets } as never;
    },

    enrollTotp: (user, opts) => service.enroll('totp', user, opts),
    regenerateRecoveryCodes: (user) => service.enroll('recovery_code', user, {}),

    webauthn: {
      async begin(user, kind) {
        const { options, writes } = await registration.begin(user, kind);
        await writeTogether(deps.store.db, writes);
        return options;
      },
      async finish(user, response, kind) {
        const { row, guard } = await registration.finish(user, response, kind);
        const committed = await writeTogetherIf(deps.store.db, guard, [insertFactor.bind(row), ...changeWrites(user.id, row.created_at)]);
        if (!committed) throw new RekeyError('webauthn_registration_failed', { reason: 'challenge' });
        return publicOf(row);
      },
    },

    findUser: async (userId) => (deps.findUser ? deps.findUser(userId) : undefined),

    enrollmentLinks: createEnrollmentLinks(deps),

    list: (userId) => db.selectFrom('auth_factors').select(FACTOR_COLUMNS).where('user_id', '=', userId).orderBy('id').execute(),

    get: (id) => db.selectFrom('auth_factors').select(FACTOR_COLUMNS).where('id', '=', id).executeTakeFirst(),

    async delete(id) {
      const factor = await db.selectFrom('auth_factors').select('user_id').where('id', '=', id).executeTakeFirst();
      if (!factor) return false;
      await writeTogether(deps.store.db, [deleteFactorCodes.bind({ factor_id: id }), deleteFactor.bind({ id }), ...changeWrites(factor.user_id, clock.now())]);
      return true;
    },

    async enrolledTypes(userId) {
      const rows = await db.selectFrom('auth_factors').select('type').distinct().where('user_id', '=', userId).execute();
      const enrolled = new Set<string>(rows.map((row) => row.type));
      // A spent set is no factor: a flow must not demand what the user can no longer give.
      if (enrolled.has('recovery_code') && (await service.recoveryCodesLeft(userId)) === 0) enrolled.delete('recovery_code');
      return ENROLLABLE_FACTOR_TYPES.filter((type) => enrolled.has(type));
    },

    async enrolledFactorsOf(userId) {
      return (await service.enrolledTypes(userId)).map((type) => ({ type: AUTH0_FACTOR_TYPES[type] }));
    },

    async recoveryCodesLeft(userId) {
      const row = await db
        .selectFrom('recovery_codes')
        .select((eb) => eb.fn.countAll<number | string>().as('left'))
        .where('user_id', '=', userId)
        .where('used_at', 'is', null)
        .executeTakeFirst();
      return Number(row?.left ?? 0);
    },

    onFactorChange: (hook) => void changeHooks.push(hook),

    async hasSecondFactor(userId) {
      return (await service.enrolledTypes(userId)).length > 0;
    },

    noSecondFactorGuard: (userId) => noSecondFactor.bind({ userId }),

    async challenge(userId, type, context = {}) {
      const user = await findUser(userId);
      // SMS and WebAuthn look up what they send to or list; these two have nothing to look up but must be enrolled.
      if ((type === 'totp' || type === 'recovery_code') && !(await service.enrolledTypes(userId)).includes(type)) {
        throw new RekeyError('factor_not_enrolled', { type });
      }
      const { challenge, writes } = await factorOf(type).challenge(user, context, clock.now());
      await writeTogether(deps.store.db, writes);
      return challenge;
    },

    async verifyResponse(userId, type, input) {
      const response = factorOf(type).parse(input);
      // An answer in no shape of the type is no guess at a secret, so it costs nothing.
      return response === undefined ? false : spendAndVerify(userId, [{ type, response }]);
    },

    async verify(userId, code, type) {
      if (type) return service.verifyResponse(userId, type, code);
      const candidates = UNTYPED.flatMap((t) => {
        const response = factorOf(t).parse(code);
        return response === undefined ? [] : [{ type: t, response }];
      });
      // One attempt of the shared budget, however many types may hold the code.
      return spendAndVerify(userId, candidates);
    },

    verifyTotp: (userId, code) => service.verify(userId, code, 'totp'),
  };
  return service;
}
