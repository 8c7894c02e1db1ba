import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { ConfigError, loadConfig } from './load.ts';

const SECRET = 'load-test-secret-0123456789abcdefghijkl';
const TOKEN = 'twilio-token-that-must-never-print';
const WHSEC = `whsec_${Buffer.from('a chat webhook signing secret!!').toString('base64')}`;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rekey-providers-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const load = (env: Record<string, string> = {}) => loadConfig({ env: { REKEY_DATA_DIR: dir, ...env }, cwd: dir });
const errorOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error('expected a ConfigError');
};
const twilio = { type: 'twilio', accountSid: 'AC1', authToken: TOKEN, from: '+15550001111' };
const production = { NODE_ENV: 'production', REKEY_SECRET: SECRET, REKEY_BASE_URL: 'https://auth.example.com' };

describe('providers configuration', () => {
  test('none by default; REKEY_PROVIDERS takes JSON, with defaults filled in', () => {
    expect(load().providers).toBeUndefined();
    const config = load({
      REKEY_PROVIDERS: JSON.stringify({ sms: { primary: twilio, fallback: { type: 'http', url: 'https://sms.example.com/send', secret: 's' } } }),
    });
    expect(config.providers).toEqual({
      sms: {
        primary: { ...twilio, baseUrl: 'https://api.twilio.com', timeoutMs: 10_000 },
        fallback: { type: 'http', url: 'https://sms.example.com/send', secret: 's', header: 'authorization', timeoutMs: 10_000 },
      },
    });
  });

  test('a config file names credentials as { "env": NAME }, read from that variable', () => {
    writeFileSync(
      join(dir, 'rekey.config.json'),
      JSON.stringify({
        providers: {
          sms: { primary: { ...twilio, authToken: { env: 'TWILIO_AUTH_TOKEN' } } },
          chat: { primary: { type: 'webhook', url: 'https://chat.example.com/hook', secret: { env: 'CHAT_SECRET' } } },
        },
      }),
    );
    const config = load({ TWILIO_AUTH_TOKEN: TOKEN, CHAT_SECRET: WHSEC });
    expect(config.providers?.sms?.primary).toMatchObject({ authToken: TOKEN });
    expect(config.providers?.chat?.primary).toMatchObject({ secret: WHSEC });
    expect(errorOf(() => load({ CHAT_SECRET: WHSEC }))).toBe(
      'REKEY_PROVIDERS (providers.sms.primary.authToken): the environment variable TWILIO_AUTH_TOKEN is not set',
    );
  });

  test('errors name the nested key and never echo a value', () => {
    const bad = (providers: unknown) => errorOf(() => load({ REKEY_PROVIDERS: typeof providers === 'string' ? providers : JSON.stringify(providers) }));
    expect(bad(`{"sms": {"primary": {"authToken": "${TOKEN}"`)).toBe('REKEY_PROVIDERS (providers): not valid JSON');
    expect(bad({ sms: { primary: { ...twilio, from: undefined } } })).toBe(
      'REKEY_PROVIDERS (providers.sms.primary.from): needs `from` or `messagingServiceSid`',
    );
    expect(bad({ sms: { primary: { ...twilio, authTokn: TOKEN } } })).toBe('REKEY_PROVIDERS (providers.sms.primary): unknown key(s): authTokn');
    expect(bad({ pager: {} })).toBe('REKEY_PROVIDERS (providers): unknown key(s): pager');
    expect(bad({ email: { primary: { type: 'carrier-pigeon' } } })).toMatch(/^REKEY_PROVIDERS \(providers\.email\.primary\.type\): /);
    expect(bad({ chat: { primary: { type: 'webhook', url: 'https://x.example', secret: TOKEN } } })).toMatch(
      /^REKEY_PROVIDERS \(providers\.chat\.primary\.secret\): a Standard Webhooks secret/,
    );
    for (const providers of [
      { sms: { primary: { ...twilio, from: 5 } } },
      { chat: { primary: { type: 'webhook', url: 'https://x.example', secret: TOKEN } } },
    ]) {
      expect(bad(providers)).not.toContain(TOKEN);
    }
  });

  test('smtpUrl and providers.email are one or the other', () => {
    expect(
      errorOf(() =>
        load({
          REKEY_SMTP_URL: 'smtp://127.0.0.1:2525',
          REKEY_PROVIDERS: JSON.stringify({ email: { primary: { type: 'smtp', url: 'smtp://127.0.0.1:2526' } } }),
        }),
      ),
    ).toMatch(/smtpUrl\) and providers\.email are both set/);
  });

  test('production starts with an email provider instead of smtpUrl, and refuses plain http to a provider off loopback', () => {
    expect(errorOf(() => load(production))).toContain('REKEY_SMTP_URL or providers.email');
    const email = { primary: { type: 'http', url: 'https://mail.example.com/send', secret: 's' } };
    expect(load({ ...production, REKEY_PROVIDERS: JSON.stringify({ email }) }).providers?.email?.primary).toMatchObject({ type: 'http' });
    const plain = {
      email,
      sms: { primary: { ...twilio, baseUrl: 'http://sms.example.com' }, fallback: { type: 'http', url: 'http://127.0.0.1:9000/sms', secret: 's' } },
    };
    const message = errorOf(() => load({ ...production, REKEY_PROVIDERS: JSON.stringify(plain) }));
    expect(message).toContain('providers.sms.primary.baseUrl (an https:// URL is required in production)');
    expect(message).not.toContain('providers.sms.fallback');
    // Outside production, plain http anywhere (a local test provider).
    expect(load({ REKEY_PROVIDERS: JSON.stringify(plain) }).providers?.sms?.primary).toMatchObject({ baseUrl: 'http://sms.example.com' });
  });
});
