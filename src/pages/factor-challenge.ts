import { isRekeyError } from '../errors/index.ts';
import { isWebAuthnType, normalizeRecoveryCode, SENT_CODE_TTL_MS, type FactorChallenge, type FactorType, type SentCodeChallenge } from '../factors/index.ts';
import { html, type SafeHtml } from '../platform/html.ts';
import type { FlashError } from './cookies.ts';
import { serviceVars } from './flash.ts';
import { checkDigits, type ParsedForm } from './form.ts';
import { focusFirst, formHidden, input, layout, type FieldError, type PageModel } from './layout.ts';
import type { MessageId } from './messages/index.ts';
import { WEBAUTHN_SCRIPT } from './webauthn-assets.ts';

/**
 * The second-factor challenge forms, one per type, for any page that asks for a factor (the reset flow's
 * second-factor step, the enrollment page's "try it"). A page that uses them:
 *
 *   GET:  challenge = the started challenge (an SMS or email code sent, WebAuthn's request options; nothing for TOTP
 *         and recovery codes); errors = takeErrors(…) left by the POST
 *         sendPage(reply, status, challengePage(page, { type, action, path, challenge, errors }));
 *   POST: const errors = await checkChallengeForm(verify, type, form);    // reads the answer, asks `verify`
 *         errors ? redirectWithErrors(jar, reply, again, errors.status, errors.errors) : on to the next page
 *
 * Every form works without JavaScript except WebAuthn, whose form shows itself only once its script has loaded.
 * The form's answer field is `code` (a code) or `credential` (WebAuthn's JSON); `type` travels in a hidden field.
 */

export interface ChallengeView {
  type: FactorType;
  /** Where the form posts (same origin). */
  action: string;
  /** What `factors.challenge` returned: where a code went, WebAuthn's request options. Absent on a re-render after a wrong code. */
  challenge?: FactorChallenge;
  errors?: FieldError[];
  /** Hidden fields the page's POST needs besides the CSRF token and the language. */
  hidden?: Record<string, string | undefined>;
  /** Sent codes: where "send a new code" posts (a form of its own, same hidden fields). */
  resendAction?: string;
  /** Query parameters the language links keep (the page's `type` or `method`). */
  keep?: Record<string, string>;
}

/** The id of the input a type's errors point at. */
export const CHALLENGE_FIELD: Record<FactorType, string> = {
  totp: 'totp',
  sms: 'code',
  email: 'code',
  recovery_code: 'recovery-code',
  webauthn_roaming: 'webauthn',
  webauthn_platform: 'webauthn',
};

const TITLES: Record<FactorType, MessageId> = {
  totp: 'totp_title',
  sms: 'challenge_sms_title',
  email: 'challenge_email_title',
  recovery_code: 'challenge_recovery_title',
  webauthn_roaming: 'challenge_webauthn_title',
  webauthn_platform: 'challenge_webauthn_platform_title',
};

export const challengeTitle = (page: PageModel, type: FactorType): string => page.tr.t(TITLES[type]);

/** The form alone, to place in a page of one's own. */
export function challengeForm(page: PageModel, view: ChallengeView): SafeHtml {
  const { tr } = page;
  const errors = view.errors ?? [];
  const field = CHALLENGE_FIELD[view.type];
  const autofocus = focusFirst([field], errors) === field;
  const hidden = formHidden(page, { type: view.type, ...view.hidden });
  const submit = html`<button type="submit">${tr.t(view.type === 'totp' ? 'totp_submit' : 'challenge_submit')}</button>`;
  const codeInput = (label: MessageId, hint: MessageId) =>
    input({
      id: field,
      name: 'code',
      label: tr.t(label),
      hint: tr.t(hint),
      type: 'text',
      inputmode: 'numeric',
      autocomplete: 'one-time-code',
      maxlength: 12,
      errors,
      autofocus,
    });

  switch (view.type) {
    case 'totp':
      return html`<p>${tr.t('totp_intro', { app: page.brand.name })}</p>
<form method="post" action="${view.action}" novalidate>
${hidden}
${codeInput('totp_label', 'totp_hint')}
${submit}
</form>`;
    case 'sms':
    case 'email': {
      const sent = view.challenge as SentCodeChallenge<'sms' | 'email'> | undefined;
      const intro = view.type === 'sms' ? 'challenge_sms_intro' : 'challenge_email_intro';
      return html`${sent && html`<p>${tr.t(intro, { to: sent.sentTo, minutes: SENT_CODE_TTL_MS / 60_000 })}</p>`}
<form method="post" action="${view.action}" novalidate>
${hidden}
${codeInput(view.type === 'sms' ? 'challenge_sms_label' : 'challenge_email_label', 'challenge_code_hint')}
${submit}
</form>
${
  view.resendAction &&
  html`<form method="post" action="${view.resendAction}" class="secondary">
${hidden}
<button type="submit">${tr.t('challenge_resend')}</button>
</form>`
}`;
    }
    case 'recovery_code':
      return html`<p>${tr.t('challenge_recovery_intro')}</p>
<form method="post" action="${view.action}" novalidate>
${hidden}
${input({ id: field, name: 'code', label: tr.t('challenge_recovery_label'), hint: tr.t('challenge_recovery_hint'), type: 'text', autocomplete: 'off', maxlength: 40, errors, autofocus })}
${submit}
</form>`;
    case 'webauthn_roaming':
    case 'webauthn_platform': {
      const options = (view.challenge as FactorChallenge<'webauthn_roaming'> | undefined)?.options;
      const error = errors.find((e) => e.field === field);
      const label = view.type === 'webauthn_platform' ? 'challenge_webauthn_platform_submit' : 'challenge_webauthn_submit';
      return html`<p>${tr.t('challenge_webauthn_intro')}</p>
<p class="hint" data-webauthn-nojs>${tr.t('enroll_webauthn_needs_js')}</p>
${
  options &&
  html`<form method="post" action="${view.action}" data-webauthn="get" data-options="${JSON.stringify(options)}" id="${field}" hidden>
${hidden}
<input type="hidden" name="credential" value="">
${error && html`<p class="field-error" data-code="${error.code}">${error.message}</p>`}
<p class="field-error" data-webauthn-error data-message="${tr.error('webauthn_failed')}" role="alert" hidden></p>
<button type="submit">${tr.t(label)}</button>
</form>`
}`;
    }
  }
}

