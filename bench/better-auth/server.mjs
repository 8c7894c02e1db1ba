// Better Auth reference server for the forgot-password comparison in `npm run bench`.
//
// Serves Better Auth's `POST /api/auth/request-password-reset` on 127.0.0.1,
// backed by SQLite in WAL mode, configured the way a typical app would.
//
// Environment:
//   PORT     port to listen on; 0 (default) picks a free one
//   DB_PATH  SQLite file, in an existing folder; removed and created fresh at
//            start and left in place at stop (default: a file in a new
//            temporary folder that is removed at stop)
//   USERS    number of users to seed, u0@example.com .. u<USERS-1>@example.com
//            (default 200)
//   SEED     fast (default): u0 signs up through auth.api.signUpEmail, the
//            others are written with the same password hash; signup: every
//            user goes through auth.api.signUpEmail (about 0.7 s each here)
//
// Protocol: one JSON line on stdout once the server accepts requests,
//   {"ready":true,"port":<n>,"users":<n>,"dbPath":"<file>","seedMs":<n>}
// Errors go to stderr. SIGTERM/SIGINT close the server and the database, print
// {"stopped":true,"mailed":<n>} (reset mails handed to the mailer since ready)
// as the only other stdout line, and exit 0.
// A start-up failure exits 1.

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import { betterAuth } from 'better-auth';
import { getMigrations } from 'better-auth/db/migration';
import { toNodeHandler } from 'better-auth/node';

const HOST = '127.0.0.1';
const SECRET = 'rekey-bench-better-auth-fixed-secret-0123456789abcdef';
const PASSWORD = 'correct-horse-battery-staple-42';

function intFromEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${raw}`);
  return n;
}

function freshDb() {
  const fromEnv = process.env.DB_PATH;
  if (fromEnv) {
    for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(fromEnv + suffix, { force: true });
    return { dbPath: fromEnv, tempDir: undefined };
  }
  const tempDir = mkdtempSync(join(tmpdir(), 'rekey-bench-better-auth-'));
  return { dbPath: join(tempDir, 'auth.sqlite'), tempDir };
}

async function signUp(auth, i) {
  await auth.api.signUpEmail({
    body: { email: `u${i}@example.com`, password: PASSWORD, name: `User ${i}` },
  });
}

async function main() {
  const port = intFromEnv('PORT', 0);
  const users = intFromEnv('USERS', 200);
  const seedMode = process.env.SEED ?? 'fast';
  if (seedMode !== 'fast' && seedMode !== 'signup') throw new Error(`SEED must be fast or signup, got ${seedMode}`);
  const { dbPath, tempDir } = freshDb();

  // Listen first so that baseURL can carry the chosen port; requests that
  // arrive before the auth instance is ready get 503.
  let handle = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const server = createServer((req, res) => handle(req, res));
  server.keepAliveTimeout = 65_000;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, HOST, resolve);
  });
  const boundPort = server.address().port;

  const db = new Database(dbPath);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');

  // Stand-in for the app's mailer: the message is handed over and the
  // request goes on; nothing leaves the process.
  const outbox = [];
  let mailed = 0;

  const options = {
    database: db,
    secret: SECRET,
    baseURL: `http://${HOST}:${boundPort}`,
    // The front end that hosts the reset page; `redirectTo` is checked
    // against this list, as in any real deployment.
    trustedOrigins: [`http://${HOST}`],
    emailAndPassword: {
      enabled: true,
      sendResetPassword: async ({ user, url }) => {
        outbox.push({ to: user.email, subject: 'Reset your password', url });
        mailed++;
        if (outbox.length > 10_000) outbox.splice(0, outbox.length - 1_000);
      },
    },
    // The load generator is one client on loopback: rate limiting would
    // answer 429 and measure nothing. Rekey's own limiter is off in the
    // bench for the same reason.
    rateLimit: { enabled: false },
    telemetry: { enabled: false },
    // Keep warnings such as "Reset Password: User not found" (one per
    // unknown email) out of the measurement; errors still reach stderr.
    logger: { level: 'error', disableColors: true },
  };

  const { runMigrations } = await getMigrations(options);
  await runMigrations();

  const auth = betterAuth(options);

  const seedStart = performance.now();
  if (seedMode === 'signup') {
    for (let i = 0; i < users; i++) await signUp(auth, i);
  } else if (users > 0) {
    // u0 goes through sign-up; the others get the same rows sign-up writes
    // (user + credential account) with one scrypt hash computed once, which
    // turns minutes of hashing into a second. The reset endpoint reads only
    // these rows, so what it measures is unchanged.
    await signUp(auth, 0);
    const ctx = await auth.$context;
    const hash = await ctx.password.hash(PASSWORD);
    for (let i = 1; i < users; i++) {
      const user = await ctx.internalAdapter.createUser(
        { email: `u${i}@example.com`, name: `User ${i}`, emailVerified: false },
        { method: 'email-password' },
      );
      await ctx.internalAdapter.linkAccount({
        userId: user.id,
        providerId: 'credential',
        accountId: user.id,
        password: hash,
      });
    }
  }
  const seedMs = Math.round(performance.now() - seedStart);
  outbox.length = 0;
  mailed = 0;

  const nodeHandler = toNodeHandler(auth);
  handle = (req, res) => {
    nodeHandler(req, res).catch((err) => {
      process.stderr.write(`request failed: ${err?.stack ?? err}\n`);
      if (!res.headersSent) res.statusCode = 500;
      res.end();
    });
  };

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    server.close(() => {
      db.close();
      if (tempDir) rmSync(tempDir, { recursive: true, force: true });
      process.stdout.write(`${JSON.stringify({ stopped: true, mailed })}\n`);
      process.exit(0);
    });
    server.closeAllConnections();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  process.stdout.write(`${JSON.stringify({ ready: true, port: boundPort, users, dbPath, seedMs })}\n`);
}

main().catch((err) => {
  process.stderr.write(`better-auth bench server failed to start: ${err?.stack ?? err}\n`);
  process.exit(1);
});
