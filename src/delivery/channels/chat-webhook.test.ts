import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../platform/clock.ts';
import { createChatWebhookChannel } from './chat-webhook.ts';
import { startTestProvider, type TestProvider } from '../testing.ts';

const SECRET = `whsec_${Buffer.from('a chat webhook signing secret!!').toString('base64')}`;

describe('chat webhook', () => {
  let server: TestProvider | undefined;
  afterEach(async () => {
    await server?.close();
  });

  it('posts Slack-style text with data, signed as Standard Webhooks, the outbox id as webhook-id', async () => {
    server = await startTestProvider(() => ({ status: 200 }));
    const clock = manualClock(Date.UTC(2026, 0, 2, 3, 4, 5));
    const chat = createChatWebhookChannel({ url: `${server.url}/hooks/rekey`, secret: SECRET }, { clock });

    const result = await chat.send({ text: 'Ada reset her password', data: { workflowId: 'password-changed', subscriberId: 'user_1' }, outboxId: 'msg_9' });

    expect(result).toEqual({ provider: 'chat-webhook', providerMessageId: 'msg_9' });
    const [request] = server.requests;
    expect(request!.path).toBe('/hooks/rekey');
    expect(request!.headers).toMatchObject({ 'webhook-id': 'msg_9', 'webhook-timestamp': String(Date.UTC(2026, 0, 2, 3, 4, 5) / 1000) });
    expect(JSON.parse(request!.body)).toEqual({
      type: 'chat.message',
      timestamp: '2026-01-02T03:04:05.000Z',
      text: 'Ada reset her password',
      data: { workflowId: 'password-changed', subscriberId: 'user_1' },
    });
    // The receiver's check, as the library computes it for that id, time and body (verify() would also want the time to be now).
    const receiver = new Webhook(SECRET);
    const signedAt = new Date(clock.now());
    expect(request!.headers['webhook-signature']).toBe(receiver.sign('msg_9', signedAt, request!.body));
    expect(receiver.sign('msg_9', signedAt, request!.body.replace('Ada', 'Eve'))).not.toBe(request!.headers['webhook-signature']);
    expect(() => receiver.verify(request!.body, request!.headers as Record<string, string>)).toThrow(/timestamp/i);
  });

  it('a refusal is permanent, an outage retryable', async () => {
    const statuses = [404, 503];
    server = await startTestProvider(() => ({ status: statuses.shift()! }));
    const chat = createChatWebhookChannel({ url: server.url, secret: SECRET }, { clock: manualClock(0) });
    await expect(chat.send({ text: 'x', outboxId: 'msg_1' })).rejects.toMatchObject({ permanent: true, status: 404 });
    await expect(chat.send({ text: 'x', outboxId: 'msg_1' })).rejects.toMatchObject({ permanent: false, status: 503 });
  });
});
