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

/** A device an account has signed in from (see `devices.ts`): never a user agent, only a keyed hash of its families. */
export interface SignInDevicesTable {
  user_id: string;
  /** HMAC of the user id, the browser family and the OS family. */
  device_key: string;
  first_seen_at: number;
}
