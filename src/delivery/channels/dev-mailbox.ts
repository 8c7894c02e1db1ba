import type { Kysely } from 'kysely';
import { toIso, type Clock } from '../../platform/clock.ts';
import type { Ids } from '../../platform/ids.ts';
import { compiled, writeTogether } from '../../store/compiled.ts';
import type { Database } from '../../store/database.ts';
import type { Channel, RenderedMail } from '../channel.ts';
import type { DevMailboxTable } from '../outbox.table.ts';

const insertMail = compiled<DevMailboxTable>((db, p) => db.insertInto('dev_mailbox').values(p));

/** A mail as the development mailbox shows it. */
export interface DevMail {
  id: string;
  to: string;
  from: string;
  subject: string;
  text: string;
  html: string;
  /** ISO 8601. */
  created_at: string;
}

/**
 * Keeps mail in the `dev_mailbox` table instead of sending it, so a fresh install works with no SMTP
 * server. It is an inbox and stores the links as sent: the one resting place of a usable token by
 * design, which is why production refuses to start without a real channel.
 */
export function createDevMailboxChannel(deps: { db: Kysely<Database>; clock: Clock; ids: Ids }): Channel {
  const write = (mail: RenderedMail) =>
    insertMail.bind({
      id: deps.ids.next('mail'),
      outbox_id: mail.outboxId ?? null,
      to: mail.to,
      from: mail.from,
      subject: mail.subject,
      text: mail.text,
      html: mail.html,
      created_at: deps.clock.now(),
    });
  return {
    id: 'dev-mailbox',
    write,
    async send(mail) {
      await writeTogether(deps.db, [write(mail)]);
    },
    async check() {},
  };
}

/** Newest first; `to` matches the recipient exactly, ignoring case. */
export async function listDevMailbox(db: Kysely<Database>, opts: { limit: number; to?: string }): Promise<DevMail[]> {
  let query = db
    .selectFrom('dev_mailbox')
    .select(['id', 'to', 'from', 'subject', 'text', 'html', 'created_at'])
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(opts.limit);
  const to = opts.to?.toLowerCase();
  if (to) query = query.where((eb) => eb(eb.fn('lower', ['to']), '=', to));
  const rows = await query.execute();
  return rows.map((row) => ({ ...row, created_at: toIso(row.created_at) }));
}
