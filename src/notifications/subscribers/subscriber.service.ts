import { sql, type Kysely } from 'kysely';
import type { PlatformDeps } from '../../deps.ts';
import { RekeyError } from '../../errors/index.ts';
import { compiled, writeTogether, type BoundWrite } from '../../store/compiled.ts';
import type { Database } from '../../store/database.ts';
import { checkSubscriberId, parseOrThrow, subscriberInput, subscriberPatch, type SubscriberInput, type SubscriberPatch } from './subscriber.schemas.ts';
import type { SubscribersTable } from './subscriber.table.ts';

/** A subscriber as the engine and the routes see it: Novu's names, `data` parsed. */
export interface Subscriber {
  /** Rekey's id (`sub_…`), Novu's `_id`. */
  id: string;
  subscriberId: string;
  /** The Rekey user this subscriber is, if any. */
  userId: string | null;
  firstName: string | null;
  lastName: string | null;
  email: string | null;
  phone: string | null;
  avatar: string | null;
  locale: string | null;
  timezone: string | null;
  data: Record<string, unknown> | null;
  createdAt: number;
  updatedAt: number;
}

export interface SubscriberSearch {
  limit: number;
  after?: string;
  before?: string;
  includeCursor?: boolean;
  orderDirection: 'ASC' | 'DESC';
  email?: string;
  name?: string;
  phone?: string;
  subscriberId?: string;
}

export interface SubscriberPage {
  data: Subscriber[];
  next: string | null;
  previous: string | null;
  totalCount: number;
  totalCountCapped: boolean;
}

/** Counting stops here, as Novu's does; `totalCountCapped` says so. */
export const TOTAL_COUNT_CAP = 50_000;

export interface SubscriberService {
  /**
   * Creates the subscriber or merges the given fields into it (absent or null fields keep their value), as a
   * write that commits with whatever caused it (a trigger's `to`). Validates first: a bad id throws
   * `invalid_subscriber_id`, a phone number not in E.164 `invalid_phone`. Two writes for one subscriber must
   * not go in one `writeTogether`: use `upsertWrites`, which merges them.
   */
  upsertWrite(input: SubscriberInput): BoundWrite;
  /** One `upsertWrite` per subscriber id, the inputs for one id merged in order (later fields win). */
  upsertWrites(inputs: SubscriberInput[]): BoundWrite[];
  /** Novu's create: `upsertWrite` committed alone, or `subscriber_already_exists` when `failIfExists` and it exists. */
  create(input: SubscriberInput, options?: { failIfExists?: boolean }): Promise<Subscriber>;
  get(subscriberId: string, executor?: Kysely<Database>): Promise<Subscriber | undefined>;
  /** `subscriber_not_found` when absent (and `invalid_subscriber_id` for an id no subscriber can have). */
  getOrThrow(subscriberId: string): Promise<Subscriber>;
  /** Sets the given fields (null clears one); `subscriber_not_found` when absent. */
  patch(subscriberId: string, patch: SubscriberPatch): Promise<Subscriber>;
  /** Deletes the subscriber and its preferences; false when there was none. */
  delete(subscriberId: string): Promise<boolean>;
  search(query: SubscriberSearch): Promise<SubscriberPage>;
}

/** The column of each field a trigger, a create or a patch may set. */
export const SUBSCRIBER_FIELD_COLUMNS = {
  firstName: 'first_name',
  lastName: 'last_name',
  email: 'email',
  phone: 'phone',
  avatar: 'avatar',
  locale: 'locale',
  timezone: 'timezone',
  data: 'data',
} as const satisfies Record<keyof SubscriberPatch, keyof SubscribersTable>;
type Column = (typeof SUBSCRIBER_FIELD_COLUMNS)[keyof typeof SUBSCRIBER_FIELD_COLUMNS];
const MERGED = Object.values(SUBSCRIBER_FIELD_COLUMNS) as Column[];
/** A subscriber as a trigger or a create writes it, and when. */
type UpsertRow = Pick<SubscribersTable, 'id' | 'subscriber_id' | Column> & { now: number };

