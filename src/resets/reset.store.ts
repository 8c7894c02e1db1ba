import type { Kysely } from 'kysely';
import { compiled, type BoundWrite } from '../store/compiled.ts';
import type { Database } from '../store/database.ts';
import type { PasswordResetsTable } from './reset.table.ts';

export type PasswordReset = PasswordResetsTable;

/** What the reset service may do to its table, each as one statement. A `BoundWrite` runs with `writeTogether`. */
export interface ResetStore {
  insert(reset: PasswordReset): BoundWrite;
  findById(id: string): Promise<PasswordReset | undefined>;
  findByHash(tokenHash: string): Promise<PasswordReset | undefined>;
  /**
   * Single use under concurrency (SEC-10): one conditional UPDATE … RETURNING, run with `writeTogetherIf`
   * (alone, or as the guard of a completed reset's writes). Of any number of concurrent callers with the
   * same token, exactly one gets the row back.
   */
  consumeToken(tokenHash: string, now: number): BoundWrite;
  /** Voids every unused token of a user but one (SEC-12, SEC-13) and wipes their sealed copies. */
  invalidateOpenForUser(userId: string, now: number, exceptResetId?: string): BoundWrite;
  /** Wipes sealed copies of tokens that expired, so nothing usable rests in the table. */
  wipeExpiredSeals(now: number): Promise<number>;
}

export const isUsable = (reset: PasswordReset, now: number): boolean => reset.consumed_at === null && reset.invalidated_at === null && reset.expires_at > now;

const insertReset = compiled<PasswordReset>((db, p) => db.insertInto('password_resets').values(p));
const byId = compiled<{ id: string }, PasswordReset>((db, p) => db.selectFrom('password_resets').selectAll().where('id', '=', p.id));
const byHash = compiled<{ hash: string }, PasswordReset>((db, p) => db.selectFrom('password_resets').selectAll().where('token_hash', '=', p.hash));
const consume = compiled<{ hash: string; now: number }, PasswordReset>((db, p) =>
  db
    .updateTable('password_resets')
    .set({ consumed_at: p.now, token_sealed: null })
    .where('token_hash', '=', p.hash)
    // "Neither consumed nor voided", spelled so that it does not imply the predicate of the partial index
    // of open tokens: PostgreSQL's generic plan would otherwise walk that whole index (every open token
    // of every user) instead of looking the token up by its hash.
    .where((eb) => eb(eb.fn.coalesce('consumed_at', 'invalidated_at'), 'is', null))
    .where('expires_at', '>', p.now)
    // SEC-12 under concurrency: only an account's newest token that nothing voided can be spent. Two resets
    // issued at once each void the tokens they can see, and on PostgreSQL neither sees the other's new row;
    // asked here, when a token is spent, the question sees both.
    .where(({ not, exists, selectFrom, or, and }) =>
      not(
        exists(
          selectFrom('password_resets as newer')
            .select('newer.id')
            .whereRef('newer.user_id', '=', 'password_resets.user_id')
            .where('newer.invalidated_at', 'is', null)
            .where((n) =>
              or([
                n('newer.created_at', '>', n.ref('password_resets.created_at')),
                and([n('newer.created_at', '=', n.ref('password_resets.created_at')), n('newer.id', '>', n.ref('password_resets.id'))]),
              ]),
            ),
        ),
      ),
    )
    .returningAll(),
);
const invalidateOpen = compiled<{ userId: string; now: number; exceptId: string }>((db, p) =>
  db
    .updateTable('password_resets')
    .set({ invalidated_at: p.now, token_sealed: null })
    .where('user_id', '=', p.userId)
    .where('consumed_at', 'is', null)
    .where('invalidated_at', 'is', null)
    .where('id', '!=', p.exceptId),
);

export function createKyselyResetStore(db: Kysely<Database>): ResetStore {
  return {
    insert: (reset) => insertReset.bind(reset),
    findById: (id) => byId.first(db, { id }),
    findByHash: (hash) => byHash.first(db, { hash }),
    consumeToken: (hash, now) => consume.bind({ hash, now }),
    // No reset id is empty, so `''` excepts none and one statement serves both cases.
    invalidateOpenForUser: (userId, now, exceptResetId = '') => invalidateOpen.bind({ userId, now, exceptId: exceptResetId }),
    async wipeExpiredSeals(now) {
      const result = await db
        .updateTable('password_resets')
        .set({ token_sealed: null })
        .where('expires_at', '<=', now)
        .where('token_sealed', 'is not', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    },
  };
}
