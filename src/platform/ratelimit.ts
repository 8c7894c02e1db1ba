import { createRequire } from 'node:module';
import type { RedisOptions } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

/** One fixed window: `points` per `durationSeconds`; `blockSeconds` keeps the key blocked once exceeded. */
export interface RateRule {
  points: number;
  durationSeconds: number;
  /** @default 0 (the key frees up when its window ends) */
  blockSeconds?: number;
}

export interface ConsumeResult {
  allowed: boolean;
  /** Points left in the window (the tightest window for `windowed`). */
  remaining: number;
  /** 0 when allowed; otherwise whole seconds until a retry can pass, for the `Retry-After` header. */
  retryAfterSeconds: number;
}

/** Port over one counter family. Counting is atomic in both stores (SEC-17, SEC-18, SEC-19). */
export interface RateLimiter {
  /** Never throws for "limit exceeded" (that is `allowed: false`); only an unexpected store failure throws. */
  consume(key: string, points?: number): Promise<ConsumeResult>;
  /** Points consumed in the current window (0 for an unknown key). */
  peek(key: string): Promise<number>;
  /** Gives points back, never below zero, so a reward cannot bank credit on a fresh key. */
  reward(key: string, points?: number): Promise<void>;
  delete(key: string): Promise<void>;
}

export interface RateLimits {
  limiter(name: string, rule: RateRule): RateLimiter;
  /** Resolves once the store answers; rejects (without the URL's password) if Redis is unreachable. */
  ready(): Promise<void>;
  close(): Promise<void>;
  backend: 'memory' | 'redis';
}

export interface RateLimitsOptions {
  /** `redis://…`; without it counters live in this process. @default undefined */
  redisUrl?: string;
  /** Every key is `${keyPrefix}:${name}:${key}`. @default 'rekey' */
  keyPrefix?: string;
  /** Merged over the fail-fast defaults below. */
  redisOptions?: RedisOptions;
  /** Redis connection errors; the limiters keep answering from memory meanwhile. @default ignore */
  onError?: (error: Error) => void;
}

/**
 * Fail fast rather than queue: while Redis is down a command errors at once and the insurance limiter
 * (per-process memory) answers, so an outage weakens limits to per-process instead of failing requests.
 */
const REDIS_DEFAULTS: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  connectTimeout: 2_000,
  commandTimeout: 1_000,
};

/** ioredis, loaded only when Redis is configured (≈ 10 MiB once imported, for nothing on a single node). */
const redisClient = (): typeof import('ioredis').Redis => (createRequire(import.meta.url)('ioredis') as typeof import('ioredis')).Redis;

export function createRateLimits(options: RateLimitsOptions = {}): RateLimits {
  const prefix = options.keyPrefix ?? 'rekey';
  const Redis = options.redisUrl ? redisClient() : undefined;
  const redis = Redis ? new Redis(options.redisUrl!, { ...REDIS_DEFAULTS, ...options.redisOptions }) : undefined;
  // Without a listener ioredis prints every reconnect failure to stderr.
  redis?.on('error', (error: Error) => options.onError?.(error));
  const made = new Map<string, { rule: string; limiter: RateLimiter }>();
  // While the first connection is being opened, Redis refuses commands as not ready, and the attempt would be
  // counted in this process's memory only, never in the shared count: each start of a node (or the first
  // request of a test) let one attempt more through than the limit. So a command waits for that first contact,
  // however it ends; an outage after it still falls back to memory at once.
  const firstContact = redis ? whenReady(redis, options.redisUrl!).catch(() => undefined) : undefined;

  return {
    backend: redis ? 'redis' : 'memory',
    limiter(name, rule) {
      checkRule(name, rule);
      const signature = JSON.stringify([rule.points, rule.durationSeconds, rule.blockSeconds ?? 0]);
      const existing = made.get(name);
      if (existing) {
        // Two rules on one name would silently share counters.
        if (existing.rule !== signature) throw new Error(`rate limiter "${name}" already exists with another rule`);
        return existing.limiter;
      }
      const base = { keyPrefix: `${prefix}:${name}`, points: rule.points, duration: rule.durationSeconds };
      const blockDuration = rule.blockSeconds ?? 0;
      const store: RateLimiterAbstract = redis
        ? new RateLimiterRedis({ ...base, blockDuration, storeClient: redis, rejectIfRedisNotReady: true, insuranceLimiter: new RateLimiterMemory(base) })
        : new RateLimiterMemory({ ...base, blockDuration });
      const limiter = wrap(store, firstContact);
      made.set(name, { rule: signature, limiter });
      return limiter;
    },
    ready: () => (redis ? whenReady(redis, options.redisUrl!) : Promise.resolve()),
    async close() {
      if (!redis || redis.status === 'end') return;
      if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
      else redis.disconnect();
    },
  };
}

/** The store behind each limiter, so `windowed` can read how long an exhausted window has left. */
const STORES = new WeakMap<RateLimiter, RateLimiterAbstract>();

