import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load.ts';
import type { ConfigInput } from '../config/schema.ts';
import { manualClock } from '../platform/clock.ts';
import { createIds } from '../platform/ids.ts';
import { writeTogether } from '../store/compiled.ts';
import { STORES, type TestStore } from '../store/testing.ts';
import { listDevMailbox } from './channels/dev-mailbox.ts';
import { failureOf, startTestProvider, twilioAnswer, type TestProvider } from './testing.ts';
import { isPermanent } from './dispatcher.ts';
import { createChannels, describeChannels, planProviders } from './providers.ts';

const SECRET = 'providers-test-secret-0123456789abcdef';
const TOKEN = 'twilio-token-that-must-never-print';
const ids = createIds();

describe('channels built from the configuration', () => {
  let dir: string;
  let store: TestStore;
  const servers: TestProvider[] = [];
  const closers: Array<() => Promise<unknown>> = [];
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rekey-channels-'));
    store = await STORES[0]!.open();
  });
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
    for (const server of servers.splice(0)) await server.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const config = (overrides: Partial<ConfigInput>, env: Record<string, string> = {}) =>
    loadConfig({ env: { REKEY_DATA_DIR: dir, REKEY_SECRET: SECRET, ...env }, cwd: dir, overrides });
  const channelsOf = (c: ReturnType<typeof config>) => {
    const channels = createChannels(c, { db: store.db, clock: manualClock(Date.UTC(2026, 0, 1)), ids });
    closers.push(() => Promise.all(Object.values(channels).map((channel) => channel.close?.())));
    return channels;
  };

  it('with nothing configured, outside production, every channel lands in the development mailbox; SMS marked as SMS', async () => {
    const c = config({});
    expect(planProviders(c)).toEqual({
      email: [{ channel: 'email', role: 'development', source: 'development mailbox' }],
      sms: [{ channel: 'sms', role: 'development', source: 'development mailbox' }],
      chat: [{ channel: 'chat', role: 'development', source: 'development mailbox' }],
    });
    const { email, sms, chat } = channelsOf(c);
    expect([email.id, sms.id, chat.id]).toEqual(['dev-mailbox', 'dev-mailbox', 'dev-mailbox']);
    // The engine commits the write with the outbox "sent" mark.
    await writeTogether(store.db, [sms.write!({ to: '+15551234567', text: 'Your Rekey code is 123456', outboxId: 'msg_1' })]);
    expect(await sms.send({ to: '+15551234567', text: 'Second', from: 'Rekey', outboxId: 'msg_2' })).toEqual({ provider: 'dev-mailbox' });
    await chat.send({ text: 'Ada reset her password', data: { workflowId: 'password-changed' }, outboxId: 'msg_3' });

    const messages = await listDevMailbox(store.db, { limit: 10 });
    expect(messages.map(({ channel, to, from, subject, text, html }) => ({ channel, to, from, subject, text, html }))).toEqual(
      expect.arrayContaining([
        { channel: 'sms', to: '+15551234567', from: '', subject: '', text: 'Your Rekey code is 123456', html: '' },
        { channel: 'sms', to: '+15551234567', from: 'Rekey', subject: '', text: 'Second', html: '' },
        { channel: 'chat', to: 'chat webhook', from: '', subject: '', text: 'Ada reset her password\n\n{\n  "workflowId": "password-changed"\n}', html: '' },
      ]),
    );
  });

  it('smtpUrl is the SMTP primary', () => {
    const c = config({ smtpUrl: 'smtp://user:pass@127.0.0.1:2525' });
    expect(planProviders(c).email).toEqual([
      { channel: 'email', role: 'primary', source: 'smtpUrl', spec: { type: 'smtp', url: 'smtp://user:pass@127.0.0.1:2525', maxConnections: 5 } },
    ]);
    expect(describeChannels(channelsOf(c)).email).toBe('SMTP smtp://127.0.0.1:2525');
  });

  it('SMS goes to a Twilio-compatible server over real HTTP, falling back to a second one that is named in the result', async () => {
    const primary = await startTestProvider(() => ({ status: 503 }));
    const secondary = await startTestProvider(twilioAnswer);
    servers.push(primary, secondary);
    const twilio = (baseUrl: string) => ({ type: 'twilio', accountSid: 'AC1', authToken: { env: 'TWILIO_AUTH_TOKEN' }, from: '+15550001111', baseUrl });
    const c = config(
      {},
      { TWILIO_AUTH_TOKEN: TOKEN, REKEY_PROVIDERS: JSON.stringify({ sms: { primary: twilio(primary.url), fallback: twilio(secondary.url) } }) },
    );
    const { sms } = channelsOf(c);

    const result = await sms.send({ to: '+15551234567', text: 'Your Rekey code is 123456', outboxId: 'msg_1' });

    expect(result).toMatchObject({ provider: 'twilio-fallback', providerMessageId: expect.stringMatching(/^SM/), failedOver: { provider: 'twilio' } });
    expect(new URLSearchParams(secondary.requests[0]!.body).get('Body')).toBe('Your Rekey code is 123456');
    expect(primary.requests).toHaveLength(1);
    const described = describeChannels(channelsOf(c));
    expect(described.sms).toBe(`Twilio-compatible API ${primary.url} (account …AC1), falling back to Twilio-compatible API ${secondary.url} (account …AC1)`);
    expect(JSON.stringify(described)).not.toContain(TOKEN);
  });

  it('in production a channel nobody configured sends nothing anywhere: its messages are refused for good', async () => {
    const c = config({ env: 'production', baseUrl: 'https://auth.example.com', smtpUrl: 'smtp://127.0.0.1:2525' });
    expect(planProviders(c).sms).toEqual([]);
    const { sms, chat } = channelsOf(c);
    const error = await failureOf(sms.send({ to: '+15551234567', text: 'x', outboxId: 'msg_1' }));
    expect(isPermanent(error)).toBe(true);
    expect(error.message).toBe('no sms provider is configured (providers.sms)');
    expect(sms.write).toBeUndefined();
    expect(chat.describe!()).toBe('none configured');
  });
});
