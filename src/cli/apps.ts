import { InvalidArgumentError, type Command } from 'commander';
import { allowedRedirects, type Application } from '../apps/index.ts';
import { iso, printJson, printRecord, printTable, type CliContext } from './output.ts';

/** `rekey apps create|list`: applications, their reset page and redirect allow-list. */
export function registerAppsCommands(program: Command, ctx: CliContext): void {
  const apps = program.command('apps').description('manage applications');

  apps
    .command('create')
    .description('create an application')
    .argument('<name>', 'display name, shown in mail and on hosted pages')
    .option('--reset-url <url>', "the application's own reset page (links get ?token=…); default: Rekey's hosted page", parseLinkUrl)
    .option('--redirect <url...>', 'allowed redirect target (exact origin plus path prefix); repeatable', collectRedirects)
    .action(async (name: string, opts: { resetUrl?: string; redirect?: string[] }) => {
      const application = await ctx.withRekey((rekey) => rekey.apps.create({ name, resetUrl: opts.resetUrl ?? null, allowedRedirects: opts.redirect ?? [] }));
      if (ctx.json()) return printJson(toJson(application));
      printRecord({
        id: application.id,
        name: application.name,
        client_id: application.client_id,
        reset_url: application.reset_url,
        redirects: allowedRedirects(application).join(' '),
      });
    });

  apps
    .command('list')
    .description('list applications')
    .action(async () => {
      const list = await ctx.withRekey((rekey) => rekey.apps.list());
      if (ctx.json()) return printJson(list.map(toJson));
      printTable(
        list.map((a) => ({
          id: a.id,
          name: a.name,
          client_id: a.client_id,
          default: a.is_default === 1,
          reset_url: a.reset_url,
          redirects: allowedRedirects(a).length,
          created_at: iso(a.created_at),
        })),
        'no applications',
      );
    });
}

function toJson(application: Application) {
  return {
    id: application.id,
    name: application.name,
    client_id: application.client_id,
    is_default: application.is_default === 1,
    reset_url: application.reset_url,
    allowed_redirects: allowedRedirects(application),
    created_at: iso(application.created_at),
    updated_at: iso(application.updated_at),
  };
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * SEC-22/23: links and redirect targets are absolute https URLs (plain http only on loopback),
 * without credentials or a fragment, so `https://good@evil.test` and `javascript:` never get stored.
 */
export function parseLinkUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError(`not an absolute URL: ${value}`);
  }
  const loopback = LOOPBACK.has(url.hostname) || url.hostname.endsWith('.localhost');
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new InvalidArgumentError(`must use https:// (plain http only on loopback): ${value}`);
  }
  if (url.username || url.password) throw new InvalidArgumentError(`must not contain credentials: ${value}`);
  if (url.hash) throw new InvalidArgumentError(`must not contain a #fragment: ${value}`);
  return url.href;
}

function collectRedirects(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), parseLinkUrl(value)];
}
