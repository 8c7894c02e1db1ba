import type { BoundWrite } from '../store/compiled.ts';
import type { Engine, Recipient, TriggerInput, Triggered } from './engine.ts';
import type { WorkflowRegistry } from './registry.ts';
import type { WorkflowSummary } from './workflow.ts';

/** What other modules call: trigger a workflow with their own change, and list the workflows. */
export interface NotificationService {
  /**
   * A trigger's writes, to commit with the change it announces (synchronous: it fits an account-change hook).
   * `applicationId` defaults to the default application. Throws `workflow_not_found` or `workflow_payload_invalid`.
   */
  triggerWrites(input: Omit<TriggerInput, 'applicationId'> & { applicationId?: string | null }): Triggered;
  trigger(input: Omit<TriggerInput, 'applicationId'> & { applicationId?: string | null }): Promise<Triggered>;
  /** Every workflow with whether it is critical and the channels it uses (the subscribers' preferences list them). */
  listWorkflows(): WorkflowSummary[];
}

export function createNotificationService(deps: { engine: Engine; registry: WorkflowRegistry; defaultApplicationId: string }): NotificationService {
  const withApp = <T extends { applicationId?: string | null }>(input: T): T & { applicationId: string } => ({
    ...input,
    applicationId: input.applicationId || deps.defaultApplicationId,
  });
  return {
    triggerWrites: (input) => deps.engine.triggerWrites(withApp(input)),
    trigger: (input) => deps.engine.trigger(withApp(input)),
    listWorkflows: () => deps.registry.listWorkflows(),
  };
}

export type { BoundWrite, Recipient };
