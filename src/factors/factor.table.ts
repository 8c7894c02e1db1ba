import type { EnrollableFactorType } from './factor.ts';

/**
 * A second factor enrolled by a user, one row per factor whatever its type; the columns of other types are null.
 * Only `factors/` reads these tables; others go through the service.
 */
export interface AuthFactorsTable {
  id: string;
  user_id: string;
  type: EnrollableFactorType;
  /** TOTP: `tokens.seal(base32 secret)`: a database dump alone never yields a usable secret. */
  secret_sealed: string | null;
  /** TOTP: shown by authenticator apps and returned by the WorkOS factor object. */
  totp_issuer: string | null;
  totp_user: string | null;
  /** TOTP: the last time step accepted (30 s units since the epoch); a code of this step or earlier is refused (SEC-38). */
  last_used_step: number | null;
  /** SMS: E.164. A number, not a secret: WorkOS returns it too. */
  phone_number: string | null;
  /** WebAuthn: the credential id (base64url), unique across accounts. */
  webauthn_credential_id: string | null;
  /** WebAuthn: the COSE public key (base64url): verifies assertions, proves nothing by itself. */
  webauthn_public_key: string | null;
  /** WebAuthn: the authenticator's signature counter as last seen; a clone shows a counter that does not move on. */
  webauthn_counter: number | null;
  /** WebAuthn: the transports the browser reported (JSON array), handed back in request options. */
  webauthn_transports: string | null;
  created_at: number;
  updated_at: number;
}

/**
 * A challenge in progress: a code sent by SMS or mail, or a WebAuthn challenge (assertion or registration). Only
 * its HMAC rests here; it is spent by one conditional UPDATE, so it works once.
 */
export interface FactorChallengesTable {
  id: string;
  user_id: string;
  kind: 'sms' | 'email' | 'webauthn' | 'webauthn_registration';
  /** `tokens.hash(<user>:<kind>:<code or challenge>, 'factor_challenge')`. */
  secret_hash: string;
  expires_at: number;
  consumed_at: number | null;
  created_at: number;
}

/** One of an account's ten recovery codes: its HMAC, and when it was used (single use). */
export interface RecoveryCodesTable {
  id: string;
  user_id: string;
  /** The `auth_factors` row (type `recovery_code`) of the set this code belongs to. */
  factor_id: string;
  code_hash: string;
  used_at: number | null;
  created_at: number;
}

/** A one-time link an application hands its signed-in user to enroll WebAuthn or recovery codes in the browser. */
export interface FactorEnrollmentLinksTable {
  id: string;
  /** HMAC of the token, as for reset tokens; the token itself is only in the link. */
  token_hash: string;
  user_id: string;
  expires_at: number;
  consumed_at: number | null;
  created_at: number;
}

/** A login that passed the first factor and waits for a second one (WorkOS `pending_authentication_token`). */
export interface PendingAuthenticationsTable {
  id: string;
  /** HMAC of the token; the token itself is only ever in the caller's hands. */
  token_hash: string;
  user_id: string;
  application_id: string | null;
  ip_address: string | null;
  user_agent: string | null;
  /**
   * Which password the first factor was checked against: an HMAC of that password's hash (never the hash),
   * null when no password was involved. Completion is refused once the account's password is another (SEC-47).
   */
  password_stamp: string | null;
  /** Second-factor attempts spent on this token; incremented before each comparison. */
  attempts: number;
  expires_at: number;
  consumed_at: number | null;
  created_at: number;
}

export type FactorTables = {
  auth_factors: AuthFactorsTable;
  pending_authentications: PendingAuthenticationsTable;
  factor_challenges: FactorChallengesTable;
  recovery_codes: RecoveryCodesTable;
  factor_enrollment_links: FactorEnrollmentLinksTable;
};
