import { z } from 'zod';
import { RekeyError } from '../../errors/index.ts';
import type { WorkflowRegistry } from '../registry.ts';
import { workflowSchema, type Workflow, type WorkflowOrigin } from '../workflow.ts';

/** Names where a definition went wrong: the workflow, and the step when the fault is in one. */
function describeIssue(entry: unknown, issue: z.core.$ZodIssue): string {
  const workflowId = typeof entry === 'object' && entry !== null ? (entry as { workflowId?: unknown }).workflowId : undefined;
  const [first, index, ...rest] = issue.path;
  const steps = typeof entry === 'object' && entry !== null ? (entry as { steps?: unknown }).steps : undefined;
  const stepId =
    first === 'steps' && typeof index === 'number' && Array.isArray(steps) ? (steps[index] as { stepId?: unknown } | undefined)?.stepId : undefined;
  const where = [`workflow "${String(workflowId ?? '?')}"`, ...(first === 'steps' && typeof index === 'number' ? [`step "${String(stepId ?? index)}"`] : [])];
  const field = (first === 'steps' ? rest : issue.path).map(String).join('.');
  return `${where.join(', ')}${field ? ` (${field})` : ''}: ${issue.message}`;
}

/** Parses an operator's workflow: `workflow_invalid` naming the workflow and the step at fault. */
export function parseWorkflow(entry: unknown): z.output<typeof workflowSchema> {
  const parsed = workflowSchema.safeParse(entry);
  if (parsed.success) return parsed.data;
  const first = parsed.error.issues[0]!;
  throw new RekeyError(
    'workflow_invalid',
    { errors: parsed.error.issues.map((issue) => describeIssue(entry, issue)) },
    `Invalid ${describeIssue(entry, first)}`,
  );
}

/**
 * An operator's definition over a built-in changes its content only: each step it names must be one of the
 * built-in's, of the same type, and its content replaces the built-in's per locale (the others stay).
 */
export function overBuiltin(builtin: Workflow, definition: z.output<typeof workflowSchema>, origin: WorkflowOrigin): Workflow {
  const steps = builtin.steps.map((step) => {
    const given = definition.steps.find((s) => s.stepId === step.stepId);
    if (!given || !('content' in step) || !('content' in given) || !given.content) return step;
    return { ...step, content: { ...step.content, ...given.content } };
  });
  for (const given of definition.steps) {
    const own = builtin.steps.find((s) => s.stepId === given.stepId);
    if (!own || own.type !== given.type) {
      throw new RekeyError(
        'workflow_builtin_steps',
        { workflowId: builtin.workflowId, stepId: given.stepId },
        `Workflow "${builtin.workflowId}", step "${given.stepId}": a built-in's steps cannot change, only their content (its steps: ${builtin.steps.map((s) => `${s.stepId} (${s.type})`).join(', ')}).`,
      );
    }
  }
  return { ...builtin, steps, name: definition.name || builtin.name, ...(definition.description ? { description: definition.description } : {}), origin };
}

/**
 * Loads the workflows of `rekey.config.json` at start: each parsed, its templates parsed, a built-in's content
 * replaced. The first error stops the start, naming the workflow and the step.
 */
export function loadConfigWorkflows(registry: WorkflowRegistry, builtins: ReadonlyMap<string, Workflow>, entries: readonly unknown[]): void {
  for (const entry of entries) {
    const definition = parseWorkflow(entry);
    const builtin = builtins.get(definition.workflowId);
    registry.put(builtin ? overBuiltin(builtin, definition, 'config') : { ...definition, origin: 'config' });
  }
}
