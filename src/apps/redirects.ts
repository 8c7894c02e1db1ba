/**
 * The redirect allow-list (SEC-23): where a browser may be sent after a reset.
 *
 * An application lists entries such as `https://app.example.com/after-reset` or `https://app.example.com/account/`.
 * A candidate passes only when it is an absolute URL whose origin equals an entry's origin exactly and whose path sits
 * under the entry's path, segment by segment. Anything else is refused (`null`) and the caller falls back to the
 * default done page, so Rekey never answers a 3xx to a place the operator did not list.
 *
 * The checks are deliberately stricter than the URL parser: browsers repair many malformed URLs (backslashes become
 * slashes, tabs and newlines vanish, `//host` is scheme-relative), and every such repair is a way to make a string
 * that looks on-site to one parser and off-site to another. So anything a browser would have to repair is refused.
 */

/** Longer than any sensible return address; keeps hostile input cheap to reject. */
const MAX_LENGTH = 2048;

// C0 controls, DEL and C1 controls; browsers strip some of them silently, which changes what the URL means.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** Escaped separators in the path could be decoded by the target server into a path outside the prefix. */
const ENCODED_SEPARATOR = /%(2f|5c|2e|0[0-9a-f]|1[0-9a-f]|7f)/i;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

export function safeRedirect(candidate: string | undefined | null, allowed: readonly string[]): string | null {
  if (typeof candidate !== 'string' || candidate === '' || candidate.length > MAX_LENGTH) return null;
  if (CONTROL.test(candidate) || candidate.includes('\\') || /\s/.test(candidate)) return null;
  // Only absolute http(s) URLs with a plain authority: no scheme-relative `//host`, no `javascript:`, no relative path.
  const authority = /^https?:\/\/([^/?#]*)/i.exec(candidate)?.[1];
  if (authority === undefined || authority === '' || authority.includes('@')) return null;

  const url = parse(candidate);
  if (!url || !isAcceptableTarget(url)) return null;
  // The parser must not have rewritten the host (IDN, percent-escapes, trailing dots, default ports…): what the
  // user would read in the address bar is exactly what was compared.
  if (authority.toLowerCase() !== url.host) return null;
  if (ENCODED_SEPARATOR.test(url.pathname)) return null;

  for (const entry of allowed) {
    const base = typeof entry === 'string' ? parse(entry) : undefined;
    if (!base || !isAcceptableTarget(base)) continue;
    if (base.origin === url.origin && underPath(url.pathname, base.pathname)) return url.href;
  }
  return null;
}

function parse(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

/** https anywhere; plain http only on a loopback host (the development default, as for reset links, SEC-22). */
function isAcceptableTarget(url: URL): boolean {
  if (url.username !== '' || url.password !== '') return false;
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname);
}

/** `/account/` allows `/account/…`; `/after-reset` allows itself and `/after-reset/…` but not `/after-reset-evil`. */
function underPath(path: string, prefix: string): boolean {
  if (prefix === '' || prefix === '/') return true;
  if (prefix.endsWith('/')) return path.startsWith(prefix);
  return path === prefix || path.startsWith(`${prefix}/`);
}
