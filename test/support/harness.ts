import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.ts';
import { createRekey, type Rekey } from '../../src/compose.ts';
import { loadConfig } from '../../src/config/load.ts';
import type { Config, ConfigInput } from '../../src/config/schema.ts';
import type { Channel } from '../../src/delivery/channel.ts';
import { listDevMailbox } from '../../src/delivery/channels/dev-mailbox.ts';
import { manualClock, type ManualClock } from '../../src/platform/clock.ts';
import { createLogger } from '../../src/platform/logger.ts';
import type { StoreFactory, TestStore } from '../../src/store/testing.ts';

export const TEST_SECRET = 'test-secret-that-is-long-enough-0123456789';
export const GOOD_PASSWORD = 'correct horse battery staple';

/** Fresh addresses and passwords for one suite: every call gives a new one, so tests never share an account. */
export function freshAccounts(domain = 'example.com') {
  let n = 0;
  return {
    email: (tag = 'user') => `${tag}${++n}@${domain}`,
    password: (suffix = '') => `${GOOD_PASSWORD} ${++n}${suffix}`,
  };
}

export interface Harness {
  rekey: Rekey;
  app: FastifyInstance;
  store: TestStore;
  config: Config;
  clock: ManualClock;
  /** Every log line the server wrote, as raw JSON text (SEC-41 greps these). */
  logs: string[];
  secretKey: string;
  clientId: string;
  auth: { authorization: string };
  /** Runs the dispatcher until the outbox has nothing due. */
  deliver(): Promise<void>;
  /** Development-mailbox messages, newest first. */
  mailbox(to?: string): Promise<Array<{ to: string; subject: string; text: string; html: string }>>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  config?: Partial<ConfigInput>;
  channel?: Channel;
  /**
   * Listen on a loopback port (for vendor SDKs and real HTTP clients): `config.port` when given (so `config.baseUrl`
   * can name it, as the hosted pages' Origin check needs), otherwise a random one.
   */
  listen?: boolean;
}

export async function createHarness(factory: StoreFactory, options: HarnessOptions = {}): Promise<Harness & { url?: string }> {
  const store = await factory.open();
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const config = loadConfig({
    env: {},
    // Two test forks, PostgreSQL, Redis and Chromium share two cores in CI: a rate-limit command that waits
    // more than the production second for Redis would be counted in memory instead, and a limit test would
    // see one attempt too few.
    overrides: {
      env: 'test',
      secret: TEST_SECRET,
      redisCommandTimeoutMs: 10_000,
      logLevel: 'info',
      deliveryBackoffMs: 10,
      dataDir: '/nonexistent-rekey-test',
      ...options.config,
    },
  });
  const clock = manualClock(Date.parse('2026-11-25T12:00:00Z'));
  const rekey = await createRekey({
    config,
    store,
    clock,
    logger: createLogger('info', sink),
    channel: options.channel,
    rateLimitPrefix: `rekey-test-${randomBytes(6).toString('hex')}`,
  });
  const app = await buildApp(rekey);
  const application = await rekey.apps.getDefault();
  const { key } = await rekey.apps.createKey(application.id, 'test');
  let url: string | undefined;
  if (options.listen) url = await app.listen({ port: options.config?.port !== undefined ? config.port : 0, host: '127.0.0.1' });
  else await app.ready();

  return {
    rekey,
    app,
    store,
    config,
    clock,
    logs,
    secretKey: key,
    clientId: application.client_id,
    auth: { authorization: `Bearer ${key}` },
    url,
    deliver: () => rekey.dispatcher.drain(),
    async mailbox(to) {
      const all = await listDevMailbox(store.db, { limit: 200 });
      return to ? all.filter((m) => m.to === to) : all;
    },
    async close() {
      await app.close();
      await rekey.close();
      await store.close();
    },
  };
}
