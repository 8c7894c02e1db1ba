import { afterEach, describe, expect, it } from 'vitest';
import { isPermanent } from '../dispatcher.ts';
import { createHttpEmailChannel } from './http-email.ts';
import { createHttpSmsChannel } from './http-sms.ts';
import { failureOf, startTestProvider, type TestProvider } from '../testing.ts';

const SECRET = 'provider-secret-never-printed';
const mail = { to: 'ada@example.com', from: 'Rekey <no-reply@rekey.test>', subject: 'Reset', text: 'Plain', html: '<p>Rich</p>', outboxId: 'msg_1' };

describe('generic HTTP email and SMS providers', () => {
  const servers: TestProvider[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) await server.close();
  });
  const provider = async (answer: TestProvider['answer']) => {
    const server = await startTestProvider(answer);
    servers.push(server);
    return server;
  };

  it('email: posts the rendered mail as JSON with a bearer secret and the outbox id as Idempotency-Key', async () => {
    const server = await provider(() => ({ status: 202, body: { id: 'em_42' } }));
    const email = createHttpEmailChannel({ url: `${server.url}/v1/send?region=eu`, secret: SECRET });

    expect(await email.send(mail)).toEqual({ provider: 'http-email', providerMessageId: 'em_42' });
    const [request] = server.requests;
    expect(request).toMatchObject({ method: 'POST', path: '/v1/send?region=eu' });
    expect(request!.headers).toMatchObject({ authorization: `Bearer ${SECRET}`, 'content-type': 'application/json', 'idempotency-key': 'msg_1' });
    expect(JSON.parse(request!.body)).toEqual({ from: mail.from, to: mail.to, subject: 'Reset', text: 'Plain', html: '<p>Rich</p>' });
    // The query may hold a key: descriptions leave it out.
    expect(email.describe!()).toBe(`HTTP email API ${server.url}/v1/send`);
  });

  it('email: a custom header carries the secret as is; the id is found under the names providers use', async () => {
    const answers = [{ MessageID: 'pm-1' }, { data: { message_id: 'x-2' } }, { ok: true }];
    const server = await provider(() => ({ status: 200, body: answers.shift() }));
    const email = createHttpEmailChannel({ url: server.url, secret: SECRET, header: 'X-Postmark-Server-Token', id: 'postmark' });
    expect(await email.send(mail)).toEqual({ provider: 'postmark', providerMessageId: 'pm-1' });
    expect(await email.send(mail)).toEqual({ provider: 'postmark', providerMessageId: 'x-2' });
    expect(await email.send(mail)).toEqual({ provider: 'postmark' });
    expect(server.requests[0]!.headers['x-postmark-server-token']).toBe(SECRET);
    expect(server.requests[0]!.headers.authorization).toBeUndefined();
  });

  it('email: a 422 is permanent with the provider’s reason; a 502 is retryable', async () => {
    const statuses = [422, 502];
    const server = await provider(() => {
      const status = statuses.shift()!;
      return { status, body: status === 422 ? { error: { message: 'Invalid `to` field' } } : undefined };
    });
    const email = createHttpEmailChannel({ url: server.url, secret: SECRET });
    const refused = await failureOf(email.send(mail));
    expect(isPermanent(refused)).toBe(true);
    expect(refused.message).toBe(`http-email: ${server.url}/ answered 422 (Invalid \`to\` field)`);
    const failed = await failureOf(email.send(mail));
    expect(isPermanent(failed)).toBe(false);
    expect(failed.message).not.toContain(SECRET);
  });

  it('email: check() passes while the endpoint answers anything, and fails once nothing listens', async () => {
    const server = await provider(() => ({ status: 405 }));
    const email = createHttpEmailChannel({ url: server.url, secret: SECRET });
    await email.check!();
    expect(server.requests.map((r) => [r.method, r.headers.authorization])).toEqual([['HEAD', undefined]]);
    await server.close();
    servers.pop();
    await expect(email.check!()).rejects.toThrow(/cannot be reached/);
  });

  it('SMS: posts {from, to, text} as JSON, the message’s sender winning over the configured one', async () => {
    const server = await provider(() => ({ status: 201, body: { id: 'sms_7' } }));
    const sms = createHttpSmsChannel({ url: `${server.url}/sms`, secret: SECRET, from: 'Rekey' });
    expect(await sms.send({ to: '+15551234567', text: 'Code 123456', outboxId: 'msg_2' })).toEqual({ provider: 'http-sms', providerMessageId: 'sms_7' });
    await sms.send({ to: '+15551234567', text: 'Hi', from: '+15550001111', outboxId: 'msg_3' });
    expect(server.requests.map((r) => JSON.parse(r.body))).toEqual([
      { from: 'Rekey', to: '+15551234567', text: 'Code 123456' },
      { from: '+15550001111', to: '+15551234567', text: 'Hi' },
    ]);
    expect(server.requests[0]!.headers).toMatchObject({ authorization: `Bearer ${SECRET}`, 'idempotency-key': 'msg_2' });
  });
});
