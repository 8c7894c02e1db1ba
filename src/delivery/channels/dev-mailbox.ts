import type { Kysely } from 'kysely';
import { toIso, type Clock } from '../../platform/clock.ts';
import type { Ids } from '../../platform/ids.ts';
import { compiled, writeTogether, type BoundWrite } from '../../store/compiled.ts';
import type { Database } from '../../store/database.ts';
import type { Channel, ChatChannel, Port, RenderedMail, SmsChannel } from '../channel.ts';
import type { DevMailboxKind, DevMailboxTable } from '../outbox.table.ts';

const insertMail = compiled<DevMailboxTable>((db, p) => db.insertInto('dev_mailbox').values(p));

/** A message as the development mailbox shows it. */
export interface DevMail {
  id: string;
  /** `email`; `sms` and `chat` messages have no subject and no HTML. */
  channel: DevMailboxKind;
  to: string;
  from: string;
  subject: string;
  text: string;
  html: string;
  /** ISO 8601. */
  created_at: string;
}

type MailboxDeps = { db: Kysely<Database>; clock: Clock; ids: Ids };
type Entry = Pick<DevMailboxTable, 'channel' | 'to' | 'from' | 'subject' | 'text' | 'html' | 'outbox_id'>;

/**
 * Keeps messages in the `dev_mailbox` table instead of sending them, so a fresh install works with no provider.
 * It is an inbox and stores the links and codes as sent: the one resting place of a usable token by design,
 * which is why production never builds it (and refuses to start without a real mail channel).
 */
function mailboxPort<M>(deps: MailboxDeps, id: string, entry: (message: M) => Entry): Port<M> {
  const write = (message: M): BoundWrite => insertMail.bind({ ...entry(message), id: deps.ids.next('mail'), created_at: deps.clock.now() });
  return {
    id,
    write,
    async send(message) {
      await writeTogether(deps.db, [write(message)]);
      return { provider: id };
    },
    async check() {},
    describe: () => 'the development mailbox (kept, not sent)',
  };
}

export function createDevMailboxChannel(deps: MailboxDeps): Channel {
  return mailboxPort<RenderedMail>(deps, 'dev-mailbox', (mail) => ({
    channel: 'email',
    outbox_id: mail.outboxId ?? null,
    to: mail.to,
    from: mail.from,
    subject: mail.subject,
    text: mail.text,
    html: mail.html,
  }));
}

/** SMS in development: kept in the mailbox, marked as SMS, so the journey can be tried with no provider. */
export function createDevMailboxSmsChannel(deps: MailboxDeps): SmsChannel {
  return mailboxPort(deps, 'dev-mailbox', (sms) => ({
    channel: 'sms',
    outbox_id: sms.outboxId,
    to: sms.to,
    from: sms.from ?? '',
    subject: '',
    text: sms.text,
    html: '',
  }));
}

/** Chat in development: kept in the mailbox with its data, as the webhook would have received it. */
export function createDevMailboxChatChannel(deps: MailboxDeps): ChatChannel {
  return mailboxPort(deps, 'dev-mailbox', (chat) => ({
    channel: 'chat',
    outbox_id: chat.outboxId,
    to: 'chat webhook',
    from: '',
    subject: '',
    text: chat.data && Object.keys(chat.data).length ? `${chat.text}\n\n${JSON.stringify(chat.data, null, 2)}` : chat.text,
    html: '',
  }));
}

/** Newest first; `to` matches the recipient exactly, ignoring case. */
export async function listDevMailbox(db: Kysely<Database>, opts: { limit: number; to?: string }): Promise<DevMail[]> {
  let query = db
    .selectFrom('dev_mailbox')
    .select(['id', 'channel', 'to', 'from', 'subject', 'text', 'html', 'created_at'])
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(opts.limit);
  const to = opts.to?.toLowerCase();
  if (to) query = query.where((eb) => eb(eb.fn('lower', ['to']), '=', to));
  const rows = await query.execute();
  return rows.map((row) => ({ ...row, created_at: toIso(row.created_at) }));
}

/** One message by id, or undefined. */
export async function findDevMail(db: Kysely<Database>, id: string): Promise<DevMail | undefined> {
  const row = await db
    .selectFrom('dev_mailbox')
    .select(['id', 'channel', 'to', 'from', 'subject', 'text', 'html', 'created_at'])
    .where('id', '=', id)
    .executeTakeFirst();
  return row && { ...row, created_at: toIso(row.created_at) };
}
