import { Liquid, type Template } from 'liquidjs';
import { RekeyError } from '../errors/index.ts';
import type { StepContent } from './workflow.ts';

/** A step's content in one locale, parsed once (at load or save) and rendered at send time. */
export interface ParsedContent {
  subject?: Template[];
  body?: Template[];
  text?: Template[];
}

/** Content by locale key (`en`, `fr`, `fr-CA`, or `default`). */
export type ParsedVariants = ReadonlyMap<string, ParsedContent>;

export interface RenderScope {
  payload: Record<string, unknown>;
  subscriber: Record<string, unknown>;
  app: Record<string, unknown>;
  step: Record<string, unknown>;
}

export interface RenderedMessage {
  subject: string;
  /** Email: the whole HTML document (layout included); other channels: empty. */
  html: string;
  /** Email: the plain-text part; SMS, chat, in-app: the body. */
  text: string;
  /** The locale key of the variant that was used. */
  locale: string;
}

const common = { strictFilters: true, timezoneOffset: 0, ownPropertyOnly: true } as const;
// Two engines because escaping belongs to the output format: HTML-escaping the text part would turn a link's
// `&` into `&amp;` and a name like "O'Neil" into "O&#39;Neil".
const plain = new Liquid(common);
const htmlEngine = new Liquid({ ...common, outputEscape: 'escape' });

/** Which engine parses each part of a step's content, by the step's type. */
const engineFor = (type: string, part: keyof StepContent): Liquid => (type === 'email' && part === 'body' ? htmlEngine : plain);

/** Thrown when content does not parse: names the workflow, the step, the locale and the part. */
export function templateError(workflowId: string, stepId: string, where: string, error: unknown): RekeyError {
  const reason = (error as Error).message.split('\n')[0] ?? 'invalid template';
  return new RekeyError(
    'workflow_template_invalid',
    { workflowId, stepId },
    `Workflow "${workflowId}", step "${stepId}" (${where}): the template does not parse: ${reason}`,
  );
}

/** Parses every locale and part of a step's content; a template that does not parse is refused here, never at send time. */
export function parseVariants(workflowId: string, stepId: string, type: string, content: Record<string, StepContent>): ParsedVariants {
  const variants = new Map<string, ParsedContent>();
  for (const [locale, parts] of Object.entries(content)) {
    const parsed: ParsedContent = {};
    for (const part of ['subject', 'body', 'text'] as const) {
      const source = parts[part];
      if (source === undefined) continue;
      try {
        parsed[part] = engineFor(type, part).parse(source);
      } catch (error) {
        throw templateError(workflowId, stepId, `${locale}, ${part}`, error);
      }
    }
    variants.set(locale, parsed);
  }
  return variants;
}

/** Every variable the templates of a step read, as paths (`["payload", "resetUrl"]`), for a preview's sample data. */
export function variablesOf(variants: ParsedVariants): string[][] {
  const paths = new Map<string, string[]>();
  for (const parsed of variants.values()) {
    for (const templates of [parsed.subject, parsed.body, parsed.text]) {
      if (!templates) continue;
      for (const segments of plain.globalVariableSegmentsSync(templates)) {
        const path = segments.filter((segment): segment is string | number => typeof segment !== 'object').map(String);
        paths.set(path.join('.'), path);
      }
    }
  }
  return [...paths.values()];
}

/**
 * The variant for a subscriber's locale: the exact tag (`fr-CA`), then its language (`fr`), then `default`,
 * then English, then the first declared. `fr_BE` and ` FR ` count as French.
 */
export function pickVariant(variants: ParsedVariants, locale: unknown): [string, ParsedContent] | undefined {
  const keys = [...variants.keys()];
  const byLower = new Map(keys.map((key) => [key.toLowerCase(), key]));
  const wanted = typeof locale === 'string' ? locale.trim().toLowerCase().replace(/_/g, '-') : '';
  const candidates = [wanted, wanted.split('-')[0] ?? '', 'default', 'en'].filter(Boolean);
  for (const candidate of candidates) {
    const key = byLower.get(candidate);
    if (key !== undefined) return [key, variants.get(key)!];
  }
  const first = keys[0];
  return first === undefined ? undefined : [first, variants.get(first)!];
}

/** The language tag a variant stands for (`default` renders as English). */
const langOf = (key: string): string => (key === 'default' ? 'en' : key.split('-')[0]!.toLowerCase());

export interface Renderer {
  /** Renders a step's content for a channel; throws (a deterministic failure) when a variable is unusable. */
  render(type: string, variants: ParsedVariants, scope: RenderScope, locale: unknown): Promise<RenderedMessage>;
}

/** `layout` is the shared HTML layout every mail's body goes into, with the application's branding. */
export function createRenderer(layoutSource: string): Renderer {
  const layout = htmlEngine.parse(layoutSource);
  return {
    async render(type, variants, scope, locale) {
      const picked = pickVariant(variants, locale);
      if (!picked) throw new Error('the step has no content');
      const [key, parsed] = picked;
      const safe = { ...scope, app: safeBranding(scope.app) };
      // Synchronous rendering: no filter or tag of these engines waits for anything, and the asynchronous
      // render drives every node of a template through promises (the password-reset mail: ≈ 205 → 175 µs).
      const run = (part: keyof ParsedContent) => {
        const templates = parsed[part];
        return templates ? String(engineFor(type, part).renderSync(templates, safe)) : '';
      };
      // One line: a subject is a header, and a stray newline from a variable must not start another.
      // The no-break spaces of French typography stay.
      const subject = run('subject')
        .replace(/[^\S\u00a0\u202f]+/g, ' ')
        .trim();
      const body = run('body');
      if (type !== 'email') return { subject, html: '', text: body.trim(), locale: key };
      const text = parsed.text ? run('text') : htmlToText(body);
      const html = String(htmlEngine.renderSync(layout, { ...safe, subject, content: body, lang: langOf(key) }));
      return { subject, html, text: text.trim() + '\n', locale: key };
    },
  };
}

const DEFAULT_BRAND_COLOR = '#2563eb';

/**
 * Escaping cannot protect a value placed in a `style` or `href`: a brand colour like `red;background:url(//x)` or
 * a `javascript:` logo stays dangerous after it. Those values are checked here.
 */
export function safeBranding(app: Record<string, unknown>): Record<string, unknown> {
  return {
    ...app,
    name: typeof app.name === 'string' && app.name ? app.name : 'Rekey',
    brand_color: typeof app.brand_color === 'string' && /^#[0-9a-f]{3,8}$/i.test(app.brand_color) ? app.brand_color : DEFAULT_BRAND_COLOR,
    logo_url: typeof app.logo_url === 'string' && isWebUrl(app.logo_url) ? app.logo_url : null,
    sign_in_url: typeof app.sign_in_url === 'string' && isWebUrl(app.sign_in_url) ? app.sign_in_url : null,
    support_email: typeof app.support_email === 'string' && /^[^\s<>"@]+@[^\s<>"@]+$/.test(app.support_email) ? app.support_email : null,
  };
}

export function isWebUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}

/** A plain-text part for a mail whose content has only HTML: tags dropped, entities decoded, links kept. */
function htmlToText(html: string): string {
  return html
    .replace(/<a\s[^>]*href="([^"]*)"[^>]*>([\s\S]*?)<\/a>/gi, (_, href: string, label: string) => `${label} (${href})`)
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/(p|div|h[1-6]|li|tr)>/gi, '\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
