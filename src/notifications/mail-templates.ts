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
   * Renders `<template>.subject|text|html.liquid`. Throws on an unknown template name.
   * Variables follow the template: `password-reset` takes `{ app, user, link?, code?, expires_in_minutes }`,
   * `password-changed` takes `{ app, user, changed_at, ip_address, user_agent, help_url }`.
   */
  render(template: string, vars: Record<string, unknown>): Promise<RenderedTemplate>;
}

export interface MailTemplatesOptions {
  /** Directory holding the `.liquid` files. @default the bundled `templates/` */
  directory?: string;
}

const PARTS = ['subject', 'text', 'html'] as const;
type Part = (typeof PARTS)[number];

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
  const cache = new Map<string, Promise<Record<Part, Template[]>>>();

  function load(name: string): Promise<Record<Part, Template[]>> {
    let parsed = cache.get(name);
    if (!parsed) {
      parsed = parse(name);
      // A failed load is not cached: a template added while running would stay unknown otherwise.
      parsed.catch(() => cache.delete(name));
      cache.set(name, parsed);
    }
    return parsed;
  }

  async function parse(name: string): Promise<Record<Part, Template[]>> {
    // The name becomes a file path: anything but a plain slug could walk out of the directory.
    if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new Error(`Unknown mail template "${name}"`);
    const entries = await Promise.all(
      PARTS.map(async (part) => {
        let source: string;
        try {
          source = await readFile(`${directory}/${name}.${part}.liquid`, 'utf8');
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
            throw new Error(`Unknown mail template "${name}" (no ${name}.${part}.liquid in ${directory})`);
          }
          throw error;
        }
        return [part, engines[part].parse(source)] as const;
      }),
    );
    return Object.fromEntries(entries) as Record<Part, Template[]>;
  }

  return {
    async render(template, vars) {
      const parsed = await load(template);
      const scope = withSafeBranding(vars);
      const [subject, text, html] = await Promise.all(PARTS.map((part) => engines[part].render(parsed[part], scope) as Promise<string>));
      return {
        // One line: a subject is a header, and a stray newline from a variable must not start another.
        subject: (subject ?? '').replace(/\s+/g, ' ').trim(),
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
