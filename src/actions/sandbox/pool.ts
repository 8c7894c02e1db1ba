import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';

/** The child's entry point: plain JavaScript beside this file (copied to dist/ by the build as it is). */
const RUNNER = fileURLToPath(new URL('./runner.mjs', import.meta.url));

/** What an action did to `api`, in the order it called it. */
export type ActionCall =
  | { op: 'deny'; reason: string }
  | { op: 'challenge'; any: boolean; factors: unknown[] }
  | { op: 'redirect'; url: string }
  | { op: 'result_url'; url: string }
  | { op: 'cache_set'; key: string; value: string; expires_at: number }
  | { op: 'cache_delete'; key: string };

/** Why a run gave no decision: it threw, ran out of time or memory, or its process died. The reason is for the log only. */
export class ActionFailure extends Error {
  override name = 'ActionFailure';
}

export interface SandboxOptions {
  name: string;
  /** Absolute path of the module. The child may read its directory (and the packages installed in it) and nothing else. */
  path: string;
  /** Old-space heap of each child; the resident set may grow to this plus a fixed allowance for Node itself. */
  memoryMb: number;
  /** Children kept for this action: runs beyond that many at once wait for one. */
  poolSize: number;
  logger: Logger;
}

export interface RunMessage {
  kind: 'execute' | 'continue';
  event: unknown;
  [key: string]: unknown;
}

/** Node's own resident set before any operator code runs, on top of the heap limit. */
const NODE_BASELINE_BYTES = 96 * 1024 * 1024;
const MEMORY_POLL_MS = 50;
const START_TIMEOUT_MS = 10_000;

interface Child {
  process: ChildProcess;
  ready: Promise<void>;
  busy: boolean;
  /** The message in flight: its answer settles it; its process dying or being killed fails it. */
  pending?: { id: number; resolve: (answer: Answer) => void; fail: (reason: string) => void };
  killedFor?: string;
}

type Answer = { id?: number; ok: boolean; error?: string; [key: string]: unknown };

/**
 * Warm child processes for one action, each started with Node's permission model: it reads only its runner and
 * the action's directory, starts no process or worker, has an empty environment and a bounded heap. One run at a
 * time per child, so a run that must be killed (time, memory) takes no other run with it; the dead child is
 * replaced by a fresh one.
 */
export class ActionSandbox {
  private readonly children = new Set<Child>();
  private readonly waiting: Array<(child: Child) => void> = [];
  private closed = false;
  private readonly readable: string;
  private sequence = 0;
  /**
   * One watch for all this action's processes, rather than a timer per run (each costs the run a few tens of µs):
   * the heap limit ends a run that fills V8's heap, but buffers live outside it, so the resident set of each process
   * with a run in flight is read every MEMORY_POLL_MS.
   */
  private readonly memoryWatch: NodeJS.Timeout;

  constructor(private readonly options: SandboxOptions) {
    this.readable = dirname(options.path);
    const limit = options.memoryMb * 1024 * 1024 + NODE_BASELINE_BYTES;
    this.memoryWatch = setInterval(() => {
      for (const child of this.children) if (child.pending && residentBytes(child.process.pid) > limit) this.kill(child, 'ran out of memory');
    }, MEMORY_POLL_MS).unref();
  }

  /** Starts the first child and loads the module in it: which handlers it exports (throws if it cannot load). */
  async start(): Promise<{ execute: boolean; continue: boolean }> {
    const child = this.spawn();
    await child.ready;
    const answer = await this.send(child, { kind: 'load' }, START_TIMEOUT_MS);
    if (!answer.ok) throw new ActionFailure(answer.error ?? 'the module could not be loaded');
    this.release(child);
    return answer.handlers as { execute: boolean; continue: boolean };
  }

  /** One run in a free child, within `timeoutMs` (waiting for a child included). */
  async run(message: RunMessage, timeoutMs: number): Promise<ActionCall[]> {
    const deadline = Date.now() + timeoutMs;
    const child = await this.acquire(timeoutMs);
    try {
      const answer = await this.send(child, message, Math.max(1, deadline - Date.now()));
      if (!answer.ok) throw new ActionFailure(answer.error ?? 'the action failed');
      return answer.calls as ActionCall[];
    } finally {
      this.release(child);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.memoryWatch);
    for (const child of this.children) this.kill(child, 'closing');
    this.children.clear();
  }

