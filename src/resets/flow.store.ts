import type { Kysely } from 'kysely';
import { compiled, type BoundWrite } from '../store/compiled.ts';
import type { Database } from '../store/database.ts';
import type { FlowStatus, ResetFlow } from './flow.ts';

/** What the flow service may do to `reset_flows`, each as one statement. A `BoundWrite` runs with `writeTogether`. */
export interface FlowStore {
  insert(flow: ResetFlow): BoundWrite;
  findById(id: string): Promise<ResetFlow | undefined>;
  /** The dispatcher binds the account and, for codes, the code hash. */
  bindAccount(id: string, fields: Pick<ResetFlow, 'user_id' | 'code_hash' | 'code_expires_at'>, now: number): BoundWrite;
  /**
   * Counts one code attempt, atomically, and returns the flow only if that attempt is within the
   * limit (SEC-17): fifty concurrent guesses evaluate at most `max`.
   */
  countCodeAttempt(id: string, max: number, now: number): Promise<ResetFlow | undefined>;
  /** Moves `from` → `to` and sets a new grant, only if the flow is still in `from` (no double transition). */
  advance(id: string, from: FlowStatus, to: FlowStatus, grant: { hash: string; expiresAt: number } | null, now: number): Promise<ResetFlow | undefined>;
  /** Spends the grant: one conditional UPDATE, so a grant sets at most one password (SEC-37). */
  spendGrant(id: string, grantHash: string, now: number): BoundWrite;
  /** Ends every open flow of a user except one (a password change, a factor change: SEC-13). */
  expireOpenForUser(userId: string, now: number, exceptFlowId?: string): BoundWrite;
  /**
   * Ends every open flow started for an identifier: what a new request does to earlier ones. Keyed by the
   * identifier, not the account, so it does the same whether or not the address has one (SEC-46).
   */
  expireOpenForIdentifier(identifierHash: string, now: number): BoundWrite;
}

const OPEN: FlowStatus[] = ['needs_first_factor', 'needs_second_factor', 'needs_new_password'];

const insertFlow = compiled<ResetFlow>((db, p) => db.insertInto('reset_flows').values(p));
const byId = compiled<{ id: string }, ResetFlow>((db, p) => db.selectFrom('reset_flows').selectAll().where('id', '=', p.id));
const bind = compiled<{ id: string; user_id: string | null; code_hash: string | null; code_expires_at: number | null; now: number }>((db, p) =>
  db
    .updateTable('reset_flows')
    .set({ user_id: p.user_id, code_hash: p.code_hash, code_expires_at: p.code_expires_at, code_attempts: 0, updated_at: p.now })
    .where('id', '=', p.id)
    .where('status', '=', 'needs_first_factor'),
);
const spend = compiled<{ id: string; grantHash: string; now: number }, ResetFlow>((db, p) =>
  db
    .updateTable('reset_flows')
    .set({ status: 'complete', grant_hash: null, grant_expires_at: null, completed_at: p.now, updated_at: p.now })
    .where('id', '=', p.id)
    .where('status', '=', 'needs_new_password')
    .where('grant_hash', '=', p.grantHash)
    .where('grant_expires_at', '>', p.now)
    .returningAll(),
);
const expireOpen = compiled<{ userId: string; now: number; exceptFlowId: string }>((db, p) =>
  db
    .updateTable('reset_flows')
    .set({ status: 'expired', code_hash: null, grant_hash: null, grant_expires_at: null, updated_at: p.now })
    .where('user_id', '=', p.userId)
    .where('status', 'in', OPEN)
    .where('id', '!=', p.exceptFlowId),
);

const expireOpenByIdentifier = compiled<{ identifierHash: string; now: number }>((db, p) =>
  db
    .updateTable('reset_flows')
    .set({ status: 'expired', code_hash: null, grant_hash: null, grant_expires_at: null, updated_at: p.now })
    .where('identifier_hash', '=', p.identifierHash)
    .where('status', 'in', OPEN),
);

export function createKyselyFlowStore(db: Kysely<Database>): FlowStore {
  return {
    insert: (flow) => insertFlow.bind(flow),
    findById: (id) => byId.first(db, { id }),
    bindAccount: (id, fields, now) => bind.bind({ id, ...fields, now }),
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
    spendGrant: (id, grantHash, now) => spend.bind({ id, grantHash, now }),
    // No flow id is empty, so `''` excepts none and one statement serves both cases.
    expireOpenForUser: (userId, now, exceptFlowId = '') => expireOpen.bind({ userId, now, exceptFlowId }),
    expireOpenForIdentifier: (identifierHash, now) => expireOpenByIdentifier.bind({ identifierHash, now }),
  };
}
