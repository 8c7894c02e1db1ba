import type { Logger } from 'pino';
import { RekeyError } from '../../errors/index.ts';
import type { Clock } from '../../platform/clock.ts';
import type { Ids } from '../../platform/ids.ts';
import { compileWorkflow, type CompiledWorkflow, type WorkflowRegistry } from '../registry.ts';
import type { Workflow, WorkflowDefinition } from '../workflow.ts';
import { overBuiltin } from './operator.ts';
import type { StoredWorkflow, WorkflowStore } from './workflow.store.ts';

/**
 * How old the registry may be on a node that did not make the change: at most this long after another node saves
 * a workflow, this one runs it. A trigger naming a workflow this node does not know checks at once.
 */
export const WORKFLOW_FRESHNESS_MS = 1_000;

/** Where a workflow may be changed over the API, and how. */
export type Editable = 'yes' | 'content' | 'no';

export interface WorkflowCatalog {
  /** Loads the saved workflows; called once at start. */
  start(): Promise<void>;
  /**
   * Keeps the registry current to within `WORKFLOW_FRESHNESS_MS`: nothing (no promise) while it is; else the first
   * caller reads the revision (and reloads only when another node changed something) while the others go on with
   * what the node has, as the window starts again when that read does.
   */
  fresh(): Promise<void> | undefined;
  /** Reads the revision now (a workflow this node does not know may have been created elsewhere a moment ago). */
  check(): Promise<void>;
  /** `yes` for the API's own, `content` for a built-in, `no` for one of `rekey.config.json`. */
  editable(workflowId: string): Editable;
  /** Throws `workflow_already_exists`, `workflow_invalid` or `workflow_template_invalid` (naming the workflow and step). */
  create(definition: WorkflowDefinition): Promise<CompiledWorkflow>;
  /** A built-in's content only (`workflow_builtin_steps`); `workflow_read_only` for one of `rekey.config.json`. */
  update(workflowId: string, definition: WorkflowDefinition): Promise<CompiledWorkflow>;
  /** `workflow_builtin_not_deletable` and `workflow_read_only` as their names say. */
  remove(workflowId: string): Promise<void>;
}

export interface WorkflowCatalogDeps {
  registry: WorkflowRegistry;
  store: WorkflowStore;
  builtins: ReadonlyMap<string, Workflow>;
  clock: Clock;
  ids: Ids;
  logger: Logger;
}

/**
 * The workflows every node runs: the built-ins, those saved over the API over them, and `rekey.config.json`'s over
 * both (a file edit is the operator's last word, so an API write cannot shadow it). The node that saves reloads at
 * once; the others within `WORKFLOW_FRESHNESS_MS`, with no read per trigger in between.
 */
export function createWorkflowCatalog(deps: WorkflowCatalogDeps): WorkflowCatalog {
  const { registry, store, builtins, clock } = deps;
  const fromConfig = new Set(
    registry
      .list()
      .filter((w) => w.origin === 'config')
      .map((w) => w.workflowId),
  );
  let applied = -1;
  let checkedAt = Number.NEGATIVE_INFINITY;
  let checking: Promise<void> | undefined;
  let saved = new Set<string>();

  const asWorkflow = (row: StoredWorkflow): Workflow => {
    const builtin = builtins.get(row.definition.workflowId);
    const meta = { internalId: row.id, createdAt: row.createdAt, updatedAt: row.updatedAt };
    return { ...(builtin ? overBuiltin(builtin, row.definition, 'api') : { ...row.definition, origin: 'api' as const }), ...meta };
  };

  function apply(revision: number, rows: StoredWorkflow[]): void {
    // Two reloads may cross: the older snapshot must not land over the newer one.
    if (revision < applied) return;
    const seen = new Set<string>();
    for (const row of rows) {
      const workflowId = row.definition.workflowId;
      if (fromConfig.has(workflowId)) continue;
      seen.add(workflowId);
      try {
        registry.put(asWorkflow(row));
      } catch (error) {
        // Checked when it was saved; only a change of Rekey's template rules could make it fail here. The node keeps
        // running the rest, and says which one it left out.
        deps.logger.error({ workflowId, err: error }, 'a saved workflow no longer loads; it is left out');
      }
    }
    for (const workflowId of saved) if (!seen.has(workflowId)) registry.remove(workflowId);
    saved = seen;
    applied = revision;
  }

  const reload = async () => {
    // What the load reads is at least as new as this moment: the window starts here.
    checkedAt = clock.now();
    const loaded = await store.load();
    apply(loaded.revision, loaded.workflows);
  };

  const check = (): Promise<void> =>
    (checking ??= (async () => {
      try {
        checkedAt = clock.now();
        if ((await store.revision()) !== applied) await reload();
      } finally {
        checking = undefined;
      }
    })());

  const editable = (workflowId: string): Editable => (fromConfig.has(workflowId) ? 'no' : builtins.has(workflowId) ? 'content' : 'yes');

  function writable(workflowId: string): CompiledWorkflow {
    const current = registry.get(workflowId);
    if (!current) throw new RekeyError('workflow_not_found', { workflowId });
    if (editable(workflowId) === 'no') throw new RekeyError('workflow_read_only', { workflowId });
    return current;
  }

  return {
    start: reload,
    fresh: () => (clock.now() - checkedAt < WORKFLOW_FRESHNESS_MS ? undefined : check()),
    check,
    editable,
    async create(definition) {
      await check();
      if (registry.get(definition.workflowId)) throw new RekeyError('workflow_already_exists', { workflowId: definition.workflowId });
      const now = clock.now();
      const row: StoredWorkflow = { id: deps.ids.next('wf'), definition, createdAt: now, updatedAt: now };
      compileWorkflow(asWorkflow(row)); // refuses a template that does not parse, naming the workflow and the step
      await store.create(row);
      await reload();
      return registry.get(definition.workflowId)!;
    },
    async update(workflowId, definition) {
      await check();
      const current = writable(workflowId);
      const now = clock.now();
      const row: StoredWorkflow = {
        id: current.internalId ?? deps.ids.next('wf'),
        definition: { ...keepLocales(current, definition), workflowId },
        createdAt: current.createdAt ?? now,
        updatedAt: now,
      };
      compileWorkflow(asWorkflow(row));
      await store.save(row);
      await reload();
      return registry.get(workflowId)!;
    },
    async remove(workflowId) {
      await check();
      writable(workflowId);
      if (builtins.has(workflowId)) throw new RekeyError('workflow_builtin_not_deletable', { workflowId });
      await store.remove(workflowId);
      await reload();
    },
  };
}

/**
 * An update replaces the content of the locales it names and keeps a step's others, as an override of a built-in
 * does: `@novu/api` sends a step's main content only (its control schemas drop Rekey's `locales`), so a read and
 * an update through it must not lose a language.
 */
function keepLocales(current: Workflow, definition: WorkflowDefinition): WorkflowDefinition {
  const steps = definition.steps.map((step) => {
    const before = current.steps.find((s) => s.stepId === step.stepId && s.type === step.type);
    if (!before || !('content' in before) || !before.content || !('content' in step) || !step.content) return step;
    return { ...step, content: { ...before.content, ...step.content } };
  });
  return { ...definition, steps };
}
