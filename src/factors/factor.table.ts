import type { FactorType } from './factor.ts';

/** A second factor enrolled by a user. Only `factors/` reads these tables; others go through the service. */
export interface AuthFactorsTable {
  id: string;
  user_id: string;
  type: FactorType;
  /** `tokens.seal(base32 secret)`: a database dump alone never yields a usable secret. */
  secret_sealed: string;
  /** Shown by authenticator apps and returned by the WorkOS factor object. */
  totp_issuer: string;
  totp_user: string;
  /** The last TOTP time step accepted (30 s units since the epoch); a code of this step or earlier is refused (SEC-38). */
  last_used_step: number | null;
  created_at: number;
  updated_at: number;
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
};
