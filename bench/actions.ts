/**
 * Post-challenge actions' part of `npm run bench` (`--only=actions` runs it alone; `--quick` shortens it). On each
 * store, three Rekey servers are up together, the same but for `actions.postChallenge`: none, one and four no-op
 * actions (bench/fixtures/noop-action.js, which asks for nothing). The measured request is the reset flow's
 * first-factor verification, `POST /v1/reset_flows/attempt_link {token}`: it spends an emailed link's token and runs
 * the pipeline (the built-in second-factor rule, then the actions) before the flow moves on to `needs_new_password`.
 *
 *   1. latency     verifications one at a time on one keep-alive connection per server, the three servers in a
 *                  shuffled order each round: medians and p90; what one and four actions add to the median over
 *                  none, and per action                                            target < 5 ms median per action
 *   2. throughput  first-factor verifications per second, 10 connections, four actions against none in
 *                  alternating runs (the median of the runs)
 *
 * Writes its section between `<!-- actions:start -->` and `<!-- actions:end -->` in bench/results.md (appended when
 * the markers are absent) and prints it; `--quick` or `--only=…` only prints it, and `--only=…` without `actions`
 * skips this part.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fire, rotatingPost, type LoadSummary } from './load.ts';
import { cpuMeter, cpuModel, postgresPids, type CpuShare } from './machine.ts';
import { startServer, type ServerProcess } from './processes.ts';
import { adminQuery, benchStores, type StoreTarget } from './stores.ts';

const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
const only = [...args]
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',');

/** Timed verifications per server, after WARMUP of them. */
const SAMPLES = quick ? 60 : 400;
const WARMUP = quick ? 20 : 50;
const CONNECTIONS = 10;
/** Verifications per throughput run, and runs per server (alternating none and four). */
const PER_RUN = quick ? 300 : 4_000;
const RUNS = quick ? 1 : 3;
const COUNTS = [0, 1, 4] as const;
const TARGET_MS = 5;

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const NOOP_ACTION = join(ROOT, 'bench', 'fixtures', 'noop-action.js');
const RESULTS = join(ROOT, 'bench', 'results.md');
const START_MARKER = '<!-- actions:start -->';
const END_MARKER = '<!-- actions:end -->';
const ATTEMPT_LINK = '/v1/reset_flows/attempt_link';

const log = (message: string) => process.stderr.write(`[bench actions] ${message}\n`);
const pct = (ratio: number) => `${(ratio * 100).toFixed(0)} %`;
const fmt = (ms: number) => ms.toFixed(2);

interface Server {
  actions: (typeof COUNTS)[number];
  process: ServerProcess;
  tokens: string[];
  next: number;
}

const take = (server: Server, count: number): string[] => {
  if (server.next + count > server.tokens.length) throw new Error(`server with ${server.actions} actions ran out of tokens`);
  return server.tokens.slice(server.next, (server.next += count));
};

/** Every process under `pid` (the actions' warm pools are children of their server). */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      // The process ended meanwhile.
    }
  }
  const all: number[] = [];
  const walk = (p: number) => (children.get(p) ?? []).forEach((c) => (all.push(c), walk(c)));
  walk(pid);
  return all;
}

const conditions: string[] = [];
const problems: string[] = [];

/** Measures the machine while `run` runs: ours are this process, the servers, their action processes (and PostgreSQL). */
async function watched<T>(label: string, store: StoreTarget, servers: Server[], run: () => Promise<T>): Promise<T> {
  const pids = () => [
    process.pid,
    ...servers.flatMap((s) => [s.process.pid, ...descendants(s.process.pid)]),
    ...(store.label === 'PostgreSQL' ? postgresPids() : []),
  ];
  const meter = cpuMeter(pids);
  const load = os.loadavg()[0]!;
  const result = await run();
  const cpu: CpuShare | undefined = meter();
  if (cpu)
    conditions.push(`${label}: machine ${pct(cpu.busy)} busy, of which other processes ${pct(cpu.others)}; load average ${load.toFixed(1)} at the start`);
  if (cpu && cpu.others > 0.15)
    problems.push(`${label}: other processes took ${pct(cpu.others)} of the machine; its wall-clock figures are not representative`);
  return result;
}

