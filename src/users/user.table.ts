export interface UsersTable {
  id: string;
  /** Lower-cased, trimmed: the lookup key. */
  email: string;
  email_verified: number;
  first_name: string | null;
  last_name: string | null;
  profile_picture_url: string | null;
  external_id: string | null;
  /** JSON object of string → string. */
  metadata: string;
  locale: string | null;
  /** Argon2id PHC string; null for accounts without a password (social-only). */
  password_hash: string | null;
  password_changed_at: number | null;
  last_sign_in_at: number | null;
  disabled_at: number | null;
  created_at: number;
  updated_at: number;
}