/** The new row as a trigger or a create gives it; the user link is taken from the users table as it is then. */
const insertRow = (db: Kysely<Database>, p: UpsertRow) =>
  db.insertInto('subscribers').values({
    id: p.id,
    subscriber_id: p.subscriber_id,
    user_id: (eb) => eb.selectFrom('users').select('users.id').where('users.id', '=', p.subscriber_id),
    first_name: p.first_name,
    last_name: p.last_name,
    email: p.email,
    phone: p.phone,
    avatar: p.avatar,
    locale: p.locale,
    timezone: p.timezone,
    data: p.data,
    created_at: p.now,
    updated_at: p.now,
  });

/**
 * A null input keeps what the row holds; the user link is taken once. A subscriber that would not change is
 * not written at all (nor its `updated_at`): most triggers name a known subscriber with the fields it already
 * has, and rewriting its row cost each of them a page of SQLite's commit, a row version on PostgreSQL.
 */
const upsert = compiled<UpsertRow>((db, p) =>
  insertRow(db, p).onConflict((oc) =>
    oc
      .column('subscriber_id')
      .doUpdateSet({
        ...Object.fromEntries(MERGED.map((column) => [column, sql`coalesce(excluded.${sql.ref(column)}, subscribers.${sql.ref(column)})`])),
        user_id: sql`coalesce(subscribers.user_id, excluded.user_id)`,
        updated_at: sql`excluded.updated_at`,
      })
      .where(
        sql<boolean>`${sql.join(
          [
            ...MERGED.map(
              (column) => sql`coalesce(excluded.${sql.ref(column)}, subscribers.${sql.ref(column)}) is distinct from subscribers.${sql.ref(column)}`,
            ),
            sql`(subscribers.user_id is null and excluded.user_id is not null)`,
          ],
          sql` or `,
        )}`,
      ),
  ),
);
const bySubscriberId = compiled<{ subscriber_id: string }, SubscribersTable>((db, p) =>
  db.selectFrom('subscribers').selectAll().where('subscriber_id', '=', p.subscriber_id),
);
const insertNew = compiled<UpsertRow, SubscribersTable>((db, p) =>
  insertRow(db, p)
    .onConflict((oc) => oc.column('subscriber_id').doNothing())
    .returningAll(),
);

