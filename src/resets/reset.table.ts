export interface PasswordResetsTable {
  id: string;
  user_id: string;
  email: string;
  application_id: string | null;
  /** Set when the token was issued for a browser reset flow. */
  flow_id: string | null;
  /** HMAC-SHA-256 of the token under the server secret; the token itself is never stored. */
  token_hash: string;
  /** AES-GCM copy so WorkOS's GET can return the token; wiped once consumed, voided or expired. */
  token_sealed: string | null;
  created_at: number;
  expires_at: number;
  consumed_at: number | null;
  invalidated_at: number | null;
}
