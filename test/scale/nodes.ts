import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/rekey.js', import.meta.url));

/** A `rekey serve` process of a cluster: its own PID, port and dispatcher, the shared store and Redis. */
export interface Node {
  pid: number;
  url: string;
  /** The `lease_owner` of the outbox rows this node claims. */
  dispatcher: string;
  /** SIGKILL: no shutdown, its claims stay leased until they expire. */
  kill(): Promise<void>;
  /** SIGTERM, then SIGKILL if it has not exited after 20 s. */
  stop(): Promise<void>;
}

export interface Cluster {
  env: NodeJS.ProcessEnv;
  /** Runs `rekey <args>` to its end (the CLI, for `keys create`). */
  cli(args: string[]): Promise<string>;
  start(): Promise<Node>;
  /** Stops every node still running, by PID, and removes the data directory. */
  close(): Promise<void>;
}

/**
 * Real server processes on loopback (PORT=0: each picks a free port and logs it), with the given settings over a
 * fresh environment: nothing of the shell's own Rekey settings leaks in.
 */
export function cluster(settings: Record<string, string>): Cluster {
  const dir = mkdtempSync(join(tmpdir(), 'rekey-nodes-'));
  const inherited = Object.entries(process.env).filter(([name]) => !name.startsWith('REKEY_') && !['NODE_ENV', 'PORT', 'HOST'].includes(name));
  const env: NodeJS.ProcessEnv = {
    ...Object.fromEntries(inherited),
    NODE_ENV: 'development',
    PORT: '0',
    HOST: '127.0.0.1',
    REKEY_DATA_DIR: dir,
    REKEY_SECRET: 'scale-test-secret-0123456789abcdefghijklmnop',
    REKEY_BASE_URL: 'https://rekey.example.test',
    REKEY_LOG_LEVEL: 'info',
    // The startup line is read as JSON (its URL and dispatcher id), whatever the terminal.
    REKEY_LOG_FORMAT: 'json',
    ...settings,
  };
  const children = new Set<ChildProcess>();

  const exited = (child: ChildProcess) =>
    child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((resolve) => child.once('exit', () => resolve()));

  return {
    env,
    cli: (args) =>
      new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [BIN, ...args], { env: { ...env, REKEY_LOG_LEVEL: 'silent' }, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
        child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
        child.on('error', reject);
        child.on('close', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`rekey ${args.join(' ')} exited ${code}: ${err}`))));
      }),
    async start() {
      const child = spawn(process.execPath, [BIN, 'serve'], { env, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      children.add(child);
      child.once('exit', () => children.delete(child));
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
      const listening = await new Promise<{ url: string; dispatcher: string }>((resolve, reject) => {
        let buffered = '';
        const onData = (chunk: string) => {
          buffered += chunk;
          let newline: number;
          while ((newline = buffered.indexOf('\n')) >= 0) {
            const line = buffered.slice(0, newline);
            buffered = buffered.slice(newline + 1);
            if (!line.includes('Rekey is listening')) continue;
            const entry = JSON.parse(line) as { url: string; dispatcher: string };
            child.stdout.off('data', onData);
            // Keep reading so a full pipe never blocks the server's logging.
            child.stdout.resume();
            resolve(entry);
          }
        };
        child.stdout.setEncoding('utf8').on('data', onData);
        child.once('exit', (code) => reject(new Error(`rekey serve exited (${code}) before listening: ${stderr}`)));
      });
      const signal = async (name: NodeJS.Signals) => {
        if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, name);
        await exited(child);
      };
      return {
        pid: child.pid!,
        url: listening.url,
        dispatcher: listening.dispatcher,
        kill: () => signal('SIGKILL'),
        async stop() {
          const timer = setTimeout(() => child.exitCode === null && child.signalCode === null && process.kill(child.pid!, 'SIGKILL'), 20_000);
          await signal('SIGTERM');
          clearTimeout(timer);
        },
      };
    },
    async close() {
      await Promise.all(
        [...children].map(async (child) => {
          if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
          await exited(child);
        }),
      );
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
