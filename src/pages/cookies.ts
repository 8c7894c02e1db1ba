import { randomBytes } from 'node:crypto';
import type { CookieSerializeOptions } from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../platform/clock.ts';
import type { Tokens } from '../platform/tokens.ts';
import { isLang, type Lang } from './messages/index.ts';

/**
 * The hosted pages' five cookies, all HttpOnly and SameSite=Strict:
 * - `rekey_flow`: the flow id, the grant once a factor is verified, and the chosen language, sealed (AES-256-GCM);
 * - `rekey_link`: the link token between the link landing and the user's POST (SEC-15, SEC-25), sealed, 15 minutes;
 * - `rekey_done`: the allow-listed redirect target between the password change and the done page, sealed, 5 minutes;
 * - `rekey_csrf`: the random value the forms' anti-CSRF token is an HMAC of (SEC-27);
 * - `rekey_form`: a form's errors and typed values between its POST and the GET that shows them again
 *   (Post/Redirect/Get, so the back button never offers to resend a form), sealed, 2 minutes, read once.
 *
 * On an https base URL they carry the `__Host-` prefix, which makes the browser insist on Secure, Path=/ and no
 * Domain, so a sibling subdomain cannot plant or overwrite them. A plain-http base URL (the loopback development
 * default) cannot hold Secure cookies, so there they go without the prefix and without Secure.
 */
export interface CookieNames {
  flow: string;
  link: string;
  done: string;
  csrf: string;
  form: string;
}

export interface FlowCookie {
  flowId: string;
  /** What a verified factor gave; it can set the password and nothing else (SEC-37). */
  grant?: string;
  lang?: Lang;
  /**
   * The address as the user typed it on the first page, so "check your email" can show it and "send again" can
   * use it. It is the browser's own input, never anything the server knows about an account (SEC-01).
   */
  email?: string;
  /** When the last mail of this flow was asked for (ms): the resend cooldown counts from it. */
  sentAt?: number;
  /**
   * The second-factor code this flow last sent (SMS or email), where to (masked) and until when: showing the form
   * again (after a wrong code, a language switch, a reload) must not send another one; "send a new code" does.
   */
  sent?: SentCode;
}

export interface SentCode {
  type: 'sms' | 'email';
  /** Masked, as the factor gave it (`•••••01`, `m•••@example.com`). */
  to: string;
  until: number;
}

/** One error of a form, kept as a code and its values so the GET can say it in the page's language. */
export interface FlashError {
  field?: string;
  code: string;
  vars?: Record<string, string | number>;
}

export interface FormFlash {
  /** The page (path only) the errors belong to: another page ignores them. */
  path: string;
  status: number;
  errors: FlashError[];
  /** What was typed into fields that had no error, to fill them in again. */
  values?: Record<string, string>;
  retryAfter?: number;
}

export interface DoneCookie {
  /** Already checked against the application's allow-list when the password was set; checked again when read. */
  redirectTo: string;
}

export interface LinkCookie {
  /** Null when the landing got something that cannot be a token: the page then shows the one generic message. */
  token: string | null;
}

/** Longer than a flow (30 min for links) so the page can say "expired" rather than "not found". */
const FLOW_COOKIE_SECONDS = 60 * 60;
const LINK_COOKIE_SECONDS = 15 * 60;
/** Only the hop from the password form to the done page: a later visit to the done page sends nobody anywhere. */
const DONE_COOKIE_SECONDS = 5 * 60;
/** Only the hop from a form's POST to the GET that shows its errors. */
const FORM_COOKIE_SECONDS = 2 * 60;
/** A sealed cookie must stay under the 4 KiB a browser keeps; typed values that would not fit are not kept. */
const MAX_FLASH_JSON = 2000;
const CSRF_VALUE = /^[A-Za-z0-9_-]{43}$/;

export function cookieNames(baseUrl: string): { names: CookieNames; secure: boolean } {
  const secure = new URL(baseUrl).protocol === 'https:';
  const prefix = secure ? '__Host-' : '';
  return {
    secure,
    names: {
      flow: `${prefix}rekey_flow`,
      link: `${prefix}rekey_link`,
      done: `${prefix}rekey_done`,
      csrf: `${prefix}rekey_csrf`,
      form: `${prefix}rekey_form`,
    },
  };
}

export interface CookieJar {
  names: CookieNames;
  readFlow(request: FastifyRequest): FlowCookie | undefined;
  writeFlow(reply: FastifyReply, value: FlowCookie): void;
  clearFlow(reply: FastifyReply): void;
  readLink(request: FastifyRequest): LinkCookie | undefined;
  writeLink(reply: FastifyReply, value: LinkCookie): void;
  clearLink(reply: FastifyReply): void;
  readDone(request: FastifyRequest): DoneCookie | undefined;
  writeDone(reply: FastifyReply, value: DoneCookie): void;
  clearDone(reply: FastifyReply): void;
  /** The errors a form's POST left for the GET of `path`; the cookie is cleared whichever page reads it. */
  takeForm(request: FastifyRequest, reply: FastifyReply, path: string): FormFlash | undefined;
  writeForm(reply: FastifyReply, value: FormFlash): void;
  /** The token to embed in a form, setting the CSRF cookie first if the request has none. */
  csrfToken(request: FastifyRequest, reply: FastifyReply): string;
  /** A fresh CSRF cookie: one per flow, so a token from before the flow started is worthless after. */
  rotateCsrf(request: FastifyRequest, reply: FastifyReply): void;
  checkCsrf(request: FastifyRequest, submitted: string | undefined): boolean;
}

