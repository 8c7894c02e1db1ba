import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Liquid, type Template } from 'liquidjs';

export interface RenderedTemplate {
  subject: string;
  text: string;
  html: string;
}

export interface MailTemplates {
  /**
   * Renders `<template>.<lang>.subject|text|html.liquid` in the language of `locale` (see `mailLang`).
   * Throws on an unknown template name.
   * Variables follow the template: `password-reset` takes `{ app, user, link?, code?, expires_in_minutes }`,
   * `password-changed` takes `{ app, user, changed_at, ip_address, user_agent, help_url }`,
   * `reset-unknown-account` takes `{ app, user: { email }, help_url }`.
   */
  render(template: string, vars: Record<string, unknown>, locale?: string | null): Promise<RenderedTemplate>;
}

export interface MailTemplatesOptions {
  /** Directory holding the `.liquid` files. @default the bundled `templates/` */
  directory?: string;
}

/** Languages every bundled template is written in. English is the reference and the fallback. */
export const MAIL_LANGS = ['en', 'fr'] as const;
export type MailLang = (typeof MAIL_LANGS)[number];
export const DEFAULT_MAIL_LANG: MailLang = 'en';

/** The language a mail is written in for a BCP 47 locale: `fr`, `fr-FR`, `fr_CA` → `fr`; unsupported or none → English. */
export function mailLang(locale: unknown): MailLang {
  if (typeof locale !== 'string') return DEFAULT_MAIL_LANG;
  const primary = locale.trim().toLowerCase().split(/[-_]/)[0];
  return MAIL_LANGS.find((lang) => lang === primary) ?? DEFAULT_MAIL_LANG;
}

export const MAIL_PARTS = ['subject', 'text', 'html'] as const;
type Part = (typeof MAIL_PARTS)[number];

const DEFAULT_BRAND_COLOR = '#2563eb';

export function createMailTemplates(opts: MailTemplatesOptions = {}): MailTemplates {
  const directory = opts.directory ?? fileURLToPath(new URL('./templates/', import.meta.url));
  const common = { strictFilters: true, timezoneOffset: 0, ownPropertyOnly: true } as const;
  // Two engines because escaping belongs to the output format: HTML-escaping the text part would
  // turn a link's `&` into `&amp;` and a name like "O'Neil" into "O&#39;Neil".
  const engines: Record<Part, Liquid> = {
    subject: new Liquid(common),
    text: new Liquid(common),
    html: new Liquid({ ...common, outputEscape: 'escape' }),
  };
  const cache = new Map<string, Promise<Record<Part, Template[]> | undefined>>();

  function load(name: string, lang: MailLang): Promise<Record<Part, Template[]> | undefined> {
    const key = `${name}.${lang}`;
    let parsed = cache.get(key);
    if (!parsed) {
      parsed = parse(name, lang);
      // A failed load is not cached: a template added while running would stay unknown otherwise.
      parsed.then(
        (found) => found ?? cache.delete(key),
        () => cache.delete(key),
      );
      cache.set(key, parsed);
    }
    return parsed;
  }

  /** The template's parts in one language, or `undefined` if that language has none of them. */
  async function parse(name: string, lang: MailLang): Promise<Record<Part, Template[]> | undefined> {
    const sources = await Promise.all(MAIL_PARTS.map((part) => readPart(`${name}.${lang}.${part}.liquid`)));
    if (sources.every((source) => source === undefined)) return undefined;
    const missing = MAIL_PARTS.filter((_, i) => sources[i] === undefined);
    // Half a translation would mix languages in one mail.
    if (missing.length > 0) throw new Error(`Mail template "${name}" (${lang}) has no ${missing.join(', ')} part in ${directory}`);
    return Object.fromEntries(MAIL_PARTS.map((part, i) => [part, engines[part].parse(sources[i]!)])) as Record<Part, Template[]>;
  }

  async function readPart(file: string): Promise<string | undefined> {
    try {
      return await readFile(`${directory}/${file}`, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  return {
    async render(template, vars, locale) {
      // The name becomes a file path: anything but a plain slug could walk out of the directory.
      if (!/^[a-z0-9][a-z0-9-]*$/.test(template)) throw new Error(`Unknown mail template "${template}"`);
      const wanted = mailLang(locale);
      // A template not yet translated goes out in English rather than not at all.
      let parsed = await load(template, wanted);
      if (!parsed && wanted !== DEFAULT_MAIL_LANG) parsed = await load(template, DEFAULT_MAIL_LANG);
      if (!parsed) throw new Error(`Unknown mail template "${template}" (no ${template}.${DEFAULT_MAIL_LANG}.*.liquid in ${directory})`);
      const scope = withSafeBranding(vars);
      const [subject, text, html] = await Promise.all(MAIL_PARTS.map((part) => engines[part].render(parsed[part], scope) as Promise<string>));
      return {
        // One line: a subject is a header, and a stray newline from a variable must not start another.
        // The no-break spaces of French typography stay.
        subject: (subject ?? '').replace(/[^\S\u00a0\u202f]+/g, ' ').trim(),
        text: (text ?? '').trim() + '\n',
        html: html ?? '',
      };
    },
  };
}

/**
 * Escaping cannot protect a value placed in a `style` or `href`: a brand colour like
 * `red;background:url(//x)` or a `javascript:` link stays dangerous after it. Those values are checked here.
 */
function withSafeBranding(vars: Record<string, unknown>): Record<string, unknown> {
  const app = isRecord(vars.app) ? vars.app : {};
  const scope: Record<string, unknown> = {
    ...vars,
    app: {
      ...app,
      name: typeof app.name === 'string' && app.name ? app.name : 'Rekey',
      brand_color: typeof app.brand_color === 'string' && /^#[0-9a-f]{3,8}$/i.test(app.brand_color) ? app.brand_color : DEFAULT_BRAND_COLOR,
      logo_url: typeof app.logo_url === 'string' && isWebUrl(app.logo_url) ? app.logo_url : null,
    },
  };
  for (const key of ['link', 'help_url']) {
    const value = scope[key];
    if (value != null && !(typeof value === 'string' && isWebUrl(value))) throw new Error(`Mail variable "${key}" must be an http(s) URL`);
  }
  return scope;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function isWebUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}
