export interface SessionsTable {
  id: string;
  user_id: string;
  application_id: string | null;
  ip_address: string | null;
  user_agent: string | null;
  auth_method: string;
  /** HMAC of the current refresh token; replaced on every refresh, cleared on revoke. */
  refresh_token_hash: string | null;
  expires_at: number;
  /** Set when the session is revoked; status is derived from this and `expires_at`. */
  ended_at: number | null;
  created_at: number;
  updated_at: number;
}
