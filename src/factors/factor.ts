import type { AuthFactorsTable } from './factor.table.ts';

/**
 * The second factors Rekey knows, in the order a flow lists them. The ids are on the wire (WorkOS factor
 * `type`, a reset flow's `supported_second_factors`), so one is never renamed once shipped.
 */
export const SECOND_FACTOR_TYPES = ['totp'] as const;
export type FactorType = (typeof SECOND_FACTOR_TYPES)[number];

/**
 * What each factor type takes to enroll and hands back once (a secret, a URI), never to be read again.
 * A new type adds its id above, a line here and a `Factor` file; the service's registry does not compile until it does.
 */
export interface FactorKinds {
  totp: {
    /** `issuer` defaults to `config.appName`; `label` to the user's email. */
    options: { issuer?: string; label?: string };
    secrets: { secret: string; uri: string };
  };
}

export interface EnrollingUser {
  id: string;
  email: string;
}

/**
 * A second factor type behind one port, as Kratos registers its strategies by id. The service owns what is the
 * same for every type: the shared wrong-code budget (SEC-38), the change hooks (SEC-13) and the table writes.
 */
export interface Factor<T extends FactorType = FactorType> {
  readonly type: T;
  /** The row to store (secrets sealed) and what the caller sees once. The service commits the row. */
  enroll(user: EnrollingUser, options: FactorKinds[T]['options'], now: number): { row: AuthFactorsTable; secrets: FactorKinds[T]['secrets'] };
  /** Whether `code` has this type's shape: anything else is no guess at a secret and costs nothing. */
  isWellFormed(code: string): boolean;
  /**
   * Whether one of the account's factors of this type accepts `code`, at most once per code (it records what it
   * accepted in one conditional statement, so racing requests with one code get one success). The caller has
   * already spent an attempt of the account's budget.
   */
  verify(userId: string, code: string): Promise<boolean>;
}

/** One factor per type: a registry missing a type, or holding a factor under another's id, does not compile. */
export type FactorRegistry = { readonly [T in FactorType]: Factor<T> };
