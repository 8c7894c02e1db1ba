/**
 * The browser-facing forgot endpoint, the second half of `npm run bench` (`--quick`: 2-second runs).
 * Every server runs in its own child process on 127.0.0.1; the load comes from autocannon here.
 *
 *   1. ceiling      the bare Fastify `POST /insert` of bench/server.ts (SQLite), in the same run,
 *                   right before and right after the forgot runs
 *   2. Rekey        `POST /auth/forgot` started as `node bin/rekey.js serve`, existing and unknown emails
 *                   separately                                                   target ≥ 50 % of 1.
 *   3. Better Auth  `POST /api/auth/request-password-reset` (bench/better-auth), each run right after
 *                   Rekey's for the same kind of address                         target: Rekey ≥ 5× it
 *   4. timing       500 requests one at a time on one keep-alive connection, existing and unknown
 *                   emails in random order: difference of the medians          target < 1 ms (Rekey)
 *
 * Writes its section between `<!-- forgot:start -->` and `<!-- forgot:end -->` in bench/results.md
 * (appended when the markers are absent) and prints it; `--quick` or `--only=…` only prints it, and
 * `--only=…` without `forgot` skips this half.
 * `--profile` starts the Rekey throughput server under `node --cpu-prof` and prints where the profile is
 * (summarise it with bench/profile-summary.ts).
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchCopy } from './compiled.ts';
import { describeFootprint, footprintTable, idleFootprint, memoryOf, peakMeter, servingPid, type Footprint } from './footprint.ts';
import { fire, rotatingPost, type LoadSummary } from './load.ts';
import { cpuMeter, cpuModel, waitForQuiet, type CpuShare } from './machine.ts';
import { startServer } from './processes.ts';
import { passwordOf } from './protocol.ts';

const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
const profile = args.has('--profile');
/** `--only=…` (shared with bench/run.ts) runs this half only when it names `forgot`. */
const only = [...args]
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',');

const SECONDS = quick ? 2 : 10;
const WARMUP_SECONDS = 2;
/**
 * A fresh Rekey server needs 5–8 s under load to reach its steady rate (measured: ≈ 1,000 req/s in the
 * first second, ≈ 3,000 from about the eighth), so every server first gets this much load over both
 * kinds of address, before the 2 s warm-up of each run.
 */
const SERVER_WARMUP_SECONDS = quick ? 2 : 10;
const CONNECTIONS = 10;
/** Existing and unknown addresses, each requested in rotation. */
const ROTATION = 50;
const BETTER_AUTH_USERS = 200;
const INTERLEAVED = 500;
const INTERLEAVED_WARMUP = 500;
const QUIET_WAIT_SECONDS = quick ? 3 : 60;
const ATTEMPTS = quick ? 1 : 3;
/** A run during which other processes took more than this share of the machine is repeated. */
const MAX_INTERFERENCE = 0.15;
/** High enough that no request of the run is refused. */
const RAISED_LIMIT = '1000000000';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** `bin/rekey.js` of a copy built as `npm ci` builds it: `node <it> serve` is `npm start`. */
const rekeyBin = () => benchCopy().bin;
const BETTER_AUTH_DIR = join(ROOT, 'bench', 'better-auth');
const RESULTS = join(ROOT, 'bench', 'results.md');
const START_MARKER = '<!-- forgot:start -->';
const END_MARKER = '<!-- forgot:end -->';

const REKEY_FORGOT = '/auth/forgot';
const BETTER_AUTH_FORGOT = '/api/auth/request-password-reset';
const REDIRECT_TO = 'http://127.0.0.1/reset';

/** The same addresses on both servers: u<i>@example.com exist, x<i>@example.com (same length) do not. */
const existing = Array.from({ length: ROTATION }, (_, i) => `u${i}@example.com`);
const unknown = Array.from({ length: ROTATION }, (_, i) => `x${i}@example.com`);

const log = (message: string) => process.stderr.write(`[bench:forgot] ${message}\n`);
const pct = (ratio: number): string => `${(ratio * 100).toFixed(0)} %`;
const ms = (seconds: number): string => `${(seconds * 1000).toFixed(2)} ms`;
const fixed = (n: number, digits = 2): string => n.toFixed(digits);
const rate = (n: number): string => (n >= 100 ? n.toFixed(0) : n.toFixed(1));

const issues: string[] = [];
const conditions: string[] = [];
const cpuCosts: string[] = [];

// ---------------------------------------------------------------------------------------------------
// Child processes

interface Child {
  label: string;
  /** The process that serves (for Rekey started through its launcher, the launcher's child). */
  pid: number;
  /** Rekey's launcher, when `rekey serve` ran itself again with its memory settings. */
  launcherPid?: number;
  url: string;
  /** Spawn → ready to serve, in ms. */
  startupMs?: number;
  stop(): Promise<void>;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited(child);
  clearTimeout(timer);
}

