/**
 * An SMTP sink in its own process (forked by bench/notifications.ts), so neither the Rekey nodes nor the raw
 * nodemailer sender share an event loop with the server that receives their mail. It counts messages with the
 * time each arrived; a recipient `lat-<ms>-<n>@…` also yields a latency (arrival minus `<ms>`, the trigger's time).
 */
import { SMTPServer } from 'smtp-server';

export type SinkCommand = { cmd: 'reset' } | { cmd: 'stats' } | { cmd: 'stop' };
export interface SinkStats {
  count: number;
  /** Arrival times (ms since epoch) of the first and the last message since the reset. */
  first: number;
  last: number;
  latencies: number[];
}

let count = 0;
let first = 0;
let last = 0;
let latencies: number[] = [];

const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  logger: false,
  closeTimeout: 50,
  maxClients: 1000,
  onData(stream, session, callback) {
    stream.resume().on('end', () => {
      const now = Date.now();
      count++;
      if (!first) first = now;
      last = now;
      const sentAt = /^lat-(\d+)-/.exec(session.envelope.rcptTo[0]?.address ?? '')?.[1];
      if (sentAt) latencies.push(now - Number(sentAt));
      callback();
    });
  },
});

server.listen(0, '127.0.0.1', () => {
  process.send!({ type: 'ready', port: (server.server.address() as { port: number }).port });
});

process.on('message', (message: SinkCommand) => {
  if (message.cmd === 'reset') {
    count = first = last = 0;
    latencies = [];
    process.send!({ type: 'reset' });
  } else if (message.cmd === 'stats') {
    process.send!({ type: 'stats', stats: { count, first, last, latencies } satisfies SinkStats });
  } else {
    server.close(() => process.exit(0));
  }
});
