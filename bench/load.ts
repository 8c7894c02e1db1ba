import autocannon, { type AutocannonRequest, type AutocannonResult } from 'autocannon';

export interface LoadSummary {
  /** 2xx responses per second of the run. */
  rps: number;
  ok: number;
  total: number;
  errors: number;
  non2xx: number;
  statusCodes: Record<string, number>;
  p50: number;
  p99: number;
  seconds: number;
}

export interface LoadOptions {
  url: string;
  connections: number;
  /** Seconds; ignored when `amount` is set. */
  duration?: number;
  amount?: number;
  overallRate?: number;
  request: AutocannonRequest;
}

/** Runs one bounded autocannon load and reduces the result to what the report needs. */
export async function fire(options: LoadOptions): Promise<LoadSummary> {
  const result: AutocannonResult = await autocannon({
    url: options.url,
    connections: options.connections,
    pipelining: 1,
    timeout: 30,
    ...(options.amount !== undefined ? { amount: options.amount } : { duration: options.duration ?? 10 }),
    ...(options.overallRate !== undefined ? { overallRate: options.overallRate } : {}),
    requests: [options.request],
  });
  return summarize(result);
}

export function summarize(result: AutocannonResult): LoadSummary {
  const statusCodes = Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, { count }]) => [code, count]));
  const total = Object.values(statusCodes).reduce((sum, n) => sum + n, 0);
  return {
    rps: result.duration > 0 ? result['2xx'] / result.duration : 0,
    ok: result['2xx'],
    total,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    statusCodes,
    p50: result.latency.p50,
    p99: result.latency.p99,
    seconds: result.duration,
  };
}

/**
 * A POST whose JSON body is taken in turn from `bodies`. With `wrap: false` the list is used once:
 * past its end the same last body is resent (the caller sizes the list so that does not happen,
 * and `used()` tells whether it did).
 */
export function rotatingPost(path: string, headers: Record<string, string>, bodies: unknown[], wrap = true) {
  const encoded = bodies.map((body) => JSON.stringify(body));
  let next = 0;
  const request: AutocannonRequest = {
    method: 'POST',
    path,
    headers: { 'content-type': 'application/json', ...headers },
    setupRequest(req) {
      const i = wrap ? next % encoded.length : Math.min(next, encoded.length - 1);
      next++;
      req.body = encoded[i];
      return req;
    },
  };
  return { request, used: () => next, exhausted: () => !wrap && next > encoded.length };
}
