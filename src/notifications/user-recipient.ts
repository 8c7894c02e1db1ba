import type { User } from '../users/index.ts';
import type { Recipient } from './engine.ts';

/** The fields of an account a message to its user needs. */
export type RecipientUser = Pick<User, 'id' | 'email' | 'first_name' | 'last_name' | 'locale'>;

/** A user as the subscriber a workflow addresses: a Rekey user is the subscriber of its id. */
export function userRecipient(user: RecipientUser): Recipient {
  return { subscriberId: user.id, email: user.email, firstName: user.first_name, lastName: user.last_name, locale: user.locale };
}
