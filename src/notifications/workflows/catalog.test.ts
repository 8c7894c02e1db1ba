import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../platform/clock.ts';
import { createIds } from '../../platform/ids.ts';
import { createLogger } from '../../platform/logger.ts';
import { STORES, type TestStore } from '../../store/testing.ts';
import { createWorkflowRegistry } from '../registry.ts';
import { builtinWorkflows } from './builtins.ts';
import { createWorkflowCatalog, WORKFLOW_FRESHNESS_MS } from './catalog.ts';
import { parseWorkflow } from './operator.ts';
import { createWorkflowStore, type WorkflowStore } from './workflow.store.ts';

const notice = (subject: string) =>
  parseWorkflow({ workflowId: 'notice', name: 'Notice', steps: [{ stepId: 'mail', type: 'email', content: { en: { subject, body: '<p>x</p>' } } }] });

/** A node: its own registry and catalog over the shared database, and a count of what it reads there. */
function node(store: TestStore) {
  const clock = manualClock(Date.parse('2026-12-01T00:00:00Z'));
  const real = createWorkflowStore(store.db);
  const reads = { revision: 0, load: 0 };
  const counted: WorkflowStore = {
    ...real,
    revision: () => (reads.revision++, real.revision()),
    load: () => (reads.load++, real.load()),
  };
  const builtins = builtinWorkflows();
  const registry = createWorkflowRegistry(builtins);
  const catalog = createWorkflowCatalog({
    registry,
    store: counted,
    builtins: new Map(builtins.map((w) => [w.workflowId, w])),
    clock,
    ids: createIds(),
    logger: createLogger('silent'),
  });
  return { clock, reads, registry, catalog };
}

for (const factory of STORES) {
  describe(`${factory.name}: workflows shared by the nodes of one database`, () => {
    let store: TestStore;
    beforeAll(async () => {
      store = await factory.open();
    });
    afterAll(() => store.close());

    it('reads nothing while fresh, one shared revision read after, and reloads only when another node changed something', async () => {
      const a = node(store);
      const b = node(store);
      await a.catalog.start();
      await b.catalog.start();
      expect(b.reads).toEqual({ revision: 0, load: 1 });

      // Within the window: no read at all, however many requests or steps ask.
      b.clock.advance(WORKFLOW_FRESHNESS_MS - 1);
      expect(Array.from({ length: 1_000 }, () => b.catalog.fresh()).every((p) => p === undefined)).toBe(true);
      expect(b.reads.revision).toBe(0);

      // Past it: the first caller reads the revision, the others go on with what the node has (a window begins);
      // nothing changed, so nothing is reloaded.
      b.clock.advance(1);
      const checks = Array.from({ length: 50 }, () => b.catalog.fresh());
      expect(checks.filter((check) => check !== undefined)).toHaveLength(1);
      await checks[0];
      expect(b.reads).toEqual({ revision: 1, load: 1 });

      // A saves: A has it at once, B once its window has passed.
      await a.catalog.create(notice('First'));
      expect(a.registry.get('notice')?.name).toBe('Notice');
      expect(b.catalog.fresh()).toBeUndefined();
      expect(b.registry.get('notice')).toBeUndefined();
      b.clock.advance(WORKFLOW_FRESHNESS_MS);
      await b.catalog.fresh();
      expect(b.registry.get('notice')?.steps).toEqual(a.registry.get('notice')?.steps);
      expect(b.reads).toEqual({ revision: 2, load: 2 });

      // A change and a deletion travel the same way; `check` reads at once.
      await a.catalog.update('notice', notice('Second'));
      await b.catalog.check();
      expect(b.registry.get('notice')?.variants.get('mail')).toBeDefined();
      expect(JSON.stringify(b.registry.get('notice')?.steps)).toContain('Second');
      await a.catalog.remove('notice');
      await b.catalog.check();
      expect(b.registry.get('notice')).toBeUndefined();
      // The built-ins were never touched.
      expect(b.registry.get('password-reset')?.origin).toBe('builtin');
    });
  });
}
