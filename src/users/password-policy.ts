import type { PasswordPolicyCode } from '../errors/codes.ts';
import type { Blocklist } from './blocklist.ts';

/**
 * The password policy of SECURITY.md F, applied the same way on register, change and reset.
 * NFKC first, then characters, then length in code points, then the blocklist and the
 * "common base" and context rules. No composition rules (SEC-30): strength comes from length
 * and from not being predictable, never from "one digit and one symbol".
 */
export type PolicyResult =
  { ok: true; normalized: string } | { ok: false; code: PasswordPolicyCode; message: string; details?: { min?: number; max?: number } };

export interface PolicyContext {
  email?: string | null;
  /** The application's display name (e.g. `Rekey`); passwords built from it are refused. */
  appName?: string;
  /** Further words to refuse as a base: first name, username, organisation. */
  extraWords?: string[];
  /** Per-account minimum (e.g. 8 for accounts with enforced MFA, SEC-28). Never below 8. */
  minLength?: number;
}

export interface PasswordPolicy {
  check(password: string, context?: PolicyContext): PolicyResult;
}

export interface PasswordPolicyOptions {
  /** Minimum length in code points. @default 15 (config `passwordMinLength`) */
  minLength: number;
  /** Maximum length in code points. @default 256 (config `passwordMaxLength`) */
  maxLength: number;
  blocklist: Blocklist;
}

/** Hard cap on the UTF-8 size of a password, whatever `maxLength` says (SEC-29). */
export const MAX_PASSWORD_BYTES = 1024;
/** SEC-28: no account, even one with enforced MFA, may go below this. */
const ABSOLUTE_MIN_LENGTH = 8;
const CONTEXT_MIN_LEFTOVER = 5;

/** SEC-32: the single normalisation used before hashing, verifying and every list check. */
export function normalizePassword(password: string): string {
  return password.normalize('NFKC');
}

const MESSAGES = {
  password_invalid_characters: 'Remove control characters and invalid Unicode from the password.',
  password_breached: 'This password has appeared in a data breach. Choose a different one.',
  password_common: 'This password is a common password or pattern with a few characters added. Choose something less predictable.',
  password_context: 'Do not build your password from your email address or the name of this service.',
} as const;

// C0/C1 controls (tab and newline included) and lone surrogates; emoji joiners (Cf) stay allowed.
const INVALID = /[\p{Cc}\p{Cs}]/u;
const SEPARATORS = /[\s._-]+/gu;
const EDGES = /^[\p{N}\p{P}\p{S}\p{Z}]+|[\p{N}\p{P}\p{S}\p{Z}]+$/gu;
const SYMBOL_EDGES = /^[\p{P}\p{S}\p{Z}]+|[\p{P}\p{S}\p{Z}]+$/gu;
const ONLY_DECORATION = /^[\p{N}\p{P}\p{S}\p{Z}\s]*$/u;
const LEET: Record<string, string> = { '0': 'o', '1': 'i', '!': 'i', '3': 'e', '4': 'a', '@': 'a', $: 's', '5': 's', '7': 't' };

export function createPasswordPolicy({ minLength, maxLength, blocklist }: PasswordPolicyOptions): PasswordPolicy {
  if (minLength < ABSOLUTE_MIN_LENGTH || maxLength < 64 || minLength > maxLength) {
    throw new RangeError(`invalid password length bounds: min ${minLength}, max ${maxLength}`);
  }
  const fail = (code: keyof typeof MESSAGES): PolicyResult => ({ ok: false, code, message: MESSAGES[code] });
  const tooLong = (message: string): PolicyResult => ({ ok: false, code: 'password_too_long', message, details: { max: maxLength } });

  /** A blocklisted or top-10k base dressed up with digits, symbols or separators, or a keyboard/sequence pattern. */
  function isCommon(lower: string): boolean {
    const collapsed = lower.replace(SEPARATORS, '');
    if (blocklist.has(collapsed)) return true;
    const core = collapsed.replace(EDGES, '');
    // Nothing but digits and symbols around a tiny core: judge the whole string as a pattern.
    if ([...core].length < 3) return isPattern(collapsed);
    // Separators can be keys of a walk (`zxcvbnm,./`), so the pattern test also sees them.
    if (isPattern(core) || isPattern(lower.replace(EDGES, ''))) return true;
    // Also with the digits kept, for bases that end in some (`abc123`, `hunter2`).
    const withDigits = collapsed.replace(SYMBOL_EDGES, '');
    return [...baseCandidates(core), withDigits].some((base) => blocklist.hasCommonBase(base));
  }

  /** SEC-31 context: what remains after removing the service name and the email's parts. */
  function isContextual(lower: string, context: PolicyContext): boolean {
    let left = lower;
    for (const word of contextWords(context)) left = left.split(word).join('');
    if (left === lower) return false;
    return [...left].length < CONTEXT_MIN_LEFTOVER || ONLY_DECORATION.test(left) || isCommon(left);
  }

  return {
    check(password, context = {}) {
      // Anything this long stays above 1 KiB after NFKC (composition shrinks at most 4:1); refuse it
      // before spending time normalising it.
      if (password.length > 8 * MAX_PASSWORD_BYTES) return tooLong(`Use at most ${maxLength} characters.`);
      const normalized = normalizePassword(password);
      if (INVALID.test(normalized)) return fail('password_invalid_characters');

      // SEC-30: code points, so 15 emoji (30 UTF-16 units) count as 15. Never truncate (SEC-29).
      const length = [...normalized].length;
      const min = Math.max(ABSOLUTE_MIN_LENGTH, context.minLength ?? minLength);
      if (length < min) {
        return { ok: false, code: 'password_too_short', message: `Use at least ${min} characters.`, details: { min } };
      }
      if (length > maxLength) return tooLong(`Use at most ${maxLength} characters.`);
      if (Buffer.byteLength(normalized, 'utf8') > MAX_PASSWORD_BYTES) {
        return tooLong('Use a shorter password: at most 1 KiB of text.');
      }

      const lower = normalized.toLowerCase();
      if (blocklist.has(lower)) return fail('password_breached');
      if (isCommon(lower)) return fail('password_common');
      if (isContextual(lower, context)) return fail('password_context');
      return { ok: true, normalized };
    },
  };
}

