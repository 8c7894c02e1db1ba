import type { FastifyPluginAsync } from 'fastify';
import type { ModuleDeps } from '../platform/module.ts';
import type { Channel } from './channel.ts';
import { deliveryRoutes } from './deliveries.routes.ts';
import { createDeliveriesService } from './deliveries.service.ts';
import { devMailboxRoutes } from './dev-mailbox.routes.ts';
import { createDispatcher } from './dispatcher.ts';
import { deliveryMigrations } from './migrations.ts';
import { createChannels, describeChannels } from './providers.ts';

/**
 * Transport only: the outbox, the dispatcher that runs every module's jobs, and the channels (email, SMS, chat),
 * each the configured primary provider with its fallback (see providers.ts).
 */
export async function createDeliveryModule(deps: ModuleDeps & { /** Replaces the configured mail channel (tests). */ mailChannel?: Channel }) {
  const { config, store, clock, ids, logger } = deps;
  const built = createChannels(config, { db: store.db, clock, ids, logger: logger.child({ component: 'delivery' }) });
  const channels = { ...built, email: deps.mailChannel ?? built.email };
  /** @deprecated the email channel under its first name, until every caller uses `email`. */
  const channel = channels.email;
  const dispatcher = createDispatcher({
    db: store.db,
    dialect: store.dialect,
    clock,
    ids,
    logger,
    jobs: deps.jobs,
    maxAttempts: config.deliveryMaxAttempts,
    backoffMs: config.deliveryBackoffMs,
    intervalMs: config.dispatcherIntervalMs,
    leaseMs: config.deliveryLeaseMs,
    batchSize: config.dispatcherBatchSize,
    sweep: {
      retentionMs: config.outboxRetentionDays * 86_400_000,
      // A sealed link or code is useless once its token or code has expired (see sweeper.ts).
      sealedLifetimeMs: Math.max(config.resetTokenTtlMinutes, config.resetCodeTtlMinutes) * 60_000,
      steps: deps.sweeps,
    },
  });
  const deliveries = createDeliveriesService({ db: store.db, clock, logger, jobs: deps.jobs });
  const managementRoutes: FastifyPluginAsync = async (app) => void (await app.register(deliveryRoutes, { deliveries }));
  const routes: FastifyPluginAsync | undefined =
    config.env === 'production' ? undefined : async (app) => void (await app.register(devMailboxRoutes, { db: store.db, baseUrl: config.baseUrl }));
  const { email, sms, chat } = channels;
  /** Where each channel's messages go, for the startup banner: never a credential. */
  const describe = () => describeChannels(channels);
  return {
    channel,
    email,
    sms,
    chat,
    describe,
    dispatcher,
    routes,
    managementRoutes,
    jobs: {},
    migrations: deliveryMigrations,
    expose: { channel, channels, dispatcher, describeChannels: describe, deliveries },
    async close() {
      await dispatcher.stop();
      // The built email channel too when a test replaced it: its pool holds sockets.
      await Promise.all([...new Set([channel, built.email, sms, chat])].map(async (c) => c.close?.()));
    },
  };
}

export type DeliveryModule = Awaited<ReturnType<typeof createDeliveryModule>>;
