import type { Kysely } from 'kysely';
import type { Store } from '../store/connect.ts';
import { CACHE_LIMITS, type AuthenticationMethod, type CacheRecord, type ChallengeGroup } from './action.ts';
import type { ActionCall } from './sandbox/pool.ts';

export interface ResetFlowActionsTable {
  flow_id: string;
  /** Bumped by every write: a write names the version it read, so two racing resumptions cannot both apply. */
  version: number;
  /** The next action to execute (an index into the configured list, Rekey's own rule first when on). */
  next_action: number;
  /** JSON `AuthenticationMethod[]`: the first factor and each challenge met, for `event.authentication`. */
  methods: string;
  /** JSON `ChallengeGroup[]`: challenges asked for and not yet met, in order. */
  challenges: string;
  /** The action whose `onContinuePostChallenge` a continue resumes. */
  redirect_action: number | null;
  /** The redirect target with its state, sealed: the state is a bearer secret until it is used. */
  redirect_url_sealed: string | null;
  /** HMAC of the redirect state: single use, cleared when a continue spends it. */
  state_hash: string | null;
  state_expires_at: number | null;
  result_url: string | null;
  created_at: number;
  updated_at: number;
}

export interface ActionCacheTable {
  action: string;
  key: string;
  value: string;
  expires_at: number;
}

export type ActionTables = {
  reset_flow_actions: ResetFlowActionsTable;
  action_cache: ActionCacheTable;
};

/** A row with its JSON read. */
export interface Progress extends Omit<ResetFlowActionsTable, 'methods' | 'challenges'> {
  methods: AuthenticationMethod[];
  challenges: ChallengeGroup[];
}

export interface ProgressStore {
  find(flowId: string): Promise<Progress | undefined>;
  /** Writes `next` if the row is still at `next.version - 1` (or absent, for version 1); false when another write won. */
  save(next: Progress): Promise<boolean>;
  /** The live `api.cache` entries of these actions, in one read: each action's by its name (none: no entry). */
  cachesOf(actions: readonly string[], now: number): Promise<Map<string, Record<string, CacheRecord>>>;
  applyCache(action: string, calls: ActionCall[], now: number): Promise<void>;
}

const toRow = (p: Progress): ResetFlowActionsTable => ({ ...p, methods: JSON.stringify(p.methods), challenges: JSON.stringify(p.challenges) });

export function createProgressStore(store: Store): ProgressStore {
  const db = store.db.withTables<ActionTables>() as unknown as Kysely<ActionTables>;
  return {
    async find(flowId) {
      const row = await db.selectFrom('reset_flow_actions').selectAll().where('flow_id', '=', flowId).executeTakeFirst();
      return row && { ...row, methods: JSON.parse(row.methods) as AuthenticationMethod[], challenges: JSON.parse(row.challenges) as ChallengeGroup[] };
    },
    async save(next) {
      const row = toRow(next);
      if (next.version === 1) {
        const inserted = await db
          .insertInto('reset_flow_actions')
          .values(row)
          .onConflict((oc) => oc.column('flow_id').doNothing())
          .executeTakeFirst();
        return Number(inserted.numInsertedOrUpdatedRows ?? 0) === 1;
      }
      const { flow_id, created_at: _created, ...fields } = row;
      const updated = await db
        .updateTable('reset_flow_actions')
        .set(fields)
        .where('flow_id', '=', flow_id)
        .where('version', '=', next.version - 1)
        .executeTakeFirst();
      return Number(updated.numUpdatedRows) === 1;
    },
    async cachesOf(actions, now) {
      const rows = await db
        .selectFrom('action_cache')
        .select(['action', 'key', 'value', 'expires_at'])
        .where('action', 'in', [...actions])
        .where('expires_at', '>', now)
        .orderBy('action')
        .orderBy('key')
        .execute();
      const caches = new Map<string, Record<string, CacheRecord>>();
      for (const row of rows) {
        const entries = caches.get(row.action) ?? {};
        caches.set(row.action, entries);
        // Two runs at once may each have added entries: an action still sees no more than Auth0's limit.
        if (Object.keys(entries).length < CACHE_LIMITS.entries) entries[row.key] = { value: row.value, expires_at: Number(row.expires_at) };
      }
      return caches;
    },
    async applyCache(action, calls, now) {
      for (const call of calls) {
        if (call.op === 'cache_set') {
          await db
            .insertInto('action_cache')
            .values({ action, key: call.key, value: call.value, expires_at: call.expires_at })
            .onConflict((oc) => oc.columns(['action', 'key']).doUpdateSet({ value: call.value, expires_at: call.expires_at }))
            .execute();
        } else if (call.op === 'cache_delete') {
          await db.deleteFrom('action_cache').where('action', '=', action).where('key', '=', call.key).execute();
        }
      }
      if (calls.some((c) => c.op === 'cache_set')) await db.deleteFrom('action_cache').where('action', '=', action).where('expires_at', '<=', now).execute();
    },
  };
}
