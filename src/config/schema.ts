import { z } from 'zod';
import { providersSchema } from './providers.ts';

/**
 * Every setting Rekey reads, with its default and the environment variable that sets it.
 * `docs/configuration.md` is checked against this table by a test, so a key cannot go undocumented.
 */
const setting = <T extends z.ZodType>(schema: T, env: string, doc: string) => schema.meta({ env, description: doc });

const positiveInt = () => z.coerce.number().int().positive();

/** One post-challenge action: a module on disk run in its own sandbox (docs/actions.md). */
const actionEntry = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$/, 'letters, digits, space, `_`, `.`, `-`; at most 64'),
  path: z.string().min(1),
  secrets: z.record(z.string(), z.string()).default({}),
  timeoutMs: z.number().int().min(50).max(20_000).default(5000),
});

const actionsSetting = z.preprocess(
  (value) => {
    if (typeof value !== 'string') return value;
    try {
      return JSON.parse(value) as unknown;
    } catch {
      return value;
    }
  },
  z
    .strictObject({
      postChallenge: z.array(actionEntry).default([]),
      /** "When the user has a second factor enrolled, demand one before the new password", as a built-in action run first. */
      requireEnrolledSecondFactor: z.boolean().default(true),
      memoryMb: z.number().int().min(16).max(4096).default(64),
      poolSize: z.number().int().min(1).max(32).default(2),
      countryHeader: z
        .string()
        .regex(/^[A-Za-z0-9-]{1,64}$/)
        .optional(),
    })
    .superRefine((value, ctx) => {
      if (value.postChallenge.length > 4) {
        const fifth = value.postChallenge[4]!.name;
        ctx.addIssue({ code: 'custom', message: `at most 4 post-challenge actions (Auth0's limit); "${fifth}" is the fifth`, path: ['postChallenge'] });
      }
      const seen = new Set<string>();
      for (const action of value.postChallenge) {
        if (seen.has(action.name)) ctx.addIssue({ code: 'custom', message: `two post-challenge actions are named "${action.name}"`, path: ['postChallenge'] });
        seen.add(action.name);
      }
    }),
);

