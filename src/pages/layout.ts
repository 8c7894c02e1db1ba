import type { Brand } from './branding.ts';
import { html, type HtmlValue, type SafeHtml } from '../platform/html.ts';
import { LANGS, translator, type Lang, type Translator } from './messages/index.ts';

/** What every view needs to know about the request it renders for. */
export interface PageModel {
  tr: Translator;
  brand: Brand;
  /** Set when the language was chosen explicitly (`?lang=`, a form field, the flow cookie); links and forms carry it on. */
  langParam?: Lang;
  /** The anti-CSRF token for forms on this page (SEC-27). */
  csrf?: string;
}

/** An error to show: in the summary at the top, and next to its field when it has one. */
export interface FieldError {
  /** The id of the input it belongs to; none for errors about the whole form. */
  field?: string;
  /** The machine code (a RekeyError code or a page code), exposed as `data-code` for tests and scripts. */
  code: string;
  message: string;
}

export interface LayoutOptions {
  title: string;
  /** The path of this page, for the language links. */
  path: string;
  /** Query parameters the language links keep (e.g. `client_id`, `redirect_url` on the first page). */
  keep?: Record<string, string | undefined>;
  errors?: FieldError[];
  body: SafeHtml;
  /** Same-origin scripts only; the page works without them. */
  scripts?: string[];
  /** Where the page sends the browser at once, with a GET navigation (a `<meta http-equiv="refresh">`). */
  refreshTo?: string;
}

/** Rekey's own icon, for applications without a logo: every page names one, so no browser asks for /favicon.ico. */
export const FAVICON = '/assets/favicon.svg';

/** A link within the pages that keeps the chosen language and the application. */
export function pageHref(page: PageModel, path: string, extra: Record<string, string | undefined> = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries({ client_id: page.brand.clientId, ...extra, lang: page.langParam })) {
    if (value) params.set(key, value);
  }
  const query = params.toString();
  return query ? `${path}?${query}` : path;
}

export function layout(page: PageModel, options: LayoutOptions): string {
  const { tr, brand } = page;
  const errors = options.errors ?? [];
  const title = errors.length ? tr.t('title_with_errors', { title: options.title }) : options.title;
  return html`<!doctype html>
<html lang="${tr.lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<meta name="referrer" content="no-referrer">${
    options.refreshTo &&
    html`
<meta http-equiv="refresh" content="0; url=${options.refreshTo}">`
  }
<title>${title} · ${brand.name}</title>
<link rel="icon" href="${brand.logo ?? FAVICON}">
<link rel="stylesheet" href="/assets/rekey.css">
${brand.stylesheet && html`<link rel="stylesheet" href="${brand.stylesheet}">`}
${(options.scripts ?? []).map((src) => html`<script src="${src}" defer></script>`)}
</head>
<body>
<main class="card">
<header class="brand">
${brand.logo && html`<img class="logo" src="${brand.logo}" alt="">`}
<p class="app-name">${brand.name}</p>
</header>
<h1>${options.title}</h1>
${errorSummary(tr, errors)}
${options.body}
${brand.supportEmail && html`<p class="support">${tr.t('support_prompt')} <a href="mailto:${brand.supportEmail}">${brand.supportEmail}</a></p>`}
</main>
<footer>
<nav aria-label="${tr.t('language_label')}">
<ul class="languages">
${LANGS.map((lang) => {
  const href = pageHref({ ...page, langParam: lang }, options.path, options.keep);
  const name = translator(lang).t('language_name');
  return html`<li><a href="${href}" hreflang="${lang}" lang="${lang}"${lang === tr.lang ? html` aria-current="true"` : ''}>${name}</a></li>`;
})}
</ul>
</nav>
</footer>
</body>
</html>
`.value;
}

function errorSummary(tr: Translator, errors: FieldError[]): HtmlValue {
  if (!errors.length) return '';
  return html`<div class="error-summary" role="alert" aria-labelledby="error-summary-title">
<h2 id="error-summary-title">${tr.t('error_summary_title')}</h2>
<ul>
${errors.map((error) => html`<li data-code="${error.code}">${error.field ? html`<a href="#${error.field}">${error.message}</a>` : error.message}</li>`)}
</ul>
</div>`;
}

/** The hidden fields every form carries: the CSRF token and, when chosen, the language. */
export function formHidden(page: PageModel, extra: Record<string, string | undefined> = {}): SafeHtml {
  const fields = { csrf: page.csrf, lang: page.langParam, ...extra };
  return html`${Object.entries(fields).map(([name, value]) => value !== undefined && html`<input type="hidden" name="${name}" value="${value}">`)}`;
}

export interface InputOptions {
  id: string;
  label: string;
  type: 'email' | 'text' | 'password';
  autocomplete: string;
  name?: string;
  value?: string;
  hint?: string;
  errors?: FieldError[];
  inputmode?: 'numeric' | 'email';
  maxlength?: number;
  autofocus?: boolean;
  /** Ids of other text that describes the field (shown elsewhere on the page), read after its hint and error. */
  describedBy?: string[];
}

/** A labelled input whose hint and error are tied to it with `aria-describedby`, and `aria-invalid` when wrong. */
export function input(options: InputOptions): SafeHtml {
  const error = options.errors?.find((e) => e.field === options.id);
  const hintId = options.hint ? `${options.id}-hint` : undefined;
  const errorId = error ? `${options.id}-error` : undefined;
  const describedBy = [hintId, errorId, ...(options.describedBy ?? [])].filter(Boolean).join(' ');
  return html`<div class="field${error ? ' field-invalid' : ''}">
<label for="${options.id}">${options.label}</label>
${options.hint && html`<p class="hint" id="${hintId}">${options.hint}</p>`}
${error && html`<p class="field-error" id="${errorId}" data-code="${error.code}">${error.message}</p>`}
<input id="${options.id}" name="${options.name ?? options.id}" type="${options.type}" autocomplete="${options.autocomplete}" required${
    options.value !== undefined && html` value="${options.value}"`
  }${options.inputmode && html` inputmode="${options.inputmode}"`}${
    options.maxlength !== undefined && html` maxlength="${options.maxlength}"`
  }${describedBy && html` aria-describedby="${describedBy}"`}${
    error && html` aria-invalid="true"`
  }${options.autofocus && html` autofocus`}${options.type !== 'email' && html` spellcheck="false" autocapitalize="off"`}>
</div>`;
}

/** Focus goes to the first field with an error; a fresh page keeps the normal order (heading, intro, form). */
export const focusFirst = (ids: string[], errors: FieldError[] = []): string | undefined => ids.find((id) => errors.some((e) => e.field === id));
