import type { Config } from '../config/schema.ts';
import { RekeyError } from '../errors/index.ts';
import { windowed, type RateLimiter, type RateLimits } from '../platform/ratelimit.ts';

/** Every abuse limit of the reset flows (SECURITY.md D), each a documented config key. */
export interface ResetLimits {
  ipRequests: RateLimiter;
  ipVerifications: RateLimiter;
  identifierRequests: RateLimiter;
  /** Reset mails delivered per account: over the limit, requests are dropped silently (SEC-18). */
  resetMails: RateLimiter;
  /** Wrong codes per identifier across re-issues (SEC-17), unknown addresses alike (SEC-03). */
  codeFailures: RateLimiter;
  /** One point per `reset.requested` job, so a rerun of the job does not spend the account's mail budget again. */
  requestJobRuns: RateLimiter;
}

export function createResetLimits(limits: RateLimits, config: Config): ResetLimits {
  const ipWindow = config.rateLimitIpWindowSeconds;
  return {
    ipRequests: limits.limiter('ip_requests', { points: config.rateLimitIpRequests, durationSeconds: ipWindow }),
    ipVerifications: limits.limiter('ip_verifications', { points: config.rateLimitIpVerifications, durationSeconds: ipWindow }),
    identifierRequests: limits.limiter('identifier_requests', {
      points: config.rateLimitIdentifierRequests,
      durationSeconds: config.rateLimitIdentifierWindowSeconds,
    }),
    resetMails: windowed(limits, 'reset_mails', [
      { points: config.resetMailsPer15Minutes, durationSeconds: 15 * 60 },
      { points: config.resetMailsPerDay, durationSeconds: 24 * 3600 },
    ]),
    codeFailures: limits.limiter('code_failures', { points: config.codeFailuresPerDay, durationSeconds: 24 * 3600 }),
    requestJobRuns: limits.limiter('reset_request_job_runs', { points: 1, durationSeconds: 24 * 3600 }),
  };
}

/**
 * Consumes one point or throws the 429 that carries `Retry-After` and, when given, which limit it was (`limit`,
 * e.g. `ip_requests`), so a page can say what tripped. Limits count every address alike, so naming one says
 * nothing about an account (SEC-03).
 */
export async function enforce(limiter: RateLimiter, key: string, limit?: string): Promise<void> {
  const result = await limiter.consume(key);
  if (!result.allowed) throw new RekeyError('rate_limited', { retryAfterSeconds: result.retryAfterSeconds, ...(limit ? { limit } : {}) });
}