  private spawn(): Child {
    if (this.closed) throw new ActionFailure(`action "${this.options.name}": closed`);
    const { memoryMb, path, name, logger } = this.options;
    const proc = fork(RUNNER, [path], {
      execPath: process.execPath,
      execArgv: [
        '--experimental-permission',
        `--allow-fs-read=${RUNNER}`,
        `--allow-fs-read=${join(this.readable, '*')}`,
        `--max-old-space-size=${memoryMb}`,
        '--no-warnings',
      ],
      // Nothing of Rekey's environment (secret, database URL, SMTP credentials) reaches operator code.
      env: {},
      cwd: this.readable,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const child: Child = { process: proc, busy: true, ready: undefined as unknown as Promise<void> };
    child.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new ActionFailure(`action "${name}": its process did not start`)), START_TIMEOUT_MS);
      proc.once('message', () => {
        clearTimeout(timer);
        resolve();
      });
      proc.once('exit', () => {
        clearTimeout(timer);
        reject(new ActionFailure(`action "${name}": its process exited while starting`));
      });
    });
    child.ready.catch(() => undefined);
    const forward = (stream: NodeJS.ReadableStream | null, level: 'info' | 'warn') =>
      stream?.on('data', (chunk: Buffer) => logger[level]({ action: name, output: chunk.toString('utf8').slice(0, 2000) }, 'action output'));
    forward(proc.stdout, 'info');
    forward(proc.stderr, 'warn');
    // One listener for the child's life: answers to anything but the message in flight (one that came too late) are dropped.
    proc.on('message', (answer: Answer) => {
      if (child.pending !== undefined && answer.id === child.pending.id) child.pending.resolve(answer);
    });
    proc.on('exit', (code, signal) => {
      this.children.delete(child);
      const why = child.killedFor ?? (signal === 'SIGABRT' || code === 134 ? 'ran out of memory' : `its process exited (${signal ?? code})`);
      child.pending?.fail(why);
    });
    this.children.add(child);
    return child;
  }

  private send(child: Child, message: object, timeoutMs: number): Promise<Answer> {
    const id = ++this.sequence;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.kill(child, `timed out after ${timeoutMs} ms`), timeoutMs);
      const settle = () => {
        clearTimeout(timer);
        child.pending = undefined;
      };
      const pending: NonNullable<Child['pending']> = {
        id,
        resolve: (answer) => (settle(), resolve(answer)),
        fail: (reason) => (settle(), reject(new ActionFailure(reason))),
      };
      child.pending = pending;
      child.process.send({ ...message, id }, (error) => error && child.pending === pending && pending.fail(`could not reach its process: ${error.message}`));
    });
  }

  private kill(child: Child, reason: string): void {
    child.killedFor ??= reason;
    child.process.kill('SIGKILL');
  }

  private async acquire(timeoutMs: number): Promise<Child> {
    for (const child of this.children) {
      if (!child.busy && child.killedFor === undefined) {
        child.busy = true;
        return child;
      }
    }
    if (this.children.size < this.options.poolSize) {
      const child = this.spawn();
      await child.ready;
      await this.send(child, { kind: 'load' }, START_TIMEOUT_MS);
      return child;
    }
    return new Promise<Child>((resolve, reject) => {
      const timer = setTimeout(() => {
        const at = this.waiting.indexOf(take);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(new ActionFailure(`timed out after ${timeoutMs} ms waiting for a free process`));
      }, timeoutMs);
      const take = (child: Child) => {
        clearTimeout(timer);
        resolve(child);
      };
      this.waiting.push(take);
    });
  }

  private release(child: Child): void {
    if (this.closed) return;
    if (!this.children.has(child) || child.killedFor !== undefined) {
      // The child died with its run: keep one warm in its place, so the next run does not pay for a start.
      if (this.waiting.length > 0 || this.children.size === 0) void this.replace();
      return;
    }
    const next = this.waiting.shift();
    if (next) next(child);
    else child.busy = false;
  }

  private async replace(): Promise<void> {
    try {
      const child = this.spawn();
      await child.ready;
      await this.send(child, { kind: 'load' }, START_TIMEOUT_MS);
      this.release(child);
    } catch (error) {
      if (!this.closed) this.options.logger.error({ action: this.options.name, err: error }, 'could not start a process for an action');
    }
  }
}

/** The resident set of a process (Linux `/proc`); 0 where it cannot be read, so the heap limit alone applies. */
function residentBytes(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const statm = readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ');
    return Number(statm[1]) * 4096;
  } catch {
    return 0;
  }
}