export function toSubscriber(row: SubscribersTable): Subscriber {
  return {
    id: row.id,
    subscriberId: row.subscriber_id,
    userId: row.user_id,
    firstName: row.first_name,
    lastName: row.last_name,
    email: row.email,
    phone: row.phone,
    avatar: row.avatar,
    locale: row.locale,
    timezone: row.timezone,
    data: row.data === null ? null : (JSON.parse(row.data) as Record<string, unknown>),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

const columnValue = (key: keyof SubscriberPatch, value: unknown): string | null =>
  value === null || value === undefined ? null : key === 'data' ? JSON.stringify(value) : (value as string);

/** `%`, `_` and the escape itself match literally in a LIKE pattern. */
const containing = (text: string): string => `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

export function createSubscriberService(deps: Pick<PlatformDeps, 'store' | 'clock' | 'ids'>): SubscriberService {
  const { store, clock, ids } = deps;
  const db = store.db;

  const rowOf = (input: SubscriberInput): UpsertRow => {
    const parsed = parseOrThrow(subscriberInput, input);
    const row: UpsertRow = { id: ids.next('sub'), subscriber_id: parsed.subscriberId, now: clock.now() } as UpsertRow;
    for (const key of Object.keys(SUBSCRIBER_FIELD_COLUMNS) as Array<keyof SubscriberPatch>) row[SUBSCRIBER_FIELD_COLUMNS[key]] = columnValue(key, parsed[key]);
    return row;
  };

  const service: SubscriberService = {
    upsertWrite: (input) => upsert.bind(rowOf(input)),

    upsertWrites(inputs) {
      const merged = new Map<string, SubscriberInput>();
      for (const input of inputs) {
        const defined = Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined && value !== null));
        merged.set(input.subscriberId, { ...merged.get(input.subscriberId), ...defined } as SubscriberInput);
      }
      return [...merged.values()].map((input) => service.upsertWrite(input));
    },

    async create(input, options = {}) {
      const row = rowOf(input);
      if (options.failIfExists) {
        const created = await insertNew.first(db, row);
        if (!created) throw new RekeyError('subscriber_already_exists', { subscriberId: row.subscriber_id });
        return toSubscriber(created);
      }
      await writeTogether(db, [upsert.bind(row)]);
      return service.getOrThrow(row.subscriber_id);
    },

    async get(subscriberId, executor = db) {
      const row = await bySubscriberId.first(executor, { subscriber_id: subscriberId });
      return row && toSubscriber(row);
    },

    async getOrThrow(subscriberId) {
      const found = await service.get(checkSubscriberId(subscriberId));
      if (!found) throw new RekeyError('subscriber_not_found', { subscriberId });
      return found;
    },

    async patch(subscriberId, patch) {
      checkSubscriberId(subscriberId);
      const parsed = parseOrThrow(subscriberPatch, patch);
      const set: { [C in (typeof SUBSCRIBER_FIELD_COLUMNS)[keyof SubscriberPatch]]?: string | null } & { updated_at: number } = { updated_at: clock.now() };
      for (const key of Object.keys(SUBSCRIBER_FIELD_COLUMNS) as Array<keyof SubscriberPatch>) {
        if (parsed[key] !== undefined) set[SUBSCRIBER_FIELD_COLUMNS[key]] = columnValue(key, parsed[key]);
      }
      const row = await db.updateTable('subscribers').set(set).where('subscriber_id', '=', subscriberId).returningAll().executeTakeFirst();
      if (!row) throw new RekeyError('subscriber_not_found', { subscriberId });
      return toSubscriber(row);
    },

    async delete(subscriberId) {
      checkSubscriberId(subscriberId);
      const result = await db.deleteFrom('subscribers').where('subscriber_id', '=', subscriberId).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },

    async search(query) {
      let filtered = db.selectFrom('subscribers');
      const like = (column: string, text: string) => sql<boolean>`lower(${sql.ref(column)}) like ${containing(text)} escape '\\'`;
      if (query.email) filtered = filtered.where(like('email', query.email));
      if (query.phone) filtered = filtered.where(like('phone', query.phone));
      if (query.subscriberId) filtered = filtered.where(like('subscriber_id', query.subscriberId));
      if (query.name) {
        const name = query.name;
        filtered = filtered.where(sql<boolean>`lower(coalesce(first_name, '') || ' ' || coalesce(last_name, '')) like ${containing(name)} escape '\\'`);
      }
      const counted = await db
        .selectFrom(
          filtered
            .select(sql`1`.as('one'))
            .limit(TOTAL_COUNT_CAP + 1)
            .as('capped'),
        )
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      const total = Number(counted.n);

      // Cursors are Rekey ids, which sort by creation time.
      const descending = query.orderDirection === 'DESC';
      const backward = query.before !== undefined && query.after === undefined;
      const cursor = query.after ?? query.before;
      let page = filtered.selectAll();
      if (cursor !== undefined) {
        const forward = descending ? '<' : '>';
        const op = backward ? (descending ? '>' : '<') : forward;
        page = page.where('id', query.includeCursor ? (`${op}=` as '<=' | '>=') : op, cursor);
      }
      const rows = await page
        .orderBy('id', descending !== backward ? 'desc' : 'asc')
        .limit(query.limit + 1)
        .execute();
      const more = rows.length > query.limit;
      const data = rows.slice(0, query.limit);
      if (backward) data.reverse();
      const first = data[0]?.id ?? null;
      const last = data[data.length - 1]?.id ?? null;
      return {
        data: data.map(toSubscriber),
        next: backward ? (cursor !== undefined ? last : null) : more ? last : null,
        previous: backward ? (more ? first : null) : cursor !== undefined ? first : null,
        totalCount: Math.min(total, TOTAL_COUNT_CAP),
        totalCountCapped: total > TOTAL_COUNT_CAP,
      };
    },
  };
  return service;
}
