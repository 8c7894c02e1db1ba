/**
 * The process under test, started by `bench/run.ts` with an IPC channel (so the load generator and the
 * server never share an event loop): plain `node` on this file bundled against a compiled copy's dist/
 * (bench/compiled.ts), the same JavaScript `npm start` runs. Roles:
 *
 * - `ceiling`: a bare Fastify route `POST /insert` that inserts one row with the driver directly
 *   (better-sqlite3 in WAL mode, or a `pg` pool): the fastest a write endpoint can go on this machine.
 * - `rekey`: the real server, started by `startServer` (src/main.ts) as `rekey serve` does, on
 *   127.0.0.1 with a random port.
 * - `hash`: no server; N concurrent `hasher.hash()` loops for a fixed time (the Argon2id ceiling).
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Session as InspectorConnection } from 'node:inspector/promises';
import Database from 'better-sqlite3';
import Fastify, { type FastifyInstance } from 'fastify';
import pg from 'pg';
import { loadConfig } from '../src/config/load.ts';
import type { Config, ConfigInput } from '../src/config/schema.ts';
import { startServer } from '../src/main.ts';
import { isPostgresUrl } from '../src/store/connect.ts';
import { createPasswordHasher } from '../src/users/passwords.ts';
import type { User } from '../src/users/user.service.ts';
import { CLOCK_TICKS, cpuTicksOf } from './machine.ts';
import { BENCH_SECRET, emailOf, passwordOf, type Command, type ReadyMessage, type Reply, type Request, type ServerSpec, type WindowUsage } from './protocol.ts';

const spec = JSON.parse(process.env.BENCH_SPEC ?? '{}') as ServerSpec;

function send(message: ReadyMessage | Reply): void {
  // Without an IPC channel (started by hand), print what the runner would have received.
  if (process.send) process.send(message);
  else console.log(JSON.stringify(message));
}

function benchConfig(overrides: Partial<ConfigInput> = {}): Config {
  const dataDir = spec.dataDir ?? process.cwd();
  return loadConfig({
    env: {},
    cwd: dataDir,
    overrides: {
      secret: BENCH_SECRET,
      // Not 'test': the suite's write-group check would slow every SQLite write.
      env: 'development',
      logLevel: 'silent',
      dataDir,
      port: 0,
      host: '127.0.0.1',
      // Node reads UV_THREADPOOL_SIZE itself; the config only has to agree with it.
      threadPoolSize: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
      ...overrides,
    },
  });
}

/** Runs `task` over `0..count-1` with at most `limit` in flight; results in index order. */
async function pooled<T>(count: number, limit: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      results[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
  return results;
}

interface Running {
  url: string;
  secretKey?: string;
  clientId?: string;
  handle(command: Command): Promise<unknown>;
  close(): Promise<void>;
}

async function listen(app: FastifyInstance): Promise<string> {
  return app.listen({ port: 0, host: '127.0.0.1' });
}

async function startCeiling(databaseUrl: string): Promise<Running> {
  const app = Fastify({ logger: false });
  let close: () => Promise<void>;
  if (isPostgresUrl(databaseUrl)) {
    const pool = new pg.Pool({
      connectionString: databaseUrl,
      max: 10, // Rekey's default pool size
      ...(spec.schema ? { options: `-c search_path=${spec.schema}` } : {}),
    });
    await pool.query('CREATE TABLE IF NOT EXISTS bench_insert (id text PRIMARY KEY, email text NOT NULL, created_at bigint NOT NULL)');
    app.post<{ Body: { email: string } }>('/insert', async (request, reply) => {
      const id = randomUUID();
      await pool.query('INSERT INTO bench_insert (id, email, created_at) VALUES ($1, $2, $3)', [id, request.body.email, Date.now()]);
      return reply.code(201).send({ id });
    });
    close = () => pool.end();
  } else {
    const sqlite = new Database(databaseUrl);
    // The same pragmas as src/store/connect.ts.
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('busy_timeout = 5000');
    sqlite.exec('CREATE TABLE IF NOT EXISTS bench_insert (id TEXT PRIMARY KEY, email TEXT NOT NULL, created_at INTEGER NOT NULL)');
    const insert = sqlite.prepare('INSERT INTO bench_insert (id, email, created_at) VALUES (?, ?, ?)');
    app.post<{ Body: { email: string } }>('/insert', async (request, reply) => {
      const id = randomUUID();
      insert.run(id, request.body.email, Date.now());
      return reply.code(201).send({ id });
    });
    close = async () => void sqlite.close();
  }
  const url = await listen(app);
  return {
    url,
    handle: async (command) => {
      if (command.cmd !== 'stop') throw new Error(`the ceiling server does not handle ${command.cmd}`);
    },
    async close() {
      await app.close();
      await close();
    },
  };
}

/** `postgres://…?options=-c search_path=<schema>`: how a separate process is pointed at one schema. */
function withSearchPath(url: string, schema: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
}

/**
 * The server exactly as `rekey serve` starts it (`startServer` from src/main.ts: store, migrations,
 * hashing-thread priority, dispatcher when configured, listen), on 127.0.0.1 with a random port.
 */
async function startRekey(databaseUrl: string): Promise<Running> {
  const config = benchConfig({
    databaseUrl: isPostgresUrl(databaseUrl) && spec.schema ? withSearchPath(databaseUrl, spec.schema) : databaseUrl,
    dispatcher: spec.dispatcher ?? false,
    ...(spec.settings as Partial<ConfigInput> | undefined),
  });
  const server = await startServer(config);
  const { rekey, url } = server;
  const application = await rekey.apps.getDefault();
  const { key } = await rekey.apps.createKey(application.id, 'bench');
  const db = rekey.deps.store.db;
  const hasher = createPasswordHasher({ memoryKib: config.argon2MemoryKib, timeCost: config.argon2TimeCost });

  const handle = async (command: Command): Promise<unknown> => {
    switch (command.cmd) {
      case 'seed': {
        // One Argon2id hash for every row: hashing thousands of passwords would take minutes.
        const passwordHash = await hasher.hash(passwordOf(0));
        const now = Date.now();
        const BATCH = 200;
        for (let start = 0; start < command.count; start += BATCH) {
          const rows: User[] = [];
          for (let i = start; i < Math.min(command.count, start + BATCH); i++) {
            rows.push({
              id: rekey.deps.ids.next('user'),
              email: emailOf(command.prefix, i),
              email_verified: 1,
              first_name: null,
              last_name: null,
              profile_picture_url: null,
              external_id: null,
              metadata: '{}',
              locale: null,
              password_hash: passwordHash,
              password_changed_at: now,
              last_sign_in_at: null,
              disabled_at: null,
              created_at: now,
              updated_at: now,
            });
          }
          await db.insertInto('users').values(rows).execute();
        }
        return command.count;
      }
      case 'issue': {
        // Through the reset service, as the API does it: a token per user, its mail queued in the outbox.
        const tokens = await pooled(command.count, 8, async (i) => (await rekey.resets.createForEmail(emailOf(command.prefix, i), application)).token);
        // Deliver the queued reset mails now, so the dispatcher (if on) only has the run's own mail to send.
        if (command.deliver !== false) await rekey.dispatcher.drain(300_000);
        return tokens;
      }
      case 'dispatch':
        rekey.dispatcher.start();
        return undefined;
      default:
        return undefined;
    }
  };

  return {
    url,
    secretKey: key,
    clientId: application.client_id,
    handle,
    close: () => server.close(),
  };
}

async function runHashLoops(): Promise<void> {
  const config = benchConfig();
  const hasher = createPasswordHasher({ memoryKib: config.argon2MemoryKib, timeCost: config.argon2TimeCost });
  const loops = spec.loops ?? 4;
  const cpuBefore = process.cpuUsage();
  const seconds = spec.seconds ?? 10;
  // Warm-up: every pool thread allocates its Argon2 memory once.
  await Promise.all(Array.from({ length: loops }, (_, i) => hasher.hash(passwordOf(i))));
  let hashes = 0;
  const started = performance.now();
  const cpuStart = process.cpuUsage(cpuBefore);
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: loops }, async (_, loop) => {
      for (let i = loop; performance.now() < deadline; i += loops) {
        await hasher.hash(passwordOf(i));
        hashes++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const cpuSeconds = (cpu.user + cpu.system - cpuStart.user - cpuStart.system) / 1e6;
  send({ type: 'hashed', hashes, seconds: elapsed, loops, threadpool: Number(process.env.UV_THREADPOOL_SIZE ?? 4), cpuSeconds });
}

/** CPU seconds (user + system) the main thread has used so far; 0 where /proc is missing. */
function mainThreadCpuSeconds(): number {
  try {
    return cpuTicksOf(`/proc/self/task/${process.pid}/stat`) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/** CPU time and, on request, a V8 profile of the main thread for exactly the measured run. */
function measurementWindow() {
  let started: { cpu: NodeJS.CpuUsage; main: number; at: number } | undefined;
  let inspector: InspectorConnection | undefined;
  return async (command: Extract<Command, { cmd: 'window' }>): Promise<WindowUsage | undefined> => {
    if (command.action === 'start') {
      if (command.profile) {
        inspector = new InspectorConnection();
        inspector.connect();
        await inspector.post('Profiler.enable');
        await inspector.post('Profiler.setSamplingInterval', { interval: 500 });
        await inspector.post('Profiler.start');
      }
      started = { cpu: process.cpuUsage(), main: mainThreadCpuSeconds(), at: performance.now() };
      return undefined;
    }
    if (!started) throw new Error('window stop without start');
    const cpu = process.cpuUsage(started.cpu);
    const usage: WindowUsage = {
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      mainThreadCpuSeconds: mainThreadCpuSeconds() - started.main,
      seconds: (performance.now() - started.at) / 1000,
    };
    if (inspector && command.profile) {
      const { profile } = await inspector.post('Profiler.stop');
      writeFileSync(command.profile, JSON.stringify(profile));
      inspector.disconnect();
      inspector = undefined;
    }
    started = undefined;
    return usage;
  };
}

async function main(): Promise<void> {
  if (spec.role === 'hash') {
    await runHashLoops();
    process.disconnect?.();
    return;
  }
  if (!spec.databaseUrl) throw new Error('BENCH_SPEC.databaseUrl is required');
  const running = spec.role === 'ceiling' ? await startCeiling(spec.databaseUrl) : await startRekey(spec.databaseUrl);
  let closing: Promise<void> | undefined;
  const close = () => (closing ??= running.close());
  const window = measurementWindow();

  process.on('message', (message: Request) => {
    void (async () => {
      try {
        const result = message.cmd === 'window' ? await window(message) : await running.handle(message);
        if (message.cmd === 'stop') await close();
        send({ type: 'reply', id: message.id, ok: true, result });
        if (message.cmd === 'stop') process.disconnect?.();
      } catch (error) {
        send({ type: 'reply', id: message.id, ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
      }
    })();
  });
  // If the runner dies, do not linger.
  process.on('disconnect', () => {
    void close().catch(() => undefined);
  });
  send({ type: 'ready', url: running.url, secretKey: running.secretKey, clientId: running.clientId });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
  process.disconnect?.();
});