/** The last lines a child wrote to stderr, for error messages. */
function keepTail(stream: NodeJS.ReadableStream | null): () => string {
  let tail = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    tail = (tail + chunk).slice(-4000);
  });
  return () => tail.trim();
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** The parent's environment without anything that would point Rekey elsewhere (REKEY_*, NODE_ENV, PORT, HOST). */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('REKEY_') || key === 'NODE_ENV' || key === 'PORT' || key === 'HOST') continue;
    env[key] = value;
  }
  return env;
}

function runCli(args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(process.execPath, [rekeyBin(), ...args], { cwd: ROOT, env, timeout: 120_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`rekey ${args.join(' ')} failed: ${stderr.trim() || error.message}`));
      else resolve(stdout.trim());
    });
    child.stdin?.end(input ?? '');
  });
}

async function waitForHealthz(url: string, child: ChildProcess, stderr: () => string, seconds = 90): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`rekey serve exited (${child.exitCode ?? child.signalCode}) before it was healthy: ${stderr()}`);
    try {
      const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) });
      await response.arrayBuffer();
      if (response.status === 200) return;
    } catch {
      // Not listening yet.
    }
    // Short, so the start-up time is measured to within a few ms.
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`rekey serve did not answer GET /healthz with 200 within ${seconds} s`);
}

/** Runs `task` over `0..count-1` with at most `limit` in flight. */
async function pooled(count: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
}

/**
 * `node bin/rekey.js serve` with a fresh data dir on a free port, logging at info to /dev/null, the
 * request limits raised; `ROTATION` users u<i>@example.com created through the management API with a
 * key from `rekey keys create`.
 */
async function startRekey(tmp: string, name: string, dispatcher: boolean, profileDir?: string): Promise<Child> {
  const dataDir = join(tmp, name);
  mkdirSync(dataDir, { recursive: true });
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...cleanEnv(),
    REKEY_DATA_DIR: dataDir,
    PORT: String(port),
    REKEY_SECRET: randomBytes(20).toString('hex'),
    REKEY_LOG_LEVEL: 'info',
    REKEY_DISPATCHER: String(dispatcher),
    REKEY_RATE_LIMIT_IP_REQUESTS: RAISED_LIMIT,
    REKEY_RATE_LIMIT_IDENTIFIER_REQUESTS: RAISED_LIMIT,
  };
  const key = (await runCli(['keys', 'create', '--name', 'bench'], env)).split('\n').pop()!.trim();
  if (!key.startsWith('sk_')) throw new Error(`rekey keys create printed no key: ${key}`);

  const execArgv = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const spawned = performance.now();
  const child = spawn(process.execPath, [...execArgv, rekeyBin(), 'serve'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
  const stderr = keepTail(child.stderr);
  const url = `http://127.0.0.1:${port}`;
  let startupMs: number;
  try {
    await waitForHealthz(url, child, stderr);
    startupMs = performance.now() - spawned;
    await pooled(ROTATION, 4, async (i) => {
      const response = await fetch(`${url}/user_management/users`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ email: existing[i], password: passwordOf(i) }),
      });
      const text = await response.text();
      if (response.status !== 201) throw new Error(`creating ${existing[i]} answered ${response.status}: ${text.slice(0, 300)}`);
    });
  } catch (error) {
    await terminate(child);
    throw error;
  }
  const { server, launcher } = servingPid(child.pid!);
  return {
    label: `Rekey (${name})`,
    pid: server,
    launcherPid: launcher,
    url,
    startupMs,
    async stop() {
      await terminate(child);
      const tail = stderr();
      if (child.exitCode !== 0 && child.exitCode !== null)
        issues.push(`rekey serve (${name}) exited with ${child.exitCode}${tail ? `: ${tail.split('\n').pop()}` : ''}`);
    },
  };
}

function ensureBetterAuth(): void {
  if (existsSync(join(BETTER_AUTH_DIR, 'node_modules'))) return;
  log('installing bench/better-auth (npm ci; better-sqlite3 may compile, which takes a few minutes)');
  execFileSync('npm', ['--prefix', BETTER_AUTH_DIR, 'ci'], { cwd: ROOT, stdio: ['ignore', 2, 2] });
}

interface BetterAuthChild extends Child {
  /** Reset mails handed to its mailer, printed when it stops. */
  mailed(): number | undefined;
}

