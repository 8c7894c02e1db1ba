import type { Command } from 'commander';
import { toWireApplication, type Application, type ApplicationSettings } from '../apps/index.ts';
import type { Rekey } from '../compose.ts';
import { RekeyError } from '../errors/index.ts';
import { iso, note, printJson, printRecord, printTable, type CliContext } from './output.ts';

interface SettingOptions {
  name?: string;
  resetUrl?: string;
  redirect?: string[];
  addRedirect?: string[];
  removeRedirect?: string[];
  signInUrl?: string;
  supportEmail?: string;
  mailFrom?: string;
  logoUrl?: string;
  brandColor?: string;
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** The options shared by `create` and `update`. The apps service checks every value and names the one at fault. */
function settingOptions(command: Command): Command {
  return command
    .option('--reset-url <url>', "the application's own reset page (links get ?token=…); '' for Rekey's hosted page")
    .option('--redirect <url>', 'allowed redirect target (exact origin plus path prefix); repeatable; on update, replaces the list', collect)
    .option('--sign-in-url <url>', "where the done page sends users back to sign in; must be on the redirect allow-list; '' to clear")
    .option('--support-email <address>', "shown to users who need help; '' to clear")
    .option('--mail-from <mailbox>', `From of this application's mail, e.g. "Acme <no-reply@acme.example>"; '' for REKEY_MAIL_FROM`)
    .option('--logo-url <url>', "a data:image/… URL, a path on Rekey's origin, or an https URL (mail only); '' to clear")
    .option('--brand-color <hex>', "#rgb or #rrggbb; '' to clear");
}

function settingsOf(opts: SettingOptions): ApplicationSettings {
  return {
    ...(opts.name !== undefined ? { name: opts.name } : {}),
    ...(opts.resetUrl !== undefined ? { resetUrl: opts.resetUrl || null } : {}),
    ...(opts.redirect !== undefined ? { allowedRedirects: opts.redirect } : {}),
    ...(opts.signInUrl !== undefined ? { signInUrl: opts.signInUrl || null } : {}),
    ...(opts.supportEmail !== undefined ? { supportEmail: opts.supportEmail || null } : {}),
    ...(opts.mailFrom !== undefined ? { mailFrom: opts.mailFrom || null } : {}),
    ...(opts.logoUrl !== undefined ? { logoUrl: opts.logoUrl || null } : {}),
    ...(opts.brandColor !== undefined ? { brandColor: opts.brandColor || null } : {}),
  };
}

/** An application by id, client id, or `default`. */
async function find(rekey: Rekey, ref: string): Promise<Application> {
  const application = ref === 'default' ? await rekey.apps.getDefault() : ((await rekey.apps.get(ref)) ?? (await rekey.apps.findByClientId(ref)));
  if (!application) throw new RekeyError('application_not_found', { entity_id: ref });
  return application;
}

/** `rekey apps create|list|show|update|delete`: applications, their reset page, redirect allow-list and branding. */
export function registerAppsCommands(program: Command, ctx: CliContext): void {
  const apps = program.command('apps').description('manage applications');
  const show = (application: Application) => (ctx.json() ? printJson(toWireApplication(application)) : printApplication(application));

  settingOptions(apps.command('create').description('create an application').argument('<name>', 'display name, shown in mail and on hosted pages')).action(
    async (name: string, opts: SettingOptions) => show(await ctx.withRekey((rekey) => rekey.apps.create({ ...settingsOf(opts), name }))),
  );

  apps
    .command('list')
    .description('list applications')
    .action(async () => {
      const list = await ctx.withRekey((rekey) => rekey.apps.list());
      if (ctx.json()) return printJson(list.map(toWireApplication));
      printTable(
        list.map((a) => ({
          id: a.id,
          name: a.name,
          client_id: a.client_id,
          default: a.is_default === 1,
          reset_url: a.reset_url,
          redirects: toWireApplication(a).allowed_redirects.length,
          created_at: iso(a.created_at),
        })),
        'no applications',
      );
    });

  apps
    .command('show')
    .description('show an application and every setting')
    .argument('<app>', "application id, client id, or 'default'")
    .action(async (ref: string) => show(await ctx.withRekey((rekey) => find(rekey, ref))));

  settingOptions(
    apps
      .command('update')
      .description('change settings of an application; options not given stay as they are')
      .argument('<app>', "application id, client id, or 'default'")
      .option('--name <name>', 'display name'),
  )
    .option('--add-redirect <url>', 'add an allowed redirect target; repeatable', collect)
    .option('--remove-redirect <url>', 'remove an allowed redirect target; repeatable', collect)
    .action(async (ref: string, opts: SettingOptions) => {
      const updated = await ctx.withRekey(async (rekey) => {
        const application = await find(rekey, ref);
        const settings = settingsOf(opts);
        if (opts.addRedirect || opts.removeRedirect) {
          const removed = new Set((opts.removeRedirect ?? []).map(normalise));
          const base = settings.allowedRedirects ?? toWireApplication(application).allowed_redirects;
          settings.allowedRedirects = [...base.filter((entry) => !removed.has(normalise(entry))), ...(opts.addRedirect ?? [])];
        }
        if (Object.keys(settings).length === 0)
          throw new RekeyError('invalid_request_parameters', {}, 'nothing to change: give at least one option (see --help)');
        return (await rekey.apps.configure(application.id, settings)) ?? application;
      });
      show(updated);
    });

  apps
    .command('delete')
    .description('delete an application and its revoked keys (not the default one, nor one with a live key)')
    .argument('<app>', 'application id or client id')
    .action(async (ref: string) => {
      const deleted = await ctx.withRekey(async (rekey) => {
        const application = await find(rekey, ref);
        await rekey.apps.remove(application.id);
        return application;
      });
      if (ctx.json()) return printJson({ id: deleted.id, deleted: true });
      note(`Deleted ${deleted.id} (${deleted.name}).`);
    });
}

/** The allow-list keeps URLs normalised (`https://a.example` → `https://a.example/`); compare them that way. */
function normalise(value: string): string {
  try {
    return new URL(value).href;
  } catch {
    return value;
  }
}

function printApplication(application: Application): void {
  const wire = toWireApplication(application);
  printRecord({
    id: wire.id,
    name: wire.name,
    client_id: wire.client_id,
    default: wire.is_default,
    reset_url: wire.reset_url ?? "(Rekey's hosted page)",
    redirects: wire.allowed_redirects.join(' '),
    sign_in_url: wire.sign_in_url,
    support_email: wire.support_email,
    mail_from: wire.mail_from ?? '(REKEY_MAIL_FROM)',
    // A data URL logo can be long: the kind is enough here, --json has it whole.
    logo_url: wire.logo_url?.startsWith('data:') ? `${wire.logo_url.slice(0, 30)}… (${wire.logo_url.length} chars)` : wire.logo_url,
    brand_color: wire.brand_color,
    created_at: wire.created_at,
    updated_at: wire.updated_at,
  });
}
