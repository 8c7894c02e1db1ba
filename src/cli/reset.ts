import type { Command } from 'commander';
import { RekeyError } from '../errors/index.ts';
import { emailField } from '../http/schemas.ts';
import { CliError, iso, note, printJson, type CliContext } from './output.ts';
import { parsedBy } from './validate.ts';

/** How long `--send-now` waits for the outbox before leaving the rest to the server's dispatcher. */
const SEND_NOW_TIMEOUT_MS = 15_000;

/**
 * `rekey reset EMAIL`: an operator starts a reset for a user, e.g. from a support ticket. The reset
 * and its mail are written in one transaction; the link is also printed, for support staff to pass on
 * through a channel they trust. This is the privileged path, so it may say "no user with this email".
 */
export function registerResetCommand(program: Command, ctx: CliContext): void {
  program
    .command('reset')
    .description('start a password reset for a user: queues the reset mail and prints the link')
    .argument('<email>', "the user's email address", parsedBy(emailField))
    .option('--app <id>', 'application whose reset page and branding to use (default: the default application)')
    .option('--send-now', 'deliver queued mail from this process instead of waiting for the server')
    .action(async (email: string, opts: { app?: string; sendNow?: boolean }) => {
      const { issued, pending } = await ctx.withRekey(async (rekey) => {
        const application = opts.app ? await rekey.apps.get(opts.app) : await rekey.apps.getDefault();
        if (!application) throw new RekeyError('application_not_found', { entity_id: opts.app });
        const issued = await rekey.resets.createForEmail(email, application).catch((error: unknown) => {
          if (error instanceof RekeyError && error.code === 'user_not_found') throw new CliError(`no user with this email: ${email}`);
          throw error;
        });
        // Sending is the dispatcher's job; this runs it once, bounded, only when asked.
        if (!opts.sendNow) return { issued, pending: undefined };
        try {
          await rekey.dispatcher.drain(SEND_NOW_TIMEOUT_MS);
        } catch (error) {
          note(`rekey: ${(error as Error).message}`);
        }
        return { issued, pending: (await rekey.dispatcher.stats()).pending };
      });

      const { reset, url } = issued;
      if (ctx.json()) {
        return printJson({
          id: reset.id,
          user_id: reset.user_id,
          email: reset.email,
          application_id: reset.application_id,
          expires_at: iso(reset.expires_at),
          url,
        });
      }
      process.stdout.write(`${url}\n`);
      note(`Reset ${reset.id} for ${reset.email}: the link works once, until ${iso(reset.expires_at)}.`);
      if (pending === undefined) note('The reset mail is queued; the running server sends it (or use --send-now).');
      else if (pending === 0) note('The reset mail was handed to the mail channel.');
      else note(`${pending} message(s) still queued; the server's dispatcher retries them.`);
    });
}
