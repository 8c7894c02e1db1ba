/**
 * Rekey's one HTML escaper and the tagged template built on it, for every page it writes (the hosted pages, the
 * development mailbox): interpolated values are escaped unless they are already `SafeHtml` (the result of
 * another `html` template or of `raw`). Escaping is the default, so forgetting is safe.
 */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Safe in element content and in quoted attribute values. */
export const escapeHtml = (value: string): string => value.replace(/[&<>"']/g, (char) => ESCAPES[char]!);

/** Trusted markup only: constants written in the source, or markup assembled from `escapeHtml` output; never request data as is. */
export const raw = (markup: string): SafeHtml => new SafeHtml(markup);

function render(value: HtmlValue): string {
  if (value instanceof SafeHtml) return value.value;
  // `false`, `null` and `undefined` render as nothing so that `${condition && html`…`}` reads naturally.
  if (value === null || value === undefined || value === false) return '';
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += render(values[i]) + (strings[i + 1] ?? '');
  return new SafeHtml(out);
}
