/**
 * An SMTP sink in its own process (forked by bench/notifications.ts), so neither the Rekey nodes nor the raw
 * nodemailer sender share an event loop with the server that receives their mail. It counts messages with the
 * time each arrived; a recipient `lat-<ms>-<n>@…` also yields a latency (arrival minus `<ms>`, the trigger's time).
 *
 * It speaks only what a mail client needs to hand a message over (greeting, EHLO/HELO, MAIL, RCPT, DATA, RSET,
 * NOOP, QUIT) and keeps nothing of the message. The sink shares this machine's cores with what is measured, so it
 * must cost little: smtp-server, which parses every message it receives, spent about 0.35 ms of CPU per message,
 * a fifth of what a node spends on one; this sink spends a small fraction of that. The suite's tests still
 * receive their mail through smtp-server.
 */
import net from 'node:net';

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

const CRLF = Buffer.from('\r\n');
const END_OF_DATA = Buffer.from('\r\n.\r\n');
const EHLO_REPLY = '250-bench-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n';

function received(recipient: string): void {
  const now = Date.now();
  count++;
  if (!first) first = now;
  last = now;
  const sentAt = /^lat-(\d+)-/.exec(recipient)?.[1];
  if (sentAt) latencies.push(now - Number(sentAt));
}

function serve(socket: net.Socket): void {
  let pending: Buffer = Buffer.alloc(0);
  let inData = false;
  let recipient = '';
  socket.setNoDelay(true);
  socket.on('error', () => socket.destroy());
  socket.write('220 bench-sink ESMTP\r\n');

  const command = (line: string): string => {
    const verb = line.slice(0, 4).toUpperCase();
    switch (verb) {
      case 'EHLO':
        return EHLO_REPLY;
      case 'HELO':
      case 'MAIL':
      case 'NOOP':
        return '250 OK\r\n';
      case 'RSET':
        recipient = '';
        return '250 OK\r\n';
      case 'RCPT':
        recipient ||= /<([^>]*)>/.exec(line)?.[1] ?? '';
        return '250 OK\r\n';
      case 'DATA':
        inData = true;
        return '354 End data with <CR><LF>.<CR><LF>\r\n';
      case 'QUIT':
        socket.end('221 Bye\r\n');
        return '';
      default:
        return '502 Command not implemented\r\n';
    }
  };

  socket.on('data', (chunk: Buffer) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    let replies = '';
    for (;;) {
      if (inData) {
        const end = pending.indexOf(END_OF_DATA);
        if (end < 0) {
          // Keep only what could begin a terminator split across chunks.
          pending = pending.subarray(Math.max(0, pending.length - (END_OF_DATA.length - 1)));
          break;
        }
        pending = pending.subarray(end + END_OF_DATA.length);
        inData = false;
        received(recipient);
        recipient = '';
        replies += `250 OK: queued as ${count}\r\n`;
        continue;
      }
      const newline = pending.indexOf('\r\n');
      if (newline < 0) break;
      const line = pending.toString('latin1', 0, newline);
      pending = pending.subarray(newline + 2);
      replies += command(line);
      if (socket.writableEnded) return;
      // The terminator may follow the DATA line at once (an empty message): scan as from a line start.
      if (inData) pending = Buffer.concat([CRLF, pending]);
    }
    if (replies) socket.write(replies);
  });
}

const server = net.createServer(serve);

server.listen(0, '127.0.0.1', () => {
  process.send!({ type: 'ready', port: (server.address() as net.AddressInfo).port });
});

process.on('message', (message: SinkCommand) => {
  if (message.cmd === 'reset') {
    count = first = last = 0;
    latencies = [];
    process.send!({ type: 'reset' });
  } else if (message.cmd === 'stats') {
    process.send!({ type: 'stats', stats: { count, first, last, latencies } satisfies SinkStats });
  } else {
    server.close();
    process.exit(0);
  }
});
