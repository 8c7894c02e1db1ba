import type { Kysely } from 'kysely';
import { RekeyError } from '../../errors/index.ts';
import type { Database } from '../../store/database.ts';
import type { WorkflowDefinition } from '../workflow.ts';

/** A workflow as saved over the API. */
export interface StoredWorkflow {
  id: string;
  definition: WorkflowDefinition;
  createdAt: number;
  updatedAt: number;
}

export interface WorkflowStore {
  /** The count of changes so far: one cheap read, compared with the count a node loaded. */
  revision(): Promise<number>;
  /** Every saved workflow with the revision they were read at (both in one transaction). */
  load(): Promise<{ revision: number; workflows: StoredWorkflow[] }>;
  /** Throws `workflow_already_exists` if one of that id is saved. */
  create(workflow: StoredWorkflow): Promise<void>;
  /** Saves (over a built-in, creates) the workflow of that id, keeping its `id` and `createdAt` if it was saved. */
  save(workflow: StoredWorkflow): Promise<StoredWorkflow>;
  /** False if none of that id was saved. */
  remove(workflowId: string): Promise<boolean>;
}

type Executor = Kysely<Database>;

const bump = (db: Executor) =>
  db
    .updateTable('notification_workflow_revision')
    .set((eb) => ({ revision: eb('revision', '+', 1) }))
    .where('id', '=', 1)
    .execute();

const toStored = (row: Database['notification_workflows']): StoredWorkflow => ({
  id: row.id,
  definition: JSON.parse(row.definition) as WorkflowDefinition,
  createdAt: Number(row.created_at),
  updatedAt: Number(row.updated_at),
});

/**
 * Workflows saved over the API. Every change bumps the revision in its own transaction, so a node that reads the
 * revision it loaded knows it is current; a write is rare (an operator's edit), a revision read is one indexed row.
 */
export function createWorkflowStore(db: Executor): WorkflowStore {
  return {
    async revision() {
      const row = await db.selectFrom('notification_workflow_revision').select('revision').where('id', '=', 1).executeTakeFirst();
      return Number(row?.revision ?? 0);
    },
    load: () =>
      db.transaction().execute(async (trx) => {
        const row = await trx.selectFrom('notification_workflow_revision').select('revision').where('id', '=', 1).executeTakeFirst();
        const rows = await trx.selectFrom('notification_workflows').selectAll().orderBy('created_at').orderBy('workflow_id').execute();
        return { revision: Number(row?.revision ?? 0), workflows: rows.map(toStored) };
      }),
    async create(workflow) {
      await db.transaction().execute(async (trx) => {
        const inserted = await trx
          .insertInto('notification_workflows')
          .values({
            workflow_id: workflow.definition.workflowId,
            id: workflow.id,
            definition: JSON.stringify(workflow.definition),
            created_at: workflow.createdAt,
            updated_at: workflow.updatedAt,
          })
          .onConflict((oc) => oc.column('workflow_id').doNothing())
          .executeTakeFirst();
        if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0)
          throw new RekeyError('workflow_already_exists', { workflowId: workflow.definition.workflowId });
        await bump(trx);
      });
    },
    save: (workflow) =>
      db.transaction().execute(async (trx) => {
        const row = {
          workflow_id: workflow.definition.workflowId,
          id: workflow.id,
          definition: JSON.stringify(workflow.definition),
          created_at: workflow.createdAt,
          updated_at: workflow.updatedAt,
        };
        const saved = await trx
          .insertInto('notification_workflows')
          .values(row)
          .onConflict((oc) => oc.column('workflow_id').doUpdateSet({ definition: row.definition, updated_at: row.updated_at }))
          .returningAll()
          .executeTakeFirstOrThrow();
        await bump(trx);
        return toStored(saved);
      }),
    remove: (workflowId) =>
      db.transaction().execute(async (trx) => {
        const removed = await trx.deleteFrom('notification_workflows').where('workflow_id', '=', workflowId).executeTakeFirst();
        if (Number(removed.numDeletedRows) === 0) return false;
        await bump(trx);
        return true;
      }),
  };
}
