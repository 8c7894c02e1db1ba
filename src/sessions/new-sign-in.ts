import { isIP } from 'node:net';
import type { PlatformDeps } from '../deps.ts';
import { BUILTIN, userRecipient, type NotificationService, type RecipientUser } from '../notifications/index.ts';
import type { BoundWrite } from '../store/compiled.ts';
import { createSignInDevices } from './devices.ts';
import type { SessionsTable } from './session.table.ts';

export interface NewSignInDeps extends PlatformDeps {
  notifications: Pick<NotificationService, 'triggerWrites'>;
}

/**
 * The writes that go with a new session: its device remembered and, when the device is new to an account that
 * has signed in before, the `new-sign-in` notice. They commit with the session row or not at all.
 */
export type NewSignInWrites = (user: RecipientUser, session: SessionsTable) => Promise<BoundWrite[]>;

export function createNewSignInWrites(deps: NewSignInDeps): NewSignInWrites {
  const { config, store, tokens, logger } = deps;
  const devices = createSignInDevices(tokens);

  return async (user, session) => {
    if (!config.notifyNewSignIn) return [];
    const deviceKey = devices.keyOf(user.id, session.user_agent);
    const { anyKnown, known } = await devices.lookup(store.db, user.id, deviceKey);
    if (known) return [];
    const remember = devices.remember(user.id, deviceKey, session.created_at);
    // An account's first sign-in (or its first since notices began) has nothing to compare with: it is not news
    // to the user who just created or started using the account. Auth0 and Clerk likewise tell of new devices only.
    if (!anyKnown) return [remember];
    try {
      const notice = deps.notifications.triggerWrites({
        workflowId: BUILTIN.newSignIn,
        to: [userRecipient(user)],
        applicationId: session.application_id,
        // Named by the device: two sign-ins racing from one new device trigger one transaction, and the second
        // trigger's writes find the first's rows and add nothing, so the user gets one notice.
        transactionId: `new-sign-in-${deviceKey}`,
        payload: {
          signedInAt: new Date(session.created_at).toISOString(),
          // What the session records: the end user's address the application reported, else the caller's
          // behind the trusted proxies. Anything else is not an address the user could recognise.
          ipAddress: session.ip_address !== null && isIP(session.ip_address) !== 0 ? session.ip_address : null,
          // Sealed in the outbox row until the mail is sent; the mail shows the browser and OS it names.
          userAgent: session.user_agent?.slice(0, 1_000) ?? null,
          helpUrl: `${config.baseUrl}/reset`,
        },
      });
      return [remember, ...notice.writes];
    } catch (error) {
      // A notice never stops a sign-in (an operator may have switched the workflow off); the device is known now.
      logger.warn({ err: error, workflowId: BUILTIN.newSignIn }, 'new-sign-in notice not triggered');
      return [remember];
    }
  };
}
