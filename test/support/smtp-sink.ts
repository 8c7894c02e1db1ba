import { SMTPServer } from 'smtp-server';

export interface SinkMail {
  to: string;
  subject: string;
  /** The decoded message source (quoted-printable undone), text and HTML parts together. */
  body: string;
}

/** A real SMTP server on loopback that keeps what it receives; it can be stopped and started on the same port. */
export interface SmtpSink {
  port: number;
  messages: SinkMail[];
  start(): Promise<void>;
  stop(): Promise<void>;
  waitFor(predicate: (mail: SinkMail) => boolean, timeoutMs?: number): Promise<SinkMail>;
  /** Keeps each message received from now on, but answers none until `release`: senders wait on their 250. */
  hold(): void;
  release(): void;
}

export async function startSmtpSink(): Promise<SmtpSink> {
  const messages: SinkMail[] = [];
  let server: SMTPServer | undefined;
  let port = 0;
  let held: Array<() => void> | undefined;

  const start = async () => {
    server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      // Rekey keeps pooled connections open; an outage test must not wait 30 s for them to drain.
      closeTimeout: 50,
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8');
          const decoded = raw.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
          const subject = /^Subject: (.*)$/m.exec(raw)?.[1]?.trim() ?? '';
          messages.push({ to: session.envelope.rcptTo.map((r) => r.address).join(','), subject, body: decoded });
          if (held) held.push(() => callback());
          else callback();
        });
      },
    });
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(port, '127.0.0.1', () => resolve());
    });
    port = (server.server.address() as { port: number }).port;
    // A sender that dies mid-conversation (a killed node) resets its socket: that is its problem, not the sink's.
    server.on('error', () => undefined);
  };
  await start();

  return {
    get port() {
      return port;
    },
    messages,
    start,
    hold: () => void (held ??= []),
    release() {
      const waiting = held ?? [];
      held = undefined;
      for (const answer of waiting) answer();
    },
    stop: () => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())),
    async waitFor(predicate, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = messages.find(predicate);
        if (found) return found;
        if (Date.now() > deadline) throw new Error('no matching mail arrived');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
  };
}
