import { Command } from 'commander';
import pino from 'pino';
import { createRekey } from '../compose.ts';
import { ConfigError, loadConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { isRekeyError } from '../errors/index.ts';
import { exitOnSignals, startServer } from '../main.ts';
import { createLogger } from '../platform/logger.ts';
import { registerAppsCommands } from './apps.ts';
import { registerConfigCommands } from './config-docs.ts';
import { registerDeliveriesCommands } from './deliveries.ts';
import { registerDoctorCommand } from './doctor.ts';
import { registerKeysCommands } from './keys.ts';
import { registerMigrateCommand } from './migrate.ts';
import { CliError, type CliContext } from './output.ts';
import { registerResetCommand } from './reset.ts';
import { registerUsersCommands } from './users.ts';

/** `rekey` command line. Each group lives in its own file and calls services, not HTTP. */
export async function runCli(argv: string[]): Promise<void> {
  const program = new Command('rekey')
    .description('Rekey: self-hosted password reset and account recovery')
    .option('--json', 'print machine-readable JSON instead of tables (listing and creating commands)')
    .showHelpAfterError();

  const ctx = createContext(program);
  program
    .command('serve', { isDefault: true })
    .description('run the HTTP server and the outbox dispatcher')
    .action(async () => {
      const server = await startServer(ctx.config());
      exitOnSignals(server);
    });
  registerMigrateCommand(program, ctx);
  registerAppsCommands(program, ctx);
  registerKeysCommands(program, ctx);
  registerUsersCommands(program, ctx);
  registerResetCommand(program, ctx);
  registerDeliveriesCommands(program, ctx);
  registerDoctorCommand(program, ctx);
  registerConfigCommands(program, ctx);

  try {
    await program.parseAsync(argv);
  } catch (error) {
    // Stderr is synchronous for files and pipes on POSIX, so exiting right away loses nothing.
    process.exit(report(error));
  }
}

function createContext(program: Command): CliContext {
  let config: Config | undefined;
  const ctx: CliContext = {
    json: () => Boolean(program.opts<{ json?: boolean }>().json),
    config: () => (config ??= loadConfig()),
    async withRekey(fn) {
      const settings = ctx.config();
      // Logs go to stderr so that stdout carries only the command's result (a key, a link, JSON).
      const logger = createLogger(settings.logLevel, pino.destination({ dest: 2, sync: true }));
      const rekey = await createRekey({ config: settings, logger });
      try {
        return await fn(rekey);
      } finally {
        await rekey.close();
      }
    },
  };
  return ctx;
}

/** Prints an error the way an operator needs it and returns the exit code. Stack traces are for bugs only. */
function report(error: unknown): number {
  if (error instanceof ConfigError) {
    process.stderr.write(`rekey: configuration error\n${error.message}\n`);
    return 2;
  }
  if (error instanceof CliError) {
    process.stderr.write(`rekey: ${error.message}\n`);
    return error.exitCode;
  }
  if (isRekeyError(error)) {
    process.stderr.write(`rekey: ${error.message} (${error.code})\n`);
    return 1;
  }
  if (isSystemError(error)) {
    // An unreachable database or a full disk is an operating condition, not a bug.
    process.stderr.write(`rekey: ${describeSystemError(error)}\n`);
    return 1;
  }
  process.stderr.write(`rekey: unexpected error\n${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  return 1;
}

type SystemError = Error & { code: string; errors?: unknown[] };

function isSystemError(error: unknown): error is SystemError {
  return error instanceof Error && typeof (error as { code?: unknown }).code === 'string' && /^E[A-Z]+$/.test((error as SystemError).code);
}

function describeSystemError(error: SystemError): string {
  // pg reports a refused connection as an AggregateError with an empty message; its parts say where.
  if (error.message) return error.message;
  const parts = (error.errors ?? []).map((e) => (e instanceof Error ? e.message : String(e))).filter(Boolean);
  return parts.length ? parts.join('; ') : error.code;
}
