import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { afterEach, describe, expect, it } from 'vitest';
import type { Channel, RenderedMail } from '../channel.ts';
import { createSmtpChannel } from './smtp.ts';

interface Received {
  envelopeTo: string[];
  raw: string;
}

/** An in-process SMTP server on loopback that keeps every message it accepts. */
async function startServer(port = 0): Promise<{ server: SMTPServer; port: number; inbox: Received[] }> {
  const inbox: Received[] = [];
  const server = new SMTPServer({
    authOptional: true,
    // The test server has no certificate worth trusting; the channel must not need STARTTLS to send.
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        inbox.push({ envelopeTo: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('utf8') });
        callback();
      });
    },
  });
  server.listen(port, '127.0.0.1');
  await once(server.server, 'listening');
  return { server, port: (server.server.address() as AddressInfo).port, inbox };
}

const stopServer = (server: SMTPServer) => new Promise<void>((resolve) => server.close(() => resolve()));

/** Unfolded header value from a raw message. */
function header(raw: string, name: string): string | undefined {
  const head = raw.split(/\r?\n\r?\n/, 1)[0]!.replace(/\r?\n[ \t]+/g, ' ');
  const match = new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(head);
  return match?.[1]?.trim();
}

const mail = (overrides: Partial<RenderedMail> = {}): RenderedMail => ({
  to: 'ada@example.com',
  from: 'Rekey <no-reply@rekey.test>',
  subject: 'Reset your Rekey password',
  text: 'Open https://rekey.test/reset/verify?token=abc',
  html: '<p>Open <a href="https://rekey.test/reset/verify?token=abc">this link</a></p>',
  outboxId: 'msg_01TEST',
  ...overrides,
});

describe('smtp channel', () => {
  const channels: Channel[] = [];
  const servers: SMTPServer[] = [];
  // Channels first: a server waits for open (pooled) connections before it finishes closing.
  afterEach(async () => {
    for (const channel of channels.splice(0)) await channel.close!();
    for (const server of servers.splice(0)) await stopServer(server);
  });
  const track = (channel: Channel) => (channels.push(channel), channel);

  it('delivers subject, recipient and a Message-ID derived from the outbox row', async () => {
    const { server, port, inbox } = await startServer();
    servers.push(server);
    const channel = track(createSmtpChannel(`smtp://127.0.0.1:${port}`));

    expect(channel.id).toBe('smtp');
    await channel.check!();
    expect(await channel.send(mail())).toEqual({ provider: 'smtp', providerMessageId: '<msg_01TEST@rekey.test>' });
    expect(channel.describe!()).toBe(`SMTP smtp://127.0.0.1:${port}`);

    expect(inbox).toHaveLength(1);
    const [received] = inbox;
    expect(received!.envelopeTo).toEqual(['ada@example.com']);
    expect(header(received!.raw, 'Subject')).toBe('Reset your Rekey password');
    expect(header(received!.raw, 'To')).toBe('ada@example.com');
    expect(header(received!.raw, 'Message-ID')).toBe('<msg_01TEST@rekey.test>');
  });

  it('composes what the reader sees: encoded subject, both parts, leading dots and line ends intact', async () => {
    const { server, port, inbox } = await startServer();
    servers.push(server);
    const channel = track(createSmtpChannel(`smtp://127.0.0.1:${port}`));
    const message = mail({
      subject: 'Réinitialisez votre mot de passe\u00a0: Société Générale',
      text: 'Bonjour Zoë,\n.\n..leading dots\ntrailing spaces   \r\nfin\n',
      html: '<p>Quelqu’un a demandé… «\u00a0ouvrez ce lien\u00a0»</p>',
      outboxId: 'msg_01DOTS',
    });
    expect(await channel.send(message)).toEqual({ provider: 'smtp', providerMessageId: '<msg_01DOTS@rekey.test>' });
    const parsed = await simpleParser(inbox[0]!.raw);
    expect(parsed).toMatchObject({ subject: message.subject, messageId: '<msg_01DOTS@rekey.test>', html: message.html });
    expect(parsed.text).toBe(message.text.replace(/\r\n/g, '\n'));
  });

  it('still sends what it leaves nodemailer to compose (an international domain)', async () => {
    const { server, port, inbox } = await startServer();
    servers.push(server);
    const channel = track(createSmtpChannel(`smtp://127.0.0.1:${port}`));
    expect(await channel.send(mail({ to: 'ada@bücher.example' }))).toEqual({ provider: 'smtp', providerMessageId: '<msg_01TEST@rekey.test>' });
    expect(inbox.map((m) => m.envelopeTo)).toEqual([['ada@bücher.example']]);
    expect((await simpleParser(inbox[0]!.raw)).subject).toBe('Reset your Rekey password');
  });

  it('fails fast while the server is down, then delivers once it is up', async () => {
    // Take a free port, then free it again: nothing listens there until the server starts below.
    const probe = await startServer();
    await stopServer(probe.server);
    const channel = track(createSmtpChannel(`smtp://127.0.0.1:${probe.port}`));

    const startedAt = performance.now();
    // Retryable: the outbox tries again after its backoff.
    await expect(channel.send(mail())).rejects.toMatchObject({ permanent: false, message: expect.stringMatching(/ECONNREFUSED/) });
    await expect(channel.check!()).rejects.toThrow();
    expect(performance.now() - startedAt).toBeLessThan(5_000);

    const { server, inbox } = await startServer(probe.port);
    servers.push(server);
    await channel.send(mail({ subject: 'Second try' }));
    expect(inbox).toHaveLength(1);
    expect(header(inbox[0]!.raw, 'Subject')).toBe('Second try');
  });

  it('gives up on a server that accepts the connection but never greets', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket)).listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const channel = track(createSmtpChannel(`smtp://127.0.0.1:${(silent.address() as AddressInfo).port}`, { connectTimeoutMs: 200 }));
    try {
      const startedAt = performance.now();
      await expect(channel.send(mail())).rejects.toThrow(/greeting|timeout/i);
      expect(performance.now() - startedAt).toBeLessThan(3_000);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('sends without a pool too', async () => {
    const { server, port, inbox } = await startServer();
    servers.push(server);
    const channel = track(createSmtpChannel(`smtp://127.0.0.1:${port}`, { pool: false }));
    await channel.send(mail({ to: 'grace@example.com' }));
    expect(inbox.map((m) => m.envelopeTo)).toEqual([['grace@example.com']]);
  });
});
