import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { ensurePrivateDir, restrictToOwner } from '../platform/private-files.ts';
import { EnvReferenceError, isLoopbackUrl, providerUrls, resolveEnvReferences } from './providers.ts';
import { configSchema, DEVELOPMENT_DEFAULTS, settingsTable, type Config, type ConfigInput } from './schema.ts';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Values that win over file and environment (tests, CLI flags). */
  overrides?: Partial<ConfigInput>;
}

/** The one place that reads `process.env`: env vars and an optional `rekey.config.json`, validated and frozen. */
export function loadConfig({ env = process.env, cwd = process.cwd(), overrides = {} }: LoadOptions = {}): Config {
  const configPath = env.REKEY_CONFIG ?? join(cwd, 'rekey.config.json');
  const fromFile = readConfigFile(configPath, Boolean(env.REKEY_CONFIG));
  const fromEnv: Record<string, string> = {};
  for (const { key, env: name } of settingsTable()) {
    const value = env[name];
    if (value !== undefined && value !== '') fromEnv[key] = value;
  }
  const merged: Record<string, unknown> = { ...fromFile, ...fromEnv, ...stripUndefined(overrides) };
  if (merged.providers !== undefined) merged.providers = providerInput(merged.providers, env);
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) throw new ConfigError(describeIssues(parsed.error));
  const raw = { ...parsed.data };
  if (raw.env === 'development') {
    for (const [key, value] of Object.entries(DEVELOPMENT_DEFAULTS)) if (!(key in merged)) Object.assign(raw, { [key]: value });
  }

  const dataDir = isAbsolute(raw.dataDir) ? raw.dataDir : resolve(cwd, raw.dataDir);
  const production = raw.env === 'production';
  const missing: string[] = [];
  if (production && !raw.secret) missing.push('REKEY_SECRET (required in production)');
  if (production && !raw.baseUrl?.startsWith('https://')) missing.push('REKEY_BASE_URL (an https:// origin is required in production)');
  if (production && !raw.smtpUrl && !raw.providers?.email) {
    missing.push('REKEY_SMTP_URL or providers.email (production needs a real mail channel; the development mailbox is off)');
  }
  // Credentials travel with every request to a provider: never in the clear across a network.
  if (production) {
    for (const { path, url } of providerUrls(raw.providers)) {
      if (url.startsWith('http:') && !isLoopbackUrl(url)) missing.push(`${path} (an https:// URL is required in production)`);
    }
  }
  if (missing.length) throw new ConfigError(`cannot start in production:\n  - ${missing.join('\n  - ')}`);
  if (raw.smtpUrl && raw.providers?.email) {
    throw new ConfigError('REKEY_SMTP_URL (smtpUrl) and providers.email are both set: keep one (smtpUrl is shorthand for an SMTP primary)');
  }

  const baseUrl = (raw.baseUrl ?? `http://127.0.0.1:${raw.port}`).replace(/\/+$/, '');
  assertLinkOrigin(baseUrl);
  const config = {
    ...raw,
    dataDir,
    baseUrl,
    secret: raw.secret ?? developmentSecret(dataDir),
    databaseUrl: raw.databaseUrl ?? join(dataDir, 'rekey.db'),
    // An action's relative path is read from the config file's directory (the working directory without a file).
    actions: {
      ...raw.actions,
      postChallenge: raw.actions.postChallenge.map((a) => ({ ...a, path: resolve(existsSync(configPath) ? dirname(resolve(cwd, configPath)) : cwd, a.path) })),
    },
  };
  return Object.freeze(config);
}

/** SEC-22: links are https, except a loopback origin (the embedded development default). */
function assertLinkOrigin(baseUrl: string): void {
  const url = new URL(baseUrl);
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname) || url.hostname.endsWith('.localhost');
  if (url.protocol !== 'https:' && !loopback) {
    throw new ConfigError(`REKEY_BASE_URL: links must use https:// (plain http is only allowed on loopback), got ${url.origin}`);
  }
}

function readConfigFile(path: string, required: boolean): Record<string, unknown> {
  if (!existsSync(path)) {
    if (required) throw new ConfigError(`REKEY_CONFIG: file not found: ${path}`);
    return {};
  }
  try {
    const value: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('expected a JSON object');
    return value as Record<string, unknown>;
  } catch (error) {
    throw new ConfigError(`${path}: ${(error as Error).message}`);
  }
}

/**
 * Outside production the secret is generated once and kept in the data dir, so restarts keep tokens valid.
 * It keys every token HMAC and seal: the directory is created 0700, the file is 0600 (SEC-49).
 */
function developmentSecret(dataDir: string): string {
  const path = join(dataDir, 'secret');
  if (existsSync(path)) {
    restrictToOwner(path);
    return readFileSync(path, 'utf8').trim();
  }
  ensurePrivateDir(dataDir);
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(path, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  return secret;
}

/** `REKEY_PROVIDERS` arrives as JSON text; a config file or an override gives the object itself. */
function providerInput(value: unknown, env: NodeJS.ProcessEnv): unknown {
  let input = value;
  if (typeof value === 'string') {
    try {
      input = JSON.parse(value);
    } catch {
      // Never the text itself: it holds credentials.
      throw new ConfigError('REKEY_PROVIDERS (providers): not valid JSON');
    }
  }
  try {
    return resolveEnvReferences(input, env, 'providers');
  } catch (error) {
    if (!(error instanceof EnvReferenceError)) throw error;
    throw new ConfigError(`REKEY_PROVIDERS (${error.path}): the environment variable ${error.variable} is not set`);
  }
}

function describeIssues(error: z.ZodError): string {
  const envOf = new Map(settingsTable().map((s) => [s.key, s.env]));
  return error.issues
    .map((issue) => {
      const key = String(issue.path[0] ?? '');
      const name = envOf.get(key);
      // Nested settings (providers) are named by their whole path; a value is never echoed (it may be a credential).
      const where = issue.path.map(String).join('.');
      if (issue.code === 'unrecognized_keys')
        return issue.path.length ? `${name} (${where}): unknown key(s): ${issue.keys.join(', ')}` : `unknown setting(s): ${issue.keys.join(', ')}`;
      return `${name ? `${name} (${where})` : where}: ${issue.message}`;
    })
    .join('\n');
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
