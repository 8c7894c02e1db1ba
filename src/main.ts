import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.ts';
import { createRekey, type Rekey } from './compose.ts';
import type { Config } from './config/schema.ts';
import { createPasswordHasher, lowerHashingPriority } from './users/index.ts';

export interface RunningServer {
  app: FastifyInstance;
  rekey: Rekey;
  url: string;
  close(): Promise<void>;
}

/** Composition root: config → store → services → app → dispatcher → listen. The only place that listens. */
export async function startServer(config: Config): Promise<RunningServer> {
  const rekey = await createRekey({ config });
  if (config.hashThreadNice > 0) {
    // One hash per pool thread, at once, so every thread of the pool shows itself by burning CPU. Not
    // through the users' hashing gate: it admits fewer than the pool size and would leave a thread out.
    const hasher = createPasswordHasher({ memoryKib: config.argon2MemoryKib, timeCost: config.argon2TimeCost });
    const warm = () => Promise.all(Array.from({ length: config.threadPoolSize }, (_, i) => hasher.hash(`warm-up ${i}`)));
    await lowerHashingPriority(warm, config.hashThreadNice);
  }
  const app = await buildApp(rekey);
  const address = await app.listen({ port: config.port, host: config.host });
  if (config.dispatcher) rekey.dispatcher.start();

  const application = await rekey.apps.getDefault();
  const keys = await rekey.apps.listKeys(application.id);
  app.log.info(
    // Where each channel's messages go, described without credentials. The dispatcher's id is the `lease_owner`
    // of the outbox rows this node has claimed: what a crashed node held until its leases run out.
    {
      url: address,
      store: rekey.deps.store.dialect,
      ...rekey.describeChannels(),
      client_id: application.client_id,
      dispatcher: config.dispatcher ? rekey.dispatcher.id : null,
    },
    'Rekey is listening',
  );
  if (config.env !== 'production') app.log.info({ mailbox: `${config.baseUrl}/dev/mailbox` }, 'development mailbox');
  if (keys.filter((k) => k.revoked_at === null).length === 0) {
    app.log.warn('the default application has no secret key yet: create one with `npx rekey keys create`');
  }

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await app.close();
      await rekey.close();
    })());
  return { app, rekey, url: address, close };
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
