/**
 * `npm run bench` (or `npm run bench -- --quick` for a 2-second smoke run): load tests with autocannon
 * against servers started in child processes, written to `bench/results.md` and printed.
 *
 *   1. ceiling      a bare Fastify `POST /insert` writing one row with the driver (SQLite and PostgreSQL)
 *   2. create-reset `POST /user_management/password_reset`, users in rotation      target ≥ 30 % of 1.
 *   3. confirm      `POST /user_management/password_reset/confirm`, one token each  target ≥ 85 % of raw Argon2id
 *   4. probes       an authenticated `GET /v1/session`, a management `GET /user_management/users/:id` and
 *                   `GET /healthz`, each at 50 req/s, alone and then while 50 connections confirm resets
 *                   (SEC-48), on both stores                                     target p99 < 20 ms
 *
 * `--only=ceiling,create-reset,confirm,probes` runs a subset (`healthz` is another name for `probes`); `forgot`,
 * `notifications` and `actions` name bench/forgot.ts, bench/notifications.ts and bench/actions.ts.
 * Only a full run (neither `--only` nor `--quick`) writes results.md.
 * `--profile` also writes a V8 CPU profile of every server process (see bench/profile-summary.ts).
 * PostgreSQL comes from REKEY_BENCH_DATABASE_URL, else REKEY_TEST_DATABASE_URL, else
 * postgres://postgres@127.0.0.1:5432/test; each server gets a fresh schema, dropped at the end.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fire, rotatingPost, type LoadOptions, type LoadSummary } from './load.ts';
import { cpuMeter, postgresPids, waitForQuiet, type CpuShare } from './machine.ts';
import { paced } from './paced.ts';
import { probesFor, type Probe } from './probes.ts';
import { measureHashes, startServer, type Allocator, type HashResult, type ServerProcess } from './processes.ts';
import { emailOf, passwordOf } from './protocol.ts';
import { renderReport, type Row } from './report.ts';
import { adminQuery, benchStores, POSTGRES_URL, type StoreTarget } from './stores.ts';

const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
const profile = args.has('--profile');
const only = [...args]
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',');
const want = (scenario: string) => !only || only.includes(scenario);

const SECONDS = quick ? 2 : 10;
const WARMUP_SECONDS = quick ? 1 : 2;
const CONNECTIONS = 10;
const CONFIRM_CONNECTIONS = 10;
/** Confirm runs per store, each between two raw Argon2id runs. */
const CONFIRM_ROUNDS = quick ? 1 : 3;
const USERS = quick ? 200 : 1_000;
/** Each probe's rate, on one connection of its own. */
const PROBE_RATE = 50;
/** Connections confirming resets while the probes run: a storm far beyond the hashing slots (SEC-48). */
const STORM_CONNECTIONS = 50;
const THREADPOOL = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
/** Before each measured run, wait up to this long for the machine to be ≥ 85 % idle. */
const QUIET_WAIT_SECONDS = quick ? 3 : 60;
const RESULTS = fileURLToPath(new URL('./results.md', import.meta.url));

const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);
const profileDir = profile ? join(os.tmpdir(), `rekey-bench-profiles-${Date.now()}`) : undefined;
const pct = (ratio: number): string => `${(ratio * 100).toFixed(0)} %`;

/** Machine conditions of every measured run, for the notes. */
const conditions: string[] = [];
const issues: string[] = [];

function recordConditions(label: string, idleBefore: number | undefined, cpu: CpuShare | undefined): void {
  if (!cpu) return;
  const before = idleBefore === undefined ? '' : `, ${pct(idleBefore)} idle just before`;
  conditions.push(`${label}: machine ${pct(cpu.busy)} busy, of which other processes ${pct(cpu.others)}${before}`);
  if (cpu.others > 0.1) issues.push(`${label}: other processes used ${pct(cpu.others)} of the machine during the run; treat the figure with care`);
}

/** CPU cost per successful request of each measured run, for the notes. */
const cpuCosts: string[] = [];
const ms = (seconds: number): string => `${(seconds * 1000).toFixed(2)} ms`;
/** A run during which other processes took more than this share of the machine is repeated. */
const MAX_INTERFERENCE = 0.15;
const ATTEMPTS = quick ? 1 : 3;

