import addressparser from 'nodemailer/lib/addressparser';
import { z } from 'zod';
import { RekeyError } from '../errors/index.ts';
import type { ApplicationsTable } from './app.table.ts';
import { safeRedirect } from './redirects.ts';

/**
 * The settings an operator may change on an application, as the service takes them. `null` clears a setting;
 * a missing key leaves it as it is.
 */
export interface ApplicationSettings {
  name?: string;
  /** The application's own reset page (links get `?token=…`); null: Rekey's hosted page. */
  resetUrl?: string | null;
  /** Redirect allow-list entries: an exact origin and a path prefix (SEC-23). */
  allowedRedirects?: string[];
  /** A `data:image/…` URL, a path on Rekey's origin, or an https URL (used by mail only; pages load nothing cross-origin). */
  logoUrl?: string | null;
  /** `#rgb` or `#rrggbb`. */
  brandColor?: string | null;
  /** Where the done page sends the user back to sign in; must be on the redirect allow-list. */
  signInUrl?: string | null;
  /** Shown to users who need help ("Contact support@…"). */
  supportEmail?: string | null;
  /** The From of this application's mail (`Acme <no-reply@acme.example>`); null: REKEY_MAIL_FROM. */
  mailFrom?: string | null;
}

/** The columns the settings are stored in. */
export type SettingColumns = Pick<
  ApplicationsTable,
  'name' | 'reset_url' | 'allowed_redirects' | 'logo_url' | 'brand_color' | 'sign_in_url' | 'support_email' | 'mail_from'
>;

export const MAX_NAME_LENGTH = 200;
export const MAX_REDIRECTS = 50;
const MAX_URL_LENGTH = 2048;
/** A data URL logo is stored in the row and sent with every page: keep it to a small image. */
const MAX_LOGO_LENGTH = 256 * 1024;
const HEX_COLOR = /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i;
const DATA_IMAGE = /^data:image\/(?:png|gif|jpeg|webp|avif|svg\+xml)(?:;base64)?,[A-Za-z0-9+/=%._~!$&'()*,;:@-]*$/i;
// C0 controls, DEL and C1 controls: never part of a setting, and a CR/LF in a header value starts another header.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
const email = z.email().max(320);

const invalid = (field: string, reason: string): RekeyError => new RekeyError('application_setting_invalid', { field, reason }, `${field}: ${reason}`);

/**
 * SEC-22/23: a link or redirect target is an absolute https URL (plain http only on loopback), without
 * credentials or a fragment, so `https://good@evil.test` and `javascript:` never get stored.
 */
export function checkLinkUrl(field: string, value: string): string {
  if (value.length > MAX_URL_LENGTH) throw invalid(field, `longer than ${MAX_URL_LENGTH} characters`);
  if (CONTROL.test(value) || /\s/.test(value) || value.includes('\\')) throw invalid(field, 'must not contain spaces, backslashes or control characters');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(field, `not an absolute URL: ${value}`);
  }
  const loopback = LOOPBACK.has(url.hostname) || url.hostname.endsWith('.localhost');
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) throw invalid(field, `must use https:// (plain http only on loopback): ${value}`);
  if (url.username || url.password) throw invalid(field, `must not contain credentials: ${value}`);
  if (url.hash) throw invalid(field, `must not contain a #fragment: ${value}`);
  return url.href;
}

function checkName(value: string): string {
  const name = value.trim();
  if (name === '') throw invalid('name', 'must not be empty');
  if (name.length > MAX_NAME_LENGTH) throw invalid('name', `longer than ${MAX_NAME_LENGTH} characters`);
  if (CONTROL.test(name)) throw invalid('name', 'must not contain control characters');
  return name;
}

function checkLogo(value: string): string {
  if (value.length > MAX_LOGO_LENGTH) throw invalid('logo_url', `longer than ${MAX_LOGO_LENGTH} characters`);
  if (DATA_IMAGE.test(value)) return value;
  if (value.startsWith('/') && !value.startsWith('//') && !CONTROL.test(value) && !/[\s\\]/.test(value)) return value;
  return checkLinkUrl('logo_url', value);
}

function checkColor(value: string): string {
  if (!HEX_COLOR.test(value)) throw invalid('brand_color', 'must be a hex colour, #rgb or #rrggbb');
  return value.toLowerCase();
}

