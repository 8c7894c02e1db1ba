import type { Command } from 'commander';
import { connect } from '../store/connect.ts';
import { allMigrations, migrateToLatest } from '../store/migrate.ts';
import { printJson, type CliContext } from './output.ts';

/**
 * `rekey migrate`: applies pending migrations and says which. It opens the store itself rather than
 * through the services, which would migrate on the way in and leave nothing to report.
 */
export function registerMigrateCommand(program: Command, ctx: CliContext): void {
  program
    .command('migrate')
    .description('apply pending database migrations')
    .action(async () => {
      const store = connect(ctx.config().databaseUrl);
      try {
        const result = await migrateToLatest(store.db, store.schema);
        const applied = (result.results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
        if (ctx.json()) return printJson({ applied, total: Object.keys(allMigrations).length });
        if (applied.length === 0) {
          process.stdout.write(`database is up to date (${Object.keys(allMigrations).length} migrations, ${store.dialect})\n`);
          return;
        }
        for (const name of applied) process.stdout.write(`applied ${name}\n`);
        process.stdout.write(`${applied.length} migration(s) applied (${store.dialect})\n`);
      } finally {
        await store.close();
      }
    });
}