export const configSchema = z.strictObject({
  /** @default 'development' */
  env: setting(
    z.enum(['development', 'production', 'test']).default('development'),
    'NODE_ENV',
    '`production` refuses to start without a secret, an https base URL and a real mail channel.',
  ),
  /** @default 8080 */
  port: setting(z.coerce.number().int().min(0).max(65535).default(8080), 'PORT', 'TCP port to listen on.'),
  /** @default '127.0.0.1' */
  host: setting(z.string().min(1).default('127.0.0.1'), 'HOST', 'Interface to bind; loopback by default.'),
  /** @default './.rekey' */
  dataDir: setting(z.string().min(1).default('./.rekey'), 'REKEY_DATA_DIR', 'Directory for the SQLite file and the generated development secret.'),
  /** @default undefined (SQLite file `rekey.db` in the data dir) */
  databaseUrl: setting(
    z.string().min(1).optional(),
    'REKEY_DATABASE_URL',
    '`postgres://…` for PostgreSQL, or a path / `sqlite:` URL for SQLite. Default: `<dataDir>/rekey.db`.',
  ),
  /** @default 20 */
  databasePoolSize: setting(
    positiveInt().max(500).default(20),
    'REKEY_DATABASE_POOL_SIZE',
    'PostgreSQL connections per process. Reads queue behind writes when every connection is busy: under a burst of resets, 10 made a session check wait half a second.',
  ),
  /** @default `http://127.0.0.1:${port}` */
  baseUrl: setting(
    z.url({ protocol: /^https?$/ }).optional(),
    'REKEY_BASE_URL',
    'Public origin used in every link Rekey sends. Never taken from a request header.',
  ),
  /** @default generated into `<dataDir>/secret` outside production */
  secret: setting(
    z.string().min(32, 'must be at least 32 characters').optional(),
    'REKEY_SECRET',
    'Server secret: keys the token HMACs, the sealed copies and the JWT signatures.',
  ),
  /** @default undefined (development mailbox) */
  smtpUrl: setting(
    z.url({ protocol: /^smtps?$/ }).optional(),
    'REKEY_SMTP_URL',
    '`smtp://user:pass@host:port` or `smtps://…`: shorthand for an SMTP `providers.email.primary` (set one or the other). Without either, mail goes to the development mailbox.',
  ),
  /** @default undefined (email: `smtpUrl`, else the development mailbox; SMS and chat: the development mailbox) */
  providers: setting(
    providersSchema.optional(),
    'REKEY_PROVIDERS',
    'Message providers per channel (`email`, `sms`, `chat`), each a `primary` and an optional `fallback`, as JSON; see "Providers" above. Outside production, a channel without one goes to the development mailbox.',
  ),
  /** @default 'Rekey <no-reply@rekey.localhost>' */
  mailFrom: setting(z.string().min(3).default('Rekey <no-reply@rekey.localhost>'), 'REKEY_MAIL_FROM', 'From header of every mail.'),
  /** @default undefined */
  apiKey: setting(z.string().min(8).optional(), 'REKEY_API_KEY', 'A secret key the default application accepts, for scripted setups (e.g. `sk_test_…`).'),
  /** @default undefined */
  clientId: setting(z.string().min(3).optional(), 'REKEY_CLIENT_ID', 'Client id given to the default application.'),
  /** @default 'Rekey' */
  appName: setting(z.string().min(1).default('Rekey'), 'REKEY_APP_NAME', 'Name of the default application, shown in mail.'),
  /** @default 'info' */
  logLevel: setting(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'), 'REKEY_LOG_LEVEL', 'pino log level.'),
  /** @default 'auto' */
  logFormat: setting(
    z.enum(['auto', 'json', 'pretty']).default('auto'),
    'REKEY_LOG_FORMAT',
    "The server's log lines: `json` (one JSON object a line), `pretty` (readable, one line a request), or `auto`: pretty when stdout is a terminal and `NODE_ENV` is not `production`, JSON otherwise.",
  ),
  /** @default 30 */
  resetTokenTtlMinutes: setting(positiveInt().max(60).default(30), 'REKEY_RESET_TOKEN_TTL_MINUTES', 'Lifetime of a reset link (at most 60 minutes).'),
  /** @default 15 — NIST SP 800-63B rev 4 for password-only accounts */
  passwordMinLength: setting(
    z.coerce.number().int().min(8).max(64).default(15),
    'REKEY_PASSWORD_MIN_LENGTH',
    'Minimum password length in Unicode code points.',
  ),
  /** @default 256 */
  passwordMaxLength: setting(
    z.coerce.number().int().min(64).max(1024).default(256),
    'REKEY_PASSWORD_MAX_LENGTH',
    'Maximum password length in code points (also capped at 1 KiB of UTF-8). At least 64.',
  ),
  /** @default 19456 — OWASP's Argon2id floor */
  argon2MemoryKib: setting(z.coerce.number().int().min(19456).default(19456), 'REKEY_ARGON2_MEMORY_KIB', 'Argon2id memory cost in KiB.'),
  /** @default 2 */
  argon2TimeCost: setting(z.coerce.number().int().min(2).default(2), 'REKEY_ARGON2_TIME_COST', 'Argon2id iterations.'),
  /** @default 10 */
  hashThreadNice: setting(
    z.coerce.number().int().min(0).max(19).default(10),
    'REKEY_HASH_THREAD_NICE',
    'Linux: the niceness given to the threads that hash passwords, so health checks and cheap requests stay fast while Argon2 saturates the CPU. 0 leaves them alone.',
  ),
  /** @default true */
  hashThreadIdle: setting(
    z.union([z.boolean(), z.stringbool()]).default(true),
    'REKEY_HASH_THREAD_IDLE',
    "Linux: also put the hashing threads in the SCHED_IDLE class (with util-linux's `chrt`), so any other thread that wakes takes their core at once. On a host kept busy by other work, hashing then gets only what is left: set `false` there.",
  ),
  /** @default 4 — Node's own default */
  threadPoolSize: setting(
    z.coerce.number().int().min(1).max(1024).default(4),
    'UV_THREADPOOL_SIZE',
    "Node's libuv thread pool size, shared by Argon2, WebCrypto, fs and DNS. Read by Node itself at start; Rekey derives its hashing limits from it.",
  ),
  /** @default 0 — derived: `threadPoolSize − 1`, at most the number of cores (at least 1) */
  hashConcurrency: setting(
    z.coerce.number().int().min(0).max(1024).default(0),
    'REKEY_HASH_CONCURRENCY',
    'Password hashes and verifications run at once. 0: one less than `threadPoolSize` (so a pool thread always stays free for file I/O and DNS), and no more than the cores (more only share them, each with its own 19 MiB). Keep it below `threadPoolSize`.',
  ),
  /** @default 0 — derived: `16 × threadPoolSize` */
  hashQueue: setting(
    z.coerce.number().int().min(0).max(100_000).default(0),
    'REKEY_HASH_QUEUE',
    'Requests allowed to wait for a hashing slot; beyond them a 503 `server_busy` with Retry-After. 0: 16 × `threadPoolSize` (about a second or two of hashing).',
  ),
  /** @default 300 */
  accessTokenTtlSeconds: setting(positiveInt().max(3600).default(300), 'REKEY_ACCESS_TOKEN_TTL_SECONDS', 'Lifetime of an access token (JWT).'),
  /** @default 720 (30 days) */
  sessionTtlHours: setting(positiveInt().default(720), 'REKEY_SESSION_TTL_HOURS', 'Lifetime of a session and its refresh token.'),
  /** @default 5 */
  deliveryMaxAttempts: setting(positiveInt().max(50).default(5), 'REKEY_DELIVERY_MAX_ATTEMPTS', 'Delivery attempts before a message is dead-lettered.'),
  /** @default 2000 */
  deliveryBackoffMs: setting(
    positiveInt().default(2000),
    'REKEY_DELIVERY_BACKOFF_MS',
    'Base of the exponential backoff between delivery attempts (with jitter).',
  ),
  /** @default 120000 */
  deliveryLeaseMs: setting(
    positiveInt().min(1000).default(120_000),
    'REKEY_DELIVERY_LEASE_MS',
    "How long a dispatcher's claim on a message holds. Past it another node retakes the message (a crashed node's work resumes then), so it must outlast the slowest send.",
  ),
  /** @default 20 */
  dispatcherBatchSize: setting(
    positiveInt().max(500).default(20),
    'REKEY_DISPATCHER_BATCH_SIZE',
    'Messages a dispatcher claims and sends at once in a round. With two rounds in flight, 20 keeps a pool of 5 SMTP connections busy between rounds.',
  ),
  /** @default 250 */
  dispatcherIntervalMs: setting(positiveInt().default(250), 'REKEY_DISPATCHER_INTERVAL_MS', 'How often the dispatcher looks for due messages.'),
  /** @default true */
  dispatcher: setting(
    z.union([z.boolean(), z.stringbool()]).default(true),
    'REKEY_DISPATCHER',
    'Run the outbox dispatcher inside the server process. Set `false` on API-only nodes.',
  ),
  /** @default 7 */
  outboxRetentionDays: setting(
    positiveInt().max(3650).default(7),
    'REKEY_OUTBOX_RETENTION_DAYS',
    'Days a sent or dead outbox row (recipient, IP and user agent included) is kept after its last attempt; the dispatcher then deletes it. Its idempotency key goes with it.',
  ),
  /** @default 10 */
  resetCodeTtlMinutes: setting(positiveInt().max(10).default(10), 'REKEY_RESET_CODE_TTL_MINUTES', 'Lifetime of an emailed reset code (at most 10 minutes).'),
  /** @default 30 — pacing for the person at the page; the service's own limits still count every resend */
  resendCooldownSeconds: setting(
    positiveInt().max(3600).default(30),
    'REKEY_RESEND_COOLDOWN_SECONDS',
    'How long the hosted pages\' "send again" waits after the last mail of a reset (the button counts down). Pacing only: every resend is a new request that the per-IP, per-address and per-account limits count like the first.',
  ),
  /** @default false */
  notifyUnknownRecipients: setting(
    z.union([z.boolean(), z.stringbool()]).default(false),
    'REKEY_NOTIFY_UNKNOWN_RECIPIENTS',
    'Send a "no account with this address" mail when a reset is asked for an unknown email. Off: mail to strangers is a spam vector.',
  ),
  /** @default true */
  notifyNewSignIn: setting(
    z.union([z.boolean(), z.stringbool()]).default(true),
    'REKEY_NOTIFY_NEW_SIGN_IN',
    'Trigger the `new-sign-in` workflow when an account signs in from a browser and OS it has not used before (not on its first sign-in). Users may turn its email off in their preferences. Off: no device is looked up or recorded.',
  ),
  /** @default undefined (memory) */
  redisUrl: setting(
    z.url({ protocol: /^rediss?$/ }).optional(),
    'REKEY_REDIS_URL',
    'Redis for rate limits shared by every server process. Without it, limits are kept per process in memory.',
  ),
  /** @default 1000 */
  redisCommandTimeoutMs: setting(
    positiveInt().max(60_000).default(1000),
    'REKEY_REDIS_COMMAND_TIMEOUT_MS',
    'How long a rate-limit command may wait for Redis before this process counts that attempt in its own memory instead (limits then hold per process until Redis answers again).',
  ),
  /** @default '' (no proxy is trusted) */
  trustedProxies: setting(
    z.string().default(''),
    'REKEY_TRUSTED_PROXIES',
    'Comma-separated IPs/CIDRs of reverse proxies whose X-Forwarded-For is believed. Empty: the socket peer is the client.',
  ),
  /** @default 30 */
  rateLimitIpRequests: setting(
    positiveInt().default(30),
    'REKEY_RATE_LIMIT_IP_REQUESTS',
    'Reset requests (forgot, new flow) per client IP per window; beyond it a 429 with Retry-After.',
  ),
  /** @default 30 */
  rateLimitIpVerifications: setting(
    positiveInt().default(30),
    'REKEY_RATE_LIMIT_IP_VERIFICATIONS',
    'Code, link and set-password attempts per client IP per window (link tokens in URLs can be guessed too).',
  ),
  /** @default 600 */
  rateLimitIpWindowSeconds: setting(positiveInt().default(600), 'REKEY_RATE_LIMIT_IP_WINDOW_SECONDS', 'Window of the per-IP limits.'),
  /** @default 10 */
  rateLimitIdentifierRequests: setting(
    positiveInt().default(10),
    'REKEY_RATE_LIMIT_IDENTIFIER_REQUESTS',
    'Reset requests per email address per window, counted the same for unknown addresses (SEC-03).',
  ),
  /** @default 900 */
  rateLimitIdentifierWindowSeconds: setting(
    positiveInt().default(900),
    'REKEY_RATE_LIMIT_IDENTIFIER_WINDOW_SECONDS',
    'Window of the per-address request limit.',
  ),
  /** @default 3 */
  resetMailsPer15Minutes: setting(
    positiveInt().default(3),
    'REKEY_RESET_MAILS_PER_15_MINUTES',
    'Reset mails delivered per account per 15 minutes; extra requests are dropped silently.',
  ),
  /** @default 10 */
  resetMailsPerDay: setting(positiveInt().default(10), 'REKEY_RESET_MAILS_PER_DAY', 'Reset mails delivered per account per 24 hours.'),
  /** @default 20 */
  codeFailuresPerDay: setting(
    positiveInt().default(20),
    'REKEY_CODE_FAILURES_PER_DAY',
    'Wrong codes per account per 24 hours across re-issued codes; then codes are refused until the window passes.',
  ),
  /** @default 5 */
  totpFailuresPer15Minutes: setting(
    positiveInt().default(5),
    'REKEY_TOTP_FAILURES_PER_15_MINUTES',
    'Wrong authenticator codes per account per 15 minutes, sign-in and recovery together; then every code is refused until the window passes.',
  ),
  /** @default 20 */
  totpFailuresPerDay: setting(
    positiveInt().default(20),
    'REKEY_TOTP_FAILURES_PER_DAY',
    'Wrong authenticator codes per account per 24 hours, sign-in and recovery together.',
  ),
  /** @default 10 */
  signInFailuresPerAccount: setting(
    positiveInt().default(10),
    'REKEY_SIGN_IN_FAILURES_PER_ACCOUNT',
    'Wrong passwords per email address per window, counted the same for unknown addresses; then every sign-in of that address, right password included, gets a 429 with Retry-After until the window passes.',
  ),
  /** @default 900 */
  signInAccountWindowSeconds: setting(positiveInt().default(900), 'REKEY_SIGN_IN_ACCOUNT_WINDOW_SECONDS', 'Window of the per-address sign-in limit.'),
  /** @default 100 */
  signInFailuresPerIp: setting(
    positiveInt().default(100),
    'REKEY_SIGN_IN_FAILURES_PER_IP',
    "Wrong passwords per client IP per window: the `ip_address` an application passes to `authenticate`, or else the caller's address (behind `trustedProxies`). Then every sign-in from it gets a 429.",
  ),
  /** @default 3600 */
  signInIpWindowSeconds: setting(positiveInt().default(3600), 'REKEY_SIGN_IN_IP_WINDOW_SECONDS', 'Window of the per-IP sign-in limit.'),
  /** @default [] */
  workflows: setting(
    z.preprocess(
      (value) => {
        if (typeof value !== 'string') return value;
        try {
          return JSON.parse(value) as unknown;
        } catch {
          return value;
        }
      },
      z.array(z.record(z.string(), z.unknown())).max(500).default([]),
    ),
    'REKEY_WORKFLOWS',
    "Notification workflows (JSON array; see docs/notifications.md): your own, or a built-in's id with new content for its steps. Checked at start: a bad step or a template that does not parse stops the server, naming the workflow and the step.",
  ),
  /** @default { postChallenge: [], requireEnrolledSecondFactor: true, memoryMb: 64, poolSize: 2 } */
  actions: setting(
    actionsSetting.default({ postChallenge: [], requireEnrolledSecondFactor: true, memoryMb: 64, poolSize: 2 }),
    'REKEY_ACTIONS',
    "Post-challenge actions (JSON; see docs/actions.md): `postChallenge` (at most 4 of `{name, path, secrets, timeoutMs}`; a relative `path` is read from the config file's directory), `requireEnrolledSecondFactor` (the built-in rule, default true), `memoryMb` (64) and `poolSize` (2) per action, `countryHeader` (a header your proxy sets to the client's country, for `event.request.geoip.countryCode`).",
  ),
});

/**
 * Higher defaults for the per-IP limits with `NODE_ENV=development`, so that trying the journey over and over
 * from one machine is not stopped by a 429. They apply only where the setting is not given; production and
 * test keep the schema's defaults.
 */
export const DEVELOPMENT_DEFAULTS = {
  rateLimitIpRequests: 300,
  rateLimitIpVerifications: 300,
  signInFailuresPerIp: 1000,
} as const satisfies Partial<Record<keyof z.output<typeof configSchema>, number>>;

export type ConfigInput = z.input<typeof configSchema>;
export type Config = Readonly<z.output<typeof configSchema> & { baseUrl: string; secret: string; databaseUrl: string }>;

/** Keys and the environment variables that set them, read from the schema's metadata. */
export function settingsTable(): Array<{ key: string; env: string; description: string }> {
  return Object.entries(configSchema.shape).map(([key, schema]) => {
    const meta = (schema as z.ZodType).meta() as { env: string; description: string };
    return { key, env: meta.env, description: meta.description };
  });
}
