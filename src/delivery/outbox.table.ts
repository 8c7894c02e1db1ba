export type OutboxStatus = 'pending' | 'sent' | 'dead';

export interface OutboxTable {
  id: string;
  /** What the dispatcher does with the row: `email` renders and sends; other kinds are internal jobs. */
  kind: string;
  /** JSON; any link or code inside is sealed, and wiped once sent. */
  payload: string;
  /** Unique per message: a retry or a duplicate enqueue can never send twice. */
  idempotency_key: string;
  status: OutboxStatus;
  attempts: number;
  next_attempt_at: number;
  /** A dispatcher owns the row until this time; another may take it over after. */
  lease_until: number | null;
  lease_owner: string | null;
  last_error: string | null;
  created_at: number;
  sent_at: number | null;
}

/** What kind of message a development mailbox entry is. */
export type DevMailboxKind = 'email' | 'sms' | 'chat';

export interface DevMailboxTable {
  id: string;
  /** `email`, or an SMS or chat message kept in the same inbox (then `subject` and `html` are empty). */
  channel: DevMailboxKind;
  outbox_id: string | null;
  to: string;
  from: string;
  subject: string;
  text: string;
  html: string;
  created_at: number;
}
