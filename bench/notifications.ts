/**
 * The notification engine's part of `npm run bench` (`--only=notifications` runs it alone; `--quick` shortens it):
 *
 *   1. ceiling     the bare Fastify `POST /insert` of bench/run.ts, before, between and after the runs of 2
 *   2. triggers    `POST /v1/events/trigger` (the password-reset built-in, subscribers in rotation), dispatcher off:
 *                  triggers accepted per second, three runs alternating with four ceilings (SQLite, PostgreSQL);
 *                  each against the mean of the ceilings around it, the median run judged   target ≥ 50 % of 1
 *   3. delivery    messages a node's dispatcher hands to a local SMTP sink per second (PostgreSQL, the outbox filled
 *                  first by triggers), with one node and with two, next to raw pooled nodemailer sends to the same
 *                  sink from one process; three rounds, the median judged
 *                                                           targets: one node ≥ 60 % of raw, two ≥ 1.3 × one
 *   4. latency     median time from a trigger's request to its mail at the sink, triggers paced at 100/s (one node)
 *
 * The sink runs in its own process (bench/notifications-sink.ts); every server is a separate process on the
 * compiled code (bench/processes.ts). `--only=delivery` runs 3 alone and prints it; a whole run other than
 * `--quick` writes bench/notifications-results.md.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import nodemailer from 'nodemailer';
import { fire, rotatingPost, type LoadSummary } from './load.ts';
import { cpuMeter, postgresPids, type CpuShare } from './machine.ts';
import { startServer, type ServerProcess } from './processes.ts';
import { emailOf } from './protocol.ts';
import { benchStores, type StoreTarget } from './stores.ts';
import type { SinkCommand, SinkStats } from './notifications-sink.ts';

const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
const only = [...args]
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',');
const SECONDS = quick ? 2 : 10;
const WARMUP_SECONDS = quick ? 1 : 2;
const CONNECTIONS = 10;
const SUBSCRIBERS = 1_000;
/** Messages per delivery run. */
const MESSAGES = quick ? 500 : 4_000;
const LATENCY_RATE = 100;
/**
 * Rounds of each comparison. This machine's speed drifts by tens of per cent within a minute (a ceiling of 3 810
 * req/s measured 2 064 one triggers run later), so each run is judged against its neighbours and the median
 * round is the figure, as the confirm runs of bench/run.ts are.
 */
const ROUNDS = quick ? 1 : 3;
const RESULTS = fileURLToPath(new URL('./notifications-results.md', import.meta.url));
const SINK_ENTRY = fileURLToPath(new URL('./notifications-sink.ts', import.meta.url));

const log = (message: string) => process.stderr.write(`[bench notifications] ${message}\n`);
const pct = (ratio: number) => `${(ratio * 100).toFixed(0)} %`;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** The Novu password-reset snippet, to a subscriber of its own (the address carries the time when `at` is given). */
const triggerBody = (i: number, at?: number) => ({
  name: 'password-reset',
  to: { subscriberId: `bench-${i}`, email: at === undefined ? emailOf('notify', i) : `lat-${at}-${i}@bench.example.com`, firstName: 'Ada' },
  payload: { firstName: 'Ada', resetUrl: `https://app.example.com/reset?token=${randomBytes(24).toString('base64url')}`, expiresInMinutes: 30 },
});

const auth = (server: ServerProcess) => ({ authorization: `ApiKey ${server.secretKey!}` });

async function withServers<T>(servers: ServerProcess[], body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
  }
}

function check(label: string, summary: LoadSummary): LoadSummary {
  if (summary.non2xx || summary.errors) log(`${label}: ${JSON.stringify(summary.statusCodes)}, ${summary.errors} errors`);
  return summary;
}

async function ceiling(store: StoreTarget, name: string): Promise<number> {
  const server = await startServer({ role: 'ceiling', ...(await store.fresh(name)) });
  return withServers([server], async () => {
    const bodies = Array.from({ length: SUBSCRIBERS }, (_, i) => ({ email: emailOf('ceiling', i) }));
    const load = (duration: number) => ({ url: server.url, connections: CONNECTIONS, duration, request: rotatingPost('/insert', {}, bodies).request });
    await fire(load(WARMUP_SECONDS));
    return check(`ceiling ${store.label}`, await fire(load(SECONDS))).rps;
  });
}

