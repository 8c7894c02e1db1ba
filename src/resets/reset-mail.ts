import type { Recipient } from '../notifications/index.ts';
import type { User } from '../users/index.ts';

/** A user as the subscriber a workflow addresses: a Rekey user is the subscriber of its id. */
export function userRecipient(user: User): Recipient {
  return { subscriberId: user.id, email: user.email, firstName: user.first_name, lastName: user.last_name, locale: user.locale };
}
