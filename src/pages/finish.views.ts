import { html } from '../platform/html.ts';
import { focusFirst, formHidden, input, layout, type FieldError, type PageModel } from './layout.ts';

/** The pages after the first factor: the link landing, the new password and the end. */

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
  /** What was typed into fields that had no error (Post/Redirect/Get keeps it for one GET). */
  values?: Record<string, string>;
  /** The account's address, for password managers to file the new password under; never shown. */
  username?: string;
}

export function newPasswordPage(page: PageModel, view: NewPasswordView): string {
  const { tr } = page;
  const errors = view.errors ?? [];
  const values = view.values ?? {};
  const focus = focusFirst(['password', 'confirm'], errors);
  // Hidden until the script has loaded the estimator: without JavaScript there is no meter, not a dead one. The
  // estimator (meter.client.js) is fetched only once the password field is used. The <meter> is what assistive
  // technology reads; the bar beside it is drawn by the stylesheet from the score.
  const meter = html`<div class="strength" data-strength data-min="${view.minLength}" data-labels="${tr.t('meter_scores')}" data-too-short="${tr.t('meter_too_short', { n: '{n}' })}" data-common="${tr.t('meter_common')}" data-common-base="${tr.t('meter_common_base')}" data-advice="${tr.t('meter_advice')}" data-words="${page.brand.name}" hidden>
<label for="strength-meter">${tr.t('meter_label')}</label>
<meter id="strength-meter" class="visually-hidden" min="0" max="5" low="2.5" high="3.5" optimum="5" value="0"></meter>
<div class="bar" aria-hidden="true"><span></span></div>
<p class="strength-text" data-strength-text aria-live="polite"></p>
</div>`;
  const body = html`<p>${tr.t('new_intro')}</p>
<form method="post" action="/reset/new" novalidate>
${formHidden(page)}
${view.username !== undefined && html`<input type="email" name="username" autocomplete="username" value="${view.username}" readonly hidden>`}
${input({ id: 'password', label: tr.t('password_label'), hint: tr.t('password_hint', { min: view.minLength }), type: 'password', autocomplete: 'new-password', value: values.password ?? '', errors, autofocus: focus === 'password' })}
${meter}
${input({ id: 'confirm', label: tr.t('confirm_label'), type: 'password', autocomplete: 'new-password', value: values.confirm ?? '', errors, autofocus: focus === 'confirm' })}
<p class="reveal-row"><button type="button" class="link-button" data-reveal="password confirm" data-show="${tr.t('show_passwords')}" data-hide="${tr.t('hide_passwords')}" aria-pressed="false" hidden>${tr.t('show_passwords')}</button></p>
<p class="hint">${tr.t('sign_out_hint')}</p>
<button type="submit">${tr.t('new_submit')}</button>
</form>`;
  return layout(page, { title: tr.t('new_title'), path: '/reset/new', errors, body, scripts: ['/assets/pages.js'] });
}

export interface DoneView {
  /** An allow-listed target the page sends the browser on to at once. */
  redirectTo?: string;
}

/** The end, with the way back as a button: the allow-listed redirect when there is one, else the application's sign-in page. */
export function donePage(page: PageModel, view: DoneView = {}): string {
  const { tr, brand } = page;
  const back = view.redirectTo
    ? html`<p><a class="button" href="${view.redirectTo}">${tr.t('done_continue', { app: brand.name })}</a></p>`
    : brand.signInUrl && html`<p><a class="button" href="${brand.signInUrl}">${tr.t('done_sign_in', { app: brand.name })}</a></p>`;
  const body = html`<p class="done">${tr.t('done_body')}</p>
${back}`;
  return layout(page, { title: tr.t('done_title'), path: '/reset/done', body, refreshTo: view.redirectTo });
}
