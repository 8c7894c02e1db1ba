import type { AuthenticationResponseJSON, PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import type { BoundWrite } from '../store/compiled.ts';
import type { AuthFactorsTable } from './factor.table.ts';

/**
 * The factors a user enrolls, in the order a flow lists them. The ids are on the wire (WorkOS factor `type`, a
 * reset flow's `supported_second_factors`), so one is never renamed once shipped.
 */
export const ENROLLABLE_FACTOR_TYPES = ['totp', 'sms', 'webauthn_roaming', 'webauthn_platform', 'recovery_code'] as const;
export type EnrollableFactorType = (typeof ENROLLABLE_FACTOR_TYPES)[number];

/**
 * Every second factor Rekey can challenge. `email` is the account's own address, never enrolled: it is a second
 * factor only when an action asks for it by name, since the first factor of a reset already proved the mailbox.
 * Nothing lists it among an account's enrolled types, so the built-in rule never counts the mailbox twice.
 */
export const SECOND_FACTOR_TYPES = [...ENROLLABLE_FACTOR_TYPES, 'email'] as const;
export type FactorType = (typeof SECOND_FACTOR_TYPES)[number];

/** The factors that answer with a typed code (one form field); WebAuthn answers with a signed assertion. */
export const CODE_FACTOR_TYPES = ['totp', 'sms', 'email', 'recovery_code'] as const satisfies readonly FactorType[];
export type CodeFactorType = (typeof CODE_FACTOR_TYPES)[number];
export const WEBAUTHN_FACTOR_TYPES = ['webauthn_roaming', 'webauthn_platform'] as const satisfies readonly FactorType[];
export type WebAuthnFactorType = (typeof WEBAUTHN_FACTOR_TYPES)[number];

export const isFactorType = (value: unknown): value is FactorType => typeof value === 'string' && (SECOND_FACTOR_TYPES as readonly string[]).includes(value);
export const isWebAuthnType = (type: FactorType): type is WebAuthnFactorType => (WEBAUTHN_FACTOR_TYPES as readonly string[]).includes(type);

/** A code sent by SMS or mail: where it went (masked: never the whole number or address) and until when it works. */
export interface SentCodeChallenge<T extends 'sms' | 'email'> {
  type: T;
  /** `+33 •• •• •• 12 34`-like: enough for the user to recognise it, not enough to learn it. */
  sentTo: string;
  expiresAt: number;
}

/**
 * Per type: what enrolling takes and hands back once (a secret, codes), what a challenge produces (a sent code,
 * WebAuthn request options, or nothing to send), and what the user answers with.
 * A new type adds its id above, a line here and a `Factor` file; the service's registry does not compile until it does.
 */
export interface FactorKinds {
  totp: {
    /** `issuer` defaults to `config.appName`; `label` to the user's email. */
    options: { issuer?: string; label?: string };
    secrets: { secret: string; uri: string };
    challenge: { type: 'totp' };
    response: string;
  };
  sms: {
    /** E.164 (`+14155550123`). */
    options: { phoneNumber: string };
    secrets: Record<never, never>;
    challenge: SentCodeChallenge<'sms'>;
    response: string;
  };
  email: {
    /** Never enrolled: the account's address is the factor. */
    options: never;
    secrets: Record<never, never>;
    challenge: SentCodeChallenge<'email'>;
    response: string;
  };
  webauthn_roaming: {
    /** Enrolled through a registration ceremony in the browser (`FactorService.webauthn`), not by this call. */
    options: never;
    secrets: Record<never, never>;
    challenge: { type: 'webauthn_roaming'; options: PublicKeyCredentialRequestOptionsJSON };
    response: AuthenticationResponseJSON;
  };
  webauthn_platform: {
    options: never;
    secrets: Record<never, never>;
    challenge: { type: 'webauthn_platform'; options: PublicKeyCredentialRequestOptionsJSON };
    response: AuthenticationResponseJSON;
  };
  recovery_code: {
    options: Record<never, never>;
    /** Ten codes, shown once; enrolling again voids the previous ten. */
    secrets: { codes: string[] };
    challenge: { type: 'recovery_code' };
    response: string;
  };
}

export type FactorChallenge<T extends FactorType = FactorType> = FactorKinds[T]['challenge'];
export type FactorResponse<T extends FactorType = FactorType> = FactorKinds[T]['response'];

export interface EnrollingUser {
  id: string;
  email: string;
}

/** Who is challenged, and for what: the message a code goes out in is in this language and application's name. */
export interface ChallengeContext {
  locale?: string | null;
  applicationId?: string | null;
}

/** What enrolling produced: the factor's row, the other rows that come with it (recovery codes), and what the user sees once. */
export interface Enrollment<T extends FactorType> {
  row: AuthFactorsTable;
  /**
   * Committed after the row, with the change hooks; must not touch the row itself. A write that removes what the
   * new factor replaces names the new row's id to leave it alone (SQLite runs them in order, PostgreSQL at once).
   */
  writes: BoundWrite[];
  secrets: FactorKinds[T]['secrets'];
}

/**
 * A second factor type behind one port, as Kratos registers its strategies by id. The service owns what is the
 * same for every type: the shared wrong-code budget (SEC-38), the change hooks (SEC-13) and the table writes.
 *
 * The steps: `enroll` (types that enroll with one call), `challenge` (send a code, produce WebAuthn options, or
 * nothing), `parse` (is this input an answer of this type at all: anything else costs nothing), `verify`.
 */
export interface Factor<T extends FactorType = FactorType> {
  readonly type: T;
  /** The row to store (secrets sealed) and what the caller sees once. Absent for types enrolled otherwise. */
  enroll?(user: EnrollingUser, options: FactorKinds[T]['options'], now: number): Enrollment<T>;
  /**
   * Starts a challenge: the writes to commit (a code's hash with the message that carries it, a WebAuthn
   * challenge's hash) and what the browser needs. Throws `factor_not_enrolled` when the user has nothing of this type.
   */
  challenge(user: EnrollingUser, context: ChallengeContext, now: number): Promise<{ challenge: FactorChallenge<T>; writes: BoundWrite[] }>;
  /** The answer in this type's shape, or undefined: a malformed answer is no guess at a secret and costs nothing. */
  parse(input: unknown): FactorResponse<T> | undefined;
  /**
   * Whether one of the account's factors of this type accepts `response`, at most once (it records what it accepted in
   * one conditional statement, so racing requests with one answer get one success). The caller has already spent an
   * attempt of the account's budget.
   */
  verify(userId: string, response: FactorResponse<T>): Promise<boolean>;
}

/** One factor per type: a registry missing a type, or holding a factor under another's id, does not compile. */
export type FactorRegistry = { readonly [T in FactorType]: Factor<T> };

/**
 * Auth0's names for Rekey's types (`event.user.enrolledFactors[].type`, `api.authentication.challengeWith({type})`).
 * `sms` is Auth0's `phone`; Auth0's `otp` is TOTP.
 */
export const AUTH0_FACTOR_TYPES = {
  totp: 'otp',
  sms: 'phone',
  email: 'email',
  webauthn_roaming: 'webauthn-roaming',
  webauthn_platform: 'webauthn-platform',
  recovery_code: 'recovery-code',
} as const satisfies Record<FactorType, string>;
export type Auth0FactorType = (typeof AUTH0_FACTOR_TYPES)[FactorType];

/** Rekey's type for an Auth0 factor name (`sms` is accepted for `phone`, as Auth0's own sample writes it); undefined for names Rekey has no factor for. */
export function fromAuth0FactorType(name: string): FactorType | undefined {
  if (name === 'sms') return 'sms';
  return (Object.keys(AUTH0_FACTOR_TYPES) as FactorType[]).find((type) => AUTH0_FACTOR_TYPES[type] === name);
}