function wrap(store: RateLimiterAbstract, firstContact: Promise<void> | undefined): RateLimiter {
  // Awaited only until it settles: afterwards (and without Redis) a count takes no extra turn of the microtask queue.
  let pending = firstContact;
  void firstContact?.then(() => (pending = undefined));
  const peek = async (key: string): Promise<number> => {
    if (pending) await pending;
    return Math.max(0, (await store.get(key))?.consumedPoints ?? 0);
  };
  const limiter: RateLimiter = {
    async consume(key, points = 1) {
      if (pending) await pending;
      try {
        const res = await store.consume(key, points);
        return { allowed: true, remaining: res.remainingPoints, retryAfterSeconds: 0 };
      } catch (error) {
        // rate-limiter-flexible rejects with a RateLimiterRes for "over the limit"; anything else is a real failure.
        if (!(error instanceof RateLimiterRes)) throw error;
        return { allowed: false, remaining: error.remainingPoints, retryAfterSeconds: toSeconds(error.msBeforeNext) };
      }
    },
    peek,
    async reward(key, points = 1) {
      // Both stores create a missing key at -points; clamp so only consumed points come back.
      // The read is not atomic with the write, so racing rewards can at worst return one extra reward.
      const give = Math.min(points, await peek(key));
      if (give > 0) await store.reward(key, give);
    },
    async delete(key) {
      if (pending) await pending;
      await store.delete(key);
    },
  };
  STORES.set(limiter, store);
  return limiter;
}

/**
 * One limiter over several windows of one counter family, e.g. 3 per 15 min AND 10 per 24 h (SEC-18).
 * Allowed only if every window allows; `retryAfterSeconds` is the longest wait among the exhausted windows.
 *
 * Windows are consumed shortest first, one after another, and a refused attempt is given back to the windows
 * that had let it through. So the long window counts what got through ("messages delivered"), and a flood
 * stopped by the 15-minute window cannot run up the 24-hour one and lock the account out for a day.
 */
export function windowed(limits: RateLimits, name: string, rules: Array<{ points: number; durationSeconds: number }>): RateLimiter {
  if (rules.length === 0) throw new Error(`rate limiter "${name}" needs at least one window`);
  const windows = [...rules]
    .sort((a, b) => a.durationSeconds - b.durationSeconds || a.points - b.points)
    .map((rule) => ({ rule, limiter: limits.limiter(`${name}:${rule.points}/${rule.durationSeconds}s`, rule) }));
  return {
    async consume(key, points = 1) {
      let remaining = Infinity;
      for (const [i, { limiter }] of windows.entries()) {
        const result = await limiter.consume(key, points);
        if (!result.allowed) {
          await Promise.all(windows.slice(0, i).map((w) => w.limiter.reward(key, points)));
          // Later windows were not consumed; if one is exhausted too, its wait is the real one.
          const waits = await Promise.all(
            windows.slice(i + 1).map(async (w) => {
              const res = await STORES.get(w.limiter)?.get(key);
              return res && res.consumedPoints >= w.rule.points ? toSeconds(res.msBeforeNext) : 0;
            }),
          );
          return { allowed: false, remaining: 0, retryAfterSeconds: Math.max(result.retryAfterSeconds, ...waits) };
        }
        remaining = Math.min(remaining, result.remaining);
      }
      return { allowed: true, remaining, retryAfterSeconds: 0 };
    },
    async peek(key) {
      return Math.max(...(await Promise.all(windows.map((w) => w.limiter.peek(key)))));
    },
    async reward(key, points = 1) {
      await Promise.all(windows.map((w) => w.limiter.reward(key, points)));
    },
    async delete(key) {
      await Promise.all(windows.map((w) => w.limiter.delete(key)));
    },
  };
}

const toSeconds = (ms: number): number => Math.max(1, Math.ceil(ms / 1000));

function checkRule(name: string, rule: RateRule): void {
  if (!/^[\w.:/-]+$/.test(name)) throw new Error(`rate limiter name "${name}" must be non-empty [A-Za-z0-9_.:/-]`);
  const positive = (n: number): boolean => Number.isInteger(n) && n > 0;
  // A zero duration would make the window never expire in rate-limiter-flexible.
  if (!positive(rule.points) || !positive(rule.durationSeconds) || !(rule.blockSeconds === undefined || rule.blockSeconds >= 0)) {
    throw new Error(`rate limiter "${name}": points and durationSeconds must be positive integers, blockSeconds ≥ 0`);
  }
}

/** Resolves once Redis answers; rejects (without the URL's password) if it cannot be reached or was closed. */
async function whenReady(redis: import('ioredis').Redis, url: string): Promise<void> {
  if (redis.status === 'ready') return;
  if (redis.status === 'end') throw new Error('rate limits are closed');
  const where = `Redis at ${redactUrl(url)}`;
  await new Promise<void>((resolve, reject) => {
    const done = (error?: Error): void => {
      redis.off('ready', done).off('error', done).off('end', done);
      if (error) reject(new Error(`${where} is not reachable: ${error.message}`));
      else if (redis.status === 'ready') resolve();
      else reject(new Error(`${where} closed the connection`));
    };
    redis.on('ready', done).on('error', done).on('end', done);
  });
}

function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}
