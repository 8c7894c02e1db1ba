import type { FlowStrategy } from '../resets/index.ts';
import { MAX_EMAIL_LENGTH } from './form.ts';
import { html, type SafeHtml } from '../platform/html.ts';
import { focusFirst, formHidden, input, layout, pageHref, type FieldError, type PageModel } from './layout.ts';

/** The first pages: ask for the address, "check your email", and the emailed code. Each returns the whole document. */

export interface AskView {
  email?: string;
  method: FlowStrategy;
  redirectUrl?: string;
  errors?: FieldError[];
}

export function askPage(page: PageModel, view: AskView): string {
  const { tr } = page;
  const errors = view.errors ?? [];
  const focus = focusFirst(['email', 'method-link'], errors);
  const methodError = errors.find((e) => e.field === 'method-link');
  const radio = (id: string, value: FlowStrategy, label: string, hint: string) => html`<div class="choice">
<input type="radio" id="${id}" name="method" value="${value}" aria-describedby="${id}-hint"${view.method === value && html` checked`}${
    focus === id && html` autofocus`
  }>
<label for="${id}">${label}</label>
<p class="hint" id="${id}-hint">${hint}</p>
</div>`;
  const body = html`<p>${tr.t('ask_intro', { app: page.brand.name })}</p>
<form method="post" action="/reset" novalidate>
${formHidden(page, { client_id: page.brand.clientId, redirect_url: view.redirectUrl })}
${input({ id: 'email', label: tr.t('email_label'), type: 'email', autocomplete: 'email', inputmode: 'email', value: view.email, maxlength: MAX_EMAIL_LENGTH, errors, autofocus: focus === 'email' })}
<fieldset class="choices${methodError ? ' field-invalid' : ''}"${methodError && html` aria-describedby="method-error"`}>
<legend>${tr.t('method_legend')}</legend>
${methodError && html`<p class="field-error" id="method-error" data-code="${methodError.code}">${methodError.message}</p>`}
${radio('method-link', 'email_link', tr.t('method_link'), tr.t('method_link_hint'))}
${radio('method-code', 'email_code', tr.t('method_code'), tr.t('method_code_hint'))}
</fieldset>
<button type="submit">${tr.t('ask_submit')}</button>
</form>`;
  return layout(page, { title: tr.t('ask_title'), path: '/reset', keep: { redirect_url: view.redirectUrl }, errors, body });
}

/** "Send again": the same request once more, for the address typed, after a cooldown the page shows. */
export interface ResendView {
  /** Seconds until "send again" is accepted; 0 when it is now. */
  waitSeconds: number;
}

/**
 * The address as typed, and what can be done next. Without JavaScript the button is always there and the server
 * says when it is too early; with it, the button waits out the cooldown with a countdown (pages.client.js).
 */
function resendForms(page: PageModel, method: FlowStrategy, resend: ResendView): SafeHtml {
  const { tr } = page;
  const wait = resend.waitSeconds;
  return html`<form method="post" action="/reset/resend" class="resend" data-cooldown="${wait}">
${formHidden(page, { method, back: method === 'email_code' ? 'code' : 'sent' })}
<p class="hint" id="resend-wait" data-cooldown-text data-template="${tr.t('resend_wait', { seconds: '{seconds}' })}" data-ready="${tr.t('resend_ready')}" aria-live="polite">${
    wait > 0 ? tr.t('resend_wait', { seconds: wait }) : tr.t('resend_ready')
  }</p>
<button type="submit" class="secondary-button" aria-describedby="resend-wait">${tr.t(method === 'email_code' ? 'resend_code_submit' : 'resend_submit')}</button>
</form>`;
}

const address = (page: PageModel, email: string) =>
  html`<p class="address"><span class="visually-hidden">${page.tr.t('sent_address_label')} </span><strong>${email}</strong></p>`;

export interface SentView {
  /** The address as typed on the first page; absent when this browser did not type one (then no resend). */
  email?: string;
  minutes: number;
  resend: ResendView;
  errors?: FieldError[];
}

export function sentPage(page: PageModel, view: SentView): string {
  const { tr } = page;
  const body = view.email
    ? html`<p>${tr.t('sent_to')}</p>
${address(page, view.email)}
<p>${tr.t('sent_expiry', { minutes: view.minutes })}</p>
${resendForms(page, 'email_link', view.resend)}
<form method="post" action="/reset/resend" class="switch">
${formHidden(page, { method: 'email_code', back: 'sent' })}
<p class="hint" id="use-code-hint">${tr.t('use_code_hint')}</p>
<button type="submit" class="secondary-button" aria-describedby="use-code-hint">${tr.t('use_code_submit')}</button>
</form>
<p class="secondary"><a href="${pageHref(page, '/reset')}">${tr.t('sent_wrong_address')}</a></p>`
    : html`<p>${tr.t('sent_body', { minutes: view.minutes })}</p>
<p class="secondary">${tr.t('sent_hint')} <a href="${pageHref(page, '/reset')}">${tr.t('start_again')}</a></p>`;
  return layout(page, { title: tr.t('sent_title'), path: '/reset/sent', errors: view.errors, body, scripts: view.email ? ['/assets/pages.js'] : [] });
}

export interface CodeView {
  email?: string;
  minutes: number;
  /** Wrong codes this code may still take (SEC-17). */
  triesLeft: number;
  resend: ResendView;
  errors?: FieldError[];
  /** The code as typed, when its shape was wrong. */
  value?: string;
}

export function codePage(page: PageModel, view: CodeView): string {
  const { tr } = page;
  const errors = view.errors ?? [];
  const tries = view.triesLeft === 1 ? tr.t('code_tries_one') : tr.t('code_tries_other', { n: view.triesLeft });
  const body = html`${
    view.email
      ? html`<p>${tr.t('code_to', { minutes: view.minutes })}</p>${address(page, view.email)}`
      : html`<p>${tr.t('code_intro', { minutes: view.minutes })}</p>`
  }
<form method="post" action="/reset/code" novalidate>
${formHidden(page)}
${input({ id: 'code', label: tr.t('code_label'), hint: tr.t('code_paste_hint'), type: 'text', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 24, value: view.value, errors, describedBy: ['code-tries'], autofocus: focusFirst(['code'], errors) === 'code' })}
<p class="tries" id="code-tries">${tries}</p>
<button type="submit">${tr.t('code_submit')}</button>
</form>
${view.email && resendForms(page, 'email_code', view.resend)}
<p class="secondary"><a href="${pageHref(page, '/reset')}">${tr.t('code_restart')}</a></p>`;
  return layout(page, { title: tr.t('code_title'), path: '/reset/code', errors, body, scripts: view.email ? ['/assets/pages.js'] : [] });
}
