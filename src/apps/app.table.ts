export interface ApplicationsTable {
  id: string;
  name: string;
  client_id: string;
  /** Where reset links point; null means Rekey's hosted page at `REKEY_BASE_URL/reset/verify`. */
  reset_url: string | null;
  /** JSON array of allowed redirect prefixes (`https://app.example/after-reset`). */
  allowed_redirects: string;
  /** A `data:image/…` URL, a path on Rekey's origin, or an https URL (mail only; pages show no cross-origin image). */
  logo_url: string | null;
  /** `#rgb` or `#rrggbb`, lower case. */
  brand_color: string | null;
  /** Where the done page sends the user back to sign in; on the redirect allow-list (checked again at use). */
  sign_in_url: string | null;
  /** Where users can ask for help; shown on pages and in mail. */
  support_email: string | null;
  /** The From of this application's mail, one mailbox (`"Acme" <no-reply@acme.example>`); null: REKEY_MAIL_FROM. */
  mail_from: string | null;
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
