import { RekeyError } from '../errors/index.ts';
import { parseVariants, type ParsedVariants } from './content.ts';
import { isChannel, summarize, type Workflow, type WorkflowSummary } from './workflow.ts';

/** A workflow whose content is parsed: what the engine runs. */
export interface CompiledWorkflow extends Workflow {
  /** Parsed content of each channel step, by step id. */
  variants: ReadonlyMap<string, ParsedVariants>;
}

export interface WorkflowRegistry {
  get(workflowId: string): CompiledWorkflow | undefined;
  list(): CompiledWorkflow[];
  /** For the subscribers' preferences: every workflow, whether it is critical, and the channels it uses. */
  listWorkflows(): WorkflowSummary[];
  /** Parses and registers a workflow (replacing one of the same id); throws `workflow_template_invalid` naming the step. */
  put(workflow: Workflow): CompiledWorkflow;
  /** Removes an operator's workflow; a built-in comes back in its shipped form (see `restore`). */
  remove(workflowId: string): void;
}

/**
 * Parses every channel step's content, so a template that does not parse is refused when the workflow is loaded or
 * saved, with the workflow and the step named — never when a message is due.
 */
export function compileWorkflow(workflow: Workflow): CompiledWorkflow {
  const variants = new Map<string, ParsedVariants>();
  for (const step of workflow.steps) {
    if (!isChannel(step.type) || !('content' in step)) continue;
    const content = step.content ?? {};
    if (Object.keys(content).length === 0) {
      throw new RekeyError(
        'workflow_template_invalid',
        { workflowId: workflow.workflowId, stepId: step.stepId },
        `Workflow "${workflow.workflowId}", step "${step.stepId}": a ${step.type} step needs content.`,
      );
    }
    if (step.type === 'email' && !Object.values(content).some((part) => part.subject !== undefined)) {
      throw new RekeyError(
        'workflow_template_invalid',
        { workflowId: workflow.workflowId, stepId: step.stepId },
        `Workflow "${workflow.workflowId}", step "${step.stepId}": an email step needs a subject.`,
      );
    }
    variants.set(step.stepId, parseVariants(workflow.workflowId, step.stepId, step.type, content));
  }
  return { ...workflow, variants };
}

/** The workflows in memory: the built-ins, then the operator's (config and API) over them. */
export function createWorkflowRegistry(builtins: Workflow[]): WorkflowRegistry {
  const shipped = new Map(builtins.map((workflow) => [workflow.workflowId, compileWorkflow(workflow)]));
  const current = new Map(shipped);
  return {
    get: (workflowId) => current.get(workflowId),
    list: () => [...current.values()],
    listWorkflows: () => [...current.values()].map(summarize),
    put(workflow) {
      const compiled = compileWorkflow(workflow);
      current.set(workflow.workflowId, compiled);
      return compiled;
    },
    remove(workflowId) {
      const builtin = shipped.get(workflowId);
      if (builtin) current.set(workflowId, builtin);
      else current.delete(workflowId);
    },
  };
}