async function startBetterAuth(): Promise<BetterAuthChild> {
  ensureBetterAuth();
  const spawned = performance.now();
  const child = spawn(process.execPath, [join(BETTER_AUTH_DIR, 'server.mjs')], {
    cwd: ROOT,
    env: { ...cleanEnv(), PORT: '0', USERS: String(BETTER_AUTH_USERS) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr = keepTail(child.stderr);
  // 'close' comes after the process exited and its stdout ended (with the `stopped` line).
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const lines: Record<string, unknown>[] = [];
  let buffered = '';
  child.stdout!.setEncoding('utf8');
  const ready = new Promise<{ port: number; seedMs?: number }>((resolve, reject) => {
    child.stdout!.on('data', (chunk: string) => {
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (!line) continue;
        try {
          const message = JSON.parse(line) as Record<string, unknown>;
          lines.push(message);
          if (message.ready) resolve(message as unknown as { port: number });
        } catch {
          // Not a protocol line.
        }
      }
    });
    child.once('exit', (code) => reject(new Error(`the Better Auth server exited (${code}) before it was ready: ${stderr()}`)));
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
  const { port, seedMs } = await ready.finally(() => clearTimeout(timer));
  const startupMs = performance.now() - spawned;
  log(`  Better Auth ready on port ${port}, ${BETTER_AUTH_USERS} users seeded in ${seedMs ?? '?'} ms`);
  return {
    label: 'Better Auth',
    pid: child.pid!,
    url: `http://127.0.0.1:${port}`,
    startupMs,
    async stop() {
      await terminate(child);
      await closed;
    },
    mailed: () => lines.find((l) => l.stopped)?.mailed as number | undefined,
  };
}

// ---------------------------------------------------------------------------------------------------
// Measurements

function recordConditions(label: string, idleBefore: number | undefined, cpu: CpuShare | undefined): void {
  if (!cpu) return;
  const before = idleBefore === undefined ? '' : `, ${pct(idleBefore)} idle just before`;
  conditions.push(`${label}: machine ${pct(cpu.busy)} busy, of which other processes ${pct(cpu.others)}${before}`);
  if (cpu.others > 0.1) issues.push(`${label}: other processes used ${pct(cpu.others)} of the machine during the run; treat the figure with care`);
}

/**
 * Waits (bounded) for a quiet machine, runs, and accounts for the machine's CPU meanwhile; a run
 * disturbed by other processes is repeated (up to ATTEMPTS times) and the least disturbed one kept.
 * `ok` gives the number of successful requests, for the CPU cost per request.
 */
async function measured<T>(label: string, server: Child, run: () => Promise<T>, ok: (result: T) => number): Promise<T> {
  let best: { result: T; cpu?: CpuShare; idleBefore?: number; cost: string } | undefined;
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const idleBefore = await waitForQuiet(0.85, QUIET_WAIT_SECONDS);
    const machine = cpuMeter([process.pid, server.pid]);
    const serverMeter = cpuMeter([server.pid]);
    const own = process.cpuUsage();
    const started = performance.now();
    const result = await run();
    const seconds = (performance.now() - started) / 1000;
    const ownUsage = process.cpuUsage(own);
    const serverCpu = serverMeter();
    const cpu = machine();
    const count = Math.max(1, ok(result));
    const cost =
      `${label}: server ${serverCpu ? `${ms(serverCpu.oursSeconds / count)} CPU per 2xx (${fixed(serverCpu.oursSeconds / seconds)} cores busy)` : 'CPU not measured'}` +
      `, load generator ${ms((ownUsage.user + ownUsage.system) / 1e6 / count)}`;
    if (!best || (cpu?.others ?? 0) < (best.cpu?.others ?? 0)) best = { result, cpu, idleBefore, cost };
    const others = cpu?.others ?? 0;
    if (others <= MAX_INTERFERENCE) break;
    if (attempt < ATTEMPTS) log(`  other processes took ${pct(others)} of the machine during the run; repeating it (attempt ${attempt + 1} of ${ATTEMPTS})`);
  }
  recordConditions(label, best!.idleBefore, best!.cpu);
  cpuCosts.push(best!.cost);
  return best!.result;
}

function describeLoad(summary: LoadSummary): string {
  const codes = Object.entries(summary.statusCodes)
    .map(([code, n]) => `${code}×${n}`)
    .join(' ');
  return `${summary.rps.toFixed(1)} ok/s, p50 ${summary.p50} ms, p99 ${summary.p99} ms [${codes}${summary.errors ? ` errors×${summary.errors}` : ''}]`;
}

/** Anything but 2xx in a measured run is reported, never hidden. */
function checkResponses(label: string, summary: LoadSummary): void {
  if (summary.non2xx === 0 && summary.errors === 0 && summary.ok > 0) return;
  const codes = Object.entries(summary.statusCodes)
    .filter(([code]) => !code.startsWith('2'))
    .map(([code, n]) => `${n}× ${code}`);
  if (summary.errors) codes.push(`${summary.errors} socket errors/timeouts`);
  if (summary.ok === 0) codes.push('no 2xx at all');
  issues.push(`${label}: ${codes.join(', ')}`);
}

type BodyOf = (email: string) => Record<string, string>;
const rekeyBody: BodyOf = (email) => ({ email });
const betterAuthBody: BodyOf = (email) => ({ email, redirectTo: REDIRECT_TO });

type Kind = 'existing' | 'unknown';
const addressesOf = (kind: Kind) => (kind === 'existing' ? existing : unknown);

/** One kind of address on one server: a warm-up with the same requests, then one measured run. */
async function throughput(server: Child, name: string, path: string, body: BodyOf, kind: Kind): Promise<LoadSummary> {
  const load = (duration: number) =>
    fire({ url: server.url, connections: CONNECTIONS, duration, request: rotatingPost(path, {}, addressesOf(kind).map(body)).request });
  const label = `${name}, ${kind} email`;
  log(`${label}: ${CONNECTIONS} connections, ${SECONDS} s`);
  const warm = await load(WARMUP_SECONDS);
  log(`  warm-up: ${describeLoad(warm)}`);
  const summary = await measured(
    label,
    server,
    () => load(SECONDS),
    (s) => s.ok,
  );
  log(`  ${describeLoad(summary)}`);
  checkResponses(label, summary);
  return summary;
}

interface Timing {
  existing: number[];
  unknown: number[];
  failures: number;
  newSockets: number;
}

interface TimingSummary {
  existingP50: number;
  unknownP50: number;
  difference: number;
  existingP90: number;
  unknownP90: number;
  n: number;
  failures: number;
  newSockets: number;
}

/** Quantile with linear interpolation between the closest ranks (the median of an even count is the mean of the middle two). */
function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const at = (sorted.length - 1) * q;
  const low = Math.floor(at);
  const high = Math.ceil(at);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (at - low);
}

function shuffled<T>(items: T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

/**
 * One request at a time over one keep-alive connection (node:http; undici is not installed), existing
 * and unknown addresses in random order; each timed from the request's start to its response's end.
 */
async function interleaved(url: string, path: string, body: BodyOf, count: number): Promise<Timing> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1, keepAliveMsecs: 60_000 });
  const { hostname, port } = new URL(url);
  const send = (email: string) =>
    new Promise<{ status: number; ms: number; reused: boolean }>((resolve, reject) => {
      const payload = JSON.stringify(body(email));
      const started = performance.now();
      const req = http.request(
        { host: hostname, port, path, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
        (res) => {
          res.resume();
          res.once('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started, reused: req.reusedSocket }));
          res.once('error', reject);
        },
      );
      req.once('error', reject);
      req.end(payload);
    });
  const plan = shuffled([
    ...Array.from({ length: Math.ceil(count / 2) }, (_, i) => ({ kind: 'existing' as const, email: existing[i % existing.length]! })),
    ...Array.from({ length: Math.floor(count / 2) }, (_, i) => ({ kind: 'unknown' as const, email: unknown[i % unknown.length]! })),
  ]);
  const timing: Timing = { existing: [], unknown: [], failures: 0, newSockets: 0 };
  try {
    for (const { kind, email } of plan) {
      const { status, ms: elapsed, reused } = await send(email);
      if (status < 200 || status > 299) timing.failures++;
      else timing[kind].push(elapsed);
      if (!reused) timing.newSockets++;
    }
  } finally {
    agent.destroy();
  }
  return timing;
}

function summarizeTiming(timing: Timing): TimingSummary {
  const existingP50 = quantile(timing.existing, 0.5);
  const unknownP50 = quantile(timing.unknown, 0.5);
  return {
    existingP50,
    unknownP50,
    difference: existingP50 - unknownP50,
    existingP90: quantile(timing.existing, 0.9),
    unknownP90: quantile(timing.unknown, 0.9),
    n: timing.existing.length + timing.unknown.length,
    failures: timing.failures,
    newSockets: timing.newSockets,
  };
}

async function timingDifference(server: Child, label: string, path: string, body: BodyOf): Promise<TimingSummary> {
  // Warm-up on its own connection, the same way as the measurement.
  const warm = await interleaved(server.url, path, body, INTERLEAVED_WARMUP);
  if (warm.failures) issues.push(`${label} warm-up: ${warm.failures} non-2xx answers`);
  const timing = await measured(
    label,
    server,
    () => interleaved(server.url, path, body, INTERLEAVED),
    (t) => t.existing.length + t.unknown.length,
  );
  const summary = summarizeTiming(timing);
  log(
    `  ${label}: median existing ${fixed(summary.existingP50, 3)} ms, unknown ${fixed(summary.unknownP50, 3)} ms, ` +
      `difference ${fixed(summary.difference, 3)} ms; p90 ${fixed(summary.existingP90, 3)} / ${fixed(summary.unknownP90, 3)} ms`,
  );
  if (summary.failures) issues.push(`${label}: ${summary.failures} of ${INTERLEAVED} requests answered non-2xx`);
  if (summary.newSockets > 1) issues.push(`${label}: the keep-alive connection was reopened ${summary.newSockets - 1} times`);
  return summary;
}

/** Starts a server, runs `body` and always stops the server. */
async function withChild<C extends Child, T>(start: () => Promise<C>, body: (child: C) => Promise<T>): Promise<T> {
  const child = await start();
  try {
    return await body(child);
  } finally {
    await child.stop();
  }
}

/** Runs one scenario; a failure is reported in the results instead of ending the run. */
async function attempt<T>(label: string, run: () => Promise<T>): Promise<T | undefined> {
  try {
    return await run();
  } catch (error) {
    log(`${label} FAILED: ${(error as Error).stack ?? (error as Error).message}`);
    issues.push(`${label} failed: ${(error as Error).message.split('\n')[0]}`);
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------
// Report

interface Row {
  scenario: string;
  rps?: number;
  p50?: string;
  p99?: string;
  target: string;
  met?: boolean;
  detail?: string;
}

function loadRow(scenario: string, summary: LoadSummary | undefined, target = '—', met?: boolean, detail?: string): Row {
  return summary
    ? { scenario, rps: summary.rps, p50: String(summary.p50), p99: String(summary.p99), target, met, detail }
    : { scenario, target: `${target} (not measured)` };
}

function line(row: Row): string {
  const met = row.met === undefined ? '—' : `${row.met ? 'yes' : '**no**'}${row.detail ? ` (${row.detail})` : ''}`;
  return `| ${row.scenario} | ${row.rps !== undefined ? rate(row.rps) : '—'} | ${row.p50 ?? '—'} | ${row.p99 ?? '—'} | ${row.target} | ${met} |`;
}

function timingLine(label: string, t: TimingSummary | undefined): string {
  if (!t) return `| ${label} | — | — | — | — | — | not measured |`;
  const sign = t.difference >= 0 ? '+' : '−';
  return `| ${label} | ${fixed(t.existingP50, 3)} | ${fixed(t.unknownP50, 3)} | ${sign}${fixed(Math.abs(t.difference), 3)} | ${fixed(t.existingP90, 3)} | ${fixed(t.unknownP90, 3)} | ${t.n} |`;
}

function revision(): string {
  try {
    const git = (...a: string[]) => execFileSync('git', a, { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = git('status', '--porcelain', '--', 'src', 'package.json', 'package-lock.json') !== '';
    return `git ${git('rev-parse', '--short', 'HEAD')}${dirty ? ' with uncommitted changes under src/' : ''}`;
  } catch {
    return 'unknown (not a git checkout)';
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
      : `${current.trimEnd()}${current.trim() ? '\n\n' : ''}${block}\n`;
  writeFileSync(RESULTS, next);
}

// ---------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  if (only && !only.includes('forgot')) return;
  const started = new Date();
  const code = revision();
  log('building a compiled copy (npm run build) in bench/.work/compiled');
  const copy = benchCopy();
  log(`  built in ${fixed(copy.buildSeconds, 1)} s`);
  const tmp = mkdtempSync(join(os.tmpdir(), 'rekey-bench-forgot-'));
  const profileDir = profile ? mkdtempSync(join(os.tmpdir(), 'rekey-bench-forgot-profile-')) : undefined;
  const rekeyName = 'Rekey `POST /auth/forgot`';
  const betterAuthName = 'Better Auth `POST /api/auth/request-password-reset`';

  try {
    // The three servers stay up together and take turns, each idle while another is measured, so
    // that every comparison is between runs minutes apart at most: the ceiling right before and
    // right after the forgot runs, and Rekey and Better Auth alternately for each kind of address.
    const servers: Child[] = [];
    const up = async <C extends Child>(label: string, start: () => Promise<C>): Promise<C | undefined> => {
      const child = await attempt(label, start);
      if (child) servers.push(child);
      return child;
    };
    const ceilings: { before?: LoadSummary; after?: LoadSummary } = {};
    const rekey: Partial<Record<Kind, LoadSummary>> & { timing?: TimingSummary } = {};
    const betterAuth: Partial<Record<Kind, LoadSummary>> & { timing?: TimingSummary } = {};
    let betterAuthMailed: number | undefined;
    const footprints: Footprint[] = [];
    try {
      log('starting the ceiling, Rekey (dispatcher off) and Better Auth servers');
      const ceilingServer = await up('ceiling server', async () => {
        const dir = join(tmp, 'ceiling');
        mkdirSync(dir, { recursive: true });
        const server = await startServer({ role: 'ceiling', databaseUrl: join(dir, 'bench.db'), dataDir: dir });
        return { label: 'ceiling', pid: server.pid, url: server.url, stop: () => server.stop() } satisfies Child;
      });
      const rekeyServer = await up('Rekey server (dispatcher off)', () => startRekey(tmp, 'throughput', false, profileDir));
      const betterAuthServer = await up('Better Auth server', startBetterAuth);

      // Start-up and idle memory now; then each server's peak until the end of the throughput runs.
      const watched: Array<{ footprint: Footprint; peak: () => number | undefined }> = [];
      for (const [server, label, startupUntil] of [
        [rekeyServer, 'Rekey (`node bin/rekey.js serve`, compiled)', 'first 200 on /healthz'],
        [betterAuthServer, 'Better Auth', `its ready line, after seeding ${BETTER_AUTH_USERS} users`],
      ] as const) {
        if (!server) continue;
        const launcherRss = 'launcherPid' in server && server.launcherPid ? memoryOf(server.launcherPid)?.rss : undefined;
        const footprint: Footprint = { label, startupUntil, startupMs: server.startupMs, launcherRss, ...(await idleFootprint(server.pid)) };
        footprints.push(footprint);
        watched.push({ footprint, peak: peakMeter(server.pid) });
      }

      const ceilingBodies = existing.map((email) => ({ email }));
      const ceilingRun = (when: string) =>
        ceilingServer &&
        attempt(`ceiling, ${when}`, async () => {
          const label = `ceiling, ${when}`;
          log(`${label}: bare Fastify POST /insert, ${CONNECTIONS} connections, ${SECONDS} s`);
          const load = (duration: number) =>
            fire({ url: ceilingServer.url, connections: CONNECTIONS, duration, request: rotatingPost('/insert', {}, ceilingBodies).request });
          await load(WARMUP_SECONDS);
          const summary = await measured(
            label,
            ceilingServer,
            () => load(SECONDS),
            (s) => s.ok,
          );
          log(`  ${describeLoad(summary)}`);
          checkResponses(label, summary);
          return summary;
        });

      // Every server first runs until it reaches its steady rate.
      const mixed = existing.flatMap((email, i) => [email, unknown[i]!]);
      const initial: Array<[Child | undefined, string, unknown[]]> = [
        [ceilingServer, '/insert', ceilingBodies],
        [rekeyServer, REKEY_FORGOT, mixed.map(rekeyBody)],
        [betterAuthServer, BETTER_AUTH_FORGOT, mixed.map(betterAuthBody)],
      ];
      for (const [server, path, bodies] of initial) {
        if (!server) continue;
        const warm = await fire({
          url: server.url,
          connections: CONNECTIONS,
          duration: SERVER_WARMUP_SECONDS,
          request: rotatingPost(path, {}, bodies).request,
        });
        log(`${server.label}: initial warm-up of ${SERVER_WARMUP_SECONDS} s, ${describeLoad(warm)}`);
      }

      ceilings.before = await ceilingRun('before the forgot runs');
      for (const kind of ['existing', 'unknown'] as const) {
        if (rekeyServer) rekey[kind] = await attempt(`${rekeyName}, ${kind}`, () => throughput(rekeyServer, rekeyName, REKEY_FORGOT, rekeyBody, kind));
        if (betterAuthServer)
          betterAuth[kind] = await attempt(`${betterAuthName}, ${kind}`, () =>
            throughput(betterAuthServer, betterAuthName, BETTER_AUTH_FORGOT, betterAuthBody, kind),
          );
      }
      ceilings.after = await ceilingRun('after the forgot runs');
      for (const { footprint, peak } of watched) {
        footprint.loadPeak = peak();
        log(describeFootprint(footprint));
      }

      if (rekeyServer)
        rekey.timing = await attempt('Rekey timing, dispatcher off', () =>
          timingDifference(rekeyServer, 'Rekey timing, dispatcher off', REKEY_FORGOT, rekeyBody),
        );
      if (betterAuthServer)
        betterAuth.timing = await attempt('Better Auth timing', () =>
          timingDifference(betterAuthServer, 'Better Auth timing', BETTER_AUTH_FORGOT, betterAuthBody),
        );
      if (betterAuthServer) {
        await betterAuthServer.stop();
        betterAuthMailed = betterAuthServer.mailed();
      }
    } finally {
      for (const server of servers) await server.stop();
    }

    log('Rekey POST /auth/forgot, SQLite, dispatcher on (as deployed): timing only');
    const rekeyDeployed = await attempt('Rekey timing, dispatcher on', () =>
      withChild(
        () => startRekey(tmp, 'deployed', true),
        (server) => timingDifference(server, 'Rekey timing, dispatcher on', REKEY_FORGOT, rekeyBody),
      ),
    );

    // --- targets
    const rows: Row[] = [];
    const ratios: string[] = [];
    const around = [ceilings.before, ceilings.after].filter((c): c is LoadSummary => c !== undefined);
    /** Rekey is judged against the mean of the ceiling runs just before and just after the forgot runs. */
    const ceilingRps = around.length ? around.reduce((sum, c) => sum + c.rps, 0) / around.length : undefined;
    const ceilingTarget =
      ceilingRps !== undefined
        ? `≥ 50 % of ceiling (${around.length > 1 ? 'mean of before and after, ' : ''}${Math.round(ceilingRps * 0.5)} req/s)`
        : '≥ 50 % of ceiling';
    const ceilingName = 'ceiling: bare Fastify `POST /insert`, one row';
    rows.push(loadRow(`${ceilingName}, before the forgot runs`, ceilings.before));
    for (const kind of ['existing', 'unknown'] as const) {
      const ours = rekey[kind];
      const ratio = ours && ceilingRps ? ours.rps / ceilingRps : undefined;
      rows.push(
        loadRow(
          `${rekeyName}, ${kind} email`,
          ours,
          ceilingTarget,
          ratio === undefined ? undefined : ratio >= 0.5,
          ratio === undefined ? undefined : pct(ratio),
        ),
      );
      if (ratio !== undefined)
        ratios.push(`Rekey forgot (${kind} email) / ceiling: **${pct(ratio)}** (${ours!.rps.toFixed(0)} / ${ceilingRps!.toFixed(0)} req/s)`);
      const theirs = betterAuth[kind];
      const factor = theirs && ours && theirs.rps > 0 ? ours.rps / theirs.rps : undefined;
      rows.push(
        loadRow(
          `${betterAuthName}, ${kind} email`,
          theirs,
          theirs ? `Rekey (${kind}) ≥ 5× this (${Math.round(theirs.rps * 5)} req/s)` : `Rekey (${kind}) ≥ 5× this`,
          factor === undefined ? undefined : factor >= 5,
          factor === undefined ? undefined : `${fixed(factor, 1)}×`,
        ),
      );
      if (factor !== undefined)
        ratios.push(`Rekey / Better Auth, ${kind} email: **${fixed(factor, 1)}×** (${ours!.rps.toFixed(0)} / ${theirs!.rps.toFixed(0)} req/s)`);
    }
    rows.push(loadRow(`${ceilingName}, after the forgot runs`, ceilings.after));
    if (around.length > 1) {
      const [a, b] = [around[0]!.rps, around[1]!.rps];
      ratios.push(
        `The machine's speed over the forgot runs: the ceiling measured ${a.toFixed(0)} req/s before and ${b.toFixed(0)} after (${b >= a ? '+' : '−'}${pct(Math.abs(b - a) / a)})`,
      );
    }
    const timingRow = (scenario: string, t: TimingSummary | undefined, judged: boolean): Row => ({
      scenario,
      p50: t ? `${fixed(t.existingP50, 3)} / ${fixed(t.unknownP50, 3)}` : undefined,
      target: judged ? 'difference of medians < 1 ms' : '—',
      met: judged && t ? Math.abs(t.difference) < 1 : undefined,
      detail: judged && t ? `${t.difference >= 0 ? '+' : '−'}${fixed(Math.abs(t.difference), 3)} ms` : undefined,
    });
    rows.push(timingRow(`Rekey forgot, existing / unknown, ${INTERLEAVED} interleaved one at a time, dispatcher on (as deployed)`, rekeyDeployed, true));
    rows.push(timingRow(`Rekey forgot, existing / unknown, ${INTERLEAVED} interleaved one at a time, dispatcher off`, rekey.timing, true));
    rows.push(timingRow(`Better Auth, existing / unknown, ${INTERLEAVED} interleaved one at a time`, betterAuth.timing, false));
    for (const [name, t] of [
      ['Rekey, dispatcher on', rekeyDeployed],
      ['Rekey, dispatcher off', rekey.timing],
      ['Better Auth', betterAuth.timing],
    ] as const) {
      if (t)
        ratios.push(
          `${name}: existing − unknown median **${t.difference >= 0 ? '+' : '−'}${fixed(Math.abs(t.difference), 3)} ms** (${fixed(t.existingP50, 3)} vs ${fixed(t.unknownP50, 3)} ms)`,
        );
    }

    const codeAtEnd = revision();
    const rekeyLauncherRss = footprints.find((f) => f.label.startsWith('Rekey'))?.launcherRss;
    const cpus = os.cpus();
    const section = [
      '## Forgot password: browser `POST /auth/forgot`',
      '',
      `- Date: ${started.toISOString().replace('T', ' ').slice(0, 16)} UTC${quick ? ' — **quick smoke run (`--quick`), not representative**' : ''}`,
      `- Machine: ${cpuModel()}, ${cpus.length} cores; Node ${process.version}; code: ${codeAtEnd === code ? code : `${code} at the start, ${codeAtEnd} at the end (the tree changed during the run)`}`,
      `- Each throughput run: ${SECONDS} s with autocannon, ${CONNECTIONS} connections, each after a ${WARMUP_SECONDS} s warm-up with the same requests; before its first run every server was loaded for ${SERVER_WARMUP_SECONDS} s over both kinds of address (a fresh Rekey server needs 5–8 s to reach its steady rate); every server in its own child process on 127.0.0.1, SQLite (WAL) everywhere. Order of the runs, rows top to bottom: ceiling, then for each kind of address Rekey and Better Auth one after the other, then the ceiling again; the three servers are up together and each idles while another is measured.`,
      '',
      '| scenario | req/s | p50 ms | p99 ms | target | met? |',
      '| --- | ---: | ---: | ---: | --- | --- |',
      ...rows.map(line),
      '',
      '### Start-up and memory',
      '',
      `Each server's own process (its children not counted), from /proc: \`VmRSS\` once up, its users created (Rekey: ${ROTATION} through the API, each an Argon2id hash on the thread pool) and idle for 1 s; \`VmHWM\` at that point (the peak before the load); and the peak over its initial warm-up and its throughput runs (\`VmHWM\` reset just before). Rekey is a compiled copy (\`npm run build\` in \`bench/.work/compiled\`, ${fixed(copy.buildSeconds, 1)} s) run as \`npm start\` runs it: plain \`node\` on dist/, no loader, the page script prebuilt. Without its memory settings in the environment (bin/serve-tuning.js: \`GLIBC_TUNABLES\`, \`--max-semi-space-size\`), \`rekey serve\` runs itself once more with them; the figures are the serving process's${rekeyLauncherRss === undefined ? '' : `, and the launcher held ${(rekeyLauncherRss / 1024 / 1024).toFixed(0)} MiB RSS besides (mostly the node binary's pages, shared with the server)`}.`,
      '',
      ...footprintTable(footprints),
      '',
      `### Existing vs unknown email, one request at a time`,
      '',
      `${INTERLEAVED} requests (half existing, half unknown addresses, in random order) sent one after the other over one keep-alive connection (\`node:http\`, timed with \`performance.now()\` from the request's start to the end of its response), after ${INTERLEAVED_WARMUP} such requests as a warm-up. Milliseconds.`,
      '',
      '| server | median existing | median unknown | difference | p90 existing | p90 unknown | requests |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
      timingLine('Rekey, dispatcher on (as deployed)', rekeyDeployed),
      timingLine('Rekey, dispatcher off', rekey.timing),
      timingLine('Better Auth', betterAuth.timing),
      '',
      '### Ratios',
      '',
      ...ratios.map((r) => `- ${r}`),
      '',
      '### Notes',
      '',
      `- req/s counts 2xx responses only, divided by the run's duration; p50/p99 are autocannon's latencies over all responses. Existing and unknown addresses are measured in separate runs on the same server, each rotating over ${ROTATION} addresses: \`u0…u${ROTATION - 1}@example.com\` exist on both servers, \`x0…x${ROTATION - 1}@example.com\` (the same length) exist on neither.`,
      `- Rekey: \`node bin/rekey.js serve\` (of the compiled copy) with a fresh \`REKEY_DATA_DIR\` (SQLite), a free \`PORT\`, a 40-character \`REKEY_SECRET\`, \`NODE_ENV\` unset (development defaults, development mailbox) and \`REKEY_LOG_LEVEL=info\` with stdout to /dev/null, so every request is logged as in a real deployment. Request limits raised for the run (\`REKEY_RATE_LIMIT_IP_REQUESTS\` and \`REKEY_RATE_LIMIT_IDENTIFIER_REQUESTS\` = ${RAISED_LIMIT}): the load comes from one IP. The ${ROTATION} users were created through \`POST /user_management/users\` with a key from \`rekey keys create\`. Body \`{"email": …}\`, answer 204.`,
      `- **The outbox dispatcher is off for the throughput runs** (\`REKEY_DISPATCHER=false\`): the request path only checks the limits and writes one outbox row with the sealed address, whatever the address; no account lookup, no mail (the dispatcher resolves the address later). The timing comparison is measured both on a second server with the dispatcher on, as deployed (reset mails to existing accounts rendered and stored in the development mailbox in the background, per-account mail limits at their defaults), and on the throughput server after the throughput runs.`,
      `- Better Auth: \`bench/better-auth/server.mjs\` (Better Auth ${betterAuthVersion()}, better-sqlite3 in WAL mode with \`synchronous = NORMAL\`, ${BETTER_AUTH_USERS} users, its own rate limiting off, logger at error, an in-memory mailer that the request awaits). Body \`{"email": …, "redirectTo": "${REDIRECT_TO}"}\`, answer 200. For an existing address it looks the user up, inserts a verification row and hands the mail over; for an unknown one it looks the user up and then does a dummy verification lookup.${betterAuthMailed !== undefined ? ` Over its warm-up, runs and timing requests it handed ${betterAuthMailed.toLocaleString('en')} reset mails to its mailer.` : ''}`,
      `- Ceiling: the bare Fastify \`POST /insert\` of \`bench/server.ts\` (no logger, no schema validation, one prepared better-sqlite3 insert, WAL, \`synchronous = NORMAL\`), the same server as the ceiling row of the management table above, started and measured in this run with the same connections, warm-up and duration, just before and just after the forgot runs. Rekey is judged against the mean of the two, and against the Better Auth run right after its own for the same kind of address, so a change in the machine's speed (a shared VM) shows in the table instead of skewing a ratio.`,
      `- The machine is shared: before each measured run the runner waits (at most ${QUIET_WAIT_SECONDS} s) for it to be ≥ 85 % idle, and a run during which other processes took more than 15 % of it is repeated (at most ${ATTEMPTS} attempt${ATTEMPTS > 1 ? 's' : ''}; the least disturbed one is kept).`,
      ...(issues.length ? ['', '### Problems seen', '', ...issues.map((i) => `- ${i}`)] : []),
      ...(cpuCosts.length ? ['', '### CPU per request', '', ...cpuCosts.map((c) => `- ${c}`)] : []),
      ...(conditions.length ? ['', '### Machine during each run', '', ...conditions.map((c) => `- ${c}`)] : []),
    ].join('\n');

    // A partial or quick run is printed only: results.md keeps the last full measurement.
    if (!only && !quick) writeSection(section);
    process.stdout.write(`\n${START_MARKER}\n${section}\n${END_MARKER}\n`);
    if (!only && !quick) log(`written to ${RESULTS}`);
    if (profileDir) log(`CPU profile of the Rekey throughput server in ${profileDir} (summarise with: node --import tsx bench/profile-summary.ts <file>)`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function betterAuthVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(BETTER_AUTH_DIR, 'node_modules', 'better-auth', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '(version unknown)';
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
