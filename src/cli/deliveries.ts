import { InvalidArgumentError, type Command } from 'commander';
import { toWireDelivery, type OutboxStatus } from '../delivery/index.ts';
import { CliError, note, printJson, printTable, type CliContext } from './output.ts';

const STATUSES: readonly OutboxStatus[] = ['pending', 'sent', 'dead'];

function parseStatus(value: string): OutboxStatus {
  if (!(STATUSES as readonly string[]).includes(value)) throw new InvalidArgumentError(`one of ${STATUSES.join(', ')}`);
  return value as OutboxStatus;
}

function parseLimit(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 100) throw new InvalidArgumentError('a whole number from 1 to 100');
  return n;
}

/** `rekey deliveries list|retry`: the outbox, its dead letters, and replaying them. Payload secrets are never shown. */
export function registerDeliveriesCommands(program: Command, ctx: CliContext): void {
  const deliveries = program.command('deliveries').description('list outbox deliveries and retry dead ones');

  deliveries
    .command('list')
    .description('list deliveries, newest first')
    .option('--status <status>', `only this status (${STATUSES.join(', ')})`, parseStatus)
    .option('--kind <kind>', 'only this kind (email, …)')
    .option('--limit <n>', 'at most this many (1–100)', parseLimit, 20)
    .action(async (opts: { status?: OutboxStatus; kind?: string; limit: number }) => {
      const page = await ctx.withRekey((rekey) => rekey.deliveries.list({ status: opts.status, kind: opts.kind, limit: opts.limit, order: 'desc' }));
      const rows = page.data.map(toWireDelivery);
      if (ctx.json()) return printJson(rows);
      printTable(
        rows.map((d) => ({ id: d.id, kind: d.kind, status: d.status, attempts: d.attempts, created_at: d.created_at, last_error: d.last_error })),
        opts.status ? `no ${opts.status} deliveries` : 'no deliveries',
      );
      if (page.after) note(`More than ${opts.limit}: use --limit, or --json and the management API's cursor.`);
    });

  deliveries
    .command('retry')
    .description('put a dead delivery (or every one, with --all-dead) back in the queue; the server sends it')
    .argument('[id]', 'the delivery id (msg_…)')
    .option('--all-dead', 'retry every dead delivery that can be retried')
    .action(async (id: string | undefined, opts: { allDead?: boolean }) => {
      if (Boolean(id) === Boolean(opts.allDead)) throw new CliError('give a delivery id or --all-dead (not both)', 2);
      if (id) {
        const row = await ctx.withRekey((rekey) => rekey.deliveries.retry(id));
        if (ctx.json()) return printJson(toWireDelivery(row));
        note(`Queued ${row.id} (${row.kind}) again; a running server sends it within a moment.`);
        return;
      }
      const result = await ctx.withRekey((rekey) => rekey.deliveries.retryDead());
      if (ctx.json()) return printJson(result);
      for (const retried of result.retried) process.stdout.write(`retried ${retried}\n`);
      for (const skipped of result.skipped) process.stdout.write(`skipped ${skipped.id}: ${skipped.reason}\n`);
      note(`${result.retried.length} queued again, ${result.skipped.length} skipped.`);
    });
}
