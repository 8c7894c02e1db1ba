import { afterEach, describe, expect, it } from 'vitest';
import { isPermanent } from '../dispatcher.ts';
import { failureOf, startTestProvider, twilioAnswer, type TestProvider } from '../testing.ts';
import { createTwilioChannel } from './twilio.ts';

const SID = 'AC00000000000000000000000000000001';
const TOKEN = 'twilio-auth-token-never-printed';

describe('Twilio-compatible SMS provider', () => {
  const servers: TestProvider[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) await server.close();
  });
  const twilio = async (answer = twilioAnswer) => {
    const server = await startTestProvider(answer);
    servers.push(server);
    return server;
  };

  it('posts the form to Messages.json with basic auth, and returns the sid', async () => {
    const server = await twilio();
    const sms = createTwilioChannel({ accountSid: SID, authToken: TOKEN, from: '+15550001111', baseUrl: `${server.url}/` });

    const result = await sms.send({ to: '+15551234567', text: 'Your Rekey code is 123456. It expires in 10 minutes.', outboxId: 'msg_1' });

    expect(server.requests).toHaveLength(1);
    const [request] = server.requests;
    expect(request!.method).toBe('POST');
    expect(request!.path).toBe(`/2010-04-01/Accounts/${SID}/Messages.json`);
    expect(request!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(request!.headers.authorization).toBe(`Basic ${Buffer.from(`${SID}:${TOKEN}`).toString('base64')}`);
    expect(Object.fromEntries(new URLSearchParams(request!.body))).toEqual({
      To: '+15551234567',
      From: '+15550001111',
      Body: 'Your Rekey code is 123456. It expires in 10 minutes.',
    });
    expect(result).toEqual({ provider: 'twilio', providerMessageId: expect.stringMatching(/^SM\d{32}$/) });
  });

  it('sends through a messaging service, signs in with an API key, and lets a message name its sender', async () => {
    const server = await twilio();
    const sms = createTwilioChannel({
      id: 'twilio-eu',
      accountSid: SID,
      apiKeySid: 'SK0000000000000000000000000000000a',
      authToken: TOKEN,
      messagingServiceSid: 'MG00000000000000000000000000000002',
      baseUrl: server.url,
    });
    await sms.send({ to: '+33612345678', text: 'Bonjour', outboxId: 'msg_2' });
    await sms.send({ to: '+33612345678', text: 'Again', from: 'Rekey', outboxId: 'msg_3' });

    const forms = server.requests.map((r) => Object.fromEntries(new URLSearchParams(r.body)));
    expect(forms[0]).toEqual({ To: '+33612345678', Body: 'Bonjour', MessagingServiceSid: 'MG00000000000000000000000000000002' });
    expect(forms[1]).toMatchObject({ From: 'Rekey', MessagingServiceSid: 'MG00000000000000000000000000000002' });
    expect(server.requests[0]!.headers.authorization).toBe(`Basic ${Buffer.from(`SK0000000000000000000000000000000a:${TOKEN}`).toString('base64')}`);
  });

  it('takes a 4xx as permanent, with Twilio’s reason, and never the credentials', async () => {
    const server = await twilio();
    const sms = createTwilioChannel({ accountSid: SID, authToken: TOKEN, from: '+15550001111', baseUrl: server.url });
    const error = await failureOf(sms.send({ to: '5551234567', text: 'x', outboxId: 'msg_4' }));
    expect(isPermanent(error)).toBe(true);
    expect(error).toMatchObject({ status: 400 });
    expect((error as Error).message).toBe(
      `twilio: ${server.url}/2010-04-01/Accounts/${SID}/Messages.json answered 400 (code 21211: The 'To' number is not a valid phone number.)`,
    );
    expect((error as Error).message).not.toContain(TOKEN);
  });

  it.each([
    [500, { code: 20500, message: 'Internal Server Error' }],
    [503, undefined],
    [429, { code: 20429, message: 'Too Many Requests' }],
  ])('takes a %i as retryable', async (status, body) => {
    const server = await twilio(() => ({ status, body }));
    const sms = createTwilioChannel({ accountSid: SID, authToken: TOKEN, from: '+15550001111', baseUrl: server.url });
    const error = await failureOf(sms.send({ to: '+15551234567', text: 'x', outboxId: 'msg_5' }));
    expect(error).toMatchObject({ status, permanent: false });
  });

  it('takes no answer as retryable: a closed port, and a server that hangs past the timeout', async () => {
    const closed = await twilio();
    await closed.close();
    servers.pop();
    const down = createTwilioChannel({ accountSid: SID, authToken: TOKEN, from: '+1', baseUrl: closed.url });
    const refused = await failureOf(down.send({ to: '+15551234567', text: 'x', outboxId: 'msg_6' }));
    expect(refused).toMatchObject({ permanent: false, message: expect.stringContaining('cannot be reached (ECONNREFUSED)') });

    const slow = await twilio(() => ({ status: 201, body: { sid: 'SMlate' }, delayMs: 5_000 }));
    const hanging = createTwilioChannel({ accountSid: SID, authToken: TOKEN, from: '+1', baseUrl: slow.url, timeoutMs: 200 });
    const timedOut = await failureOf(hanging.send({ to: '+15551234567', text: 'x', outboxId: 'msg_7' }));
    expect(timedOut).toMatchObject({ permanent: false, message: expect.stringContaining('did not answer within 200 ms') });
  });

  it('checks the credentials by fetching the account, sending nothing', async () => {
    const server = await twilio((request) =>
      request.headers.authorization === `Basic ${Buffer.from(`${SID}:${TOKEN}`).toString('base64')}`
        ? { status: 200, body: { sid: SID, status: 'active' } }
        : { status: 401, body: { code: 20003, message: 'Authenticate' } },
    );
    await createTwilioChannel({ accountSid: SID, authToken: TOKEN, from: '+1', baseUrl: server.url }).check!();
    const wrong = createTwilioChannel({ accountSid: SID, authToken: 'wrong-token', from: '+1', baseUrl: server.url });
    await expect(wrong.check!()).rejects.toThrow(/answered 401 \(code 20003: Authenticate\)/);
    expect(server.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`GET /2010-04-01/Accounts/${SID}.json`, `GET /2010-04-01/Accounts/${SID}.json`]);
    expect(wrong.describe!()).toBe(`Twilio-compatible API ${server.url} (account …0001)`);
  });
});
