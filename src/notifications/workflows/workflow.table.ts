/**
 * A workflow saved over the `/v2/workflows` API: a new one, or content over a built-in. Only
 * `notifications/workflows/` reads these tables.
 */
export interface NotificationWorkflowsTable {
  /** The slug triggers name (Novu's `workflowId`). */
  workflow_id: string;
  /** Rekey's own id (`wf_…`), Novu's `_id`. */
  id: string;
  /** The definition as saved (JSON): the parsed `workflowSchema`; over a built-in, the content it replaces. */
  definition: string;
  created_at: number;
  updated_at: number;
}

/**
 * One row (`id` 1) counting every change to `notification_workflows`: each node compares it with the count it
 * loaded to know, with one cheap read, whether another node changed a workflow.
 */
export interface NotificationWorkflowRevisionTable {
  id: number;
  revision: number;
}
