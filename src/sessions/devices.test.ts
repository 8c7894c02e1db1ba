import { describe, expect, it } from 'vitest';
import { createTokens } from '../platform/tokens.ts';
import { createSignInDevices, deviceFamilies } from './devices.ts';

const FIREFOX_133 = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';
const FIREFOX_134 = 'Mozilla/5.0 (X11; Linux x86_64; rv:134.0) Gecko/20100101 Firefox/134.0';
const FIREFOX_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0';

describe('sign-in devices', () => {
  const devices = createSignInDevices(createTokens('devices-test-secret-that-is-long-enough-01'));

  it('a device is the browser and OS families: an update is the same device, another OS is another', () => {
    expect(deviceFamilies(FIREFOX_133)).toEqual({ browser: 'Firefox', os: 'Linux' });
    expect(devices.keyOf('user_1', FIREFOX_134)).toBe(devices.keyOf('user_1', FIREFOX_133));
    expect(devices.keyOf('user_1', FIREFOX_WINDOWS)).not.toBe(devices.keyOf('user_1', FIREFOX_133));
    // Nothing to read is one device too: an absent user agent and one that names nothing.
    expect(devices.keyOf('user_1', null)).toBe(devices.keyOf('user_1', 'curl/8.5.0'));
  });

  it('the key is keyed by the server secret and the user: it names no browser and links no two accounts', () => {
    const key = devices.keyOf('user_1', FIREFOX_133);
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(devices.keyOf('user_2', FIREFOX_133)).not.toBe(key);
    const elsewhere = createSignInDevices(createTokens('another-secret-that-is-long-enough-0123456'));
    expect(elsewhere.keyOf('user_1', FIREFOX_133)).not.toBe(key);
  });
});
