import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.ts';
import { createRekey, type Rekey } from './compose.ts';
import type { Config } from './config/schema.ts';
import { planProviders } from './delivery/index.ts';
import { createPasswordHasher, lowerHashingPriority } from './users/index.ts';

/**
 * Memory of each start-up hash that finds the hashing threads (KiB): at glibc's mmap threshold as
 * bin/serve-tuning.js sets it (4 MiB), so each buffer is unmapped when its hash is done.
 */
const WARM_UP_MEMORY_KIB = 4096;

export interface RunningServer {
  app: FastifyInstance;
  rekey: Rekey;
  url: string;
  close(): Promise<void>;
}

/** Composition root: config → store → services → app → dispatcher → listen. The only place that listens. */
export async function startServer(config: Config): Promise<RunningServer> {
  const rekey = await createRekey({ config, serving: true });
  if (config.hashThreadNice > 0 || config.hashThreadIdle) {
    // One hash per pool thread, at once, so every thread of the pool shows itself by burning CPU. Not
    // through the users' hashing gate: it admits fewer than the pool size and would leave a thread out.
    // These hashes only need to burn CPU, not to be strong: with 4 MiB and as many more passes, each thread
    // burns as long as with the configured cost but holds 4 MiB instead of 19 (the start-up peak held them all).
    const memoryKib = Math.min(config.argon2MemoryKib, WARM_UP_MEMORY_KIB);
    const timeCost = Math.ceil((config.argon2MemoryKib * config.argon2TimeCost) / memoryKib);
    const hasher = createPasswordHasher({ memoryKib, timeCost });
    const warm = () => Promise.all(Array.from({ length: config.threadPoolSize }, (_, i) => hasher.hash(`warm-up ${i}`)));
    await lowerHashingPriority(warm, { nice: config.hashThreadNice, idle: config.hashThreadIdle, threads: config.threadPoolSize });
  }
  const app = await buildApp(rekey);
  const address = await app.listen({ port: config.port, host: config.host });
  if (config.dispatcher) rekey.dispatcher.start();

  await announce(app, rekey, config, address);

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await app.close();
      await rekey.close();
    })());
  return { app, rekey, url: address, close };
}

/**
 * The startup banner, as log lines: where mail goes (the development mailbox or SMTP, never both), where the
 * hosted pages are, and how to get a secret key. Log lines rather than printed text, so JSON logs stay JSON.
 */
async function announce(app: FastifyInstance, rekey: Rekey, config: Config, address: string): Promise<void> {
  const application = await rekey.apps.getDefault();
  const keys = await rekey.apps.listKeys(application.id);
  // Where each channel's messages go, described without credentials.
  const channels = rekey.describeChannels();
  app.log.info(
    // The dispatcher's id is the `lease_owner` of the outbox rows this node has claimed: what a crashed node held
    // until its leases run out.
    {
      url: address,
      store: rekey.deps.store.dialect,
      ...channels,
      client_id: application.client_id,
      dispatcher: config.dispatcher ? rekey.dispatcher.id : null,
    },
    `Rekey is listening on ${address}`,
  );
  if (planProviders(config).email[0]?.role === 'development') {
    app.log.info(`mail is not sent: it is kept in the development mailbox, ${config.baseUrl}/dev/mailbox`);
  } else {
    app.log.info(`mail goes out through ${channels.email}, from ${config.mailFrom}`);
  }
  app.log.info(`hosted pages: ${config.baseUrl}/reset`);
  if (keys.every((k) => k.revoked_at !== null)) {
    app.log.warn('the default application has no secret key yet: create one with `npx rekey keys create` (printed once)');
  } else {
    app.log.info('secret keys: `npx rekey keys list`; another one: `npx rekey keys create`');
  }
}

/** Stops cleanly on SIGINT/SIGTERM: no new requests, in-flight deliveries finish, the store closes. */
export function exitOnSignals(server: RunningServer): void {
  const stop = (signal: string) => {
    server.app.log.info({ signal }, 'shutting down');
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