async function triggers(store: StoreTarget, name: string): Promise<LoadSummary> {
  // The dispatcher stays off: this measures what the API accepts (subscriber upsert, execution, step, outbox row).
  const server = await startServer({ role: 'rekey', ...(await store.fresh(name)), dispatcher: false });
  return withServers([server], async () => {
    const bodies = Array.from({ length: SUBSCRIBERS }, (_, i) => triggerBody(i));
    const load = (duration: number) => ({
      url: server.url,
      connections: CONNECTIONS,
      duration,
      request: rotatingPost('/v1/events/trigger', auth(server), bodies).request,
    });
    await fire(load(WARMUP_SECONDS));
    return check(`triggers ${store.label}`, await fire(load(SECONDS)));
  });
}

interface Sink {
  port: number;
  pid: number;
  call<T>(command: SinkCommand): Promise<T>;
  stats(): Promise<SinkStats>;
  /** Resolves once `count` messages arrived since the reset. */
  until(count: number, timeoutMs: number): Promise<SinkStats>;
}

async function startSink(): Promise<{ sink: Sink; child: ChildProcess }> {
  const child = fork(SINK_ENTRY, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve) => child.once('message', (m: { port: number }) => resolve(m.port)));
  const call = <T>(command: SinkCommand) =>
    new Promise<T>((resolve) => {
      child.once('message', (reply: T) => resolve(reply));
      child.send(command);
    });
  const stats = async () => (await call<{ stats: SinkStats }>({ cmd: 'stats' })).stats;
  return {
    child,
    sink: {
      port,
      pid: child.pid!,
      call,
      stats,
      async until(count, timeoutMs) {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const now = await stats();
          if (now.count >= count) return now;
          if (Date.now() > deadline) throw new Error(`the sink got ${now.count} of ${count} messages in ${timeoutMs} ms`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      },
    },
  };
}

const rateOf = (stats: SinkStats) => (stats.count - 1) / ((stats.last - stats.first) / 1000);

/** A delivery run: its rate at the sink and where the machine's CPU went meanwhile. */
interface DeliveryRun {
  rate: number;
  /** CPU per message (ms) of the senders (Rekey's nodes, or this process for raw nodemailer), PostgreSQL's processes and the sink. */
  cpu: { senders: number; postgres: number; sink: number };
  /** Share of the whole machine that was busy, 0–1. */
  busy: number;
}

/** Measures `run` (which resolves once the sink has every message) with CPU meters on each party. */
async function metered(senders: number[], sink: Sink, run: () => Promise<SinkStats>): Promise<DeliveryRun> {
  const meters = [cpuMeter(senders), cpuMeter(postgresPids), cpuMeter([sink.pid])];
  const stats = await run();
  const [sent, database, sunk] = meters.map((stop) => stop());
  const perMessage = (share: CpuShare | undefined) => ((share?.oursSeconds ?? 0) * 1000) / MESSAGES;
  return {
    rate: rateOf(stats),
    cpu: { senders: perMessage(sent), postgres: perMessage(database), sink: perMessage(sunk) },
    busy: sent?.busy ?? 0,
  };
}

const describeCpu = ({ cpu, busy }: DeliveryRun) =>
  `${cpu.senders.toFixed(2)} + ${cpu.postgres.toFixed(2)} + ${cpu.sink.toFixed(2)} ms, machine ${pct(busy)} busy`;

/** Fills the outbox with `MESSAGES` triggers (no dispatcher), then lets `nodes` dispatchers deliver them all. */
async function delivery(store: StoreTarget, sink: Sink, nodes: number, round: number): Promise<DeliveryRun> {
  const db = await store.fresh(`delivery_${nodes}_${round}`);
  const filler = await startServer({ role: 'rekey', ...db, dispatcher: false });
  await withServers([filler], async () => {
    const bodies = Array.from({ length: MESSAGES }, (_, i) => triggerBody(i));
    const loaded = await fire({
      url: filler.url,
      connections: CONNECTIONS,
      amount: MESSAGES,
      request: rotatingPost('/v1/events/trigger', auth(filler), bodies, false).request,
    });
    if (loaded.ok !== MESSAGES) throw new Error(`only ${loaded.ok} of ${MESSAGES} triggers were accepted`);
  });
  await sink.call({ cmd: 'reset' });
  const settings = { smtpUrl: `smtp://127.0.0.1:${sink.port}` };
  // Every node up first, then their dispatchers started together: a node still starting (≈ 1.5 s of CPU) would
  // otherwise leave the first to deliver alone, and take CPU from it, for part of a run of a few seconds.
  const servers = await Promise.all(Array.from({ length: nodes }, () => startServer({ role: 'rekey', ...db, dispatcher: false, settings })));
  return withServers(servers, () =>
    metered(
      servers.map((server) => server.pid),
      sink,
      async () => {
        await Promise.all(servers.map((server) => server.call({ cmd: 'dispatch' })));
        return sink.until(MESSAGES, 600_000);
      },
    ),
  );
}

