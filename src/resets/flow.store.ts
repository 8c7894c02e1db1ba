import type { Kysely } from 'kysely';
import type { Database } from '../store/database.ts';
import type { FlowStatus, ResetFlow } from './flow.ts';

/** What the flow service may do to `reset_flows`, each as one statement. */
export interface FlowStore {
  insert(executor: Kysely<Database>, flow: ResetFlow): Promise<void>;
  findById(id: string): Promise<ResetFlow | undefined>;
  /** The dispatcher binds the account and, for codes, the code hash. */
  bindAccount(executor: Kysely<Database>, id: string, fields: Pick<ResetFlow, 'user_id' | 'code_hash' | 'code_expires_at'>, now: number): Promise<void>;
  /**
   * Counts one code attempt, atomically, and returns the flow only if that attempt is within the
   * limit (SEC-17): fifty concurrent guesses evaluate at most `max`.
   */
  countCodeAttempt(id: string, max: number, now: number): Promise<ResetFlow | undefined>;
  /** Moves `from` → `to` and sets a new grant, only if the flow is still in `from` (no double transition). */
  advance(id: string, from: FlowStatus, to: FlowStatus, grant: { hash: string; expiresAt: number } | null, now: number): Promise<ResetFlow | undefined>;
  /** Spends the grant: one conditional UPDATE, so a grant sets at most one password (SEC-37). */
  spendGrant(executor: Kysely<Database>, id: string, grantHash: string, now: number): Promise<ResetFlow | undefined>;
  /** Ends every open flow of a user except one (a new request, a password change: SEC-12/13). */
  expireOpenForUser(executor: Kysely<Database>, userId: string, now: number, exceptFlowId?: string): Promise<void>;
}

const OPEN: FlowStatus[] = ['needs_first_factor', 'needs_second_factor', 'needs_new_password'];

export function createKyselyFlowStore(db: Kysely<Database>): FlowStore {
  return {
    async insert(executor, flow) {
      await executor.insertInto('reset_flows').values(flow).execute();
    },
    findById: (id) => db.selectFrom('reset_flows').selectAll().where('id', '=', id).executeTakeFirst(),
    async bindAccount(executor, id, fields, now) {
      await executor
        .updateTable('reset_flows')
        .set({ ...fields, code_attempts: 0, updated_at: now })
        .where('id', '=', id)
        .where('status', '=', 'needs_first_factor')
        .execute();
    },
    countCodeAttempt: (id, max, now) =>
      db
        .updateTable('reset_flows')
        .set((eb) => ({ code_attempts: eb('code_attempts', '+', 1), updated_at: now }))
        .where('id', '=', id)
        .where('status', '=', 'needs_first_factor')
        .where('code_attempts', '<', max)
        .where('expires_at', '>', now)
        .returningAll()
        .executeTakeFirst(),
    advance: (id, from, to, grant, now) =>
      db
        .updateTable('reset_flows')
        .set({
          status: to,
          code_hash: null,
          grant_hash: grant?.hash ?? null,
          grant_expires_at: grant?.expiresAt ?? null,
          updated_at: now,
        })
        .where('id', '=', id)
        .where('status', '=', from)
        .where('expires_at', '>', now)
        .returningAll()
        .executeTakeFirst(),
    spendGrant: (executor, id, grantHash, now) =>
      executor
        .updateTable('reset_flows')
        .set({ status: 'complete', grant_hash: null, grant_expires_at: null, completed_at: now, updated_at: now })
        .where('id', '=', id)
        .where('status', '=', 'needs_new_password')
        .where('grant_hash', '=', grantHash)
        .where('grant_expires_at', '>', now)
        .returningAll()
        .executeTakeFirst(),
    async expireOpenForUser(executor, userId, now, exceptFlowId) {
      await executor
        .updateTable('reset_flows')
        .set({ status: 'expired', code_hash: null, grant_hash: null, grant_expires_at: null, updated_at: now })
        .where('user_id', '=', userId)
        .where('status', 'in', OPEN)
        .$if(exceptFlowId !== undefined, (q) => q.where('id', '!=', exceptFlowId!))
        .execute();
    },
  };
}
