/**
 * Reading the hosted pages' `application/x-www-form-urlencoded` bodies strictly.
 *
 * The common parsers quietly turn invalid UTF-8 and broken percent-escapes into U+FFFD, which would then reach the
 * reset service as a different email or password than the one typed. Here such a body is marked `malformed` and
 * the page says so (400); a key sent twice (`email=a&email=b`, a wrong type for a single field) is marked too.
 */
export class ParsedForm {
  constructor(
    private readonly fields: ReadonlyMap<string, string>,
    /** Invalid UTF-8 or percent-encoding anywhere in the body. */
    readonly malformed: boolean,
    /** A key appeared more than once. */
    readonly repeated: boolean,
  ) {}

  get(name: string): string | undefined {
    return this.fields.get(name);
  }

  /** Every field, for a page that relays what another site posted (the actions' continue). */
  entries(): Array<[string, string]> {
    return [...this.fields];
  }
}

/** Far above any honest form (a password is capped at 1 KiB); larger bodies get the 413 page. */
export const FORM_BODY_LIMIT = 16 * 1024;
const MAX_FIELDS = 32;

/** `@fastify/formbody` hands us the body decoded as UTF-8; a replacement character there means bytes were invalid. */
export function parseForm(body: string): ParsedForm {
  const fields = new Map<string, string>();
  // Browsers percent-encode every non-ASCII character, so a raw U+FFFD can only come from undecodable bytes.
  let malformed = body.includes('\uFFFD');
  let repeated = false;
  const pairs = body === '' ? [] : body.split('&');
  if (pairs.length > MAX_FIELDS) malformed = true;
  for (const pair of pairs.slice(0, MAX_FIELDS)) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = decode(eq === -1 ? pair : pair.slice(0, eq));
    const value = decode(eq === -1 ? '' : pair.slice(eq + 1));
    if (key === undefined || value === undefined) {
      malformed = true;
      continue;
    }
    if (fields.has(key)) repeated = true;
    fields.set(key, value);
  }
  return new ParsedForm(fields, malformed, repeated);
}

function decode(component: string): string | undefined {
  try {
    // decodeURIComponent throws on invalid UTF-8 sequences such as %FF or a lone %C3, instead of replacing them.
    return decodeURIComponent(component.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

/** A query parameter as one string; repeated or absent parameters read as absent. */
export function queryString(query: unknown, name: string, max = 2048): string | undefined {
  if (typeof query !== 'object' || query === null) return undefined;
  const value = (query as Record<string, unknown>)[name];
  return typeof value === 'string' && value.length <= max ? value : undefined;
}

export const MAX_EMAIL_LENGTH = 320;
// C0 controls, DEL and C1 controls.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

export type EmailCheck = { ok: true; email: string } | { ok: false; code: 'email_required' | 'email_invalid' | 'email_too_long' };

/** The shape check a person can act on; whether an account exists is never part of it (SEC-01). */
export function checkEmail(input: string | undefined): EmailCheck {
  const email = (input ?? '').trim();
  if (email === '') return { ok: false, code: 'email_required' };
  if ([...email].length > MAX_EMAIL_LENGTH) return { ok: false, code: 'email_too_long' };
  if (CONTROL.test(email) || !/^[^\s@]+@[^\s@]+$/u.test(email)) return { ok: false, code: 'email_invalid' };
  return { ok: true, email };
}

export type CodeCheck<C extends string> = { ok: true; code: string } | { ok: false; code: C };

/** People paste codes with spaces or dashes (`123 456`); those are dropped, anything else must be digits. */
export function checkDigits<R extends string, F extends string>(
  input: string | undefined,
  lengths: readonly number[],
  required: R,
  format: F,
): CodeCheck<R | F> {
  const digits = (input ?? '').replace(/[\s-]/g, '');
  if (digits === '') return { ok: false, code: required };
  if (!/^\d+$/.test(digits) || !lengths.includes(digits.length)) return { ok: false, code: format };
  return { ok: true, code: digits };
}
