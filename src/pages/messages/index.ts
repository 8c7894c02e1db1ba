import { en } from './en.ts';
import { fr } from './fr.ts';

export type MessageId = keyof typeof en.messages;
/** Codes a page can show: the pages' own form codes and the service's RekeyError codes they expect. */
export type PageErrorCode = keyof typeof en.errors;

export interface Catalog {
  messages: Record<MessageId, string>;
  errors: Record<PageErrorCode, string>;
}

export const LANGS = ['en', 'fr'] as const;
export type Lang = (typeof LANGS)[number];
export const DEFAULT_LANG: Lang = 'en';

const CATALOGS: Record<Lang, Catalog> = { en, fr };

export const isLang = (value: unknown): value is Lang => typeof value === 'string' && (LANGS as readonly string[]).includes(value);

/** The best supported language of an `Accept-Language` header by q-value (ties keep header order), else English. */
export function negotiateLang(header: string | undefined): Lang {
  if (!header || header.length > 1000) return DEFAULT_LANG;
  const ranges = header
    .split(',')
    .slice(0, 30)
    .map((part, index) => {
      const [range = '', ...params] = part.trim().split(';');
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      const weight = q === undefined ? 1 : Number(q.slice(2));
      return { primary: range.trim().toLowerCase().split('-')[0] ?? '', weight: Number.isFinite(weight) ? weight : 0, index };
    });
  ranges.sort((a, b) => b.weight - a.weight || a.index - b.index);
  return (ranges.find((range) => range.weight > 0 && isLang(range.primary))?.primary as Lang | undefined) ?? DEFAULT_LANG;
}

export type Vars = Record<string, string | number | undefined>;

export interface Translator {
  lang: Lang;
  t(id: MessageId, vars?: Vars): string;
  /** The text for an error code; codes a page does not expect get the generic message, never a raw internal one. */
  error(code: string, vars?: Vars): string;
  isKnownError(code: string): code is PageErrorCode;
  /** A wait as words ("40 seconds", "5 minutes"), rounded up to the minute past a minute; unknown reads "a few minutes". */
  wait(seconds: number | undefined): string;
}

const fill = (text: string, vars: Vars = {}): string =>
  text.replace(/\{(\w+)\}/g, (whole, name: string) => (vars[name] === undefined ? whole : String(vars[name])));

export function translator(lang: Lang): Translator {
  const catalog = CATALOGS[lang];
  const isKnownError = (code: string): code is PageErrorCode => Object.hasOwn(catalog.errors, code);
  return {
    lang,
    t: (id, vars) => fill(catalog.messages[id], vars),
    error: (code, vars) => fill(isKnownError(code) ? catalog.errors[code] : catalog.errors.generic, vars),
    isKnownError,
    wait(seconds) {
      if (seconds === undefined || !Number.isFinite(seconds) || seconds <= 0) return fill(catalog.messages.wait_unknown);
      if (seconds < 60) return fill(catalog.messages.wait_seconds, { n: Math.ceil(seconds) });
      const minutes = Math.ceil(seconds / 60);
      return minutes === 1 ? fill(catalog.messages.wait_one_minute) : fill(catalog.messages.wait_minutes, { n: minutes });
    },
  };
}
