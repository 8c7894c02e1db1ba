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
  /** Used by `rekey doctor`: can the channel reach its provider? */
  check?(): Promise<void>;
  close?(): Promise<void>;
}
