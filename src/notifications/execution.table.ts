/** What an execution has come to: still running its steps, done, stopped by a cancel, or stopped by an error. */
export type ExecutionStatus = 'pending' | 'completed' | 'canceled' | 'failed';

/**
 * What a step has come to. `queued` until it runs; `retrying` while its channel fails and the outbox retries;
 * `dead` once the retries are spent; `skipped` with a reason (`condition`, `preference`, `throttled`).
 */
export type StepStatus = 'queued' | 'sent' | 'failed' | 'retrying' | 'dead' | 'skipped' | 'canceled';
export type SkipReason = 'condition' | 'preference' | 'throttled';

/** One workflow run for one subscriber. Its payload is not here: it travels sealed with the step due next. */
export interface NotificationExecutionsTable {
  /** Derived from the application, the transaction and the subscriber, so a repeated transaction writes nothing. */
  id: string;
  application_id: string;
  transaction_id: string;
  workflow_id: string;
  subscriber_id: string;
  status: ExecutionStatus;
  created_at: number;
  updated_at: number;
}

/** One step of an execution, written `queued` with it and updated as the step runs: the activity reads these. */
export interface NotificationStepsTable {
  execution_id: string;
  step_id: string;
  position: number;
  type: string;
  status: StepStatus;
  reason: SkipReason | null;
  provider_message_id: string | null;
  /** Scrubbed like the outbox's `last_error`: never a link or a code. */
  error: string | null;
  attempts: number;
  created_at: number;
  updated_at: number;
  sent_at: number | null;
}

/** A throttle window: one row per key, counted by one upsert statement. */
export interface NotificationThrottlesTable {
  key: string;
  window_start: number;
  window_end: number;
  count: number;
}

/** An in-app message, kept per subscriber for the inbox. */
export interface InAppMessagesTable {
  /** `<execution>:<step>`: a rerun of the step stores nothing twice. */
  id: string;
  application_id: string;
  subscriber_id: string;
  execution_id: string;
  transaction_id: string;
  workflow_id: string;
  subject: string | null;
  body: string;
  created_at: number;
  seen_at: number | null;
  read_at: number | null;
  archived_at: number | null;
}

/** The first answer to an `idempotency-key` (no payload: the answer names only the transaction). */
export interface NotificationIdempotencyTable {
  application_id: string;
  key: string;
  /** SHA-256 of the request, so a key reused for another request is refused instead of replayed. */
  fingerprint: string;
  status: number;
  response: string;
  created_at: number;
}