/** The core itself, its de-leeted spellings (`p@ssw0rd` → `password`) and the unit of a repetition. */
function baseCandidates(core: string): string[] {
  const chars = [...core];
  const deleet = (one: string) => chars.map((c) => (c === '1' ? one : (LEET[c] ?? c))).join('');
  const candidates = new Set([core, deleet('i'), deleet('l')]);
  const unit = repeatedUnit(chars);
  if (unit) candidates.add(unit);
  return [...candidates];
}

/** The shortest unit the string repeats at least twice (`monkeymonkey` → `monkey`), if any. */
function repeatedUnit(chars: string[]): string | undefined {
  for (let period = 1; period <= chars.length / 2; period++) {
    if (chars.every((c, i) => i < period || c === chars[i - period])) return chars.slice(0, period).join('');
  }
  return undefined;
}

/**
 * True for repeats (`aaaa`, `abab`, `xk9xk9`), sequences (`abcdef`, `987654`) and keyboard walks
 * (`qwertyuiop`, `asdfgh`, `1qaz2wsx`, `qwertyuiopasdfg`): the string splits into runs of 3+
 * characters where each step is a repeat, ±1 on letters/digits, or to a neighbouring key.
 */
function isPattern(s: string): boolean {
  const chars = [...s];
  if (chars.length < 3) return false;
  const unit = repeatedUnit(chars);
  if (unit !== undefined && [...unit].length <= 4) return true;
  let run = 1;
  for (let i = 1; i < chars.length; i++) {
    if (linked(chars[i - 1]!, chars[i]!)) {
      run++;
    } else {
      if (run < 3) return false;
      run = 1;
    }
  }
  return run >= 3;
}

function linked(a: string, b: string): boolean {
  if (a === b) return true;
  if (/[a-z0-9]/.test(a) && /[a-z0-9]/.test(b) && Math.abs(a.charCodeAt(0) - b.charCodeAt(0)) === 1) return true;
  return keyboardNeighbours(a, b);
}

// US QWERTY, each row with its horizontal offset in key widths; shifted symbols map to their key.
const ROWS: Array<[string, number]> = [
  ['`1234567890-=', 0],
  ['qwertyuiop[]\\', 1.5],
  ["asdfghjkl;'", 1.75],
  ['zxcvbnm,./', 2.25],
];
const SHIFTED: Record<string, string> = Object.fromEntries([...'~!@#$%^&*()_+{}|:"<>?'].map((c, i) => [c, "`1234567890-=[]\\;',./"[i]!]));
const WRAPS = new Set(['0q', 'pa', 'lz']);
const KEYS = new Map<string, { row: number; x: number }>();
ROWS.forEach(([keys, offset], row) => [...keys].forEach((key, i) => KEYS.set(key, { row, x: offset + i })));

function keyboardNeighbours(a: string, b: string): boolean {
  const ka = SHIFTED[a] ?? a;
  const kb = SHIFTED[b] ?? b;
  if (WRAPS.has(ka + kb) || WRAPS.has(kb + ka)) return true;
  const p = KEYS.get(ka);
  const q = KEYS.get(kb);
  if (!p || !q) return false;
  const dx = Math.abs(p.x - q.x);
  return p.row === q.row ? dx === 1 : Math.abs(p.row - q.row) === 1 && dx <= 0.75;
}

/** Lower-cased context words of 3+ code points, longest first so `alice.smith` goes before `alice`. */
function contextWords({ email, appName, extraWords = [] }: PolicyContext): string[] {
  const words = new Set<string>();
  const add = (raw: string) => {
    const word = normalizePassword(raw).toLowerCase().trim();
    if ([...word].length >= 3) words.add(word);
  };
  const addWithParts = (raw: string, split: RegExp) => {
    add(raw);
    add(raw.split(split).join(''));
    raw.split(split).forEach(add);
  };
  if (appName) addWithParts(appName, /[\s._+-]+/u);
  if (email) {
    const at = email.lastIndexOf('@');
    addWithParts(at < 0 ? email : email.slice(0, at), /[._+-]+/u);
    if (at >= 0) {
      const labels = email.slice(at + 1).split('.');
      (labels.length > 1 ? labels.slice(0, -1) : labels).forEach(add);
    }
  }
  extraWords.forEach(add);
  return [...words].sort((a, b) => [...b].length - [...a].length);
}
