import { Command } from 'commander';
import { ConfigError, loadConfig } from '../config/load.ts';
import { exitOnSignals, startServer } from '../main.ts';

/** `rekey` command line. Each group lives in its own file and calls services, not HTTP. */
export async function runCli(argv: string[]): Promise<void> {
  const program = new Command('rekey').description('Rekey: self-hosted password reset and account recovery');
  program
    .command('serve', { isDefault: true })
    .description('run the HTTP server and the outbox dispatcher')
    .action(async () => {
      const server = await startServer(loadConfig());
      exitOnSignals(server);
    });
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`rekey: configuration error\n${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}
