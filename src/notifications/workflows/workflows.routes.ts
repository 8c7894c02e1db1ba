import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { RekeyError, type ErrorCode } from '../../errors/index.ts';
import type { Renderer } from '../content.ts';
import type { CompiledWorkflow, WorkflowRegistry } from '../registry.ts';
import type { Branding } from '../steps/scope.ts';
import type { WorkflowCatalog } from './catalog.ts';
import { parseWorkflow } from './operator.ts';
import { previewBody, previewResponse, previewStep } from './preview.ts';
import {
  createWorkflowBody,
  databaseIdOf,
  definitionOf,
  patchWorkflowBody,
  stepDatabaseIdOf,
  stepResponse,
  toNovuListItem,
  toNovuStep,
  toNovuWorkflow,
  updateWorkflowBody,
  workflowListItem,
  workflowResponse,
} from './workflow.wire.ts';

export interface WorkflowRouteOptions {
  registry: WorkflowRegistry;
  catalog: WorkflowCatalog;
  renderer: Renderer;
  branding(applicationId: string): Promise<Branding>;
  /** When the built-ins and `rekey.config.json`'s workflows were loaded: their `createdAt`. */
  startedAt: number;
}

const tags = ['workflows'];
const routeConfig = { surface: 'novu' as const };
const saving = ['workflow_invalid', 'workflow_template_invalid'] as const satisfies readonly ErrorCode[];
const workflowParams = z.object({ workflowId: z.string().min(1).max(200) });
const stepParams = workflowParams.extend({ stepId: z.string().min(1).max(200) });
const many = <T extends z.ZodType>(item: T) => z.union([item, z.array(item)]).transform((v) => (Array.isArray(v) ? v : [v]));
const listQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(10),
  offset: z.coerce.number().int().min(0).max(100_000).default(0),
  orderDirection: z.enum(['ASC', 'DESC']).default('DESC'),
  orderBy: z.enum(['createdAt', 'updatedAt', 'name', 'lastTriggeredAt']).default('createdAt'),
  /** Part of the name or the id, any case. */
  query: z.string().max(200).optional(),
  tags: many(z.string().max(64)).optional(),
  status: many(z.enum(['ACTIVE', 'INACTIVE', 'ERROR'])).optional(),
});
const wrapped = <T extends z.ZodType>(schema: T) => z.object({ data: schema });
/** A rich mail's HTML in a few languages outgrows the server's 64 KiB request limit; a workflow may take 1 MiB. */
const WORKFLOW_BODY_LIMIT = 1024 * 1024;

/**
 * `/v2/workflows` as `@novu/api`'s `workflows.create/list/get/update/patch/delete`, `workflows.steps.retrieve` and
 * `workflows.steps.generatePreview` call it, in Novu's `{ data }` envelope. Saved workflows reach every node (see
 * `WORKFLOW_FRESHNESS_MS`). `workflows.sync` is refused: Rekey has no environments to copy a workflow to.
 */
