import type { FastifyPluginAsync } from 'fastify';
import type { ModuleDeps } from '../platform/module.ts';
import type { Channel } from './channel.ts';
import { createDevMailboxChannel } from './channels/dev-mailbox.ts';
import { createSmtpChannel } from './channels/smtp.ts';
import { devMailboxRoutes } from './dev-mailbox.routes.ts';
import { createDispatcher } from './dispatcher.ts';
import { deliveryMigrations } from './migrations.ts';

/** Transport only: the outbox, the dispatcher that runs every module's jobs, and the mail channel. */
export async function createDeliveryModule(deps: ModuleDeps & { /** Replaces the configured mail channel (tests). */ mailChannel?: Channel }) {
  const { config, store, clock, ids, logger } = deps;
  const channel = deps.mailChannel ?? (config.smtpUrl ? createSmtpChannel(config.smtpUrl) : createDevMailboxChannel({ db: store.db, clock, ids }));
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
    sweep: {
      retentionMs: config.outboxRetentionDays * 86_400_000,
      // A sealed link or code is useless once its token or code has expired (see sweeper.ts).
      sealedLifetimeMs: Math.max(config.resetTokenTtlMinutes, config.resetCodeTtlMinutes) * 60_000,
      steps: deps.sweeps,
    },
  });
  const routes: FastifyPluginAsync | undefined =
    config.env === 'production' ? undefined : async (app) => void (await app.register(devMailboxRoutes, { db: store.db, baseUrl: config.baseUrl }));
  return {
    channel,
    dispatcher,
    routes,
    jobs: {},
    migrations: deliveryMigrations,
    expose: { channel, dispatcher },
    async close() {
      await dispatcher.stop();
      await channel.close?.();
    },
  };
}

export type DeliveryModule = Awaited<ReturnType<typeof createDeliveryModule>>;
