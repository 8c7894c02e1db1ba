import { availableParallelism } from 'node:os';
import type { Config } from '../config/schema.ts';
import { RekeyError } from '../errors/index.ts';

/**
 * The gate every Argon2 call passes (SEC-48): at most `concurrency` hashes or verifications run at
 * once, at most `maxQueue` wait for a turn, and anyone beyond that is told to come back later.
 *
 * Why a gate in front of libuv's pool rather than more threads or a worker pool of our own: the
 * `argon2` binding, WebCrypto (the HMAC of every access token, through jose), `fs` and DNS all share
 * one process-wide libuv pool with a single FIFO queue. Fifty confirms queue fifty hashes there, and a
 * token check arriving next waits behind all of them. A worker thread would not escape it (workers
 * share the same pool). Keeping Argon2 below the pool size leaves a thread that only cheap work
 * reaches, and holding the surplus here, in our own queue, lets us refuse it instead of letting the
 * pool's queue grow without bound.
 */
export interface HashPool {
  /** Runs `task` when a slot is free; throws `server_busy` (503, Retry-After) when the queue is full. */
  run<T>(task: () => Promise<T>): Promise<T>;
  /** Tasks holding a slot now. */
  readonly running: number;
  /** Tasks waiting for a slot. */
  readonly queued: number;
}

export interface HashPoolOptions {
  /** Hashes or verifications at once. */
  concurrency: number;
  /** Callers allowed to wait for a slot; 0 refuses whenever every slot is taken. */
  maxQueue: number;
}

/** Before the first hash finishes, a guess at one hash's duration (m = 19 MiB, t = 2 on a current core). */
const INITIAL_HASH_MS = 50;
/** Weight of the newest duration in the running average. */
const SMOOTHING = 0.2;

export function createHashPool({ concurrency, maxQueue }: HashPoolOptions): HashPool {
  if (!(concurrency >= 1) || !(maxQueue >= 0)) throw new Error(`hash pool: concurrency ≥ 1 and queue ≥ 0 required (got ${concurrency}, ${maxQueue})`);
  let running = 0;
  const waiting: Array<() => void> = [];
  let averageMs = INITIAL_HASH_MS;

  /** Whole seconds until the work ahead of a refused caller (the queue and the running tasks) is done. */
  const retryAfterSeconds = () => Math.max(1, Math.ceil(((waiting.length + running) * averageMs) / concurrency / 1000));

  const release = () => {
    const next = waiting.shift();
    // The slot passes straight to the next waiter, so `running` stays as it is and no newcomer overtakes.
    if (next) next();
    else running--;
  };

  return {
    async run(task) {
      if (running < concurrency) running++;
      else if (waiting.length >= maxQueue) throw new RekeyError('server_busy', { retryAfterSeconds: retryAfterSeconds() });
      else await new Promise<void>((resolve) => waiting.push(resolve));
      const started = performance.now();
      try {
        return await task();
      } finally {
        averageMs += SMOOTHING * (performance.now() - started - averageMs);
        release();
      }
    },
    get running() {
      return running;
    },
    get queued() {
      return waiting.length;
    },
  };
}

/** Hashes at once and waiters allowed, from the config: `0` means "derive from `threadPoolSize`". */
export function hashPoolLimits(config: Pick<Config, 'threadPoolSize' | 'hashConcurrency' | 'hashQueue'>, cores = availableParallelism()): HashPoolOptions {
  return {
    // One pool thread stays free for WebCrypto, fs and DNS; a pool of one has none to spare. More hashes
    // than cores only take turns on them, each holding its 19 MiB meanwhile.
    concurrency: config.hashConcurrency || Math.max(1, Math.min(config.threadPoolSize - 1, cores)),
    // About a second or two of hashing at the default cost: long enough to absorb a burst, short
    // enough that a refused client learns it at once instead of timing out.
    maxQueue: config.hashQueue || 16 * config.threadPoolSize,
  };
}

const pools = new WeakMap<object, HashPool>();

/**
 * The gate for one running configuration. libuv's pool belongs to the process, and a server builds
 * its services from one frozen config, so every Argon2 call of that server meets the same gate.
 */
export function hashPoolFor(config: Pick<Config, 'threadPoolSize' | 'hashConcurrency' | 'hashQueue'>): HashPool {
  let pool = pools.get(config);
  if (!pool) pools.set(config, (pool = createHashPool(hashPoolLimits(config))));
  return pool;
}
