/**
 * A notification recipient (Novu's subscriber). A Rekey user is the subscriber whose `subscriber_id` is the
 * user's id; `user_id` records that link so deleting the user deletes the subscriber and its preferences.
 * Only `notifications/subscribers/` reads these tables.
 */
export interface SubscribersTable {
  /** Rekey's own id (`sub_…`), Novu's `_id`; time-sortable, the search cursor. */
  id: string;
  /** The caller's id for the recipient (Novu's `subscriberId`). */
  subscriber_id: string;
  /** The user of the same id, when one existed as the subscriber was written (cascades on the user's deletion). */
  user_id: string | null;
  first_name: string | null;
  last_name: string | null;
  email: string | null;
  /** E.164. */
  phone: string | null;
  avatar: string | null;
  locale: string | null;
  timezone: string | null;
  /** JSON object, or null. */
  data: string | null;
  created_at: number;
  updated_at: number;
}

/**
 * A subscriber's channel choices, for one workflow or for all (`workflow_id` = '' : the global row). Each
 * channel is 1 (on), 0 (off) or null (not chosen here: the global row decides, else the default, on).
 */
export interface SubscriberPreferencesTable {
  subscriber_id: string;
  workflow_id: string;
  email: number | null;
  sms: number | null;
  in_app: number | null;
  chat: number | null;
  updated_at: number;
}

export type SubscriberTables = {
  subscribers: SubscribersTable;
  subscriber_preferences: SubscriberPreferencesTable;
};