/** The same number of messages through one pooled nodemailer transport (5 connections, as Rekey's SMTP provider). */
async function raw(sink: Sink): Promise<DeliveryRun> {
  await sink.call({ cmd: 'reset' });
  return metered([process.pid], sink, async () => {
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: sink.port, secure: false, ignoreTLS: true, pool: true, maxConnections: 5 });
    const html = `<html><body>${'<p>Someone asked to reset the password of your account. Choose a new one here.</p>'.repeat(30)}</body></html>`;
    let next = 0;
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (next < MESSAGES) {
          const i = next++;
          await transport.sendMail({
            from: 'Rekey <no-reply@bench.example.com>',
            to: emailOf('raw', i),
            subject: 'Reset your password',
            text: 'Reset it here.',
            html,
          });
        }
      }),
    );
    transport.close();
    return sink.until(MESSAGES, 60_000);
  });
}

/**
 * Sends `count` triggers, one every `1000 / rate` ms, each stamped with the moment it is written (keep-alive, at most
 * `CONNECTIONS` open). Not autocannon's `overallRate`: it sends each second's requests in a burst, and a request it
 * builds (and stamps) waits for its slot, so the wait counted as delivery time (≈ 200 ms of a median here).
 */
async function pacedTriggers(server: ServerProcess, rate: number, count: number): Promise<{ ok: number; failed: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const target = new URL(server.url);
  const send = (i: number) =>
    new Promise<number>((resolve) => {
      const body = JSON.stringify(triggerBody(i, Date.now()));
      const request = http.request(
        {
          agent,
          host: target.hostname,
          port: target.port,
          method: 'POST',
          path: '/v1/events/trigger',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...auth(server) },
        },
        (response) => {
          response.resume();
          response.once('end', () => resolve(response.statusCode ?? 0));
        },
      );
      request.once('error', () => resolve(0));
      request.end(body);
    });
  const started = performance.now();
  const sent: Array<Promise<number>> = [];
  for (let i = 0; i < count; i++) {
    const wait = started + (i * 1000) / rate - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    sent.push(send(i));
  }
  const statuses = await Promise.all(sent);
  agent.destroy();
  const ok = statuses.filter((status) => status === 201).length;
  return { ok, failed: count - ok };
}

/** Triggers at a steady rate to one node with its dispatcher on: the median from request to mail at the sink. */
async function latency(store: StoreTarget, sink: Sink): Promise<{ median: number; p90: number; count: number }> {
  const server = await startServer({
    role: 'rekey',
    ...(await store.fresh('latency')),
    dispatcher: true,
    settings: { smtpUrl: `smtp://127.0.0.1:${sink.port}` },
  });
  return withServers([server], async () => {
    await sink.call({ cmd: 'reset' });
    const { ok, failed } = await pacedTriggers(server, LATENCY_RATE, LATENCY_RATE * SECONDS);
    if (failed) log(`latency: ${failed} triggers failed`);
    const stats = await sink.until(ok, 60_000);
    const sorted = [...stats.latencies].sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
    return { median: at(0.5), p90: at(0.9), count: sorted.length };
  });
}