type Load = LoadSummary | [LoadSummary, ...LoadSummary[]];

interface Attempt<T> {
  result: T;
  cpu?: CpuShare;
  idleBefore?: number;
  cost: string;
  serverCpuPerOk: number;
}

/**
 * A measured run: wait (bounded) for a quiet machine, bracket the run in the server (CPU time and,
 * with --profile, a V8 profile of exactly this window) and account for the machine's CPU meanwhile.
 * On a shared machine, a run disturbed by other processes is repeated (up to ATTEMPTS times) and
 * the least disturbed one is kept. `prepare` runs before each attempt, outside the measurement.
 */
async function measured<T extends Load>(
  label: string,
  server: ServerProcess,
  store: StoreTarget,
  run: () => Promise<T>,
  prepare?: () => Promise<void>,
): Promise<T & { serverCpuPerOk: number }> {
  let best: Attempt<T> | undefined;
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    await prepare?.();
    const idleBefore = await waitForQuiet(0.85, QUIET_WAIT_SECONDS);
    const profilePath = profileDir ? join(profileDir, `${label.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}-${attempt}.cpuprofile`) : undefined;
    await server.window('start', profilePath);
    const meter = cpuMeter(() => [process.pid, server.pid, ...(store.label === 'PostgreSQL' ? postgresPids() : [])]);
    const database = store.label === 'PostgreSQL' ? cpuMeter(postgresPids) : undefined;
    const ownCpu = process.cpuUsage();
    const result = await run();
    const own = process.cpuUsage(ownCpu);
    const databaseSeconds = database?.()?.oursSeconds;
    const cpu = meter();
    const usage = await server.window('stop', profilePath);
    const main: LoadSummary = Array.isArray(result) ? result[0] : (result as LoadSummary);
    const ok = Math.max(1, main.ok);
    const serverCpuPerOk = usage.cpuSeconds / ok;
    const cost =
      `${label}: server ${ms(serverCpuPerOk)} CPU per 2xx (all threads, of which the main thread ${ms(usage.mainThreadCpuSeconds / ok)}; ${(usage.cpuSeconds / usage.seconds).toFixed(2)} cores busy)` +
      (databaseSeconds !== undefined ? `, PostgreSQL processes ${ms(databaseSeconds / ok)}` : '') +
      `, load generator ${ms((own.user + own.system) / 1e6 / ok)}`;
    if (profilePath) log(`  profile of the run: ${profilePath}`);
    const current: Attempt<T> = { result, cpu, idleBefore, cost, serverCpuPerOk };
    if (!best || (current.cpu?.others ?? 0) < (best.cpu?.others ?? 0)) best = current;
    const others = cpu?.others ?? 0;
    if (others <= MAX_INTERFERENCE) break;
    if (attempt < ATTEMPTS) log(`  other processes took ${pct(others)} of the machine during the run; repeating it (attempt ${attempt + 1} of ${ATTEMPTS})`);
  }
  recordConditions(label, best!.idleBefore, best!.cpu);
  cpuCosts.push(best!.cost);
  return Object.assign(best!.result, { serverCpuPerOk: best!.serverCpuPerOk });
}

function describeLoad(summary: LoadSummary): string {
  const codes = Object.entries(summary.statusCodes)
    .map(([code, n]) => `${code}×${n}`)
    .join(' ');
  return `${summary.rps.toFixed(1)} ok/s, p50 ${summary.p50} ms, p99 ${summary.p99} ms [${codes}${summary.errors ? ` errors×${summary.errors}` : ''}]`;
}

/** Anything but 2xx in a measured run is reported, never hidden. */
function checkResponses(label: string, summary: LoadSummary | undefined): void {
  if (!summary || (summary.non2xx === 0 && summary.errors === 0)) return;
  const codes = Object.entries(summary.statusCodes)
    .filter(([code]) => !code.startsWith('2'))
    .map(([code, n]) => `${n}× ${code}`);
  if (summary.errors) codes.push(`${summary.errors} socket errors/timeouts`);
  issues.push(`${label}: ${codes.join(', ')}`);
}