/** One verification on a keep-alive connection, timed from the request's start to the end of its answer. */
function verify(server: Server, agent: http.Agent, token: string): Promise<{ status: number; ms: number }> {
  const url = new URL(ATTEMPT_LINK, server.process.url);
  const body = JSON.stringify({ token });
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

function shuffle<T>(items: T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

interface Latency {
  actions: number;
  p50: number;
  p90: number;
  samples: number;
}

async function latencies(store: StoreTarget, servers: Server[]): Promise<Latency[]> {
  const agents = new Map(servers.map((s) => [s, new http.Agent({ keepAlive: true, maxSockets: 1 })]));
  const times = new Map<Server, number[]>(servers.map((s) => [s, []]));
  try {
    const round = async (record: boolean) => {
      for (const server of shuffle(servers)) {
        const { status, ms } = await verify(server, agents.get(server)!, take(server, 1)[0]!);
        if (status !== 200) problems.push(`${store.label}, ${server.actions} actions: a verification answered ${status}`);
        if (record) times.get(server)!.push(ms);
      }
    };
    for (let i = 0; i < WARMUP; i++) await round(false);
    await watched(`latency, ${store.label}`, store, servers, async () => {
      for (let i = 0; i < SAMPLES; i++) await round(true);
    });
  } finally {
    for (const agent of agents.values()) agent.destroy();
  }
  return servers.map((server) => {
    const sorted = times.get(server)!.sort((a, b) => a - b);
    return { actions: server.actions, p50: quantile(sorted, 0.5), p90: quantile(sorted, 0.9), samples: sorted.length };
  });
}

/** A throughput run, with the CPU time its server and that server's action processes spent per 2xx. */
type Run = LoadSummary & { cpuMsPerOk?: number };

async function throughput(store: StoreTarget, none: Server, four: Server): Promise<Map<Server, Run[]>> {
  const runs = new Map<Server, Run[]>([
    [none, []],
    [four, []],
  ]);
  for (let round = 0; round < RUNS; round++) {
    // Alternating which goes first, so a drift of the machine's speed falls on both.
    for (const server of round % 2 ? [four, none] : [none, four]) {
      const bodies = take(server, PER_RUN).map((token) => ({ token }));
      const label = `throughput, ${store.label}, ${server.actions} actions, run ${round + 1}`;
      // CPU time counts what the work costs whatever else the machine runs, where the wall clock does not.
      const serverCpu = cpuMeter(() => [server.process.pid, ...descendants(server.process.pid)]);
      const summary: Run = await watched(label, store, [server], () =>
        fire({ url: server.process.url, connections: CONNECTIONS, amount: PER_RUN, request: rotatingPost(ATTEMPT_LINK, {}, bodies, false).request }),
      );
      const cpuSeconds = serverCpu()?.oursSeconds;
      if (cpuSeconds !== undefined && summary.ok > 0) summary.cpuMsPerOk = (cpuSeconds * 1000) / summary.ok;
      if (summary.non2xx || summary.errors) problems.push(`${label}: ${JSON.stringify(summary.statusCodes)}, ${summary.errors} errors`);
      log(
        `  ${label}: ${summary.rps.toFixed(1)} verifications/s, p50 ${summary.p50} ms, p99 ${summary.p99} ms${summary.cpuMsPerOk === undefined ? '' : `, ${fmt(summary.cpuMsPerOk)} ms CPU each`}`,
      );
      runs.get(server)!.push(summary);
    }
  }
  return runs;
}

async function startServers(store: StoreTarget): Promise<Server[]> {
  const tokensFor = (actions: number) => WARMUP + SAMPLES + (actions === 1 ? 0 : RUNS * PER_RUN);
  return Promise.all(
    COUNTS.map(async (actions) => {
      const process = await startServer({
        role: 'rekey',
        ...(await store.fresh(`actions${actions}`)),
        dispatcher: false,
        settings: {
          // Every request comes from 127.0.0.1.
          rateLimitIpVerifications: 1_000_000_000,
          actions: { postChallenge: Array.from({ length: actions }, (_, i) => ({ name: `noop-${i + 1}`, path: NOOP_ACTION })) },
        },
      });
      const count = tokensFor(actions);
      await process.call({ cmd: 'seed', prefix: 'act', count });
      const tokens = await process.call<string[]>({ cmd: 'issue', prefix: 'act', count, deliver: false });
      return { actions, process, tokens, next: 0 };
    }),
  );
}

interface StoreResult {
  store: StoreTarget;
  latency: Latency[];
  runs: Map<Server, Run[]>;
  none: Server;
  four: Server;
}

async function measureStore(store: StoreTarget): Promise<StoreResult> {
  log(`${store.label}: three servers (0, 1 and 4 no-op actions), ${(WARMUP + SAMPLES) * 3 + 2 * RUNS * PER_RUN} users and link tokens`);
  const servers = await startServers(store);
  try {
    const [none, , four] = servers as [Server, Server, Server];
    log(`${store.label}: latency, ${SAMPLES} verifications per server after ${WARMUP}, interleaved`);
    const latency = await latencies(store, servers);
    for (const l of latency) log(`  ${l.actions} actions: p50 ${fmt(l.p50)} ms, p90 ${fmt(l.p90)} ms`);
    log(`${store.label}: throughput, ${RUNS} runs each of ${PER_RUN} verifications over ${CONNECTIONS} connections, four actions against none`);
    const runs = await throughput(store, none, four);
    return { store, latency, runs, none, four };
  } finally {
    await Promise.all(servers.map((s) => s.process.stop()));
  }
}

function render(results: StoreResult[], started: Date): string {
  const lines = [
    '## Post-challenge actions: what the pipeline adds to a first-factor verification',
    '',
    `- Date: ${started.toISOString().replace('T', ' ').slice(0, 16)} UTC${quick ? ' — **quick smoke run (`--quick`), not representative**' : ''}; ${cpuModel()}, ${os.cpus().length} cores; ${revision()}`,
    `- The request: \`POST ${ATTEMPT_LINK} {token}\` (the flow API's first factor for an emailed link), answered 200 with the flow in \`needs_new_password\`.`,
    '',
    '| store | no-op actions | p50 ms | p90 ms | added to p50 over none | per action | target | met? |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |',
  ];
  const ratios: string[] = [];
  for (const { store, latency, runs, none, four } of results) {
    const base = latency.find((l) => l.actions === 0)!;
    for (const l of latency) {
      const added = l.p50 - base.p50;
      const perAction = l.actions ? added / l.actions : undefined;
      const target = l.actions ? `< ${TARGET_MS} ms per action` : '—';
      const met = perAction === undefined ? '—' : perAction < TARGET_MS ? 'yes' : '**no**';
      lines.push(
        `| ${store.label} | ${l.actions} | ${fmt(l.p50)} | ${fmt(l.p90)} | ${l.actions ? `${fmt(added)} ms` : '—'} | ${perAction === undefined ? '—' : `${fmt(perAction)} ms`} | ${target} | ${met} |`,
      );
    }
    const noneRuns = runs.get(none)!;
    const fourRuns = runs.get(four)!;
    const noneRate = median(noneRuns.map((r) => r.rps));
    const fourRate = median(fourRuns.map((r) => r.rps));
    const cpu = (rs: Run[]) => {
      const known = rs.flatMap((r) => (r.cpuMsPerOk === undefined ? [] : [r.cpuMsPerOk]));
      return known.length ? median(known) : undefined;
    };
    const [noneCpu, fourCpu] = [cpu(noneRuns), cpu(fourRuns)];
    const cpuCell = noneCpu === undefined || fourCpu === undefined ? '—' : `${fmt(noneCpu)} / ${fmt(fourCpu)} (${fmt((fourCpu - noneCpu) / 4)} per action)`;
    ratios.push(
      `| ${store.label} | ${noneRate.toFixed(0)} (${noneRuns.map((r) => r.rps.toFixed(0)).join(', ')}) | ${fourRate.toFixed(0)} (${fourRuns.map((r) => r.rps.toFixed(0)).join(', ')}) | ${pct(fourRate / noneRate)} | ${median(noneRuns.map((r) => r.p50))} / ${median(fourRuns.map((r) => r.p50))} | ${median(noneRuns.map((r) => r.p99))} / ${median(fourRuns.map((r) => r.p99))} | ${cpuCell} |`,
    );
  }
  lines.push(
    '',
    `First-factor verifications per second (the median of ${RUNS} run${RUNS > 1 ? 's' : ''}, each run's figure in brackets), ${CONNECTIONS} connections:`,
    '',
    '| store | no action | four no-op actions | four / none | p50 ms none / four | p99 ms none / four | CPU ms per verification none / four |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...ratios,
    '',
    '### Notes',
    '',
    `- Three servers per store, up together for the whole scenario (each its own process on the compiled code, its own fresh store, the dispatcher off), configured alike but for \`actions.postChallenge\`: none, one, and four entries naming \`bench/fixtures/noop-action.js\` (\`exports.onExecutePostChallenge = async () => {}\`), each action in its own warm pool of \`poolSize\` 2 processes (the default). The built-in second-factor rule is on in all three, as by default; the accounts have no second factor, so it asks for nothing.`,
    `- Each server's accounts (one per token) were inserted with one precomputed hash, and a reset link issued to each through the reset service before the runs (its mail left in the outbox). A token is spent once: every request opens a flow and verifies its first factor.`,
    `- Latency: ${WARMUP} rounds of warm-up, then ${SAMPLES} rounds; each round sends one verification to each server, in a shuffled order, one at a time on one keep-alive connection per server (\`node:http\`, timed with \`performance.now()\` from the request's start to the end of its answer). The same moments of the machine fall on all three servers. "Added" is the difference of the medians; "per action" divides it by the number of actions.`,
    `- Throughput: ${PER_RUN} verifications per run over ${CONNECTIONS} connections (autocannon), runs alternating between the server with none and the one with four (which goes first alternates), ${RUNS} each. An action takes one run at a time per process, so with the default \`poolSize\` of 2 at most two verifications are inside one action at a time; the others wait for a process.`,
    '- CPU per verification: the CPU time (user and system, every thread) of the server process and of its action processes over the run, read from /proc, divided by the 2xx answers; the load generator and the database server are not in it. Unlike the wall-clock figures it hardly moves when other processes share the machine.',
    "- What an action costs: the IPC round trip to its process. The user, application, enrolled factors and every action's `api.cache` are read once per verification, together, whatever the number of actions (the cache written after a run only when the action set or deleted an entry, which a no-op does not), and a flow let through at once writes no progress row. See docs/actions.md for `poolSize`: with no-op actions the bound under load is the server's event loop, not processes waiting for each other.",
    ...(problems.length ? ['', '### Problems seen', '', ...problems.map((p) => `- ${p}`)] : []),
    ...(conditions.length ? ['', '### Machine during each run', '', ...conditions.map((c) => `- ${c}`)] : []),
  );
  return lines.join('\n');
}

function revision(): string {
  try {
    return `code: git ${execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim()}`;
  } catch {
    return 'code: unknown revision';
  }
}

function writeSection(section: string): void {
  const block = `${START_MARKER}\n${section.trim()}\n${END_MARKER}`;
  const current = existsSync(RESULTS) ? readFileSync(RESULTS, 'utf8') : '';
  const start = current.indexOf(START_MARKER);
  const end = start >= 0 ? current.indexOf(END_MARKER, start) : -1;
  const next =
    start >= 0 && end >= 0
      ? `${current.slice(0, start)}${block}${current.slice(end + END_MARKER.length)}`
      : `${current.trimEnd()}${current ? '\n\n' : ''}${block}\n`;
  writeFileSync(RESULTS, next);
}

async function main(): Promise<void> {
  if (only && !only.includes('actions')) return;
  const started = new Date();
  const tmp = mkdtempSync(join(os.tmpdir(), 'rekey-bench-actions-'));
  const { sqlite, postgres, dropSchemas } = benchStores(tmp);
  const stores: StoreTarget[] = [sqlite];
  try {
    await adminQuery('SELECT 1');
    stores.push(postgres);
  } catch (error) {
    log(`PostgreSQL unavailable (${(error as Error).message}); SQLite only`);
  }
  const results: StoreResult[] = [];
  try {
    for (const store of stores) results.push(await measureStore(store));
    const section = render(results, started);
    if (!only && !quick) writeSection(section);
    process.stdout.write(`\n${START_MARKER}\n${section}\n${END_MARKER}\n`);
    if (!only && !quick) log(`written to ${RESULTS}`);
  } finally {
    await dropSchemas((schema, error) => log(`could not drop ${schema}: ${error.message}`));
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
