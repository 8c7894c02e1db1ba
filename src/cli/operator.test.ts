import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createRekey } from '../compose.ts';
import { loadConfig } from '../config/load.ts';
import type { ConfigInput } from '../config/schema.ts';
import { manualClock, type Clock } from '../platform/clock.ts';
import { createLogger } from '../platform/logger.ts';
import { STORES, type TestStore } from '../store/testing.ts';
import { BIN, cliEnv, rekey, type Result } from './testing.ts';

/** Each test starts the CLI several times, and one start can take seconds on a loaded machine. */
const SLOW = { timeout: 240_000 };
const CLOSED_PORT = 'smtp://127.0.0.1:1';
const PASSWORD = 'correct horse battery staple 42!';

/** A real SMTP server on loopback that keeps the envelope and the raw message of every mail. */
async function smtpSink() {
  const mails: Array<{ from: string; to: string; raw: string }> = [];
  const logins: string[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    // The doctor must log in with the URL's credentials, over a loopback connection without TLS.
    allowInsecureAuth: true,
    onAuth(auth, _session, callback) {
      logins.push(auth.username ?? '');
      callback(null, { user: auth.username });
    },
    logger: false,
    closeTimeout: 50,
    onData(stream, session, callback) {
      let raw = '';
      stream.setEncoding('utf8').on('data', (chunk: string) => (raw += chunk));
      stream.on('end', () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address).join(','),
          raw,
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as { port: number }).port;
  return { mails, logins, url: `smtp://127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** The services in this process, on the CLI's store and secret: setup that is not what a test is about. */
function servicesOn(store: TestStore, env: NodeJS.ProcessEnv, dataDir: string, overrides: Partial<ConfigInput> = {}, clock?: Clock) {
  const config = loadConfig({ env: {}, overrides: { env: 'test', secret: env.REKEY_SECRET!, baseUrl: env.REKEY_BASE_URL!, dataDir, ...overrides } });
  return createRekey({ config, store, logger: createLogger('silent'), ...(clock ? { clock } : {}) });
}

const failedCleanly = (result: Result, code: RegExp) => {
  expect(result.code, result.stdout + result.stderr).not.toBe(0);
  expect(result.stderr).toMatch(code);
  expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
};

for (const factory of STORES) {
  describe(`${factory.name}: rekey apps and deliveries`, SLOW, () => {
    let store: TestStore;
    let dir: string;
    let env: NodeJS.ProcessEnv;

    beforeAll(async () => {
      store = await factory.open();
      dir = mkdtempSync(join(tmpdir(), 'rekey-cli-ops-'));
      env = cliEnv(dir, store.url);
    });
    afterAll(async () => {
      await store?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test('apps create, show, update and delete; bad settings are refused naming the field', async () => {
      const created = await rekey(['--json', 'apps', 'create', 'Billing', '--redirect', 'https://billing.example.com/'], env);
      expect(created.code, created.stderr).toBe(0);
      const app = JSON.parse(created.stdout) as { id: string; client_id: string };

      const updated = await rekey(
        [
          'apps',
          'update',
          app.id,
          '--name',
          'Billing portal',
          '--sign-in-url',
          'https://billing.example.com/login',
          '--support-email',
          'help@billing.example.com',
          '--mail-from',
          'Billing <no-reply@billing.example.com>',
          '--brand-color',
          '#0a7',
          '--add-redirect',
          'https://billing.example.com/after',
        ],
        env,
      );
      expect(updated.code, updated.stderr).toBe(0);
      expect(updated.stdout).toMatch(/^name: +Billing portal$/m);
      expect(updated.stdout).toMatch(/^mail_from: +"Billing" <no-reply@billing\.example\.com>$/m);

      // By client id too; --json has every setting.
      const shown = await rekey(['--json', 'apps', 'show', app.client_id], env);
      expect(JSON.parse(shown.stdout)).toMatchObject({
        id: app.id,
        name: 'Billing portal',
        allowed_redirects: ['https://billing.example.com/', 'https://billing.example.com/after'],
        sign_in_url: 'https://billing.example.com/login',
        support_email: 'help@billing.example.com',
        brand_color: '#0a7',
      });
      const row = await store.db.selectFrom('applications').selectAll().where('id', '=', app.id).executeTakeFirstOrThrow();
      expect(row).toMatchObject({ name: 'Billing portal', mail_from: '"Billing" <no-reply@billing.example.com>' });

      failedCleanly(
        await rekey(['apps', 'update', app.id, '--sign-in-url', 'https://evil.test/login'], env),
        /sign_in_url: .*allow-list.*application_setting_invalid/,
      );
      expect(await store.db.selectFrom('applications').selectAll().where('id', '=', app.id).executeTakeFirstOrThrow()).toEqual(row); // nothing changed

      failedCleanly(await rekey(['apps', 'delete', 'default'], env), /default application cannot be deleted\. \(application_is_default\)/);
      const services = await servicesOn(store, env, dir);
      try {
        const { record } = await services.apps.createKey(app.id, 'live');
        failedCleanly(await rekey(['apps', 'delete', app.id], env), /application_has_active_keys/);
        await services.apps.revokeKey(record.id);
      } finally {
        await services.close();
      }
      const deleted = await rekey(['apps', 'delete', app.id], env);
      expect(deleted.code, deleted.stderr).toBe(0);
      expect(deleted.stderr).toContain(`Deleted ${app.id}`);
      failedCleanly(await rekey(['apps', 'show', app.id], env), /application_not_found/);
    });

    test('deliveries list --status dead shows dead letters without secrets; retry replays one, --all-dead the rest, and one whose sealed part was wiped is refused', async () => {
      // The services in this process, mail to a closed port and one attempt: what fails once is dead. The reset mail
      // is written a token lifetime ago, so the sweep below wipes what it carries; the notices are written now.
      const overrides = { smtpUrl: CLOSED_PORT, deliveryMaxAttempts: 1 };
      const lifetime = 30 * 60_000;
      const earlier = await servicesOn(store, env, dir, overrides, manualClock(Date.now() - lifetime - 60_000));
      let link: string;
      try {
        await earlier.users.create({ email: 'dead@example.test', password: PASSWORD });
        link = (await earlier.resets.createForEmail('dead@example.test', await earlier.apps.getDefault())).url;
        await earlier.dispatcher.drain();
      } finally {
        await earlier.close();
      }
      const services = await servicesOn(store, env, dir, overrides);
      try {
        const user = (await services.users.findByEmail('dead@example.test'))!;
        for (const n of [1, 2]) await services.users.update(user.id, { password: `${PASSWORD} ${n}` });
        await services.dispatcher.drain();
        expect(await services.dispatcher.sweep()).toMatchObject({ 'outbox.dead_sealed_wiped': 1 });
      } finally {
        await services.close();
      }
      const rows = await store.db.selectFrom('outbox').select(['id', 'payload']).where('status', '=', 'dead').orderBy('id').execute();
      const resetMail = rows.find((row) => !row.payload.includes('"sealed"'))!.id;
      const notices = rows.filter((row) => row.id !== resetMail).map((row) => row.id);
      expect(notices).toHaveLength(2);

      const listed = await rekey(['deliveries', 'list', '--status', 'dead'], env);
      expect(listed.code, listed.stderr).toBe(0);
      expect(listed.stdout).toMatch(/^ID +KIND +STATUS +ATTEMPTS/m);
      for (const id of [resetMail, ...notices]) expect(listed.stdout).toMatch(new RegExp(`^${id} +notification\\.step +dead +1 `, 'm'));
      const json = await rekey(['--json', 'deliveries', 'list', '--status', 'dead'], env);
      const dead = JSON.parse(json.stdout) as Array<{ id: string; sealed: string[] }>;
      expect(Object.fromEntries(dead.map((d) => [d.id, d.sealed]))).toEqual({ [resetMail]: [], [notices[0]!]: ['run'], [notices[1]!]: ['run'] });
      expect(json.stdout + listed.stdout).not.toContain(new URL(link).searchParams.get('token'));

      failedCleanly(await rekey(['deliveries', 'retry', resetMail], env), /wiped .*delivery_not_replayable/);

      const one = await rekey(['deliveries', 'retry', notices[0]!], env);
      expect(one.code, one.stderr).toBe(0);
      expect(one.stderr).toContain(`Queued ${notices[0]}`);

      const all = await rekey(['deliveries', 'retry', '--all-dead'], env);
      expect(all.code, all.stderr).toBe(0);
      expect(all.stdout).toContain(`retried ${notices[1]}`);
      expect(all.stdout).toMatch(new RegExp(`^skipped ${resetMail}: .*wiped`, 'm'));

      const pending = JSON.parse((await rekey(['--json', 'deliveries', 'list', '--status', 'pending'], env)).stdout) as Array<{ id: string }>;
      expect(pending.map((d) => d.id).sort()).toEqual([...notices].sort());
    });

    test('doctor fails naming Redis when it is down, and never prints its password', async () => {
      const result = await rekey(['doctor'], { ...env, REKEY_REDIS_URL: 'redis://:hunter2@127.0.0.1:1' });
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(/^fail redis: cannot reach redis:\/\/127\.0\.0\.1:1: .*ECONNREFUSED/m);
      expect(result.stdout).toMatch(/^ok store: /m);
      expect(result.stderr).toMatch(/redis: /);
      expect(result.stdout + result.stderr).not.toContain('hunter2');
    });

    test('doctor --send-test-mail sends through the configured SMTP server, with the configured From', async () => {
      const sink = await smtpSink();
      try {
        const smtpUrl = sink.url.replace('smtp://', 'smtp://mailer:s3cret-pass@');
        const result = await rekey(['doctor', '--send-test-mail', 'ops@example.test'], {
          ...env,
          REKEY_SMTP_URL: smtpUrl,
          REKEY_MAIL_FROM: 'Ops <ops-from@example.test>',
        });
        expect(result.code, result.stdout + result.stderr).toBe(0);
        expect(result.stdout).toMatch(/^ok test-mail: sent to ops@example\.test through SMTP smtp:\/\/127\.0\.0\.1:\d+, from Ops <ops-from@example\.test>$/m);
        expect(result.stdout + result.stderr).not.toContain('s3cret-pass');
        expect(sink.logins).toContain('mailer');
        expect(sink.mails).toEqual([
          expect.objectContaining({ from: 'ops-from@example.test', to: 'ops@example.test', raw: expect.stringContaining('Subject: Rekey test mail') }),
        ]);
      } finally {
        await sink.close();
      }
    });

    test('doctor --send-test-mail without SMTP keeps the mail in the development mailbox', async () => {
      const result = await rekey(['doctor', '--send-test-mail', 'dev@example.test'], env);
      expect(result.code, result.stdout + result.stderr).toBe(0);
      expect(result.stdout).toMatch(/^ok test-mail: kept in the development mailbox: https:\/\/rekey\.example\.test\/dev\/mailbox$/m);
      const mail = await store.db.selectFrom('dev_mailbox').selectAll().where('to', '=', 'dev@example.test').executeTakeFirstOrThrow();
      expect(mail.subject).toBe('Rekey test mail');
    });
  });
}

/** `rekey serve` until its log says `until`; then stopped (SIGTERM to this one child). */
function serveUntil(env: NodeJS.ProcessEnv, until: RegExp, onListening?: (url: string) => Promise<void>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'serve'], { env, cwd: env.REKEY_DATA_DIR, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let asked = false;
    const timer = setTimeout(() => child.kill('SIGTERM'), 120_000);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const listening = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1];
      if (listening && onListening && !asked) {
        asked = true;
        onListening(listening).catch(reject);
      }
      if (until.test(stdout)) child.kill('SIGTERM');
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      if (until.test(stdout)) resolve(stdout);
      else reject(new Error(`serve stopped without ${String(until)}:\n${stdout}\n${stderr}`));
    });
  });
}

describe('rekey serve: the startup banner and development logs', SLOW, () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rekey-serve-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('says the mail goes to the development mailbox, where the pages are and how to get a key; one readable line a request', async () => {
    const env = cliEnv(dir, join(dir, 'dev.db'), { PORT: '0', REKEY_LOG_LEVEL: 'info', REKEY_LOG_FORMAT: 'pretty' });
    const out = await serveUntil(env, /GET \/healthz 200 [\d.]+ ms/, async (url) => void (await fetch(`${url}/healthz`)));
    expect(out).toMatch(/INFO: mail is not sent: it is kept in the development mailbox, https:\/\/rekey\.example\.test\/dev\/mailbox\b/m);
    expect(out).toMatch(/INFO: hosted pages: https:\/\/rekey\.example\.test\/reset$/m);
    expect(out).toMatch(/WARN: the default application has no secret key yet: create one with `npx rekey keys create`/);
    expect(out).not.toMatch(/SMTP/);
    expect(out).not.toMatch(/^\s*\{/m); // no JSON lines
  });

  test('with SMTP says only that, without its password; JSON lines when asked', async () => {
    const env = cliEnv(dir, join(dir, 'smtp.db'), {
      PORT: '0',
      REKEY_LOG_LEVEL: 'info',
      REKEY_LOG_FORMAT: 'json',
      REKEY_SMTP_URL: 'smtp://mailer:s3cret@127.0.0.1:1',
    });
    const out = await serveUntil(env, /hosted pages/);
    const lines = out
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { msg: string; email?: string });
    expect(lines.map((l) => l.msg)).toContain('mail goes out through SMTP smtp://127.0.0.1:1, from Rekey <no-reply@rekey.localhost>');
    expect(lines.find((l) => l.msg.startsWith('Rekey is listening'))?.email).toBe('SMTP smtp://127.0.0.1:1');
    // SMS and chat may still land in the development mailbox; mail is said to go one way only.
    expect(lines.filter((l) => /mail is not sent|dev\/mailbox/.test(l.msg))).toEqual([]);
    expect(out).not.toContain('s3cret');
  });
});
