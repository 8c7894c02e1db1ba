import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVE_V8_FLAGS, serveTuning } from '../bin/serve-tuning.js';
import { benchCopy, bundleAgainstDist } from './compiled.ts';
import { cpuMeter, type CpuShare } from './machine.ts';
import type { Command, ReadyMessage, Reply, ServerSpec, WindowUsage } from './protocol.ts';

const SERVER_ENTRY = fileURLToPath(new URL('./server.ts', import.meta.url));

let serverScript: Promise<string> | undefined;

/** bench/server.ts as plain JavaScript over the compiled copy's dist/, made once per run. */
function compiledServerScript(): Promise<string> {
  serverScript ??= (async () => {
    const copy = benchCopy();
    return bundleAgainstDist(SERVER_ENTRY, copy, join(copy.root, 'bench-server.mjs'));
  })();
  return serverScript;
}

/** Whose memory settings a process runs with: those `rekey serve` sets (bin/serve-tuning.js) or plain Node's. */
export type Allocator = 'rekey' | 'default';

async function spawnServer(spec: ServerSpec, allocator: Allocator = spec.role === 'rekey' ? 'rekey' : 'default'): Promise<ChildProcess> {
  // Plain `node` on compiled code, as `npm start` runs it, plus an IPC channel. Rekey gets the memory
  // settings `rekey serve` runs with (its V8 flags on the command line: bin/rekey.js sets them once running);
  // the ceiling runs as plain Node does.
  const tuning = allocator === 'rekey' ? serveTuning({ ...process.env, REKEY_SERVE_TUNED: undefined }, []) : undefined;
  return fork(await compiledServerScript(), [], {
    execArgv: allocator === 'rekey' ? [...(tuning?.execArgv ?? []), ...SERVE_V8_FLAGS] : [],
    env: { ...(tuning?.env ?? process.env), BENCH_SPEC: JSON.stringify(spec) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** Waits for the first message of a kind, failing if the process exits first. */
function firstMessage<T extends ReadyMessage>(child: ChildProcess, type: T['type']): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: ReadyMessage) => {
      if (message.type !== type) return;
      cleanup();
      resolve(message as T);
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`server process exited (${code}) before it was ready`));
    };
    const cleanup = () => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

export interface ServerProcess {
  pid: number;
  url: string;
  secretKey?: string;
  /** The default application's client id (Rekey role), for the password grant. */
  clientId?: string;
  call<T = unknown>(command: Command): Promise<T>;
  /** Brackets a measured run; `stop` answers with the process's CPU time over it. */
  window(action: 'start', profile?: string): Promise<void>;
  window(action: 'stop', profile?: string): Promise<WindowUsage>;
  /** Closes the server cleanly and waits for the process to exit. */
  stop(): Promise<void>;
}

export async function startServer(spec: ServerSpec): Promise<ServerProcess> {
  const child = await spawnServer(spec);
  const ready = await firstMessage<Extract<ReadyMessage, { type: 'ready' }>>(child, 'ready');
  let nextId = 1;
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  child.on('message', (message: Reply | ReadyMessage) => {
    if (message.type !== 'reply') return;
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    if (message.ok) waiter?.resolve(message.result);
    else waiter?.reject(new Error(message.error));
  });
  child.once('exit', (code) => {
    for (const waiter of pending.values()) waiter.reject(new Error(`server process exited (${code})`));
    pending.clear();
  });
  const call = <T>(command: Command) =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      child.send({ ...command, id });
    });
  return {
    pid: child.pid!,
    url: ready.url,
    secretKey: ready.secretKey,
    clientId: ready.clientId,
    call,
    window: ((action: 'start' | 'stop', profile?: string) => call({ cmd: 'window', action, profile })) as ServerProcess['window'],
    async stop() {
      if (child.connected) await call({ cmd: 'stop' }).catch(() => undefined);
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited(child);
      clearTimeout(timer);
    },
  };
}

export interface HashResult {
  hashes: number;
  seconds: number;
  loops: number;
  threadpool: number;
  rate: number;
  /** CPU seconds (all threads) per hash, measured inside the hashing process. */
  cpuPerHash: number;
  cpu?: CpuShare;
}

/**
 * Raw Argon2id throughput in a fresh process: `loops` concurrent `hasher.hash()` loops, with the memory
 * settings the server runs with (what a hash costs as deployed) or with glibc's defaults.
 */
export async function measureHashes(loops: number, seconds: number, allocator: Allocator): Promise<HashResult> {
  const child = await spawnServer({ role: 'hash', loops, seconds }, allocator);
  // Includes the child's start-up and warm-up, which are short next to the run.
  const meter = cpuMeter([process.pid, child.pid!]);
  const result = await firstMessage<Extract<ReadyMessage, { type: 'hashed' }>>(child, 'hashed');
  const cpu = meter();
  await exited(child);
  return {
    hashes: result.hashes,
    seconds: result.seconds,
    loops: result.loops,
    threadpool: result.threadpool,
    rate: result.hashes / result.seconds,
    cpuPerHash: result.cpuSeconds / result.hashes,
    cpu,
  };
}
