import type { FactorType } from '../factors/index.ts';
import type { Lang } from './messages/index.ts';

/**
 * The words of the pages the post-challenge actions add (choose a method, leave for a verifier, come back). Kept
 * beside those pages rather than in the main catalogs, in the same two languages.
 */
const en = {
  choose_title: 'Choose how to confirm it is you',
  choose_intro: 'Your reset needs one more check. Choose a method.',
  choose_legend: 'Method',
  choose_submit: 'Continue',
  factor_totp: 'A code from your authenticator app',
  factor_sms: 'A code by text message',
  factor_email: 'A code by email',
  factor_webauthn_roaming: 'Your security key',
  factor_webauthn_platform: 'This device’s screen lock',
  factor_recovery_code: 'One of your recovery codes',
  other_methods: 'Or confirm another way:',
  redirect_title: 'One more check',
  redirect_intro: 'Your reset continues on a page of the service’s verification partner.',
  redirect_link: 'Continue to the verification',
  continue_title: 'Continue your reset',
  continue_intro: 'You are back from the verification. Continue where you left off.',
  continue_submit: 'Continue',
  state_invalid_title: 'This link cannot be used',
  action_state_invalid: 'This link to continue your reset is invalid, has expired or was already used. Start again.',
  flow_missing: 'This reset was started in another browser, or it has ended. Start again in this browser.',
};

const fr: typeof en = {
  choose_title: 'Choisissez comment confirmer que c’est vous',
  choose_intro: 'Votre réinitialisation demande une vérification de plus. Choisissez une méthode.',
  choose_legend: 'Méthode',
  choose_submit: 'Continuer',
  factor_totp: 'Un code de votre application d’authentification',
  factor_sms: 'Un code par SMS',
  factor_email: 'Un code par e-mail',
  factor_webauthn_roaming: 'Votre clé de sécurité',
  factor_webauthn_platform: 'Le verrouillage d’écran de cet appareil',
  factor_recovery_code: 'L’un de vos codes de secours',
  other_methods: 'Ou confirmez autrement\u202f:',
  redirect_title: 'Une vérification de plus',
  redirect_intro: 'Votre réinitialisation continue sur une page du partenaire de vérification du service.',
  redirect_link: 'Continuer vers la vérification',
  continue_title: 'Continuez votre réinitialisation',
  continue_intro: 'Vous revenez de la vérification. Reprenez là où vous en étiez.',
  continue_submit: 'Continuer',
  state_invalid_title: 'Ce lien ne peut pas être utilisé',
  action_state_invalid: 'Ce lien pour continuer votre réinitialisation est invalide, a expiré ou a déjà servi. Recommencez.',
  flow_missing: 'Cette réinitialisation a été commencée dans un autre navigateur, ou elle est terminée. Recommencez dans ce navigateur.',
};

export type ActionMessageId = keyof typeof en;
const CATALOGS: Record<Lang, typeof en> = { en, fr };

export const actionText = (lang: Lang, id: ActionMessageId): string => CATALOGS[lang][id];
/** Every text of a language, for the typography check. */
export const actionTexts = (lang: Lang): string[] => Object.values(CATALOGS[lang]);

/** How each factor is named where the user picks one (the choose page, the challenge page's other ways). */
export const factorLabel = (lang: Lang, type: FactorType): string => CATALOGS[lang][`factor_${type}`];
