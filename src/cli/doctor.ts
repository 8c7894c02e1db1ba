import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { sql } from 'kysely';
import { z } from 'zod';
import { ConfigError } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { checkProviders, createChannels, planProviders } from '../delivery/index.ts';
import { systemClock } from '../platform/clock.ts';
import { createIds } from '../platform/ids.ts';
import { createLogger } from '../platform/logger.ts';
import { createRateLimits } from '../platform/ratelimit.ts';
import { connect, isPostgresUrl } from '../store/connect.ts';
import { allMigrations } from '../store/migrate.ts';
import { CliError, printJson, type CliContext } from './output.ts';

export interface CheckResult {
  status: 'ok' | 'warn' | 'fail';
  name: string;
  reason: string;
}

/** Neither a dead database nor a dead SMTP server may keep the doctor waiting for minutes. */
const CHECK_TIMEOUT_MS = 10_000;

/**
 * `rekey doctor`: checks what a deployment depends on, one line each. It touches nothing (no migration,
 * no default application), so it is safe against a production database.
 */
export function registerDoctorCommand(program: Command, ctx: CliContext): void {
  program
    .command('doctor')
    .description('check the configuration, the database, Redis, the message providers and the base URL')
    .option('--send-test-mail <address>', 'also send a test mail to this address through the configured email channel', parseAddress)
    .action(async (opts: { sendTestMail?: string }) => {
      const results: CheckResult[] = [];
      let config: Config | undefined;
      try {
        config = ctx.config();
        results.push(checkConfig(config));
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        results.push({ status: 'fail', name: 'config', reason: oneLine(error.message) });
      }
      if (config) {
        results.push(await checkStore(config));
        if (config.redisUrl) results.push(await checkRedis(config.redisUrl));
        results.push(...(await checkChannels(config)), checkBaseUrl(config));
        if (opts.sendTestMail) results.push(await sendTestMail(config, opts.sendTestMail));
      }

      if (ctx.json()) printJson(results);
      else for (const r of results) process.stdout.write(`${r.status} ${r.name}: ${r.reason}\n`);
      const failed = results.filter((r) => r.status === 'fail');
      if (failed.length) {
        const reasons = failed.map((r) => `\n  ${r.name}: ${r.reason}`).join('');
        throw new CliError(`doctor: ${failed.length} check(s) failed:${reasons}`, config ? 1 : 2);
      }
    });
}

function checkConfig(config: Config): CheckResult {
  const secretFile = join(config.dataDir, 'secret');
  if (existsSync(secretFile) && readFileSync(secretFile, 'utf8').trim() === config.secret) {
    return { status: 'warn', name: 'config', reason: `using the generated development secret in ${secretFile}; set REKEY_SECRET` };
  }
  return { status: 'ok', name: 'config', reason: `loaded (NODE_ENV=${config.env})` };
}

async function checkStore(config: Config): Promise<CheckResult> {
  const where = describeDatabase(config.databaseUrl);
  const store = connect(config.databaseUrl, { poolSize: 1 });
  try {
    try {
      await withTimeout(sql`select 1`.execute(store.db), 'the database did not answer');
    } catch (error) {
      return { status: 'fail', name: 'store', reason: `cannot query ${where}: ${messageOf(error)}` };
    }
    let applied: string[];
    try {
      const table = store.schema ? sql.id(store.schema, 'rekey_migrations') : sql.id('rekey_migrations');
      const rows = await sql<{ name: string }>`select name from ${table}`.execute(store.db);
      applied = rows.rows.map((r) => r.name);
    } catch {
      return { status: 'warn', name: 'store', reason: `${where} is not migrated yet: run \`rekey migrate\` (the server also migrates at start)` };
    }
    const known = Object.keys(allMigrations);
    const unknown = applied.filter((name) => !known.includes(name));
    if (unknown.length) {
      return { status: 'fail', name: 'store', reason: `${where} has migrations this version does not know (${unknown.join(', ')}): is this an older Rekey?` };
    }
    const pending = known.filter((name) => !applied.includes(name));
    if (pending.length) {
      return {
        status: 'warn',
        name: 'store',
        reason: `${where}: ${pending.length} pending migration(s): run \`rekey migrate\` (the server also migrates at start)`,
      };
    }
    return { status: 'ok', name: 'store', reason: `${where}, ${applied.length} migrations applied, up to date` };
  } finally {
    await store.close().catch(() => undefined);
  }
}

/**
 * One line per message provider: email (`mail`), `sms` and `chat`, the fallback named as such. Each is described
 * by its type and address only: credentials never print, and failures are scrubbed.
 */
async function checkChannels(config: Config): Promise<CheckResult[]> {
  const checks = await checkProviders(config, { timeoutMs: CHECK_TIMEOUT_MS });
  const results: CheckResult[] = checks.map((check) => {
    const name = `${check.channel === 'email' ? 'mail' : check.channel}${check.role === 'fallback' ? ' (fallback)' : ''}`;
    if (check.role === 'development') {
      // Production cannot get here: the development mailbox is never built there.
      return { status: 'ok', name, reason: `development mailbox (kept, not sent; see ${config.baseUrl}/dev/mailbox)` };
    }
    if (check.ok) return { status: 'ok', name, reason: `${check.describe} answers (${check.source})` };
    return { status: 'fail', name, reason: `cannot use ${check.describe} (${check.source}): ${check.error}` };
  });
  for (const channel of ['sms', 'chat'] as const) {
    if (!checks.some((check) => check.channel === channel)) {
      results.push({ status: 'warn', name: channel, reason: `no provider configured (providers.${channel}): ${channel} messages are not sent` });
    }
  }
  return results;
}

