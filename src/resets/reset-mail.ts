import type { Application } from '../apps/index.ts';
import type { EmailJob } from '../notifications/index.ts';
import type { User } from '../users/index.ts';

/**
 * The reset mail, link or code alike: in the language of the page the reset was asked on, else the account's.
 * `secret` is already sealed.
 */
export function passwordResetMail(
  user: User,
  application: Application,
  { locale, expiresInMinutes, secret }: { locale: string | null | undefined; expiresInMinutes: number; secret: { link: string } | { code: string } },
): EmailJob {
  return {
    template: 'password-reset',
    to: user.email,
    applicationId: application.id,
    locale: locale ?? user.locale,
    data: { user: { email: user.email, first_name: user.first_name }, expires_in_minutes: expiresInMinutes },
    sealed: secret,
  };
}
