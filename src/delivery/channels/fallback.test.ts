import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../platform/logger.ts';
import type { Port } from '../channel.ts';
import { isPermanent, PermanentDeliveryError } from '../dispatcher.ts';
import { withFallback } from './fallback.ts';
import { createHttpEmailChannel } from './http-email.ts';
import { createHttpSmsChannel } from './http-sms.ts';
import { createSmtpChannel } from './smtp.ts';
import { failureOf, startTestProvider, twilioAnswer, type TestProvider } from '../testing.ts';
import { createTwilioChannel } from './twilio.ts';

const SID = 'AC00000000000000000000000000000001';
const sms = { to: '+15551234567', text: 'Your Rekey code is 123456', outboxId: 'msg_1' };

describe('a primary provider with its fallback', () => {
  const servers: TestProvider[] = [];
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
    for (const server of servers.splice(0)) await server.close();
  });
  const provider = async (answer: TestProvider['answer']) => {
    const server = await startTestProvider(answer);
    servers.push(server);
    return server;
  };

  it('SMS: a Twilio primary answering 500 hands the message to the HTTP fallback in the same attempt', async () => {
    const twilio = await provider(() => ({ status: 500, body: { code: 20500, message: 'Internal Server Error' } }));
    const backup = await provider(() => ({ status: 201, body: { id: 'backup_1' } }));
    const lines: string[] = [];
    const channel = withFallback(
      createTwilioChannel({ accountSid: SID, authToken: 'token', from: '+15550001111', baseUrl: twilio.url }),
      createHttpSmsChannel({ url: backup.url, secret: 'backup-secret' }),
      createLogger('info', { write: (line: string) => void lines.push(line) }),
    );

    const result = await channel.send(sms);

    expect(result).toEqual({
      provider: 'http-sms',
      providerMessageId: 'backup_1',
      failedOver: { provider: 'twilio', error: expect.stringContaining('answered 500') },
    });
    expect(twilio.requests).toHaveLength(1);
    expect(backup.requests.map((r) => JSON.parse(r.body))).toEqual([{ to: '+15551234567', text: 'Your Rekey code is 123456' }]);
    // The log names both providers and the reason, never the number or the text.
    expect(lines.map((line) => JSON.parse(line))).toEqual([expect.objectContaining({ msg: 'delivery.failover', provider: 'twilio', fallback: 'http-sms' })]);
    expect(lines.join('')).not.toMatch(/123456|5551234567/);
  });

  it('SMS: a primary that refuses the message for good is also followed by the fallback', async () => {
    const twilio = await provider(twilioAnswer);
    const backup = await provider(() => ({ status: 200, body: { id: 'b2' } }));
    const channel = withFallback(
      createTwilioChannel({ accountSid: SID, authToken: 'token', from: '+1', baseUrl: twilio.url }),
      createHttpSmsChannel({ url: backup.url, secret: 's' }),
    );
    expect(await channel.send({ ...sms, to: '0612345678' })).toMatchObject({ provider: 'http-sms', failedOver: { provider: 'twilio' } });
  });

  it('email: SMTP down, the HTTP provider sends; with the server back, SMTP sends again', async () => {
    const smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      closeTimeout: 50,
      onData: (s, _, cb) => s.resume().on('end', () => cb()),
    });
    smtp.listen(0, '127.0.0.1');
    await once(smtp.server, 'listening');
    const port = (smtp.server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => smtp.close(() => resolve()));
    const api = await provider(() => ({ status: 200, body: { id: 'api_1' } }));
    const channel = withFallback(createSmtpChannel(`smtp://127.0.0.1:${port}`), createHttpEmailChannel({ url: api.url, secret: 's' }));
    closers.push(() => channel.close!());
    const mail = { to: 'ada@example.com', from: 'Rekey <no-reply@rekey.test>', subject: 'Hi', text: 'Hi', html: '<p>Hi</p>', outboxId: 'msg_2' };

    expect(await channel.send(mail)).toMatchObject({ provider: 'http-email', providerMessageId: 'api_1', failedOver: { provider: 'smtp' } });

    const back = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      closeTimeout: 50,
      onData: (s, _, cb) => s.resume().on('end', () => cb()),
    });
    back.listen(port, '127.0.0.1');
    await once(back.server, 'listening');
    closers.push(() => new Promise<void>((resolve) => back.close(() => resolve())));
    expect(await channel.send(mail)).toEqual({ provider: 'smtp', providerMessageId: '<msg_2@rekey.test>' });
    expect(api.requests).toHaveLength(1);
    expect(channel.describe!()).toBe(`SMTP smtp://127.0.0.1:${port}, falling back to HTTP email API ${api.url}/`);
  });

  it('both failing: permanent only when both refusals are permanent, the message naming both', async () => {
    const port = (id: string, error: Error): Port<unknown> => ({ id, send: async () => Promise.reject(error) });
    const refused = () => new PermanentDeliveryError('refused');
    const down = () => new Error('connect ECONNREFUSED');

    const both = await failureOf(withFallback(port('a', refused()), port('b', refused())).send({}));
    expect(isPermanent(both)).toBe(true);
    expect(both.message).toBe('refused; fallback refused');
    expect(isPermanent(await failureOf(withFallback(port('a', down()), port('b', refused())).send({})))).toBe(false);
    expect(isPermanent(await failureOf(withFallback(port('a', refused()), port('b', down())).send({})))).toBe(false);
  });

  it('alone, a provider is itself, its result named, its mailbox write kept', async () => {
    const write = () => ({}) as never;
    const single = withFallback<unknown>({ id: 'dev-mailbox', send: async () => undefined, write }, undefined);
    expect(await single.send({})).toEqual({ provider: 'dev-mailbox' });
    expect(single.write).toBe(write);
    expect(withFallback<unknown>({ id: 'a', send: async () => undefined, write }, { id: 'b', send: async () => undefined }).write).toBeUndefined();
  });
});