export function createCookieJar(baseUrl: string, tokens: Tokens, clock: Clock): CookieJar {
  const { names, secure } = cookieNames(baseUrl);
  const base: CookieSerializeOptions = { path: '/', httpOnly: true, sameSite: 'strict', secure };
  // A CSRF value set during this request (the GET that renders a form) is the one the form must match.
  const issued = new WeakMap<FastifyRequest, string>();

  function readSealed(request: FastifyRequest, name: string): Record<string, unknown> | undefined {
    // Cookies are parsed in an onRequest hook; an error thrown before it ran leaves none.
    const sealed = request.cookies?.[name];
    if (!sealed || sealed.length > 4096) return undefined;
    const plain = tokens.unseal(sealed);
    if (plain === undefined) return undefined;
    try {
      const value: unknown = JSON.parse(plain);
      if (typeof value !== 'object' || value === null) return undefined;
      const record = value as Record<string, unknown>;
      // The seal authenticates the value but cannot expire it: the deadline travels inside.
      return typeof record.exp === 'number' && record.exp > clock.now() ? record : undefined;
    } catch {
      return undefined;
    }
  }

  function writeSealed(reply: FastifyReply, name: string, value: object, seconds: number): void {
    const payload = JSON.stringify({ ...value, exp: clock.now() + seconds * 1000 });
    reply.setCookie(name, tokens.seal(payload), { ...base, maxAge: seconds });
  }

  const shortString = (value: unknown, max: number): string | undefined =>
    typeof value === 'string' && value.length > 0 && value.length <= max ? value : undefined;

  const sentCode = (value: unknown): SentCode | undefined => {
    if (typeof value !== 'object' || value === null) return undefined;
    const { type, to, until } = value as Record<string, unknown>;
    const masked = shortString(to, 320);
    if ((type !== 'sms' && type !== 'email') || !masked || typeof until !== 'number' || !Number.isFinite(until)) return undefined;
    return { type, to: masked, until };
  };

  const setCsrf = (request: FastifyRequest, reply: FastifyReply): string => {
    const value = randomBytes(32).toString('base64url');
    reply.setCookie(names.csrf, value, base);
    issued.set(request, value);
    return value;
  };
  const currentCsrf = (request: FastifyRequest): string | undefined => {
    const value = issued.get(request) ?? request.cookies?.[names.csrf];
    return value !== undefined && CSRF_VALUE.test(value) ? value : undefined;
  };

  return {
    names,
    readFlow(request) {
      const record = readSealed(request, names.flow);
      const flowId = shortString(record?.flowId, 200);
      if (!record || !flowId) return undefined;
      const grant = shortString(record.grant, 500);
      const email = shortString(record.email, 320);
      const sentAt = typeof record.sentAt === 'number' && Number.isFinite(record.sentAt) ? record.sentAt : undefined;
      const sent = sentCode(record.sent);
      return {
        flowId,
        ...(grant ? { grant } : {}),
        ...(isLang(record.lang) ? { lang: record.lang } : {}),
        ...(email ? { email } : {}),
        ...(sentAt !== undefined ? { sentAt } : {}),
        ...(sent ? { sent } : {}),
      };
    },
    writeFlow: (reply, value) => writeSealed(reply, names.flow, value, FLOW_COOKIE_SECONDS),
    clearFlow: (reply) => void reply.clearCookie(names.flow, base),
    readLink(request) {
      const record = readSealed(request, names.link);
      if (!record) return undefined;
      return { token: shortString(record.token, 512) ?? null };
    },
    writeLink: (reply, value) => writeSealed(reply, names.link, value, LINK_COOKIE_SECONDS),
    clearLink: (reply) => void reply.clearCookie(names.link, base),
    readDone(request) {
      const redirectTo = shortString(readSealed(request, names.done)?.redirectTo, 2048);
      return redirectTo ? { redirectTo } : undefined;
    },
    writeDone: (reply, value) => writeSealed(reply, names.done, value, DONE_COOKIE_SECONDS),
    clearDone: (reply) => void reply.clearCookie(names.done, base),
    takeForm(request, reply, path) {
      if (request.cookies?.[names.form] === undefined) return undefined;
      reply.clearCookie(names.form, base);
      const record = readSealed(request, names.form);
      if (!record || record.path !== path || typeof record.status !== 'number' || !Array.isArray(record.errors)) return undefined;
      const values = typeof record.values === 'object' && record.values !== null ? (record.values as Record<string, unknown>) : {};
      return {
        path,
        status: record.status,
        errors: (record.errors as unknown[]).filter((e): e is FlashError => typeof e === 'object' && e !== null && typeof (e as FlashError).code === 'string'),
        values: Object.fromEntries(Object.entries(values).filter((entry): entry is [string, string] => typeof entry[1] === 'string')),
        ...(typeof record.retryAfter === 'number' ? { retryAfter: record.retryAfter } : {}),
      };
    },
    writeForm(reply, value) {
      const fits = JSON.stringify(value).length <= MAX_FLASH_JSON;
      writeSealed(reply, names.form, fits ? value : { ...value, values: {} }, FORM_COOKIE_SECONDS);
    },
    csrfToken(request, reply) {
      const value = currentCsrf(request) ?? setCsrf(request, reply);
      return tokens.hash(value, 'csrf');
    },
    rotateCsrf: (request, reply) => void setCsrf(request, reply),
    checkCsrf(request, submitted) {
      // Double submit with an HMAC binding: the form holds HMAC(cookie), so a cookie planted by an attacker
      // (were that possible) is useless without the server key, and the token alone is useless without the cookie.
      const value = request.cookies?.[names.csrf];
      if (!submitted || value === undefined || !CSRF_VALUE.test(value)) return false;
      return tokens.equal(tokens.hash(value, 'csrf'), submitted);
    },
  };
}
