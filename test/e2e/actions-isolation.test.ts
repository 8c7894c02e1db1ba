import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActionCacheTable } from '../../src/actions/index.ts';
import { createRekey } from '../../src/compose.ts';
import { ConfigError, loadConfig } from '../../src/config/load.ts';
import { STORES } from '../../src/store/testing.ts';
import { actionsHarness, fixture, type ActionsHarness } from '../support/actions.ts';
import { TEST_SECRET } from '../support/harness.ts';

/**
 * An action is operator code: it must not reach Rekey's environment, secret, configuration, database or other
 * actions' secrets, nor hold Rekey up. Each case runs one hostile action and expects the flow `denied` with Rekey
 * answering other requests meanwhile. Then the checks at start.
 */
for (const factory of STORES) {
  describe(`${factory.name}: an action is contained`, () => {
    let files: string;
    let sink: Server;
    let sinkUrl: string;
    const posted: string[] = [];
    /** Resolved when the looping action tells the sink it has begun. */
    const looping: Array<() => void> = [];
    beforeAll(async () => {
      // Stand-ins for Rekey's secret, database and configuration files, outside every action's directory.
      files = mkdtempSync(join(tmpdir(), 'rekey-actions-'));
      for (const name of ['secret', 'rekey.db', 'rekey.config.json']) writeFileSync(join(files, name), TEST_SECRET);
      sink = createServer((request, response) => {
        let body = '';
        request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
        request.on('end', () => {
          posted.push(body);
          if (body === 'looping') for (const signal of looping.splice(0)) signal();
          response.end('ok');
        });
      });
      await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
      sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/`;
    });
    afterAll(async () => {
      rmSync(files, { recursive: true, force: true });
      await new Promise((resolve) => sink.close(resolve));
    });

    const cases: Array<{ name: string; file: string; timeoutMs?: number; secrets?: () => Record<string, string>; reason: RegExp }> = [
      { name: 'reads process.env', file: 'env.js', reason: /^env:\{\}$/ },
      {
        name: 'opens the secret, the database and the config file',
        file: 'files.js',
        secrets: () => ({ SECRET_FILE: join(files, 'secret'), DB_FILE: join(files, 'rekey.db'), CONFIG_FILE: join(files, 'rekey.config.json') }),
        reason: /every read refused: ERR_ACCESS_DENIED,ERR_ACCESS_DENIED,ERR_ACCESS_DENIED,ERR_ACCESS_DENIED/,
      },
      { name: 'walks globalThis', file: 'globals.js', secrets: () => ({ SINK: sinkUrl }), reason: /^walked \d+ strings$/ },
      { name: 'loops forever', file: 'loop.js', timeoutMs: 2000, secrets: () => ({ SINK: sinkUrl }), reason: /timed out after/ },
      { name: 'allocates without bound', file: 'alloc.js', reason: /ran out of memory/ },
      { name: 'throws', file: 'throws.js', reason: /operator bug/ },
    ];

    for (const c of cases) {
      describe(c.name, () => {
        let h: ActionsHarness;
        beforeAll(async () => {
          h = await actionsHarness(factory, {
            postChallenge: [
              { name: 'hostile', path: fixture(`isolation/${c.file}`), secrets: c.secrets?.() ?? {}, ...(c.timeoutMs ? { timeoutMs: c.timeoutMs } : {}) },
            ],
          });
        });
        afterAll(() => h.close());

        it('ends the flow denied, logs why, and Rekey keeps answering meanwhile', async () => {
          const who = await h.account();
          const started = await h.web.startFlow(who.address, 'email_code');
          const code = await h.web.codeFor(who.address);
          const spinning = c.file === 'loop.js' ? new Promise<void>((resolve) => looping.push(resolve)) : undefined;
          let answered = false;
          const attempt = h.web.attemptCode(started.json().id, code).finally(() => (answered = true));
          // While the action runs (or spins), other requests are served: for the loop, once it is known to be spinning.
          await spinning;
          expect((await h.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
          if (spinning) expect(answered).toBe(false);
          const res = await attempt;
          expect(res.statusCode).toBe(403);
          expect(res.json().error.code).toBe('flow_denied');
          expect(res.body).not.toMatch(c.reason);
          expect((await h.web.getFlow(started.json().id)).json().status).toBe('denied');
          expect(h.denials().at(-1)?.reason).toMatch(c.reason);
          expect(h.logs.join('\n')).not.toContain(TEST_SECRET);
          // The sandbox replaced what it had to: a second reset meets the same action again, promptly.
          const again = await h.firstFactor(who.address);
          expect(again.body.error.code).toBe('flow_denied');
        });
      });
    }

    it('walking globalThis finds nothing of Rekey: not its secret, not its database URL', () => {
      expect(posted.length).toBeGreaterThan(0);
      for (const body of posted) {
        expect(body).not.toContain(TEST_SECRET);
        expect(body).not.toContain('postgres://');
      }
    });

    describe("another action's secrets", () => {
      let h: ActionsHarness;
      beforeAll(async () => {
        h = await actionsHarness(factory, {
          postChallenge: [
            { name: 'first', path: fixture('isolation/allow.js'), secrets: { FIRST_ONLY: 'x' } },
            { name: 'second', path: fixture('isolation/secrets.js'), secrets: { SECOND_ONLY: 'y' } },
          ],
        });
      });
      afterAll(() => h.close());

      it('are never given to it', async () => {
        const who = await h.account();
        await h.firstFactor(who.address);
        expect(h.denials().at(-1)).toMatchObject({ action: 'second', reason: 'secrets:SECOND_ONLY' });
      });
    });

    describe('what an action does to its event and its cache', () => {
      let h: ActionsHarness;
      beforeAll(async () => {
        h = await actionsHarness(factory, {
          postChallenge: [
            { name: 'tamper', path: fixture('isolation/tamper.js'), secrets: { TAMPER_SECRET: 'x' } },
            { name: 'tamper-again', path: fixture('isolation/tamper.js') },
            { name: 'observer', path: fixture('isolation/observer.js'), secrets: { OBSERVER_SECRET: 'mine' } },
          ],
        });
      });
      afterAll(() => h.close());

      it('reaches no other action: each sees the account as it is, its own secrets and its own cache', async () => {
        const who = await h.account();
        // Twice: the second run reads caches the first wrote (the tampering actions' own), and still sees nothing else.
        expect((await h.firstFactor(who.address)).body.status).toBe('needs_new_password');
        expect((await h.firstFactor(who.address)).body.status).toBe('needs_new_password');
        expect(h.denials()).toEqual([]);
        // Each tampering action found the count it left the first time, in its own namespace.
        const cache = await h.store.db
          .withTables<{ action_cache: ActionCacheTable }>()
          .selectFrom('action_cache')
          .select(['action', 'key', 'value'])
          .orderBy('action')
          .execute();
        expect(cache).toEqual([
          { action: 'tamper', key: 'runs', value: '2' },
          { action: 'tamper-again', key: 'runs', value: '2' },
        ]);
      });
    });

    describe('a package installed beside the action, and api.cache', () => {
      let h: ActionsHarness;
      let dir: string;
      beforeAll(async () => {
        dir = mkdtempSync(join(tmpdir(), 'rekey-action-pkg-'));
        mkdirSync(join(dir, 'node_modules', 'verdict'), { recursive: true });
        writeFileSync(join(dir, 'node_modules', 'verdict', 'index.js'), "module.exports = (n) => (n > 1 ? 'deny' : 'allow');\n");
        writeFileSync(join(dir, 'package.json'), '{ "type": "commonjs" }\n');
        writeFileSync(
          join(dir, 'action.js'),
          `const verdict = require('verdict');
exports.onExecutePostChallenge = async (event, api) => {
  const seen = Number(api.cache.get(event.user.user_id)?.value ?? 0) + 1;
  api.cache.set(event.user.user_id, String(seen), { ttl: 60000 });
  if (verdict(seen) === 'deny') api.access.deny('second reset within the minute');
};
`,
        );
        h = await actionsHarness(factory, { postChallenge: [{ name: 'with-package', path: join(dir, 'action.js') }] });
      });
      afterAll(async () => {
        await h.close();
        rmSync(dir, { recursive: true, force: true });
      });

      it('requires the package, and remembers across runs through the cache Rekey keeps for it', async () => {
        const who = await h.account();
        expect((await h.firstFactor(who.address)).body.status).toBe('needs_new_password');
        expect((await h.firstFactor(who.address)).body.error.code).toBe('flow_denied');
        expect(h.denials().at(-1)?.reason).toBe('second reset within the minute');
      });
    });
  });
}

describe('actions are checked at start', () => {
  const factory = STORES[0]!;
  const entry = (name: string, path = fixture('isolation/allow.js')) => ({ name, path });
  const start = async (postChallenge: Array<{ name: string; path: string }>, extra: Record<string, unknown> = {}) => {
    const config = loadConfig({
      env: {},
      overrides: { env: 'test', secret: TEST_SECRET, dataDir: '/nonexistent-rekey-test', actions: { postChallenge, ...extra } },
    });
    const store = await factory.open();
    try {
      const rekey = await createRekey({ config, store });
      await rekey.close();
      return 'started';
    } catch (error) {
      return (error as Error).message;
    } finally {
      await store.close();
    }
  };

  it('five actions stop the start, naming the fifth', () => {
    const five = ['one', 'two', 'three', 'four', 'five'].map((n) => entry(n));
    expect(() => loadConfig({ env: {}, overrides: { env: 'test', secret: TEST_SECRET, actions: { postChallenge: five } } })).toThrow(ConfigError);
    expect(() => loadConfig({ env: {}, overrides: { env: 'test', secret: TEST_SECRET, actions: { postChallenge: five } } })).toThrow(
      /REKEY_ACTIONS.*"five" is the fifth/,
    );
  });

  it('four start', async () => {
    expect(await start(['one', 'two', 'three', 'four'].map((n) => entry(n)))).toBe('started');
  });

  it('a missing file, and a module without onExecutePostChallenge, stop the start with a message naming the action', async () => {
    expect(await start([entry('ghost', fixture('isolation/missing.js'))])).toMatch(/action "ghost": file not found/);
    expect(await start([entry('idle', fixture('isolation/no-handler.js'))])).toMatch(/action "idle": .* exports no onExecutePostChallenge/);
  });

  it("refuses an action whose directory holds Rekey's data directory", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rekey-action-data-'));
    writeFileSync(join(dir, 'action.js'), 'exports.onExecutePostChallenge = async () => {};\n');
    const config = () =>
      loadConfig({
        env: {},
        overrides: { env: 'test', secret: TEST_SECRET, dataDir: join(dir, '.rekey'), actions: { postChallenge: [entry('near', join(dir, 'action.js'))] } },
      });
    const store = await factory.open();
    try {
      await expect(createRekey({ config: config(), store })).rejects.toThrow(/action "near": its directory .* holds/);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
