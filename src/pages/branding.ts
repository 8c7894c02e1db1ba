import { signInUrl, type Application } from '../apps/index.ts';

/** What a page shows of an application: never more than its public face. */
export interface Brand {
  applicationId: string;
  name: string;
  /** Set only for a non-default application, so links can keep the page on its branding. */
  clientId?: string;
  /** A `data:image/…` URL or a same-origin path; anything else is dropped (see `safeLogo`). */
  logo?: string;
  /** The brand stylesheet, present only when the application has a valid colour. */
  stylesheet?: string;
  /** The application's own sign-in page, where the done page sends people back (an http(s) URL, see `safeSignInUrl`). */
  signInUrl?: string;
  /** Where people can ask for help; shown on every page of the application. */
  supportEmail?: string;
}

const HEX_COLOR = /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i;
const DATA_IMAGE = /^data:image\/(?:png|gif|jpeg|webp|avif|svg\+xml)(?:;base64)?,[A-Za-z0-9+/=%._~!$&'()*,;:@-]*$/i;
const MAX_LOGO_LENGTH = 256 * 1024;
// C0 controls, DEL and C1 controls.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

export function brandOf(application: Application, baseOrigin: string): Brand {
  const logo = safeLogo(application.logo_url, baseOrigin);
  return {
    applicationId: application.id,
    name: application.name,
    ...(application.is_default ? {} : { clientId: application.client_id }),
    ...(logo ? { logo } : {}),
    ...(brandColor(application) ? { stylesheet: `/assets/brand/${encodeURIComponent(application.id)}.css` } : {}),
    // Checked against the allow-list again as it is read, like every place Rekey sends people to (SEC-23).
    ...optional('signInUrl', signInUrl(application) ?? undefined),
    ...optional('supportEmail', safeSupportEmail(application.support_email)),
  };
}

const optional = <K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> =>
  (value === undefined ? {} : { [key]: value }) as Partial<Record<K, string>>;

/** Shown as a `mailto:` link: one plain address, nothing a mail client would read as extra headers. */
export function safeSupportEmail(value: string | null | undefined): string | undefined {
  if (!value || value.length > 254 || CONTROL.test(value)) return undefined;
  return /^[^\s@<>"'?&,;:()\\]+@[^\s@<>"'?&,;:()\\]+\.[^\s@<>"'?&,;:()\\]+$/.test(value) ? value : undefined;
}

/** Only `#rgb` or `#rrggbb`: the value is written into a stylesheet, so nothing else may get through. */
export const brandColor = (application: Application): string | undefined =>
  application.brand_color && HEX_COLOR.test(application.brand_color) ? application.brand_color.toLowerCase() : undefined;

/**
 * The logo is shown only from a `data:` URL or from Rekey's own origin. An image from a third-party host would
 * be a request, made while a reset page is open, that tells that host the page was visited and (without our
 * Referrer-Policy) its URL; the pages promise to load nothing cross-origin (SEC-24) and the CSP's `img-src 'self'
 * data:` would block it anyway. Operators who want a hosted logo embed it as a data URL.
 */
export function safeLogo(logoUrl: string | null | undefined, baseOrigin: string): string | undefined {
  if (!logoUrl || logoUrl.length > MAX_LOGO_LENGTH || CONTROL.test(logoUrl) || logoUrl.includes('\\')) return undefined;
  if (DATA_IMAGE.test(logoUrl)) return logoUrl;
  if (logoUrl.startsWith('/') && !logoUrl.startsWith('//')) return logoUrl;
  try {
    const url = new URL(logoUrl);
    if (url.origin === baseOrigin && url.username === '' && url.password === '') return `${url.pathname}${url.search}`;
  } catch {
    // not a URL: no logo
  }
  return undefined;
}

/** The per-application stylesheet: the brand colour as a custom property, and a text colour that stays readable on it. */
export function brandCss(color: string): string {
  const hex = color.length === 4 ? `#${[...color.slice(1)].map((c) => c + c).join('')}` : color;
  const [r, g, b] = [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16) / 255) as [number, number, number];
  const linear = (c: number) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
  const luminance = 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
  // WCAG contrast against white is (1.05)/(L+0.05); choose whichever of black or white contrasts more.
  const onBrand = 1.05 / (luminance + 0.05) >= (luminance + 0.05) / 0.05 ? '#ffffff' : '#111827';
  return `:root { --brand: ${hex}; --on-brand: ${onBrand}; }\n`;
}