/** A whole page with the form, in the pages' layout (the WebAuthn script added where needed). */
export function challengePage(page: PageModel, view: ChallengeView & { path: string; after?: SafeHtml }): string {
  const body = html`${challengeForm(page, view)}${view.after ?? ''}`;
  return layout(page, {
    title: challengeTitle(page, view.type),
    path: view.path,
    ...(view.keep ? { keep: view.keep } : {}),
    errors: view.errors,
    body,
    ...(isWebAuthnType(view.type) ? { scripts: [WEBAUTHN_SCRIPT] } : {}),
  });
}

export type ChallengeAnswer = { ok: true; response: string } | { ok: false; field: string; code: string };

/** The answer a challenge form sent, shape-checked as the user can act on it; the factor parses it again. */
export function readChallengeAnswer(type: FactorType, form: ParsedForm): ChallengeAnswer {
  const field = CHALLENGE_FIELD[type];
  switch (type) {
    case 'totp': {
      const code = checkDigits(form.get('code'), [6], 'totp_required', 'totp_format');
      return code.ok ? { ok: true, response: code.code } : { ok: false, field, code: code.code };
    }
    case 'sms':
    case 'email': {
      const code = checkDigits(form.get('code'), [6], type === 'sms' ? 'sms_code_required' : 'code_required', 'code_format_six');
      return code.ok ? { ok: true, response: code.code } : { ok: false, field, code: code.code };
    }
    case 'recovery_code': {
      const typed = (form.get('code') ?? '').trim();
      if (typed === '') return { ok: false, field, code: 'recovery_code_required' };
      const code = normalizeRecoveryCode(typed);
      return code ? { ok: true, response: code } : { ok: false, field, code: 'recovery_code_format' };
    }
    case 'webauthn_roaming':
    case 'webauthn_platform': {
      const credential = form.get('credential') ?? '';
      return credential === '' ? { ok: false, field, code: 'webauthn_failed' } : { ok: true, response: credential };
    }
  }
}

/** The page's code for an answer the factor refused: each type says what to check. */
export const WRONG_ANSWER: Record<FactorType, string> = {
  totp: 'totp_incorrect',
  sms: 'sms_code_incorrect',
  email: 'code_incorrect',
  recovery_code: 'recovery_code_incorrect',
  webauthn_roaming: 'webauthn_incorrect',
  webauthn_platform: 'webauthn_incorrect',
};

/**
 * A service failure while challenging or verifying, as the form's error: a refused answer next to its field, with
 * the type's own words; anything else (budget spent, not enrolled, nothing to send…) above the form with its wait.
 */
export function challengeFailure(type: FactorType, error: unknown): { status: number; error: FlashError } {
  if (!isRekeyError(error)) throw error;
  if (error.code === 'totp_incorrect' || error.code === 'factor_incorrect') {
    return { status: 422, error: { field: CHALLENGE_FIELD[type], code: WRONG_ANSWER[type] } };
  }
  return { status: error.status, error: { code: error.code, vars: serviceVars(error) } };
}

/** What `verify` may throw that is about the answer: refused, or the account's budget of wrong answers spent (SEC-38). */
const ANSWER_FAILURES: ReadonlySet<string> = new Set(['totp_incorrect', 'factor_incorrect', 'totp_attempts_exceeded']);

/**
 * Reads a posted challenge form and has `verify` check the answer (the factors service directly, or the reset
 * flow's attempt). Returns the errors to show again, or nothing when the answer was accepted; any other failure of
 * `verify` (the flow has ended, a rate limit) is thrown on for the page to answer.
 */
export async function checkChallengeForm(
  verify: (response: string) => Promise<boolean>,
  type: FactorType,
  form: ParsedForm,
): Promise<{ status: number; errors: FlashError[] } | undefined> {
  const answer = readChallengeAnswer(type, form);
  if (!answer.ok) return { status: 422, errors: [{ field: answer.field, code: answer.code }] };
  try {
    if (await verify(answer.response)) return undefined;
    return { status: 422, errors: [{ field: CHALLENGE_FIELD[type], code: WRONG_ANSWER[type] }] };
  } catch (caught) {
    if (!isRekeyError(caught) || !ANSWER_FAILURES.has(caught.code)) throw caught;
    const failure = challengeFailure(type, caught);
    return { status: failure.status, errors: [failure.error] };
  }
}