function checkEmail(value: string): string {
  const address = value.trim();
  if (!email.safeParse(address).success) throw invalid('support_email', `not an email address: ${value}`);
  return address.toLowerCase();
}

/**
 * A mail From is one mailbox: `addr@host` or `Display Name <addr@host>`. It is parsed the way nodemailer will
 * parse it when sending, so what is accepted here is what goes out; groups and lists are refused.
 */
export function checkMailbox(field: string, value: string): string {
  if (CONTROL.test(value)) throw invalid(field, 'must not contain line breaks or control characters');
  const parsed = addressparser(value.trim());
  const only = parsed.length === 1 ? parsed[0] : undefined;
  if (!only || !('address' in only) || 'group' in only) throw invalid(field, `must be one mailbox, like "Acme <no-reply@acme.example>": ${value}`);
  if (!email.safeParse(only.address).success) throw invalid(field, `not an email address: ${only.address || value}`);
  const name = only.name.trim();
  if (name.length > MAX_NAME_LENGTH) throw invalid(field, `display name longer than ${MAX_NAME_LENGTH} characters`);
  // Quoted so that a name with a comma or an "@" stays one display name when the header is written.
  return name ? `"${name.replace(/["\\]/g, '')}" <${only.address}>` : only.address;
}

function checkRedirects(values: string[]): string[] {
  if (values.length > MAX_REDIRECTS) throw invalid('allowed_redirects', `more than ${MAX_REDIRECTS} entries`);
  return [...new Set(values.map((value) => checkLinkUrl('allowed_redirects', value)))];
}

const orNull = <T>(value: T | null | undefined, check: (v: T) => string): string | null | undefined =>
  value === undefined ? undefined : value === null || value === '' ? null : check(value);

/**
 * Checks a change against the application as it is (`current`; undefined for a new one) and returns the
 * columns to write. The sign-in URL is checked against the allow-list the change leaves, so narrowing the
 * allow-list under it is refused as well.
 */
export function settingColumns(change: ApplicationSettings, current?: Pick<SettingColumns, 'allowed_redirects' | 'sign_in_url'>): Partial<SettingColumns> {
  const columns: Partial<SettingColumns> = {};
  if (change.name !== undefined) columns.name = checkName(change.name);
  const resetUrl = orNull(change.resetUrl, (v) => checkLinkUrl('reset_url', v));
  if (resetUrl !== undefined) columns.reset_url = resetUrl;
  if (change.allowedRedirects !== undefined) columns.allowed_redirects = JSON.stringify(checkRedirects(change.allowedRedirects));
  const logo = orNull(change.logoUrl, checkLogo);
  if (logo !== undefined) columns.logo_url = logo;
  const color = orNull(change.brandColor, checkColor);
  if (color !== undefined) columns.brand_color = color;
  const support = orNull(change.supportEmail, checkEmail);
  if (support !== undefined) columns.support_email = support;
  const from = orNull(change.mailFrom, (v) => checkMailbox('mail_from', v));
  if (from !== undefined) columns.mail_from = from;
  const signIn = orNull(change.signInUrl, (v) => checkLinkUrl('sign_in_url', v));
  if (signIn !== undefined) columns.sign_in_url = signIn;

  const finalSignIn = signIn !== undefined ? signIn : (current?.sign_in_url ?? null);
  const finalRedirects = parseRedirects(columns.allowed_redirects ?? current?.allowed_redirects ?? '[]');
  if (finalSignIn !== null && safeRedirect(finalSignIn, finalRedirects) === null) {
    throw invalid(
      'sign_in_url',
      signIn !== undefined
        ? `${finalSignIn} is not on the redirect allow-list: add its origin (or the URL) to allowed_redirects`
        : `the current sign-in URL ${finalSignIn} would no longer be on the redirect allow-list: change or clear sign_in_url too`,
    );
  }
  return columns;
}

export function parseRedirects(json: string): string[] {
  try {
    const value: unknown = JSON.parse(json);
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  } catch {
    return [];
  }
}

/** The sign-in URL to offer a user, checked against the allow-list again at use (it may have changed out of band). */
export const signInUrl = (application: Pick<ApplicationsTable, 'sign_in_url' | 'allowed_redirects'>): string | null =>
  application.sign_in_url ? safeRedirect(application.sign_in_url, parseRedirects(application.allowed_redirects)) : null;
