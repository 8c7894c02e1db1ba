import os from 'node:os';
import { cpuModel } from './machine.ts';
import type { LoadSummary } from './load.ts';
import type { HashResult } from './processes.ts';

export interface Row {
  scenario: string;
  store: string;
  summary?: LoadSummary;
  /** For rows without an HTTP load (raw hashing). */
  rps?: number;
  target: string;
  met?: boolean;
  /** The measured figure the target is judged on (a ratio, a p99). */
  detail?: string;
}

export interface Report {
  date: Date;
  revision: string;
  quick: boolean;
  seconds: number;
  warmupSeconds: number;
  connections: number;
  confirmConnections: number;
  users: number;
  threadpool: number;
  probeRate: number;
  stormConnections: number;
  postgres: string;
  rows: Row[];
  ratios: string[];
  issues: string[];
  /** CPU use of the machine during each measured run. */
  conditions: string[];
  quietWaitSeconds: number;
  attempts: number;
  /** CPU time per successful request of each run. */
  cpuCosts: string[];
  raw?: HashResult;
}

const rate = (n: number): string => (n >= 100 ? n.toFixed(0) : n.toFixed(1));

function line(row: Row): string {
  const rps = row.summary ? rate(row.summary.rps) : row.rps !== undefined ? rate(row.rps) : '—';
  const p50 = row.summary ? String(row.summary.p50) : '—';
  const p99 = row.summary ? String(row.summary.p99) : '—';
  const met = row.met === undefined ? (row.detail ?? '—') : `${row.met ? 'yes' : '**no**'}${row.detail ? ` (${row.detail})` : ''}`;
  return `| ${row.scenario} | ${row.store} | ${rps} | ${p50} | ${p99} | ${row.target} | ${met} |`;
}

export function renderReport(report: Report): string {
  const cpus = os.cpus();
  const model = cpuModel();
  const lines = [
    '# Rekey benchmark results',
    '',
    `- Date: ${report.date.toISOString().replace('T', ' ').slice(0, 16)} UTC${report.quick ? ' — **quick smoke run (`--quick`), not representative**' : ''}`,
    `- Machine: ${model}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${os.type()} ${os.release()}`,
    `- Code: ${report.revision}`,
    `- Node ${process.version}, libuv thread pool ${report.threadpool}${process.env.UV_THREADPOOL_SIZE ? ' (UV_THREADPOOL_SIZE)' : ' (default)'}`,
    `- PostgreSQL: ${report.postgres}`,
    `- Each scenario: ${report.seconds} s with autocannon after a warm-up; the server runs in its own process, plain \`node\` on compiled code (\`bench/server.ts\` bundled against the \`dist/\` of a copy built with \`npm run build\`, see \`bench/compiled.ts\`), the load generator in \`bench/run.ts\`.`,
    '',
    '| scenario | store | req/s | p50 ms | p99 ms | target | met? |',
    '| --- | --- | ---: | ---: | ---: | --- | --- |',
    ...report.rows.map(line),
    '',
    '## Ratios',
    '',
    ...report.ratios.map((r) => `- ${r}`),
    '',
    '## Notes',
    '',
    `- req/s counts 2xx responses only, divided by the run's duration; p50/p99 are autocannon's latencies over all responses (the probes': bench/paced.ts).`,
    `- Ceiling: a bare Fastify 5 app (no logger, no schema validation) whose \`POST /insert\` inserts one row with the driver itself: a prepared better-sqlite3 statement (WAL, \`synchronous = NORMAL\`, as in \`src/store/connect.ts\`) or a \`pg\` pool of 10 (Rekey's default). ${report.connections} connections, ${report.warmupSeconds} s warm-up. Measured on a fresh server just before and just after create-reset; create-reset is judged against the mean of the two.`,
    `- create-reset: ${report.users.toLocaleString('en')} users inserted directly with one precomputed Argon2id hash, requested in rotation over ${report.connections} connections with a \`sk_\` key. **The outbox dispatcher is off** (config \`dispatcher: false\`): the request writes the reset row (voiding older ones) and the password-reset workflow's execution, step and outbox row in one transaction; no mail is rendered or stored.`,
    ...(report.raw
      ? [
          `- raw Argon2id: ${report.raw.loops} concurrent \`hasher.hash()\` loops (m = 19456 KiB, t = 2, p = 1, Rekey's defaults) for ${report.seconds} s in a fresh process, with the memory settings \`rekey serve\` runs with (bin/serve-tuning.js: each hash maps its 19 MiB afresh), measured right before and right after each confirm run; one more raw run per store with glibc's default allocator (each hashing thread keeps its 19 MiB) shows what those settings cost a hash; each confirm is judged against the mean of the two, so a drift of the machine's speed during the run counts half each way. Each store gets three confirm runs between four raw runs, and the median of the three ratios is the figure judged.`,
        ]
      : []),
    `- confirm: one token per user, issued beforehand through the reset service (their reset mails delivered before the run); each request spends a different token with a new valid password, ${report.confirmConnections} connections. The dispatcher is **on**, as by default, so each confirm's "password changed" mail is rendered and stored in the development mailbox during the run.`,
    `- probes (SEC-48): \`GET /v1/session\` with an access token from the password grant (its HMAC checked synchronously on the event loop; the session row read from the store), \`GET /user_management/users/:id\` with the secret key, and \`GET /healthz\`; each on 1 connection at ${report.probeRate} req/s, one request every ${1000 / report.probeRate} ms (bench/paced.ts: latency from the send, or from the due time when the previous answer was still out; exact, not autocannon's 1 ms histogram), first alone, then alongside a fresh confirm load of ${report.stormConnections} connections, on each store. Password hashing passes a gate of \`min(threadPoolSize − 1, cores)\` slots with a bounded queue (\`src/users/hash-pool.ts\`), on pool threads in Linux's SCHED_IDLE class at nice 10 (\`src/users/hash-priority.ts\`); Rekey runs with the memory settings of \`rekey serve\` (\`bin/serve-tuning.js\`).`,
    `- The machine is shared: before each measured run the runner waits (at most ${report.quietWaitSeconds} s) for it to be ≥ 85 % idle, and a run during which other processes took more than 15 % of it is repeated (at most ${report.attempts} attempts; the least disturbed one is kept). CPU use during each kept run, read from /proc, is listed below.`,
    ...(report.issues.length ? ['', '### Problems seen', '', ...report.issues.map((i) => `- ${i}`)] : []),
    ...(report.cpuCosts.length ? ['', '### CPU per request', '', ...report.cpuCosts.map((c) => `- ${c}`)] : []),
    ...(report.conditions.length ? ['', '### Machine during each run', '', ...report.conditions.map((c) => `- ${c}`)] : []),
    '',
  ];
  return lines.join('\n');
}
