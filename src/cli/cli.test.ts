import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { STORES, type TestStore } from '../store/testing.ts';
import { startTestProvider } from '../delivery/testing.ts';
import { renderConfigurationDoc } from './config-docs.ts';
import { BASE_URL, cliEnv, rekey, SLOW } from './testing.ts';

const DOC = fileURLToPath(new URL('../../docs/configuration.md', import.meta.url));
const PASSWORD = 'correct horse battery staple 42!';

for (const factory of STORES) {
  describe(`${factory.name}: rekey CLI`, SLOW, () => {
    let store: TestStore;
    let dir: string;
    let env: NodeJS.ProcessEnv;

    beforeAll(async () => {
      store = await factory.open();
      dir = mkdtempSync(join(tmpdir(), 'rekey-cli-'));
      env = cliEnv(dir, store.url);
    });
    afterAll(async () => {
      await store?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test('keys create prints an sk_ key once; keys list shows its hint, never the key', async () => {
      const created = await rekey(['keys', 'create', '--name', 'ci'], env);
      expect(created.code, created.stderr).toBe(0);
      const key = created.stdout.trim();
      expect(key).toMatch(/^sk_[A-Za-z0-9_-]{20,}$/);
      expect(created.stderr).toMatch(/cannot show it again/);

      const listed = await rekey(['keys', 'list'], env);
      expect(listed.code, listed.stderr).toBe(0);
      expect(listed.stdout).toContain(key.slice(0, 10));
      expect(listed.stdout).not.toContain(key);
      const json = await rekey(['keys', 'list', '--json'], env);
      expect(JSON.parse(json.stdout)).toEqual([expect.objectContaining({ name: 'ci', revoked_at: null })]);
      expect(json.stdout).not.toContain(key);

      const row = await store.db.selectFrom('api_keys').selectAll().executeTakeFirstOrThrow();
      expect(Object.values(row)).not.toContain(key);
    });

    test('users create --password-stdin, then users list --json shows the user', async () => {
      const created = await rekey(['users', 'create', 'Ada@Example.test', '--password-stdin', '--first-name', 'Ada', '--verified'], env, `${PASSWORD}\n`);
      expect(created.code, created.stderr).toBe(0);

      const listed = await rekey(['users', 'list', '--json', '--email', 'ada@example.test'], env);
      expect(listed.code, listed.stderr).toBe(0);
      const users = JSON.parse(listed.stdout) as Array<Record<string, unknown>>;
      expect(users).toEqual([expect.objectContaining({ object: 'user', email: 'ada@example.test', first_name: 'Ada', email_verified: true })]);
      expect(listed.stdout).not.toMatch(/password_hash|argon2/);

      // The trailing newline from stdin is not part of the password.
      const user = await store.db.selectFrom('users').select('password_hash').where('email', '=', 'ada@example.test').executeTakeFirstOrThrow();
      expect(user.password_hash).toMatch(/^\$argon2id\$/);
    });

    test('users create, users list and reset refuse the input the API refuses, say why, and create nothing', async () => {
      const refused = async (args: string[], reason: RegExp, input?: string) => {
        const result = await rekey(args, env, input);
        expect(result.code, args.join(' ')).not.toBe(0);
        expect(result.stderr, args.join(' ')).toMatch(reason);
        expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
        expect(result.stdout).toBe('');
      };
      const invalidEmail = /argument 'email'\. Invalid email address/;
      await refused(['users', 'create', 'not-an-email'], invalidEmail);
      await refused(['users', 'create', `${'a'.repeat(320)}@example.test`], /Too big: expected string to have <=320 characters/);
      await refused(['users', 'create', 'long.name@example.test', '--first-name', 'x'.repeat(201)], /option '--first-name <name>'.*Too big/);
      await refused(['users', 'create', 'long.password@example.test', '--password-stdin'], /invalid password: Too big/, `${'p'.repeat(4097)}\n`);
      await refused(['users', 'list', '--email', 'not-an-email'], /option '--email <email>'.*Invalid email address/);
      await refused(['users', 'list', '--limit', '0'], /option '--limit <n>'.*Too small/);
      await refused(['reset', 'not-an-email'], invalidEmail);

      const users = await store.db.selectFrom('users').select('email').execute();
      expect(users.map((u) => u.email)).not.toEqual(expect.arrayContaining([expect.stringMatching(/not-an-email|long\.(name|password)@|a{320}/)]));
      expect(users.filter((u) => !u.email.includes('@'))).toEqual([]);
    });

    test('reset EMAIL prints a one-time link under REKEY_BASE_URL and queues the mail', async () => {
      const result = await rekey(['reset', 'ada@example.test'], env);
      expect(result.code, result.stderr).toBe(0);
      const url = new URL(result.stdout.trim());
      expect(url.origin).toBe(BASE_URL);
      expect(url.searchParams.get('token')).toMatch(/^[A-Za-z0-9_-]{40,}$/);

      const reset = await store.db.selectFrom('password_resets').selectAll().where('email', '=', 'ada@example.test').executeTakeFirstOrThrow();
      expect(Object.values(reset)).not.toContain(url.searchParams.get('token'));
      const queued = await store.db.selectFrom('outbox').select(['status', 'payload']).where('kind', '=', 'notification.step').execute();
      // The server's dispatcher sends it; the CLI does not without --send-now.
      expect(queued.map((row) => row.status)).toEqual(['pending']);
      expect(queued[0]!.payload).not.toContain(url.searchParams.get('token'));
    });

    test('reset of an unknown email exits 1', async () => {
      const result = await rekey(['reset', 'unknown@x.test'], env);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/no user with this email/i);
      expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(result.stdout).toBe('');
    });

    test('doctor passes on a good setup', async () => {
      const result = await rekey(['doctor'], env);
      expect(result.code, result.stdout + result.stderr).toBe(0);
      expect(result.stdout).toMatch(/^ok store: .*up to date$/m);
      expect(result.stdout).toMatch(/^ok mail: development mailbox/m);
      expect(result.stdout).toMatch(/^ok base-url: /m);
    });

    test('doctor fails, naming the mail check, when the SMTP server is unreachable', async () => {
      const result = await rekey(['doctor'], { ...env, REKEY_SMTP_URL: 'smtp://user:hunter2@127.0.0.1:1' });
      expect(result.code).not.toBe(0);
      expect(result.stdout).toMatch(/^fail mail: .*127\.0\.0\.1:1/m);
      expect(result.stderr).toMatch(/mail: /);
      expect(result.stdout + result.stderr).not.toContain('hunter2');
    });

    test('doctor checks every provider, fallback included, and prints no credential', async () => {
      const token = 'twilio-token-never-printed';
      const sid = 'AC00000000000000000000000000000001';
      const twilio = await startTestProvider(() => ({ status: 401, body: { code: 20003, message: 'Authenticate' } }));
      const backup = await startTestProvider(() => ({ status: 405 }));
      try {
        const providers = {
          sms: {
            primary: { type: 'twilio', accountSid: sid, authToken: { env: 'TWILIO_TOKEN' }, from: '+15550001111', baseUrl: twilio.url },
            fallback: { type: 'http', url: `${backup.url}/sms?key=in-the-query`, secret: 'http-sms-secret' },
          },
        };
        const result = await rekey(['doctor'], { ...env, TWILIO_TOKEN: token, REKEY_PROVIDERS: JSON.stringify(providers) });
        expect(result.code).not.toBe(0);
        expect(result.stdout).toContain(
          `fail sms: cannot use Twilio-compatible API ${twilio.url} (account …0001) (providers.sms.primary): twilio: ${twilio.url}/2010-04-01/Accounts/[redacted].json answered 401 (code 20003: Authenticate)`,
        );
        expect(result.stdout).toContain(`ok sms (fallback): HTTP SMS API ${backup.url}/sms answers (providers.sms.fallback)`);
        expect(result.stdout).toMatch(/^ok mail: development mailbox/m);
        expect(result.stdout).toMatch(/^ok chat: development mailbox/m);
        for (const secret of [token, 'http-sms-secret', 'in-the-query']) expect(result.stdout + result.stderr).not.toContain(secret);
      } finally {
        await twilio.close();
        await backup.close();
      }
    });
  });
}

describe('rekey CLI without a store', SLOW, () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rekey-cli-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('migrate applies every migration on a fresh file, then reports up to date', async () => {
    const env = cliEnv(dir, join(dir, 'fresh.db'));
    const before = await rekey(['doctor'], env);
    expect(before.stdout).toMatch(/^warn store: .*rekey migrate/m);
    const first = await rekey(['migrate'], env);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^applied 0001_/m);
    const second = await rekey(['migrate'], env);
    expect(second.stdout).toMatch(/up to date/);
  });

  test('NODE_ENV=production without a secret exits 2 and names REKEY_SECRET', async () => {
    const env = cliEnv(dir, join(dir, 'prod.db'), { NODE_ENV: 'production', REKEY_SMTP_URL: 'smtp://127.0.0.1:1' });
    delete env.REKEY_SECRET;
    for (const args of [['users', 'list'], ['doctor']]) {
      const result = await rekey(args, env);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stdout + result.stderr).toContain('REKEY_SECRET');
      expect(result.stdout + result.stderr).not.toContain('REKEY_SMTP_URL'); // only the missing key is named
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
  });

  test('config docs prints docs/configuration.md as committed', async () => {
    const result = await rekey(['config', 'docs'], cliEnv(dir, join(dir, 'docs.db')));
    expect(result.stdout).toBe(renderConfigurationDoc());
    // If this fails after a schema change: npx rekey config docs > docs/configuration.md
    expect(readFileSync(DOC, 'utf8')).toBe(renderConfigurationDoc());
  });
});