async function withServer<T>(server: ServerProcess, body: (server: ServerProcess) => Promise<T>): Promise<T> {
  try {
    return await body(server);
  } finally {
    await server.stop();
  }
}

async function ceiling(store: StoreTarget, when: 'before' | 'after'): Promise<LoadSummary> {
  const db = await store.fresh(`ceiling_${when}`);
  const server = await startServer({ role: 'ceiling', ...db });
  return withServer(server, async () => {
    const bodies = Array.from({ length: USERS }, (_, i) => ({ email: emailOf('ceiling', i) }));
    const load = (duration: number): LoadOptions => ({
      url: server.url,
      connections: CONNECTIONS,
      duration,
      request: rotatingPost('/insert', {}, bodies).request,
    });
    await fire(load(WARMUP_SECONDS));
    return measured(`ceiling ${when}, ${store.label}`, server, store, () => fire(load(SECONDS)));
  });
}

async function createReset(store: StoreTarget): Promise<LoadSummary> {
  const db = await store.fresh('create');
  // The dispatcher stays off: this measures the API, which only writes the reset and its outbox row.
  const server = await startServer({ role: 'rekey', ...db, dispatcher: false });
  return withServer(server, async () => {
    await server.call({ cmd: 'seed', prefix: 'reset', count: USERS });
    const auth = { authorization: `Bearer ${server.secretKey}` };
    const bodies = Array.from({ length: USERS }, (_, i) => ({ email: emailOf('reset', i) }));
    const load = (duration: number): LoadOptions => ({
      url: server.url,
      connections: CONNECTIONS,
      duration,
      request: rotatingPost('/user_management/password_reset', auth, bodies).request,
    });
    await fire(load(WARMUP_SECONDS));
    return measured(`create-reset, ${store.label}`, server, store, () => fire(load(SECONDS)));
  });
}

interface ProbeResult {
  label: string;
  idle: LoadSummary;
  busy: LoadSummary;
}

interface ConfirmRun {
  confirm: LoadSummary;
  serverCpuPerConfirm: number;
  probes?: ProbeResult[];
}

