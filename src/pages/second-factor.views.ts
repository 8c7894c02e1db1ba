import type { FactorChallenge, FactorType } from '../factors/index.ts';
import { html } from '../platform/html.ts';
import { actionText, factorLabel } from './actions.messages.ts';
import { challengePage } from './factor-challenge.ts';
import { pageHref, type FieldError, type PageModel } from './layout.ts';

export const SECOND_FACTOR_PATH = '/reset/second-factor';

export interface SecondFactorView {
  type: FactorType;
  /** What starting the challenge gave (where a code went, WebAuthn's options); absent when it could not start. */
  challenge?: FactorChallenge;
  errors?: FieldError[];
  /** The other factors the pending challenge accepts, offered as links. */
  others: FactorType[];
}

/**
 * The reset's second-factor step: the pending challenge's form for one factor type (factor-challenge.ts), the
 * other accepted types as plain links (`?method=`), and the way back to the start.
 */
export function secondFactorPage(page: PageModel, view: SecondFactorView): string {
  const { tr } = page;
  const sent = view.type === 'sms' || view.type === 'email';
  const others =
    view.others.length > 0 &&
    html`<p class="secondary">${actionText(tr.lang, 'other_methods')}</p>
<ul class="other-methods">
${view.others.map((type) => html`<li><a href="${pageHref(page, SECOND_FACTOR_PATH, { method: type })}" data-method="${type}">${factorLabel(tr.lang, type)}</a></li>`)}
</ul>`;
  const after = html`${others}
<p class="secondary"><a href="${pageHref(page, '/reset')}">${tr.t('start_again')}</a></p>`;
  return challengePage(page, {
    type: view.type,
    action: SECOND_FACTOR_PATH,
    path: SECOND_FACTOR_PATH,
    keep: { method: view.type },
    ...(view.challenge ? { challenge: view.challenge } : {}),
    ...(view.errors ? { errors: view.errors } : {}),
    ...(sent ? { resendAction: `${SECOND_FACTOR_PATH}/resend` } : {}),
    after,
  });
}
