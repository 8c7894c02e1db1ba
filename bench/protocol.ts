/**
 * Messages between `bench/run.ts` (the load generator) and `bench/server.ts` (the process under test),
 * over the IPC channel `child_process.fork` opens. The server process gets its role from `BENCH_ROLE`
 * and its settings from `BENCH_SPEC` (JSON).
 */

export type ServerRole = 'ceiling' | 'rekey' | 'hash';

export interface ServerSpec {
  role: ServerRole;
  /** SQLite file path or `postgres://` URL. Unused by the `hash` role. */
  databaseUrl?: string;
  /** PostgreSQL schema (created and dropped by the runner). */
  schema?: string;
  /** Directory for the Rekey data dir (secret, SQLite file). */
  dataDir?: string;
  /** Rekey role: run the outbox dispatcher (started after the fixtures are in place). */
  dispatcher?: boolean;
  /** Rekey role: settings over the bench's own (an SMTP sink's `smtpUrl`, the dispatcher's interval, …). */
  settings?: Record<string, unknown>;
  /** Hash role: concurrent `hasher.hash()` loops and how long to run them. */
  loops?: number;
  seconds?: number;
}

/** Sent once the server listens (or, for `hash`, once the measurement is done). */
export type ReadyMessage =
  | { type: 'ready'; url: string; secretKey?: string; clientId?: string }
  | { type: 'hashed'; hashes: number; seconds: number; loops: number; threadpool: number; cpuSeconds: number };

export type Command =
  /** Inserts `count` users `<prefix>-<i>@bench.example.com`, all with one precomputed Argon2id hash. */
  | { cmd: 'seed'; prefix: string; count: number }
  /** Issues one reset per seeded user through the reset service; answers with the tokens. `deliver: false` leaves their mails queued. */
  | { cmd: 'issue'; prefix: string; count: number; deliver?: boolean }
  /**
   * Brackets a measured run: `start` notes the process's CPU time (all threads, the libuv pool
   * included) and, with `profile`, starts the V8 profiler; `stop` answers with a `WindowUsage`
   * and writes the profile of the window to that path.
   */
  | { cmd: 'window'; action: 'start' | 'stop'; profile?: string }
  /** Starts the dispatcher of a server started without it: several nodes start delivering at one moment. */
  | { cmd: 'dispatch' }
  | { cmd: 'stop' };

export interface WindowUsage {
  /** CPU seconds of the whole process (user + system, every thread) during the window. */
  cpuSeconds: number;
  /** Of those, the main thread's (the event loop: HTTP, JSON, store drivers, the kernel's share of their sockets). */
  mainThreadCpuSeconds: number;
  seconds: number;
}

export type Request = Command & { id: number };
export type Reply = { type: 'reply'; id: number; ok: true; result?: unknown } | { type: 'reply'; id: number; ok: false; error: string };

export const BENCH_SECRET = 'bench-secret-that-is-long-enough-0123456789';
export const emailOf = (prefix: string, i: number): string => `${prefix}-${i}@bench.example.com`;
/** Passes the password policy (15+ code points, not on the blocklist, not built from the email). */
export const passwordOf = (i: number): string => `correct horse battery staple ${i}`;
