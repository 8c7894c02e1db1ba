import type { BoundWrite } from '../store/compiled.ts';

/** A fully rendered mail, ready for a channel. */
export interface RenderedMail {
  to: string;
  from: string;
  subject: string;
  text: string;
  html: string;
  /** Outbox row id, kept by the development mailbox for tracing; also used as Message-ID seed. */
  outboxId?: string;
}

/** The port every delivery channel implements (SMTP, development mailbox, later HTTP providers and SMS). */
export interface Channel {
  readonly id: string;
  send(mail: RenderedMail): Promise<void>;
  /**
   * A channel that delivers into Rekey's own store (the development mailbox) gives its write instead of
   * sending: the dispatcher commits it with the message's "sent" mark, so it is delivered exactly once.
   */
  write?(mail: RenderedMail): BoundWrite;
  /** Used by `rekey doctor`: can the channel reach its provider? */
  check?(): Promise<void>;
  close?(): Promise<void>;
}
