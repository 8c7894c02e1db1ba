export interface ApplicationsTable {
  id: string;
  name: string;
  client_id: string;
  /** Where reset links point; null means Rekey's hosted page at `REKEY_BASE_URL/reset/verify`. */
  reset_url: string | null;
  /** JSON array of allowed redirect prefixes (`https://app.example/after-reset`). */
  allowed_redirects: string;
  logo_url: string | null;
  brand_color: string | null;
  is_default: number;
  created_at: number;
  updated_at: number;
}

export interface ApiKeysTable {
  id: string;
  application_id: string;
  name: string;
  /** HMAC of the key; the key itself is shown once, at creation. */
  key_hash: string;
  /** The first characters, so an operator can tell keys apart in a list. */
  key_hint: string;
  created_at: number;
  revoked_at: number | null;
}
