import type { BoundWrite } from '../store/compiled.ts';

/** A fully rendered mail, ready for a channel. */
export interface RenderedMail {
  to: string;
  from: string;
  subject: string;
  text: string;
  html: string;
  /** Outbox row id, kept by the development mailbox for tracing; also used as Message-ID seed and idempotency key. */
  outboxId?: string;
}

/** A text message to a phone number (E.164, validated by the caller). */
export interface SmsMessage {
  to: string;
  text: string;
  /** Overrides the provider's configured sender (a number, an alphanumeric id). */
  from?: string;
  /** The outbox row it is sent for: tracing, and the idempotency key a provider may honour. */
  outboxId: string;
}

/** A message to the operator's chat webhook (Slack-style `text` plus structured data). */
export interface ChatMessage {
  text: string;
  /** Structured context for the receiver (workflow, subscriber, payload fields); never a secret. */
  data?: Record<string, unknown>;
  /** The outbox row it is sent for; it becomes the `webhook-id`, so a receiver can drop a retried duplicate. */
  outboxId: string;
}

/** What a send did: which provider took the message, under which id, and whether the primary had failed. */
export interface SendResult {
  /** The provider that accepted the message (its configured `id`). */
  provider?: string;
  /** The id the provider gave the message (SMTP Message-ID, Twilio `sid`, an HTTP provider's `id`). */
  providerMessageId?: string;
  /** Set when the primary provider failed and the fallback sent: the primary's id and its (scrubbed) error. */
  failedOver?: { provider: string; error: string };
}

/**
 * A provider for one kind of message. The engine calls `write` when there is one (the development mailbox
 * delivers into Rekey's own store: the dispatcher commits that write with the message's "sent" mark, so it is
 * delivered exactly once); otherwise `send`. A `send` that throws is retried with backoff by the dispatcher,
 * unless the error is a `PermanentDeliveryError` (the provider refused the message for good).
 */
export interface Port<M> {
  readonly id: string;
  send(message: M): Promise<SendResult | void>;
  write?(message: M): BoundWrite;
  /** Used by `rekey doctor`: can the channel reach its provider (and, where the provider allows it, log in)? */
  check?(): Promise<void>;
  /** Where messages go, for the startup banner and `rekey doctor`: never a credential. */
  describe?(): string;
  close?(): Promise<void>;
}

/** The email port (SMTP, an HTTP email provider, the development mailbox). */
export type Channel = Port<RenderedMail>;
/** The SMS port (a Twilio-compatible REST API, an HTTP SMS provider, the development mailbox). */
export type SmsChannel = Port<SmsMessage>;
/** The chat port (a signed JSON POST to the operator's webhook, the development mailbox). */
export type ChatChannel = Port<ChatMessage>;