/** Rate limits fall back to per-process memory while Redis is down: the server keeps working, with weaker limits. */
async function checkRedis(redisUrl: string): Promise<CheckResult> {
  const where = withoutCredentials(redisUrl);
  // One connection attempt, no reconnect loop: the doctor reports and exits.
  const limits = createRateLimits({ redisUrl, keyPrefix: 'rekey-doctor', redisOptions: { retryStrategy: () => null } });
  try {
    await withTimeout(limits.ready(), 'Redis did not answer');
    return { status: 'ok', name: 'redis', reason: `${where} answers; rate limits are shared by every server process` };
  } catch (error) {
    return {
      status: 'fail',
      name: 'redis',
      // ratelimit.ts names the server with its password masked; this line names it once, without credentials.
      reason: `cannot reach ${where}: ${messageOf(error).replace(/^Redis at \S+ (is not reachable: )?/, '')} (servers then count rate limits per process)`,
    };
  } finally {
    await limits.close().catch(() => undefined);
  }
}

/**
 * A plain mail through the email channel the server would build (primary, then fallback), with the From the server
 * would use; outside production without a provider, into the development mailbox.
 */
async function sendTestMail(config: Config, to: string): Promise<CheckResult> {
  const mail = {
    to,
    from: config.mailFrom,
    subject: 'Rekey test mail',
    text: `This is a test mail from rekey doctor.\nIf you can read it, mail from Rekey at ${config.baseUrl} reaches this address.\n`,
    html: `<p>This is a test mail from <code>rekey doctor</code>.</p><p>If you can read it, mail from Rekey at ${escapeHtml(config.baseUrl)} reaches this address.</p>`,
    outboxId: `doctor-${createIds().opaque('mail')}`,
  };
  const development = planProviders(config).email[0]?.role === 'development';
  const store = connect(config.databaseUrl, { poolSize: 1 });
  const { email, sms, chat } = createChannels(config, { db: store.db, clock: systemClock, ids: createIds(), logger: createLogger('silent') });
  const where = email.describe?.() ?? email.id;
  try {
    await withTimeout(Promise.resolve(email.send(mail)), 'the mail provider did not answer');
    if (development) return { status: 'ok', name: 'test-mail', reason: `kept in the development mailbox: ${config.baseUrl}/dev/mailbox` };
    return { status: 'ok', name: 'test-mail', reason: `sent to ${to} through ${where}, from ${config.mailFrom}` };
  } catch (error) {
    const hint = development && /no such table|does not exist/.test(messageOf(error)) ? ': run `rekey migrate` first' : '';
    return { status: 'fail', name: 'test-mail', reason: `${where} did not take the mail: ${messageOf(error)}${hint}` };
  } finally {
    await Promise.all([email, sms, chat].map(async (channel) => channel.close?.().catch(() => undefined)));
    await store.close().catch(() => undefined);
  }
}

function parseAddress(value: string): string {
  const parsed = z.email().max(320).safeParse(value.trim());
  if (!parsed.success) throw new InvalidArgumentError(`not an email address: ${value}`);
  return parsed.data;
}

/** `scheme://host:port`: never a user name or password. */
function withoutCredentials(url: string): string {
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.host}`;
}

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function checkBaseUrl(config: Config): CheckResult {
  const url = new URL(config.baseUrl);
  if (url.protocol === 'https:') return { status: 'ok', name: 'base-url', reason: `links use ${url.origin}` };
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname) || url.hostname.endsWith('.localhost');
  if (!loopback) return { status: 'fail', name: 'base-url', reason: `${url.origin} is plain http outside loopback; links must use https://` };
  return {
    status: 'warn',
    name: 'base-url',
    reason: `links use ${url.origin}, which works only on this machine; set REKEY_BASE_URL to the public https:// origin`,
  };
}

/** Where the data lives, without credentials. */
function describeDatabase(url: string): string {
  if (!isPostgresUrl(url)) return `SQLite ${url.replace(/^sqlite:(\/\/)?/, '')}`;
  const parsed = new URL(url);
  return `PostgreSQL ${parsed.host}${parsed.pathname}`;
}

function withTimeout<T>(promise: Promise<T>, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} within ${CHECK_TIMEOUT_MS / 1000} s`)), CHECK_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function messageOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error.message) return oneLine(error.message);
  // pg reports a refused connection as an AggregateError with an empty message.
  const parts = (error as { errors?: unknown[] }).errors?.map((e) => (e instanceof Error ? e.message : String(e)));
  return parts?.length ? parts.join('; ') : ((error as { code?: string }).code ?? error.name);
}

const oneLine = (text: string): string =>
  text
    .split('\n')
    .map((line) => line.trim().replace(/^- /, ''))
    .filter(Boolean)
    .join('; ')
    .replace(/:; /g, ': ');
