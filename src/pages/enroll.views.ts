import type { PublicKeyCredentialCreationOptionsJSON } from '@simplewebauthn/server';
import type { AuthFactor, FactorType } from '../factors/index.ts';
import { html } from '../platform/html.ts';
import { formHidden, layout, pageHref, type FieldError, type PageModel } from './layout.ts';
import type { MessageId } from './messages/index.ts';
import { WEBAUTHN_SCRIPT } from './webauthn-assets.ts';

export const ENROLL_PATH = '/factors/enroll';

const FACTOR_NAMES: Record<FactorType, MessageId> = {
  totp: 'factor_totp',
  sms: 'factor_sms',
  email: 'factor_email',
  webauthn_roaming: 'factor_webauthn_roaming',
  webauthn_platform: 'factor_webauthn_platform',
  recovery_code: 'factor_recovery_code',
};

export const factorName = (page: PageModel, factor: Pick<AuthFactor, 'type' | 'phone_number'>): string =>
  page.tr.t(FACTOR_NAMES[factor.type], { phone: factor.phone_number ?? '' });

export interface EnrollView {
  factors: AuthFactor[];
  recoveryCodesLeft: number;
  /** Registration options for this render (a fresh challenge each time). */
  webauthnOptions: PublicKeyCredentialCreationOptionsJSON;
  /** The factor just added, for the confirmation line. */
  added?: boolean;
  errors?: FieldError[];
}

/**
 * The enrollment page: what the account has, and the two things only a browser can set up. Recovery codes are a
 * plain form; WebAuthn's form shows itself once its script has loaded, and says it needs JavaScript otherwise.
 */
export function enrollPage(page: PageModel, view: EnrollView): string {
  const { tr } = page;
  const errors = view.errors ?? [];
  const webauthnError = errors.find((e) => e.field === 'webauthn');
  const types = [...new Set(view.factors.map((f) => f.type))];
  const body = html`<p>${tr.t('enroll_intro')}</p>
${view.added && html`<p class="done" role="status" data-added>${tr.t('enroll_added')}</p>`}
<h2>${tr.t('enroll_factors_heading')}</h2>
${
  view.factors.length === 0
    ? html`<p data-factors>${tr.t('enroll_none')}</p>`
    : html`<ul data-factors>
${view.factors.map((f) => html`<li data-type="${f.type}">${factorName(page, f)}</li>`)}
</ul>
<p>${types
        .filter((type) => type !== 'recovery_code' || view.recoveryCodesLeft > 0)
        .map(
          (type) =>
            html`<a href="${pageHref(page, `${ENROLL_PATH}/check`, { type })}" data-try="${type}">${tr.t('enroll_try')}: ${factorName(page, { type, phone_number: null })}</a> `,
        )}</p>`
}
<h2>${tr.t('enroll_webauthn_heading')}</h2>
<p>${tr.t('enroll_webauthn_intro')}</p>
<p class="hint" data-webauthn-nojs>${tr.t('enroll_webauthn_needs_js')}</p>
<form method="post" action="${ENROLL_PATH}/webauthn" data-webauthn="create" data-options="${JSON.stringify(view.webauthnOptions)}" id="webauthn" hidden>
${formHidden(page, { kind: 'roaming' })}
<input type="hidden" name="credential" value="">
${webauthnError && html`<p class="field-error" data-code="${webauthnError.code}">${webauthnError.message}</p>`}
<p class="field-error" data-webauthn-error data-message="${tr.error('webauthn_registration_failed')}" role="alert" hidden></p>
<button type="submit" value="roaming" data-kind="roaming">${tr.t('enroll_webauthn_roaming')}</button>
<button type="submit" value="platform" data-kind="platform">${tr.t('enroll_webauthn_platform')}</button>
</form>
<h2>${tr.t('enroll_recovery_heading')}</h2>
<p>${tr.t('enroll_recovery_intro')}</p>
${types.includes('recovery_code') && html`<p data-recovery-left>${tr.t('enroll_recovery_left', { left: view.recoveryCodesLeft })}</p>`}
<form method="post" action="${ENROLL_PATH}/recovery-codes">
${formHidden(page)}
<button type="submit">${tr.t(types.includes('recovery_code') ? 'enroll_recovery_again' : 'enroll_recovery_submit')}</button>
</form>`;
  return layout(page, { title: tr.t('enroll_title'), path: ENROLL_PATH, errors, body, scripts: [WEBAUTHN_SCRIPT] });
}

/** The new codes, this once: the page is `no-store` like every page, and nothing can show them again. */
export function recoveryCodesPage(page: PageModel, codes: string[]): string {
  const { tr } = page;
  const body = html`<p>${tr.t('recovery_codes_intro')}</p>
<ol class="recovery-codes" data-recovery-codes>
${codes.map((code) => html`<li><code>${code}</code></li>`)}
</ol>
<p><a class="button" href="${pageHref(page, ENROLL_PATH)}">${tr.t('enroll_back')}</a></p>`;
  return layout(page, { title: tr.t('recovery_codes_title'), path: ENROLL_PATH, body });
}

/**
 * The answer to a followed link: the session cookie is set, and the browser moves on with a GET of its own. A 303
 * would continue the application's cross-site navigation, which does not carry the SameSite=Strict cookie.
 */
export function enrollArrivalPage(page: PageModel): string {
  const { tr } = page;
  const target = pageHref(page, ENROLL_PATH);
  const body = html`<p><a class="button" href="${target}">${tr.t('enroll_continue')}</a></p>`;
  return layout(page, { title: tr.t('enroll_title'), path: ENROLL_PATH, body, refreshTo: target });
}

export function checkedPage(page: PageModel): string {
  const { tr } = page;
  const body = html`<p class="done" data-checked>${tr.t('check_ok_body')}</p>
<p><a class="button" href="${pageHref(page, ENROLL_PATH)}">${tr.t('enroll_back')}</a></p>`;
  return layout(page, { title: tr.t('check_ok_title'), path: `${ENROLL_PATH}/check`, body });
}
