import type { FlowStrategy } from '../resets/index.ts';
import { MAX_EMAIL_LENGTH } from './form.ts';
import { html } from '../platform/html.ts';
import { focusFirst, formHidden, input, layout, pageHref, type FieldError, type PageModel } from './layout.ts';

/** One function per page of the flow; each returns the whole document. */

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

export function sentPage(page: PageModel, minutes: number): string {
  const { tr } = page;
  const body = html`<p>${tr.t('sent_body', { minutes })}</p>
<p class="secondary">${tr.t('sent_hint')} <a href="${pageHref(page, '/reset')}">${tr.t('start_again')}</a></p>`;
  return layout(page, { title: tr.t('sent_title'), path: '/reset/sent', body });
}

export function codePage(page: PageModel, minutes: number, errors: FieldError[] = []): string {
  const { tr } = page;
  const body = html`<p>${tr.t('code_intro', { minutes })}</p>
<form method="post" action="/reset/code" novalidate>
${formHidden(page)}
${input({ id: 'code', label: tr.t('code_label'), hint: tr.t('code_hint'), type: 'text', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 12, errors, autofocus: focusFirst(['code'], errors) === 'code' })}
<button type="submit">${tr.t('code_submit')}</button>
</form>
<p class="secondary"><a href="${pageHref(page, '/reset')}">${tr.t('code_restart')}</a></p>`;
  return layout(page, { title: tr.t('code_title'), path: '/reset/code', errors, body });
}

export function secondFactorPage(page: PageModel, errors: FieldError[] = []): string {
  const { tr } = page;
  const body = html`<p>${tr.t('totp_intro', { app: page.brand.name })}</p>
<form method="post" action="/reset/second-factor" novalidate>
${formHidden(page)}
${input({ id: 'totp', name: 'code', label: tr.t('totp_label'), hint: tr.t('totp_hint'), type: 'text', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 12, errors, autofocus: focusFirst(['totp'], errors) === 'totp' })}
<button type="submit">${tr.t('totp_submit')}</button>
</form>
<p class="secondary"><a href="${pageHref(page, '/reset')}">${tr.t('start_again')}</a></p>`;
  return layout(page, { title: tr.t('totp_title'), path: '/reset/second-factor', errors, body });
}

/** The link landing's clean page: nothing has happened yet; the button is the user's decision (SEC-15). */
export function verifyPage(page: PageModel, errors: FieldError[] = []): string {
  const { tr } = page;
  const body = html`<p>${tr.t('verify_intro')}</p>
<form method="post" action="/reset/verify">
${formHidden(page, { client_id: page.brand.clientId })}
<button type="submit">${tr.t('verify_submit')}</button>
</form>`;
  return layout(page, { title: tr.t('verify_title'), path: '/reset/verify', errors, body });
}

export interface NewPasswordView {
  minLength: number;
  errors?: FieldError[];
}

export function newPasswordPage(page: PageModel, view: NewPasswordView): string {
  const { tr } = page;
  const errors = view.errors ?? [];
  const focus = focusFirst(['password', 'confirm'], errors);
  // Hidden until the script has loaded the estimator: without JavaScript there is no meter, not a dead one.
  const meter = html`<div class="strength" data-strength data-labels="${tr.t('meter_scores')}" data-words="${page.brand.name}" hidden>
<label for="strength-meter">${tr.t('meter_label')}</label>
<meter id="strength-meter" min="0" max="4" low="2" high="3" optimum="4" value="0"></meter>
<p class="strength-text" data-strength-text aria-live="polite"></p>
</div>`;
  const body = html`<p>${tr.t('new_intro')}</p>
<form method="post" action="/reset/new" novalidate>
${formHidden(page)}
${input({ id: 'password', label: tr.t('password_label'), hint: tr.t('password_hint', { min: view.minLength }), type: 'password', autocomplete: 'new-password', value: '', errors, autofocus: focus === 'password' })}
${meter}
${input({ id: 'confirm', label: tr.t('confirm_label'), type: 'password', autocomplete: 'new-password', value: '', errors, autofocus: focus === 'confirm' })}
<p class="hint">${tr.t('sign_out_hint')}</p>
<button type="submit">${tr.t('new_submit')}</button>
</form>`;
  return layout(page, { title: tr.t('new_title'), path: '/reset/new', errors, body, scripts: ['/assets/meter.js'] });
}

/** `redirectTo`, when given, is an allow-listed target the page sends the browser on to; the link is for when it does not. */
export function donePage(page: PageModel, redirectTo?: string): string {
  const { tr } = page;
  const body = html`<p class="done">${tr.t('done_body')}</p>
${redirectTo && html`<p><a class="button" href="${redirectTo}">${tr.t('done_continue', { app: page.brand.name })}</a></p>`}`;
  return layout(page, { title: tr.t('done_title'), path: '/reset/done', body, refreshTo: redirectTo });
}

export interface MessageView {
  title: string;
  error: FieldError;
  /** The page the language links point at; by default the start of the flow. */
  path?: string;
}

/** A dead end that says what went wrong and offers the way back to the start (flow gone, link unusable, refused…). */
export function messagePage(page: PageModel, view: MessageView): string {
  const body = html`<p><a class="button" href="${pageHref(page, '/reset')}">${page.tr.t('start_again')}</a></p>`;
  return layout(page, { title: view.title, path: view.path ?? '/reset', errors: [view.error], body });
}
