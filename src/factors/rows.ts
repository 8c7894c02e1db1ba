import type { EnrollableFactorType } from './factor.ts';
import type { AuthFactorsTable } from './factor.table.ts';

/** A factor row of `type` with every other type's columns empty. */
export function factorRow(
  base: { id: string; user_id: string; type: EnrollableFactorType; now: number },
  columns: Partial<Omit<AuthFactorsTable, 'id' | 'user_id' | 'type' | 'created_at' | 'updated_at'>> = {},
): AuthFactorsTable {
  return {
    id: base.id,
    user_id: base.user_id,
    type: base.type,
    secret_sealed: null,
    totp_issuer: null,
    totp_user: null,
    last_used_step: null,
    phone_number: null,
    webauthn_credential_id: null,
    webauthn_public_key: null,
    webauthn_counter: null,
    webauthn_transports: null,
    ...columns,
    created_at: base.now,
    updated_at: base.now,
  };
}

/** What a masked destination keeps: the last two digits of a number, the first letter and the domain of an address. */
export function maskPhone(phone: string): string {
  return `${'•'.repeat(Math.max(0, phone.length - 2))}${phone.slice(-2)}`;
}

export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at <= 0) return '•••';
  return `${email[0]}•••${email.slice(at)}`;
}
