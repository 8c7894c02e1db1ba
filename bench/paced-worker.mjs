// The worker thread of bench/paced.ts (plain JavaScript: a worker thread does not inherit the TypeScript
// loader). See paced.ts for why the probe is paced this way.
import http from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';

/** @param {number[]} sorted @param {number} share nearest rank */
function percentile(sorted, share) {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(share * sorted.length) - 1))];
}

/** @param {import('./paced.ts').PacedOptions} options @returns {Promise<import('./load.ts').LoadSummary>} */
async function run(options) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const target = new URL(options.url);
  /** @returns {Promise<number>} */
  const send = () =>
    new Promise((resolve, reject) => {
      const request = http.request(
        { agent, host: target.hostname, port: target.port, method: options.method, path: options.path, headers: options.headers },
        (response) => {
          response.resume();
          response.once('end', () => resolve(response.statusCode ?? 0));
        },
      );
      request.once('error', reject);
      request.end();
    });
  // One request before the clock starts: the connection is open when the first due request goes.
  await send();

  const interval = 1000 / options.rate;
  const count = Math.round(options.rate * options.duration);
  /** @type {number[]} */
  const latencies = [];
  /** @type {Record<string, number>} */
  const statusCodes = {};
  let errors = 0;
  const started = performance.now();
  let previousEnd = started;
  for (let k = 0; k < count; k++) {
    const due = started + k * interval;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const sent = performance.now();
    // The previous answer came after this one was due: the server held it back, and that wait counts.
    const from = previousEnd > due ? due : sent;
    try {
      const status = await send();
      statusCodes[status] = (statusCodes[status] ?? 0) + 1;
    } catch {
      errors++;
    }
    previousEnd = performance.now();
    latencies.push(previousEnd - from);
  }
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const ok = Object.entries(statusCodes).reduce((sum, [code, n]) => sum + (code.startsWith('2') ? n : 0), 0);
  const total = Object.values(statusCodes).reduce((sum, n) => sum + n, 0);
  /** @param {number} value */
  const tenth = (value) => Math.round(value * 10) / 10;
  return {
    rps: ok / seconds,
    ok,
    total,
    errors,
    non2xx: total - ok,
    statusCodes,
    p50: tenth(percentile(latencies, 0.5)),
    p99: tenth(percentile(latencies, 0.99)),
    seconds,
  };
}

const port = parentPort;
if (port) void run(workerData).then((summary) => port.postMessage(summary));