export const workflowRoutes: FastifyPluginAsync<WorkflowRouteOptions> = async (app, opts) => {
  const { registry, catalog, startedAt } = opts;
  const r = app.withTypeProvider<ZodTypeProvider>();
  const show = (workflow: CompiledWorkflow) => toNovuWorkflow(workflow, catalog.editable(workflow.workflowId), startedAt);

  /** By the slug triggers use, or by Novu's `_id`; a miss reads the revision once (another node may just have made it). */
  async function find(idOrSlug: string): Promise<CompiledWorkflow> {
    const lookup = () => registry.get(idOrSlug) ?? registry.list().find((w) => databaseIdOf(w) === idOrSlug);
    let workflow = lookup();
    if (!workflow) {
      await catalog.check();
      workflow = lookup();
    }
    if (!workflow) throw new RekeyError('workflow_not_found', { workflowId: idOrSlug });
    return workflow;
  }

  /** A step by its id, or by the `_id` Novu's answers gave it. */
  function stepOf(workflow: CompiledWorkflow, idOrDatabaseId: string) {
    const step = workflow.steps.find((s) => s.stepId === idOrDatabaseId || stepDatabaseIdOf(workflow, s.stepId) === idOrDatabaseId);
    if (!step) throw new RekeyError('workflow_step_not_found', { workflowId: workflow.workflowId, stepId: idOrDatabaseId });
    return step;
  }

  r.post(
    '/v2/workflows',
    {
      config: routeConfig,
      bodyLimit: WORKFLOW_BODY_LIMIT,
      schema: {
        tags,
        summary: 'Create a workflow (Novu)',
        operationId: 'createWorkflow',
        errors: [...saving, 'workflow_already_exists'],
        body: createWorkflowBody,
        response: { 201: wrapped(workflowResponse) },
      },
    },
    async (request, reply) => {
      const created = await catalog.create(definitionOf(request.body.workflowId, request.body));
      return reply.code(201).send({ data: show(created) });
    },
  );

  r.get(
    '/v2/workflows',
    {
      config: routeConfig,
      schema: {
        tags,
        summary: 'List workflows (Novu)',
        operationId: 'listWorkflows',
        errors: [],
        querystring: listQuery,
        response: { 200: wrapped(z.object({ workflows: z.array(workflowListItem), totalCount: z.number() })) },
      },
    },
    async (request) => {
      const q = request.query;
      const needle = q.query?.toLowerCase();
      const matching = registry
        .list()
        .filter((w) => !needle || w.name.toLowerCase().includes(needle) || w.workflowId.toLowerCase().includes(needle))
        .filter((w) => !q.tags || q.tags.some((tag) => w.tags.includes(tag)))
        .filter((w) => !q.status || q.status.includes(w.active ? 'ACTIVE' : 'INACTIVE'));
      const at = (w: CompiledWorkflow) => (q.orderBy === 'updatedAt' ? (w.updatedAt ?? startedAt) : (w.createdAt ?? startedAt));
      const sorted = matching.sort((a, b) => {
        const order = q.orderBy === 'name' ? a.name.localeCompare(b.name) : at(a) - at(b) || a.workflowId.localeCompare(b.workflowId);
        return q.orderDirection === 'ASC' ? order : -order;
      });
      const page = sorted.slice(q.offset, q.offset + q.limit);
      return { data: { workflows: page.map((w) => toNovuListItem(w, catalog.editable(w.workflowId), startedAt)), totalCount: matching.length } };
    },
  );

  r.get(
    '/v2/workflows/:workflowId',
    {
      config: routeConfig,
      schema: {
        tags,
        summary: 'Get a workflow (Novu)',
        operationId: 'getWorkflow',
        errors: ['workflow_not_found'],
        params: workflowParams,
        querystring: z.strictObject({ environmentId: z.string().max(200).optional() }),
        response: { 200: wrapped(workflowResponse) },
      },
    },
    async (request) => ({ data: show(await find(request.params.workflowId)) }),
  );

  r.put(
    '/v2/workflows/:workflowId',
    {
      config: routeConfig,
      bodyLimit: WORKFLOW_BODY_LIMIT,
      schema: {
        tags,
        summary: 'Update a workflow (Novu); a built-in’s content only',
        operationId: 'updateWorkflow',
        errors: [...saving, 'workflow_not_found', 'workflow_read_only', 'workflow_builtin_steps'],
        params: workflowParams,
        body: updateWorkflowBody,
        response: { 200: wrapped(workflowResponse) },
      },
    },
    async (request) => {
      const { workflowId } = await find(request.params.workflowId);
      return { data: show(await catalog.update(workflowId, definitionOf(workflowId, request.body))) };
    },
  );

  r.patch(
    '/v2/workflows/:workflowId',
    {
      config: routeConfig,
      schema: {
        tags,
        summary: 'Change some fields of a workflow (Novu): active, name, description, tags',
        operationId: 'patchWorkflow',
        errors: ['workflow_invalid', 'workflow_not_found', 'workflow_read_only'],
        params: workflowParams,
        body: patchWorkflowBody,
        response: { 200: wrapped(workflowResponse) },
      },
    },
    async (request) => {
      const current = await find(request.params.workflowId);
      const { active, name, description, tags: labels } = request.body;
      const definition = parseWorkflow({
        workflowId: current.workflowId,
        name: name ?? current.name,
        ...((description ?? current.description) ? { description: description ?? current.description } : {}),
        critical: current.critical,
        active: active ?? current.active,
        tags: labels ?? current.tags,
        steps: current.steps,
      });
      return { data: show(await catalog.update(current.workflowId, definition)) };
    },
  );

  r.delete(
    '/v2/workflows/:workflowId',
    {
      config: routeConfig,
      schema: {
        tags,
        summary: 'Delete a workflow (Novu); built-ins and rekey.config.json’s stay',
        operationId: 'deleteWorkflow',
        errors: ['workflow_not_found', 'workflow_read_only', 'workflow_builtin_not_deletable'],
        params: workflowParams,
        response: { 204: z.undefined() },
      },
    },
    async (request, reply) => {
      const { workflowId } = await find(request.params.workflowId);
      await catalog.remove(workflowId);
      return reply.code(204).send();
    },
  );

  r.get(
    '/v2/workflows/:workflowId/steps/:stepId',
    {
      config: routeConfig,
      schema: {
        tags,
        summary: 'Get a step of a workflow (Novu)',
        operationId: 'getWorkflowStep',
        errors: ['workflow_not_found', 'workflow_step_not_found'],
        params: stepParams,
        querystring: z.strictObject({}),
        response: { 200: wrapped(stepResponse) },
      },
    },
    async (request) => {
      const workflow = await find(request.params.workflowId);
      return { data: toNovuStep(workflow, stepOf(workflow, request.params.stepId), catalog.editable(workflow.workflowId)) };
    },
  );

  r.put(
    '/v2/workflows/:workflowId/sync',
    {
      config: routeConfig,
      schema: {
        tags,
        summary: 'Copy a workflow to another environment (Novu): refused, Rekey has no environments',
        operationId: 'syncWorkflow',
        errors: ['workflow_not_found', 'workflow_sync_not_supported'],
        params: workflowParams,
        body: z.looseObject({ targetEnvironmentId: z.string().max(200) }),
      },
    },
    async (request) => {
      const { workflowId } = await find(request.params.workflowId);
      // Every application of a deployment already runs the same workflows; another deployment is reached with
      // its own key (workflows.get here, workflows.create there).
      throw new RekeyError('workflow_sync_not_supported', { workflowId });
    },
  );

  r.post(
    '/v2/workflows/:workflowId/step/:stepId/preview',
    {
      config: routeConfig,
      bodyLimit: WORKFLOW_BODY_LIMIT,
      schema: {
        tags,
        summary: 'Preview a step with sample data (Novu)',
        operationId: 'previewWorkflowStep',
        errors: ['workflow_not_found', 'workflow_step_not_found', 'workflow_template_invalid'],
        params: stepParams,
        body: previewBody,
        response: { 201: wrapped(previewResponse) },
      },
    },
    async (request, reply) => {
      const workflow = await find(request.params.workflowId);
      const { stepId } = stepOf(workflow, request.params.stepId);
      const branding = await opts.branding(request.application!.id);
      const data = await previewStep({ renderer: opts.renderer, branding }, workflow, stepId, request.body);
      return reply.code(201).send({ data });
    },
  );
};
