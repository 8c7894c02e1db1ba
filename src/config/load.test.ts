import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { ConfigError, loadConfig } from './load.ts';
import { settingsTable } from './schema.ts';

const SECRET = 'load-test-secret-0123456789abcdefghijkl';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rekey-config-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** loadConfig against an explicit environment and a scratch working directory, never the real ones. */
const load = (env: Record<string, string> = {}) => loadConfig({ env: { REKEY_DATA_DIR: dir, ...env }, cwd: dir });
const writeFile = (values: Record<string, unknown>, name = 'rekey.config.json') => {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(values));
  return path;
};
const errorOf = (fn: () => unknown): ConfigError => {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
};

describe('loadConfig', () => {
  test('precedence: environment > config file > default', () => {
    expect(load().port).toBe(8080);
    writeFile({ port: 9000, appName: 'From file' });
    expect(load()).toMatchObject({ port: 9000, appName: 'From file' });
    expect(load({ PORT: '9100' })).toMatchObject({ port: 9100, appName: 'From file' });
    // An empty variable counts as unset.
    expect(load({ PORT: '' }).port).toBe(9000);
  });

  test('in development the per-IP limits default higher; production and test keep the documented defaults; a value set wins', () => {
    const production = { NODE_ENV: 'production', REKEY_SECRET: SECRET, REKEY_BASE_URL: 'https://auth.example.com', REKEY_SMTP_URL: 'smtp://127.0.0.1:25' };
    const limits = (config: ReturnType<typeof load>) => [config.rateLimitIpRequests, config.rateLimitIpVerifications, config.signInFailuresPerIp];
    expect(limits(load(production))).toEqual([30, 30, 100]);
    expect(limits(load({ NODE_ENV: 'test' }))).toEqual([30, 30, 100]);
    expect(limits(load())).toEqual([300, 300, 1000]);
    expect(limits(load({ NODE_ENV: 'development', REKEY_RATE_LIMIT_IP_REQUESTS: '5' }))).toEqual([5, 300, 1000]);
    writeFile({ signInFailuresPerIp: 7 });
    expect(limits(load())).toEqual([300, 300, 7]);
    // The per-address limits are the same everywhere.
    expect(load().rateLimitIdentifierRequests).toBe(load(production).rateLimitIdentifierRequests);
  });

  test('REKEY_CONFIG names the file, which must then exist', () => {
    const path = writeFile({ port: 9200 }, 'elsewhere.json');
    expect(load({ REKEY_CONFIG: path }).port).toBe(9200);
    expect(errorOf(() => load({ REKEY_CONFIG: join(dir, 'missing.json') })).message).toMatch(/REKEY_CONFIG: file not found/);
  });

  test('the result is frozen', () => {
    const config = load({ REKEY_SECRET: SECRET });
    expect(Object.isFrozen(config)).toBe(true);
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  test('a bad PORT names the key', () => {
    expect(errorOf(() => load({ PORT: 'eighty' })).message).toMatch(/^PORT \(port\): /);
    expect(errorOf(() => load({ PORT: '70000' })).message).toContain('PORT');
  });

  test('an unknown key in the config file is refused by name', () => {
    writeFile({ prot: 8080 });
    expect(errorOf(() => load()).message).toMatch(/unknown setting\(s\): prot/);
  });

  test('production refuses to start and names each missing key', () => {
    const all = { NODE_ENV: 'production', REKEY_SECRET: SECRET, REKEY_BASE_URL: 'https://auth.example.com', REKEY_SMTP_URL: 'smtp://mail.example.com:587' };
    const message = errorOf(() => load({ NODE_ENV: 'production' })).message;
    for (const name of ['REKEY_SECRET', 'REKEY_BASE_URL', 'REKEY_SMTP_URL']) expect(message).toContain(name);

    for (const name of ['REKEY_SECRET', 'REKEY_BASE_URL', 'REKEY_SMTP_URL'] as const) {
      const { [name]: _left, ...env } = all;
      const text = errorOf(() => load(env)).message;
      expect(text).toContain(name);
      for (const other of ['REKEY_SECRET', 'REKEY_BASE_URL', 'REKEY_SMTP_URL'].filter((n) => n !== name)) expect(text).not.toContain(other);
    }
    expect(load(all)).toMatchObject({ env: 'production', secret: SECRET, baseUrl: 'https://auth.example.com' });
  });

  test('production with a plain-http base URL is refused', () => {
    const env = { NODE_ENV: 'production', REKEY_SECRET: SECRET, REKEY_SMTP_URL: 'smtp://mail.example.com', REKEY_BASE_URL: 'http://127.0.0.1:8080' };
    expect(errorOf(() => load(env)).message).toContain('REKEY_BASE_URL');
  });

  test('links must be https except on loopback', () => {
    expect(errorOf(() => load({ REKEY_BASE_URL: 'http://example.com' })).message).toMatch(/REKEY_BASE_URL.*https/);
    expect(load({ REKEY_BASE_URL: 'http://127.0.0.1:8080' }).baseUrl).toBe('http://127.0.0.1:8080');
    expect(load({ REKEY_BASE_URL: 'https://auth.example.com/' }).baseUrl).toBe('https://auth.example.com');
    expect(load({ PORT: '9300' }).baseUrl).toBe('http://127.0.0.1:9300');
  });

  test('outside production a secret is generated once into <dataDir>/secret and kept', () => {
    const first = load();
    expect(first.secret.length).toBeGreaterThanOrEqual(32);
    expect(readFileSync(join(dir, 'secret'), 'utf8').trim()).toBe(first.secret);
    expect(load().secret).toBe(first.secret);
    expect(load({ REKEY_SECRET: SECRET }).secret).toBe(SECRET);
  });

  test('the database defaults to a SQLite file in the data dir', () => {
    expect(load({ REKEY_SECRET: SECRET }).databaseUrl).toBe(join(dir, 'rekey.db'));
  });
});

describe('docs/configuration.md', () => {
  test('documents every setting and its environment variable', () => {
    const doc = readFileSync(fileURLToPath(new URL('../../docs/configuration.md', import.meta.url)), 'utf8');
    for (const { key, env } of settingsTable()) {
      expect(doc, `${env} is not documented`).toContain(`\`${env}\``);
      expect(doc, `${key} is not documented`).toContain(`\`${key}\``);
    }
  });
});
