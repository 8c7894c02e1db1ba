import type { Logger } from 'pino';
import type { Config } from './config/schema.ts';
import type { PlatformDeps } from './deps.ts';
import { MODULES, type ExposedServices, type SharedDeps } from './modules.ts';
import { systemClock, type Clock } from './platform/clock.ts';
import { createIds, type Ids } from './platform/ids.ts';
import { createLogger } from './platform/logger.ts';
import type { Job, ModuleParts, SweepStep } from './platform/module.ts';
import { createRateLimits, type RateLimits } from './platform/ratelimit.ts';
import { createTokens } from './platform/tokens.ts';
import { checkWriteGroups } from './store/write-groups.ts';
import { connect, type Store } from './store/connect.ts';
import { migrateToLatest } from './store/migrate.ts';

/**
 * Every built module, plus the services they expose (`apps`, `users`, `sessions`, `signIn`, `resets`, `flows`,
 * `factors`, `channel`, `dispatcher`): what the server, the CLI and the tests use.
 */
export type Rekey = ExposedServices & {
  deps: PlatformDeps;
  rateLimits: RateLimits;
  /** The built modules, in the order of `src/modules.ts`. */
  modules: readonly ModuleParts[];
  close(): Promise<void>;
};

export interface ComposeOptions {
  config: Config;
  /** An already-open store (tests); otherwise one is opened from `config.databaseUrl`. */
  store?: Store;
  clock?: Clock;
  ids?: Ids;
  logger?: Logger;
  /** Replaces the configured mail channel (tests). */
  channel?: SharedDeps['mailChannel'];
  /** Namespaces rate-limit keys (tests sharing one Redis). */
  rateLimitPrefix?: string;
  /**
   * A serving process: on SQLite a worker thread copies the WAL back as it grows, so the event loop's checkpoints stay
   * short (store/checkpointer.ts); on PostgreSQL, connections once opened stay open.
   */
  serving?: boolean;
}

/** Builds every module from config, in the order of `src/modules.ts`: the composition root shared by the server, the CLI and the tests. */
export async function createRekey(options: ComposeOptions): Promise<Rekey> {
  const { config } = options;
  // The write-group check (SQLite) costs about 25 µs a write, a fifth of a forgot request: it guards the test
  // suite, where every write list runs on both stores, and stays out of a serving process.
  checkWriteGroups(config.env === 'test');
  const logger = options.logger ?? createLogger(config.logLevel, undefined, { pretty: prettyLogs(config) });
  const backgroundCheckpoints = options.serving
    ? { onError: (error: Error) => logger.warn({ err: error }, 'SQLite checkpoint worker failed; the writer checkpoints alone again') }
    : undefined;
  const store = options.store ?? connect(config.databaseUrl, { poolSize: config.databasePoolSize, backgroundCheckpoints, holdConnections: options.serving });
  const ownsStore = !options.store;
  const deps: PlatformDeps = {
    config,
    store,
    clock: options.clock ?? systemClock,
    ids: options.ids ?? createIds(),
    tokens: createTokens(config.secret),
    logger,
  };
  if (ownsStore) await migrateToLatest(store.db, store.schema);

  const rateLimits = createRateLimits({
    redisUrl: config.redisUrl,
    redisOptions: { commandTimeout: config.redisCommandTimeoutMs },
    keyPrefix: options.rateLimitPrefix ?? 'rekey',
    onError: (error) => deps.logger.warn({ err: error }, 'rate-limit store error; using per-process limits'),
  });
  // Filled below once every module is built; the dispatcher and the sweeper read them when they run.
  const jobs: Record<string, Job> = {};
  const sweeps: Record<string, SweepStep> = {};
  const shared: SharedDeps = { ...deps, rateLimits, jobs, sweeps, ...(options.channel ? { mailChannel: options.channel } : {}) };

  const built: Record<string, ModuleParts> = {};
  // Each module gets the shared deps and the modules before it; src/modules.ts has tsc check the order.
  for (const module of MODULES) built[module.name] = await module.create({ ...shared, ...built } as never);
  const modules = MODULES.map((module) => built[module.name]!);
  for (const [i, module] of modules.entries()) {
    register(jobs, module.jobs, `job kind`, MODULES[i]!.name);
    register(sweeps, module.sweeps, `sweep step`, MODULES[i]!.name);
  }
  for (const module of modules) await module.start?.();

  const exposed = Object.assign({}, ...modules.map((module) => module.expose ?? {})) as ExposedServices;
  return {
    ...exposed,
    deps,
    rateLimits,
    modules,
    async close() {
      for (const module of [...modules].reverse()) await module.close?.();
      await rateLimits.close();
      if (ownsStore) await store.close();
    },
  };
}

/** Pretty lines are for a person at a terminal, never for production's log collectors. */
const prettyLogs = (config: Config): boolean =>
  config.logFormat === 'pretty' || (config.logFormat === 'auto' && config.env !== 'production' && process.stdout.isTTY === true);

function register<T>(into: Record<string, T>, entries: Record<string, T> | undefined, what: string, moduleName: string): void {
  for (const [key, value] of Object.entries(entries ?? {})) {
    if (Object.hasOwn(into, key)) throw new Error(`${what} "${key}" of module "${moduleName}" is declared twice`);
    into[key] = value;
  }
}
