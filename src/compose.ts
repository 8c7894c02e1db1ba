import type { Logger } from 'pino';
import { createApplicationService, type ApplicationService } from './apps/app.service.ts';
import type { Config } from './config/schema.ts';
import type { PlatformDeps } from './deps.ts';
import type { Channel } from './delivery/channel.ts';
import { createDevMailboxChannel } from './delivery/channels/dev-mailbox.ts';
import { createSmtpChannel } from './delivery/channels/smtp.ts';
import { createDispatcher } from './delivery/dispatcher.ts';
import { createEmailJob, createMailTemplates, EMAIL } from './notifications/index.ts';
import { systemClock, type Clock } from './platform/clock.ts';
import { createIds, type Ids } from './platform/ids.ts';
import { createLogger } from './platform/logger.ts';
import { createTokens } from './platform/tokens.ts';
import { createFactorService, type FactorService } from './factors/factor.service.ts';
import { createRateLimits, type RateLimits } from './platform/ratelimit.ts';
import { createKyselyFlowStore } from './resets/flow.store.ts';
import { createFlowService, type FlowService, type ManagementFlows } from './resets/flow.service.ts';
import { createResetLimits } from './resets/limits.ts';
import { createResetRequestedJob, RESET_REQUESTED } from './resets/reset-requested.job.ts';
import { createKyselyResetStore } from './resets/reset.store.ts';
import { createResetService, type ResetService } from './resets/reset.service.ts';
import { createSessionService, type SessionService } from './sessions/session.service.ts';
import { createSignInService, type SignInService } from './sessions/sign-in.ts';
import { connect, type Store } from './store/connect.ts';
import { migrateToLatest } from './store/migrate.ts';
import { loadBlocklist } from './users/blocklist.ts';
import { createPasswordPolicy } from './users/password-policy.ts';
import { createPasswordHasher } from './users/passwords.ts';
import { createUserService, type UserService } from './users/user.service.ts';

export interface Rekey {
  deps: PlatformDeps;
  apps: ApplicationService;
  users: UserService;
  sessions: SessionService;
  signIn: SignInService;
  resets: ResetService;
  flows: FlowService & ManagementFlows;
  factors: FactorService;
  rateLimits: RateLimits;
  channel: Channel;
  dispatcher: ReturnType<typeof createDispatcher>;
  close(): Promise<void>;
}

export interface ComposeOptions {
  config: Config;
  /** An already-open store (tests); otherwise one is opened from `config.databaseUrl`. */
  store?: Store;
  clock?: Clock;
  ids?: Ids;
  logger?: Logger;
  /** Replaces the configured mail channel (tests). */
  channel?: Channel;
  /** Namespaces rate-limit keys (tests sharing one Redis). */
  rateLimitPrefix?: string;
}

/** Builds every service from config: the composition root shared by the server, the CLI and the tests. */
export async function createRekey(options: ComposeOptions): Promise<Rekey> {
  const { config } = options;
  const store = options.store ?? connect(config.databaseUrl);
  const ownsStore = !options.store;
  const deps: PlatformDeps = {
    config,
    store,
    clock: options.clock ?? systemClock,
    ids: options.ids ?? createIds(),
    tokens: createTokens(config.secret),
    logger: options.logger ?? createLogger(config.logLevel),
  };
  if (ownsStore) await migrateToLatest(store.db, store.schema);

  const policy = createPasswordPolicy({ minLength: config.passwordMinLength, maxLength: config.passwordMaxLength, blocklist: await loadBlocklist() });
  const hasher = createPasswordHasher({ memoryKib: config.argon2MemoryKib, timeCost: config.argon2TimeCost });
  const apps = createApplicationService(deps);
  const users = createUserService({ ...deps, policy, hasher });
  const sessions = createSessionService(deps);
  const resetStore = createKyselyResetStore(store.db);
  const flowStore = createKyselyFlowStore(store.db);
  const rateLimits = createRateLimits({
    redisUrl: config.redisUrl,
    keyPrefix: options.rateLimitPrefix ?? 'rekey',
    onError: (error) => deps.logger.warn({ err: error }, 'rate-limit store error; using per-process limits'),
  });
  const factors = createFactorService({ ...deps, rateLimits });
  const signIn = createSignInService({ ...deps, users, sessions, factors, rateLimits });
  const resets = createResetService({ ...deps, applications: apps, resets: resetStore, flows: flowStore, users, sessions, factors });
  const limits = createResetLimits(rateLimits, config);
  const flows = createFlowService({
    ...deps,
    flows: flowStore,
    resets: resetStore,
    resetService: resets,
    users,
    factors,
    limits,
    defaultApplicationId: async () => (await apps.getDefault()).id,
  });
  await apps.ensureDefault();

  const channel =
    options.channel ?? (config.smtpUrl ? createSmtpChannel(config.smtpUrl) : createDevMailboxChannel({ db: store.db, clock: deps.clock, ids: deps.ids }));
  const emailJob = createEmailJob({
    templates: createMailTemplates(),
    channel,
    tokens: deps.tokens,
    mailFrom: config.mailFrom,
    resolveApp: (id: string | null | undefined) => (id ? apps.get(id) : apps.getDefault()),
  });
  const dispatcher = createDispatcher({
    db: store.db,
    dialect: store.dialect,
    clock: deps.clock,
    ids: deps.ids,
    logger: deps.logger,
    jobs: {
      [EMAIL]: emailJob,
      [RESET_REQUESTED]: createResetRequestedJob({ ...deps, apps, users, flows: flowStore, resetService: resets, limits }),
    },
    maxAttempts: config.deliveryMaxAttempts,
    backoffMs: config.deliveryBackoffMs,
    intervalMs: config.dispatcherIntervalMs,
    sweep: {
      retentionMs: config.outboxRetentionDays * 86_400_000,
      // A sealed link or code is useless once its token or code has expired (see delivery/sweeper.ts).
      sealedLifetimeMs: Math.max(config.resetTokenTtlMinutes, config.resetCodeTtlMinutes) * 60_000,
      steps: { 'password_resets.seals_wiped': (now) => resetStore.wipeExpiredSeals(now) },
    },
  });

  return {
    deps,
    apps,
    users,
    sessions,
    signIn,
    resets,
    flows,
    factors,
    rateLimits,
    channel,
    dispatcher,
    async close() {
      await dispatcher.stop();
      await apps.close();
      await channel.close?.();
      await rateLimits.close();
      if (ownsStore) await store.close();
    },
  };
}
