import { createRequire } from 'node:module';
import type { FastifyBaseLogger } from 'fastify';
import pino, { type Bindings, type ChildLoggerOptions, type DestinationStream, type Logger } from 'pino';
import type pinoPretty from 'pino-pretty';

/**
 * Secrets never reach a log line (SEC-41). Two layers: request serializers that keep only method, path
 * (without its query: a link token arrives as `?token=`), id, ip and status; and pino redaction of every
 * field that can hold a secret, at the top level and one level down. (Two-level wildcards cost 10–25 % of the forgot
 * endpoint's throughput here and guarded nothing Rekey logs.)
 */
const SECRET_FIELDS = [
  'password',
  'new_password',
  'newPassword',
  'token',
  'code',
  'secret',
  'client_secret',
  'refresh_token',
  'access_token',
  'password_reset_token',
  'passwordResetToken',
  'apiKey',
  'api_key',
  'authorization',
  'cookie',
  // Provider credentials (config `providers`), should a provider's settings ever be logged whole.
  'authToken',
  'smtpUrl',
  'providers',
];

export const REDACT_PATHS = [
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((field) => `*.${field}`),
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
];

export interface LoggerOptions {
  /**
   * Human-readable lines (pino-pretty, in this thread) instead of JSON: a request is one line, `GET /path 200 3.1 ms`.
   * For a developer's terminal; production logs stay JSON for the machines that read them.
   */
  pretty?: boolean;
}

export function createLogger(level: string, destination?: DestinationStream, options: LoggerOptions = {}): Logger {
  return pino(
    {
      level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: {
        req: (req: { method: string; url: string; id?: string; ip?: string }) => ({
          id: req.id,
          method: req.method,
          path: stripQuery(req.url),
          ip: req.ip,
        }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
        err: pino.stdSerializers.err,
      },
    },
    options.pretty
      ? prettyStream(destination)
      : // Asynchronous writes to stdout: under load, lines that pile up while one write is in flight go out
        // together (a write per request was a twelfth of a request's CPU). pino flushes what is left on exit.
        (destination ?? pino.destination({ dest: 1, sync: false })),
  );
}

/** The access line's fields become its message; what else a line carries follows on the same line. */
function prettyStream(destination?: DestinationStream): DestinationStream {
  // Loaded only for human-readable output: JSON logs never need it.
  const pretty = createRequire(import.meta.url)('pino-pretty') as typeof pinoPretty;
  return pretty({
    ...(destination ? { destination } : {}),
    colorize: !destination && process.stdout.isTTY === true,
    translateTime: 'SYS:HH:MM:ss',
    singleLine: true,
    ignore: 'pid,hostname,reqId,req,res,ms',
    messageFormat: (log, messageKey) => {
      const req = log.req as { method?: string; path?: string } | undefined;
      const res = log.res as { statusCode?: number } | undefined;
      if (log[messageKey] === 'request' && req && res) return `${req.method} ${req.path} ${res.statusCode} ${String(log.ms)} ms`;
      return String(log[messageKey] ?? '');
    },
  });
}

/** `/reset/verify?token=abc` → `/reset/verify?…`: the path is useful, the query may carry a secret. */
export const stripQuery = (url: string): string => {
  const at = url.indexOf('?');
  return at === -1 ? url : `${url.slice(0, at)}?…`;
};

export interface AccessEntry {
  reqId: string;
  method: string;
  /** With its query cut (`stripQuery`): a link token arrives as `?token=`. */
  path: string;
  ip: string;
  statusCode: number;
  ms: number;
}

/**
 * The one line per request, on the logger's own stream. Its fields are fixed and none can hold a secret,
 * so it skips the redaction pass, which cost a tenth of a forgot request's CPU for fields it never has.
 */
export function createAccessLog(logger: Logger): (entry: AccessEntry) => void {
  const stream = (logger as unknown as Record<symbol, DestinationStream>)[pino.symbols.streamSym];
  const access = pino({ level: logger.level }, stream);
  return ({ reqId, method, path, ip, statusCode, ms }) => access.info({ reqId, req: { id: reqId, method, path, ip }, res: { statusCode }, ms }, 'request');
}

const LOG_METHODS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
type LogFn = (...args: Parameters<Logger[(typeof LOG_METHODS)[number]]>) => void;

/**
 * Fastify's per-request logger, made only when a request first logs. Fastify makes a pino child for every
 * request, and pino runs the redaction over each child's bindings: a twentieth of a forgot request's CPU,
 * for a logger that requests log through only when something fails (the access line has its own).
 */
export class LazyChildLogger {
  #made: Logger | undefined;
  readonly #make: () => Logger;

  constructor(make: () => Logger) {
    this.#make = make;
  }

  get #logger(): Logger {
    return (this.#made ??= this.#make());
  }

  get level(): string {
    return this.#logger.level;
  }

  set level(level: string) {
    this.#logger.level = level;
  }

  isLevelEnabled(level: string): boolean {
    return this.#logger.isLevelEnabled(level);
  }

  child(...args: Parameters<Logger['child']>) {
    return this.#logger.child(...args);
  }

  declare fatal: LogFn;
  declare error: LogFn;
  declare warn: LogFn;
  declare info: LogFn;
  declare debug: LogFn;
  declare trace: LogFn;

  static {
    for (const level of LOG_METHODS) {
      LazyChildLogger.prototype[level] = function (this: LazyChildLogger, ...args: Parameters<LogFn>) {
        this.#logger[level](...args);
      };
    }
  }

  silent(): void {}
}

/** Fastify's `childLoggerFactory`: each request's logger is a `LazyChildLogger`. */
export function lazyChildLogger(logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  return new LazyChildLogger(() => logger.child(bindings, options) as Logger) as unknown as FastifyBaseLogger;
}
