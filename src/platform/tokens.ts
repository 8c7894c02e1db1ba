import { createCipheriv, createDecipheriv, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { randomBytes, randomIntBelow } from './random.ts';

/**
 * The only place a secret value (link token, code, API key) is born and hashed.
 * Tables hold `hash(value, purpose)`; binding the purpose into the HMAC means a token minted
 * for one purpose can never match a row of another (SEC-09).
 */
export type TokenPurpose =
  | 'password_reset'
  | 'reset_code'
  | 'email_verification'
  | 'api_key'
  | 'refresh_token'
  | 'reset_grant'
  | 'csrf'
  | 'identifier'
  | 'factor_challenge'
  | 'recovery_code'
  | 'factor_enrollment'
  | 'sign_in_device';

export interface Tokens {
  /** 32 random bytes, base64url: 256 bits for links (SEC-06). */
  newLinkToken(): string;
  /** A uniformly random decimal code, leading zeros kept (SEC-07). */
  newCode(digits?: number): string;
  /**
   * A recovery code: ten characters of a 32-letter alphabet without look-alikes (50 bits), shown as `abcde-fghij`.
   * Enough against guessing behind the shared wrong-code budget; short enough to type from paper.
   */
  newRecoveryCode(): string;
  /** HMAC-SHA-256 under a key derived from the server secret, base64url. */
  hash(value: string, purpose: TokenPurpose): string;
  /** Constant-time equality of two hashes. */
  equal(a: string, b: string): boolean;
  /** AES-256-GCM under a derived key: for resting copies that must be given back (WorkOS's GET reset). */
  seal(plain: string): string;
  unseal(sealed: string): string | undefined;
  /** Key material for other primitives (JWT signing), derived per use so no two share a key. */
  deriveKey(info: string): Buffer;
}

/** Crockford's base32 in lower case: no i, l, o or u to misread. */
export const RECOVERY_ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

export function createTokens(secret: string): Tokens {
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', secret, 'rekey', info, 32));
  const hmacKey = derive('token-hmac');
  const sealKey = derive('seal-aes-256-gcm');

  return {
    newLinkToken: () => randomBytes(32).toString('base64url'),
    newCode: (digits = 6) => {
      let code = '';
      for (let i = 0; i < digits; i++) code += String(randomIntBelow(10));
      return code;
    },
    newRecoveryCode: () => {
      let code = '';
      for (let i = 0; i < 10; i++) code += RECOVERY_ALPHABET[randomIntBelow(RECOVERY_ALPHABET.length)];
      return `${code.slice(0, 5)}-${code.slice(5)}`;
    },
    hash: (value, purpose) => createHmac('sha256', hmacKey).update(purpose).update('\0').update(value).digest('base64url'),
    equal: (a, b) => {
      const left = Buffer.from(a);
      const right = Buffer.from(b);
      return left.length === right.length && timingSafeEqual(left, right);
    },
    seal: (plain) => {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', sealKey, iv);
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
    },
    unseal: (sealed) => {
      try {
        const raw = Buffer.from(sealed, 'base64url');
        const decipher = createDecipheriv('aes-256-gcm', sealKey, raw.subarray(0, 12));
        decipher.setAuthTag(raw.subarray(12, 28));
        return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
      } catch {
        return undefined;
      }
    },
    deriveKey: derive,
  };
}
