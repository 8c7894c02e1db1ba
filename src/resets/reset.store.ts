import type { Kysely } from 'kysely';
import type { Database } from '../store/database.ts';
import type { PasswordResetsTable } from './reset.table.ts';

export type PasswordReset = PasswordResetsTable;

/** What the reset service may do to its table, each as one statement. */
export interface ResetStore {
  insert(executor: Kysely<Database>, reset: PasswordReset): Promise<void>;
  findById(id: string): Promise<PasswordReset | undefined>;
  findByHash(tokenHash: string): Promise<PasswordReset | undefined>;
  /**
   * Single use under concurrency (SEC-10): one conditional UPDATE … RETURNING. Of any number of
   * concurrent callers with the same token, exactly one gets the row back.
   */
  consumeToken(executor: Kysely<Database>, tokenHash: string, now: number): Promise<PasswordReset | undefined>;
  /** Voids every unused token of a user (SEC-12, SEC-13) and wipes their sealed copies. */
  invalidateOpenForUser(executor: Kysely<Database>, userId: string, now: number): Promise<number>;
  /** Wipes sealed copies of tokens that expired, so nothing usable rests in the table. */
  wipeExpiredSeals(now: number): Promise<number>;
}

export const isUsable = (reset: PasswordReset, now: number): boolean =>
  reset.consumed_at === null && reset.invalidated_at === null && reset.expires_at > now;

export function createKyselyResetStore(db: Kysely<Database>): ResetStore {
  return {
    async insert(executor, reset) {
      await executor.insertInto('password_resets').values(reset).execute();
    },
    findById: (id) => db.selectFrom('password_resets').selectAll().where('id', '=', id).executeTakeFirst(),
    findByHash: (tokenHash) => db.selectFrom('password_resets').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst(),
    consumeToken: (executor, tokenHash, now) =>
      executor
        .updateTable('password_resets')
        .set({ consumed_at: now, token_sealed: null })
        .where('token_hash', '=', tokenHash)
        .where('consumed_at', 'is', null)
        .where('invalidated_at', 'is', null)
        .where('expires_at', '>', now)
        .returningAll()
        .executeTakeFirst(),
    async invalidateOpenForUser(executor, userId, now) {
      const result = await executor
        .updateTable('password_resets')
        .set({ invalidated_at: now, token_sealed: null })
        .where('user_id', '=', userId)
        .where('consumed_at', 'is', null)
        .where('invalidated_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    },
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