async function main(): Promise<void> {
  const whole = !only || only.includes('notifications');
  if (!whole && !only?.includes('delivery')) return;
  const started = new Date();
  const tmp = mkdtempSync(join(os.tmpdir(), 'rekey-bench-notifications-'));
  const { sqlite, postgres, dropSchemas } = benchStores(tmp);
  const { sink, child } = await startSink();
  const lines: string[] = [];
  const rows: string[] = [];
  try {
    for (const store of whole ? [sqlite, postgres] : []) {
      log(`${store.label}: ${ROUNDS + 1} ceilings with ${ROUNDS} triggers runs between them (${SECONDS} s each, ${CONNECTIONS} connections)`);
      const ceilings = [await ceiling(store, 'ceiling_0')];
      const ratios: number[] = [];
      const runs: string[] = [];
      for (let round = 1; round <= ROUNDS; round++) {
        const accepted = await triggers(store, `triggers_${round}`);
        ceilings.push(await ceiling(store, `ceiling_${round}`));
        const [before, after] = [ceilings[round - 1]!, ceilings[round]!];
        const ratio = accepted.rps / ((before + after) / 2);
        ratios.push(ratio);
        runs.push(
          `| triggers accepted, ${store.label}, round ${round} | ${accepted.rps.toFixed(0)} /s (p50 ${accepted.p50} ms, p99 ${accepted.p99} ms) | ${pct(ratio)} of the ceilings around it (${before.toFixed(0)} and ${after.toFixed(0)} req/s) |`,
        );
      }
      rows.push(`| ceiling, ${store.label} | ${ceilings.map((rate) => rate.toFixed(0)).join(' / ')} req/s (before, between and after the triggers runs) | |`);
      rows.push(...runs);
      rows.push(`| triggers accepted, ${store.label}, the median round | | **${pct(median(ratios))}** of the ceiling (target ≥ 50 %) |`);
    }
    log(`delivery: ${ROUNDS} rounds of ${MESSAGES} messages each through raw nodemailer, then one node, then two (PostgreSQL)`);
    const ofRaw: number[] = [];
    const twoOverOne: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const rawRun = await raw(sink);
      const oneRun = await delivery(postgres, sink, 1, round);
      const twoRun = await delivery(postgres, sink, 2, round);
      const [rawRate, one, two] = [rawRun.rate, oneRun.rate, twoRun.rate];
      ofRaw.push(one / rawRate);
      twoOverOne.push(two / one);
      rows.push(
        `| delivery, PostgreSQL, round ${round} | raw pooled nodemailer (5 connections) ${rawRate.toFixed(0)}, one node ${one.toFixed(0)}, two nodes ${two.toFixed(0)} msg/s | one node ${pct(one / rawRate)} of raw, two nodes ${(two / one).toFixed(2)} × one |`,
        `| CPU per message, round ${round}: senders + PostgreSQL + sink | raw ${describeCpu(rawRun)}; one node ${describeCpu(oneRun)}; two nodes ${describeCpu(twoRun)} | |`,
      );
    }
    rows.push(`| delivered by one node, PostgreSQL, the median round | | **${pct(median(ofRaw))}** of raw (target ≥ 60 %) |`);
    rows.push(`| delivered by two nodes, PostgreSQL, the median round | | **${median(twoOverOne).toFixed(2)} ×** one node (target ≥ 1.3 ×) |`);
    if (whole) {
      log(`latency: triggers at ${LATENCY_RATE}/s for ${SECONDS} s, one node (PostgreSQL)`);
      const lat = await latency(postgres, sink);
      rows.push(
        `| trigger → SMTP sink at ${LATENCY_RATE} triggers/s, one node, PostgreSQL | median **${lat.median} ms**, p90 ${lat.p90} ms (${lat.count} mails) | |`,
      );
    }

    lines.push(
      `# Notification benchmark`,
      '',
      `${started.toISOString()}, ${os.cpus().length} CPUs, ${quick ? 'quick run' : `${SECONDS} s runs after ${WARMUP_SECONDS} s of warm-up`}; ${MESSAGES} messages per delivery run; ${ROUNDS} round${ROUNDS > 1 ? 's' : ''} of each comparison, the median judged.`,
      '',
      '| scenario | figure | ratio |',
      '| --- | --- | --- |',
      ...rows,
      '',
      '- Each server is its own process on the compiled code, with default settings (dispatcher woken by each trigger on its node and polling every 250 ms, 20 messages a round with two rounds in flight, SMTP pool of 5).',
      '- Delivery rate: messages at the sink from the first to the last arrival; the sink is a separate process.',
      "- CPU per message: CPU time from /proc over each delivery run (from the dispatchers' start, or raw's first send, to the last message at the sink) divided by the messages, for the senders (every Rekey node's process, all threads; for raw, this benchmark's process), PostgreSQL's processes and the sink; and the share of the machine's cores busy meanwhile. Two nodes can deliver faster than one only while the machine has cores to spare: at 100 % busy the rate is the machine's cores divided by the CPU one message costs all parties together.",
      '- On a shared machine these figures are indicative: other processes compete for the same cores.',
    );
    const markdown = lines.join('\n') + '\n';
    if (whole && !quick) writeFileSync(RESULTS, markdown);
    process.stdout.write(`\n${markdown}\n`);
  } finally {
    child.send({ cmd: 'stop' } satisfies SinkCommand);
    await dropSchemas(() => undefined);
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