/** A confirm load on a fresh server and store; `round` numbers the runs of one store; `probes` adds the SEC-48 probes. */
async function confirmResets(
  store: StoreTarget,
  hashRate: number,
  { round, probes: withProbes = false }: { round?: number; probes?: boolean },
): Promise<ConfirmRun> {
  const name = withProbes ? 'probes' : `confirm${round ?? ''}`;
  const connections = withProbes ? STORM_CONNECTIONS : CONFIRM_CONNECTIONS;
  const db = await store.fresh(name);
  // The dispatcher runs, as it does by default: each confirm queues a "password changed" mail.
  const server = await startServer({ role: 'rekey', ...db, dispatcher: true });
  return withServer(server, async () => {
    const auth = { authorization: `Bearer ${server.secretKey}` };
    const path = '/user_management/password_reset/confirm';
    let batch = 0;
    let exhausted = false;
    /** Fresh users, each with one reset issued through the reset service; a request body per token. */
    const tokenBatch = async (count: number) => {
      const prefix = `confirm${batch++}`;
      const t0 = performance.now();
      await server.call({ cmd: 'seed', prefix, count });
      const t1 = performance.now();
      const tokens = await server.call<string[]>({ cmd: 'issue', prefix, count });
      log(
        `  ${count} users seeded in ${((t1 - t0) / 1000).toFixed(1)} s, a reset issued to each (mail delivered) in ${((performance.now() - t1) / 1000).toFixed(1)} s`,
      );
      return tokens.map((token, i) => ({ token, new_password: passwordOf(i + 1) }));
    };

    const warmup = (quick ? 2 : 4) * CONFIRM_CONNECTIONS;
    await fire({
      url: server.url,
      connections: CONFIRM_CONNECTIONS,
      amount: warmup,
      request: rotatingPost(path, auth, await tokenBatch(warmup), false).request,
    });

    // Enough single-use tokens for one run at well above any hash rate this machine showed (a raw
    // measurement disturbed by other processes must not leave the run short of tokens).
    const perRun = Math.ceil(Math.max(hashRate * 1.5, 100) * (SECONDS + 2)) + 2 * connections;
    let current: ReturnType<typeof rotatingPost> | undefined;
    let probes: Probe[] = [];
    if (withProbes) await server.call({ cmd: 'seed', prefix: 'probe', count: 1 });
    const refreshProbes = async () => {
      if (withProbes) probes = await probesFor(server);
    };
    const prepare = async () => {
      if (current?.exhausted()) exhausted = true;
      current = rotatingPost(path, auth, await tokenBatch(perRun), false);
      await refreshProbes();
    };
    const fireProbes = () =>
      Promise.all(
        probes.map((probe) =>
          paced({
            url: server.url,
            rate: PROBE_RATE,
            duration: SECONDS,
            method: probe.request.method ?? 'GET',
            path: probe.request.path ?? '/',
            headers: probe.request.headers ?? {},
          }),
        ),
      );
    const label = `confirm${withProbes ? ` (${connections} connections) + probes` : ''}, ${store.label}${round ? `, round ${round}` : ''}`;

    // Reference: the same probes with nothing else running.
    const idle = withProbes
      ? await measured(`probes alone, ${store.label}`, server, store, async () => (await fireProbes()) as [LoadSummary, ...LoadSummary[]], refreshProbes)
      : [];
    const both = await measured(
      label,
      server,
      store,
      async () => {
        const [confirms, probed] = await Promise.all([fire({ url: server.url, connections, duration: SECONDS, request: current!.request }), fireProbes()]);
        return [confirms, ...probed] as [LoadSummary, ...LoadSummary[]];
      },
      prepare,
    );
    const [confirm, ...busy] = both;
    if (exhausted || current?.exhausted()) issues.push(`${label}: a run used up its ${perRun} pre-issued tokens (later requests reused one and failed)`);
    return {
      confirm,
      probes: withProbes ? probes.map((probe, i) => ({ label: probe.label, idle: idle[i]!, busy: busy[i]! })) : undefined,
      serverCpuPerConfirm: both.serverCpuPerOk,
    };
  });
}

async function rawHashes(label: string, allocator: Allocator = 'rekey'): Promise<HashResult> {
  let best: HashResult | undefined;
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    await waitForQuiet(0.85, QUIET_WAIT_SECONDS);
    log(`raw Argon2id (${label}): ${THREADPOOL} concurrent hash loops for ${SECONDS} s`);
    const raw = await measureHashes(THREADPOOL, SECONDS, allocator);
    log(`  ${raw.rate.toFixed(1)} hashes/s (${raw.hashes} in ${raw.seconds.toFixed(2)} s), ${ms(raw.cpuPerHash)} CPU per hash`);
    if (!best || (raw.cpu?.others ?? 0) < (best.cpu?.others ?? 0)) best = raw;
    const others = raw.cpu?.others ?? 0;
    if (others <= MAX_INTERFERENCE) break;
    if (attempt < ATTEMPTS) log(`  other processes took ${pct(others)} of the machine during the run; repeating it (attempt ${attempt + 1} of ${ATTEMPTS})`);
  }
  recordConditions(`raw Argon2id, ${label}`, undefined, best!.cpu);
  cpuCosts.push(`raw Argon2id, ${label}: ${ms(best!.cpuPerHash)} CPU per hash`);
  return best!;
}

/** Runs one scenario; a failure is reported in the results instead of ending the run. */
async function attempt<T>(label: string, run: () => Promise<T>): Promise<T | undefined> {
  try {
    return await run();
  } catch (error) {
    const message = (error as Error).message.split('\n')[0];
    log(`${label} FAILED: ${(error as Error).stack ?? message}`);
    issues.push(`${label} failed: ${message}`);
    return undefined;
  }
}

