import type { Command } from 'commander';
import type { ApiKeyRecord } from '../apps/index.ts';
import { RekeyError } from '../errors/index.ts';
import { CliError, iso, note, printJson, printTable, type CliContext } from './output.ts';

/** `rekey keys create|list|revoke`: secret keys (`sk_…`) for the management API. Only their HMAC is stored. */
export function registerKeysCommands(program: Command, ctx: CliContext): void {
  const keys = program.command('keys').description('manage secret API keys');

  keys
    .command('create')
    .description('create a secret key; it is printed once and cannot be shown again')
    .option('--app <id>', 'application id (default: the default application)')
    .option('--name <name>', 'a label to tell keys apart', 'default')
    .action(async (opts: { app?: string; name: string }) => {
      const { key, record, appName } = await ctx.withRekey(async (rekey) => {
        const application = opts.app ? await rekey.apps.get(opts.app) : await rekey.apps.getDefault();
        if (!application) throw new RekeyError('application_not_found', { entity_id: opts.app });
        return { ...(await rekey.apps.createKey(application.id, opts.name)), appName: application.name };
      });
      if (ctx.json()) return printJson({ ...toJson(record), key });
      // Only the key goes to stdout, so `KEY=$(rekey keys create)` captures exactly it.
      process.stdout.write(`${key}\n`);
      note(`Created ${record.id} (“${record.name}”) for ${record.application_id} (${appName}).`);
      note('Store this key now: Rekey keeps only its hash and cannot show it again.');
    });

  keys
    .command('list')
    .description('list secret keys (their hint, never the key)')
    .option('--app <id>', 'only the keys of this application')
    .action(async (opts: { app?: string }) => {
      const list = await ctx.withRekey(async (rekey) => {
        if (opts.app && !(await rekey.apps.get(opts.app))) throw new RekeyError('application_not_found', { entity_id: opts.app });
        return rekey.apps.listKeys(opts.app);
      });
      if (ctx.json()) return printJson(list.map(toJson));
      printTable(
        list.map((k) => ({
          id: k.id,
          application: k.application_id,
          name: k.name,
          hint: k.key_hint,
          created_at: iso(k.created_at),
          revoked_at: iso(k.revoked_at),
        })),
        'no keys: create one with `rekey keys create`',
      );
    });

  keys
    .command('revoke')
    .description('revoke a secret key')
    .argument('<key-id>', 'the key id (key_…), as shown by `rekey keys list`')
    .action(async (id: string) => {
      const revoked = await ctx.withRekey((rekey) => rekey.apps.revokeKey(id));
      if (!revoked) throw new CliError(`no active key with id ${id}`);
      if (ctx.json()) return printJson({ id, revoked: true });
      process.stdout.write(`revoked ${id}\n`);
      // Running servers check for revocations every REVOCATION_CHECK_MS while they cache key lookups (app.service).
      note('Running servers stop accepting it within about a second.');
    });
}

function toJson(record: ApiKeyRecord) {
  return {
    id: record.id,
    application_id: record.application_id,
    name: record.name,
    key_hint: record.key_hint,
    created_at: iso(record.created_at),
    revoked_at: iso(record.revoked_at),
  };
}
