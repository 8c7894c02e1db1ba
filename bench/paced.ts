/**
 * A paced probe: one request every `1000 / rate` ms on one keep-alive connection, for the SEC-48 probes.
 *
 * Why not autocannon's `overallRate`: it sends a second's worth of requests back to back at the top of each
 * second and then idles, so "50 req/s" is a burst of 50 answers in a row and 900 ms of silence, ten times a
 * run; and it records each answer with HdrHistogram's coordinated-omission correction at an expected
 * interval of `ceil(1 / rate)` = 1 ms (not the 20 ms of the schedule), so an answer of R ms is also counted
 * as answers of R − 1, R − 2, … 1 ms. A handful of slow answers, such as the first of each burst, set the p99.
 *
 * Here each request has its due time. It is sent at that time when the connection is free, and its latency
 * runs from the moment it was written (the load generator's own timer lateness is not the server's doing).
 * When the previous answer is still out at the due time, the request goes as soon as that answer arrives
 * and its latency runs from the due time: the wait is the server's doing and counts (coordinated omission).
 * Latencies are kept exactly (to the microsecond), not in a 1 ms histogram; p50 and p99 are nearest-rank.
 *
 * It runs in a worker thread of its own (bench/paced-worker.mjs), so the confirm load's autocannon in the
 * main thread never delays the reading of a probe's answer.
 */
import { Worker } from 'node:worker_threads';
import type { LoadSummary } from './load.ts';

export interface PacedOptions {
  url: string;
  rate: number;
  /** Seconds. */
  duration: number;
  method: string;
  path: string;
  headers: Record<string, string>;
}

/** Runs the paced probe in a worker thread and resolves with its summary. */
export function paced(options: PacedOptions): Promise<LoadSummary> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./paced-worker.mjs', import.meta.url), { workerData: options });
    worker.once('message', (summary: LoadSummary) => resolve(summary));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`the paced probe's worker exited with ${code}`));
    });
  });
}