async function main(): Promise<void> {
  // `--only=forgot`, `--only=notifications` or `--only=actions` names another script's scenarios only.
  if (only && !only.some((name) => ['ceiling', 'create-reset', 'confirm', 'probes', 'healthz'].includes(name))) return;
  const started = new Date();
  const code = revision();
  const tmp = mkdtempSync(join(os.tmpdir(), 'rekey-bench-'));
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const { sqlite, postgres, dropSchemas } = benchStores(tmp);

  let postgresVersion: string | undefined;
  let postgresProblem: string | undefined;
  try {
    postgresVersion = String((await adminQuery('SHOW server_version')).rows[0]?.server_version ?? '?');
  } catch (error) {
    postgresProblem = (error as Error).message;
    log(`PostgreSQL unavailable at ${redact(POSTGRES_URL)}: ${postgresProblem}; its rows are skipped`);
  }
  const stores = postgresVersion ? [sqlite, postgres] : [sqlite];
  const rows: Row[] = [];
  const ratios: string[] = [];
  const raws: HashResult[] = [];

  try {
    // create-reset is judged against the ceiling measured just before and just after it (their mean), as
    // the confirms are against raw hashing: the machine's speed drifts between runs.
    for (const store of want('ceiling') || want('create-reset') ? stores : []) {
      const measureCeiling = async (when: 'before' | 'after') => {
        log(`ceiling ${when}, ${store.label}: bare Fastify POST /insert, ${CONNECTIONS} connections, ${SECONDS} s`);
        const top = await attempt(`ceiling ${when}, ${store.label}`, () => ceiling(store, when));
        if (!top) return undefined;
        log(`  ${describeLoad(top)}`);
        checkResponses(`ceiling ${when}, ${store.label}`, top);
        rows.push({
          scenario: `ceiling: bare Fastify \`POST /insert\`, one row, ${when === 'before' ? 'just before' : 'just after'} create-reset`,
          store: store.label,
          summary: top,
          target: '—',
        });
        return top;
      };
      const before = await measureCeiling('before');
      if (!before || !want('create-reset')) continue;

      log(`create-reset, ${store.label}: ${USERS} users in rotation, dispatcher off`);
      const create = await attempt(`create-reset, ${store.label}`, () => createReset(store));
      if (!create) continue;
      log(`  ${describeLoad(create)}`);
      checkResponses(`create-reset, ${store.label}`, create);
      const createRow = rows.push({ scenario: 'create-reset: `POST /user_management/password_reset`', store: store.label, summary: create, target: '' }) - 1;
      const after = await measureCeiling('after');
      const brackets = after ? [before, after] : [before];
      const top = brackets.reduce((sum, r) => sum + r.rps, 0) / brackets.length;
      const ratio = top > 0 ? create.rps / top : 0;
      Object.assign(rows[createRow]!, {
        target: `≥ 30 % of the ceiling, mean of just before and just after (${Math.round(top * 0.3)} req/s)`,
        met: ratio >= 0.3,
        detail: pct(ratio),
      });
      ratios.push(
        `create-reset / ceiling, ${store.label}: **${pct(ratio)}** (${create.rps.toFixed(0)} / ${top.toFixed(0)} req/s, the mean of ${brackets.map((r) => r.rps.toFixed(0)).join(' and ')})`,
      );
    }

    // Confirms are compared with raw measurements taken just before and just after them: a shared VM's
    // speed drifts by several per cent within minutes, and the mean of the two brackets the confirm run.
    // Three such rounds alternate (raw, confirm, raw, confirm, raw, confirm, raw) and the median round
    // decides, so one disturbed minute cannot. The raw loops run with the server's memory settings, as a
    // hash costs that much in the server: each maps its 19 MiB afresh instead of keeping it per thread
    // (bin/serve-tuning.js). One more raw run with glibc's defaults shows what that trade costs.
    for (const store of want('confirm') ? stores : []) {
      const plain = await attempt(`raw Argon2id, glibc defaults, ${store.label}`, () => rawHashes(`glibc's default allocator, ${store.label}`, 'default'));
      const rawRow = (raw: HashResult, i: number) =>
        rows.push({
          scenario: `raw Argon2id \`hasher.hash()\`, ${THREADPOOL} concurrent loops, run ${i + 1} of ${CONFIRM_ROUNDS + 1}`,
          store: `(${store.label} run)`,
          rps: raw.rate,
          target: '—',
        });
      let before = await attempt(`raw Argon2id 1, ${store.label}`, () => rawHashes(`run 1 of ${CONFIRM_ROUNDS + 1}, ${store.label}`));
      if (!before) continue;
      raws.push(before);
      rawRow(before, 0);
      const rounds: Array<{ ratio: number; rps: number; rawRate: number; brackets: HashResult[]; cpuPerConfirm: number }> = [];
      for (let round = 1; round <= CONFIRM_ROUNDS && before; round++) {
        log(`confirm, ${store.label}, round ${round} of ${CONFIRM_ROUNDS}: ${CONFIRM_CONNECTIONS} connections, one token per request`);
        const run = await attempt(`confirm, ${store.label}, round ${round}`, () => confirmResets(store, before!.rate, { round }));
        if (!run) break;
        log(`  ${describeLoad(run.confirm)}`);
        checkResponses(`confirm, ${store.label}, round ${round}`, run.confirm);
        const after = await attempt(`raw Argon2id ${round + 1}, ${store.label}`, () => rawHashes(`run ${round + 1} of ${CONFIRM_ROUNDS + 1}, ${store.label}`));
        const brackets = after ? [before, after] : [before];
        const rawRate = brackets.reduce((sum, r) => sum + r.rate, 0) / brackets.length;
        const ratio = run.confirm.rps / rawRate;
        rounds.push({ ratio, rps: run.confirm.rps, rawRate, brackets, cpuPerConfirm: run.serverCpuPerConfirm });
        rows.push({
          scenario: `confirm: \`POST /user_management/password_reset/confirm\`, round ${round}`,
          store: store.label,
          summary: run.confirm,
          target: `raw runs ${round} and ${round + 1}: ${rawRate.toFixed(1)} hashes/s`,
          detail: pct(ratio),
        });
        if (after) {
          raws.push(after);
          rawRow(after, round);
        }
        before = after;
      }
      if (rounds.length === 0) continue;
      const median = [...rounds].sort((a, b) => a.ratio - b.ratio)[Math.floor((rounds.length - 1) / 2)]!;
      rows.push({
        scenario: `confirm, the median of ${rounds.length} round${rounds.length > 1 ? 's' : ''}`,
        store: store.label,
        rps: median.rps,
        target: '≥ 85 % of raw (the mean of the raw runs just before and just after)',
        met: median.ratio >= 0.85,
        detail: pct(median.ratio),
      });
      if (plain) {
        rows.push({
          scenario: `raw Argon2id \`hasher.hash()\`, ${THREADPOOL} concurrent loops, glibc's default allocator (for reference)`,
          store: `(${store.label} run)`,
          rps: plain.rate,
          target: '—',
          detail: `confirms ${pct(median.rps / plain.rate)} of it`,
        });
      }
      const rawCpuPerHash = median.brackets.reduce((sum, r) => sum + r.cpuPerHash, 0) / median.brackets.length;
      ratios.push(
        `confirms / raw hashes, ${store.label}: **${pct(median.ratio)}**, the median of ${rounds.map((r) => pct(r.ratio)).join(', ')} ` +
          `(${median.rps.toFixed(1)} confirms/s / ${median.rawRate.toFixed(1)} hashes/s, the mean of ${median.brackets.map((r) => r.rate.toFixed(1)).join(' and ')}); ` +
          `CPU per confirm ${ms(median.cpuPerConfirm)} against ${ms(rawCpuPerHash)} per raw hash, i.e. ${pct(rawCpuPerHash / median.cpuPerConfirm)} of the server's CPU goes to hashing` +
          (plain
            ? `; with glibc's default allocator a raw hash takes ${ms(plain.cpuPerHash)} CPU and ${plain.rate.toFixed(1)} hashes/s, and the confirms are ${pct(median.rps / plain.rate)} of that`
            : ''),
      );
    }

    // SEC-48: cheap authenticated calls stay fast while a storm of confirms saturates the CPU.
    for (const store of want('probes') || want('healthz') ? stores : []) {
      const hashRate = Math.max(0, ...raws.map((r) => r.rate));
      log(`probes, ${store.label}: each at ${PROBE_RATE} req/s on 1 connection, alone and then during ${STORM_CONNECTIONS} connections of confirms`);
      const run = await attempt(`probes during confirms, ${store.label}`, () => confirmResets(store, hashRate, { probes: true }));
      if (!run) continue;
      log(`  confirms meanwhile: ${describeLoad(run.confirm)}`);
      checkResponses(`confirm (${STORM_CONNECTIONS} connections) during the probes, ${store.label}`, run.confirm);
      const figures: string[] = [];
      for (const probe of run.probes!) {
        log(`  ${probe.label} alone: ${describeLoad(probe.idle)}; during confirms: ${describeLoad(probe.busy)}`);
        // A probe stuck behind hashes answers few requests in the run's time: the percentiles count the waits
        // from each due time, and the rate it kept up is judged too.
        const keptUp = probe.busy.rps >= 0.9 * PROBE_RATE;
        checkResponses(`${probe.label} alone, ${store.label}`, probe.idle);
        checkResponses(`${probe.label} during confirms, ${store.label}`, probe.busy);
        rows.push({ scenario: `${probe.label} alone (reference)`, store: store.label, summary: probe.idle, target: '—' });
        rows.push({
          scenario: `${probe.label} during confirms (${STORM_CONNECTIONS} connections, ${run.confirm.rps.toFixed(1)} confirms/s, p99 ${run.confirm.p99} ms)`,
          store: store.label,
          summary: probe.busy,
          target: `p99 < 20 ms at ${PROBE_RATE} req/s`,
          met: probe.busy.p99 < 20 && keptUp,
          detail: `${probe.busy.p99} ms${keptUp ? '' : `, only ${probe.busy.rps.toFixed(1)} req/s answered`}`,
        });
        figures.push(`${probe.label} p50 ${probe.busy.p50} ms / p99 ${probe.busy.p99} ms (alone ${probe.idle.p50} / ${probe.idle.p99})`);
      }
      ratios.push(`probes during ${run.confirm.rps.toFixed(1)} confirms/s, ${store.label}: ${figures.join('; ')}`);
    }

    const codeAtEnd = revision();
    const markdown = renderReport({
      date: started,
      revision: codeAtEnd === code ? code : `${code} at the start, ${codeAtEnd} at the end (the tree changed during the run)`,
      quick,
      seconds: SECONDS,
      warmupSeconds: WARMUP_SECONDS,
      connections: CONNECTIONS,
      confirmConnections: CONFIRM_CONNECTIONS,
      users: USERS,
      threadpool: THREADPOOL,
      probeRate: PROBE_RATE,
      stormConnections: STORM_CONNECTIONS,
      postgres: postgresVersion ? `PostgreSQL ${postgresVersion} at ${redact(POSTGRES_URL)}` : `not measured (${postgresProblem})`,
      rows,
      ratios,
      issues,
      conditions,
      cpuCosts,
      quietWaitSeconds: QUIET_WAIT_SECONDS,
      attempts: ATTEMPTS,
      raw: raws[0],
    });
    // A partial or quick run is printed only: results.md keeps the last full measurement.
    if (!only && !quick) writeFileSync(RESULTS, markdown);
    process.stdout.write(`\n${markdown}\n`);
    if (!only && !quick) log(`written to ${RESULTS}`);
    if (profileDir) log(`CPU profiles in ${profileDir} (summarise with: node --import tsx bench/profile-summary.ts <file>)`);
  } finally {
    await dropSchemas((schema, error) => log(`could not drop ${schema}: ${error.message}`));
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** The code measured: the commit, and whether the working tree differed from it when the run started. */
function revision(): string {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: fileURLToPath(new URL('..', import.meta.url)), encoding: 'utf8' }).trim();
    const dirty = git('status', '--porcelain', '--', 'src', 'package.json', 'package-lock.json') !== '';
    return `git ${git('rev-parse', '--short', 'HEAD')}${dirty ? ' with uncommitted changes under src/' : ''}`;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

function redact(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || 5432}${parsed.pathname}`;
  } catch {
    return 'the configured URL';
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
