import { RekeyError } from '../../errors/index.ts';
import { compiled } from '../../store/compiled.ts';
import type { Factor } from '../factor.ts';
import { factorRow, maskPhone } from '../rows.ts';
import { createSentCodeFactor, type SentCodeDeps } from '../sent-code.ts';

/** E.164: a plus, a country code that does not start with 0, at most fifteen digits in all. */
export const E164 = /^\+[1-9][0-9]{6,14}$/;

const firstNumber = compiled<{ user_id: string }, { phone_number: string | null }>((db, p) =>
  db.selectFrom('auth_factors').select('phone_number').where('user_id', '=', p.user_id).where('type', '=', 'sms').orderBy('id').limit(1),
);

/**
 * Codes by SMS to an enrolled number (WorkOS `type: 'sms'`, Auth0 `phone`). Enrolling stores the number as given, as
 * WorkOS does; the first code sent to it is the proof that it reaches the user. With several numbers, the code goes
 * to the oldest.
 */
export function createSmsFactor(deps: SentCodeDeps): Factor<'sms'> {
  const sent = createSentCodeFactor('sms', deps, async (user) => {
    const row = await firstNumber.first(deps.store.db, { user_id: user.id });
    return row?.phone_number ? { to: row.phone_number, masked: maskPhone(row.phone_number) } : undefined;
  });
  return {
    ...sent,
    enroll(user, { phoneNumber }, now) {
      if (!E164.test(phoneNumber)) throw new RekeyError('phone_number_invalid');
      // Without a channel the number could never be used; refuse it now rather than at the first reset.
      if (!deps.delivery) throw new RekeyError('factor_unavailable', { type: 'sms' });
      const row = factorRow({ id: deps.ids.next('auth_factor'), user_id: user.id, type: 'sms', now }, { phone_number: phoneNumber });
      return { row, writes: [], secrets: {} };
    },
  };
}
