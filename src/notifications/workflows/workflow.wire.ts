import { createHash } from 'node:crypto';
import { z } from 'zod';
import { RekeyError } from '../../errors/index.ts';
import { isChannel, STEP_TYPES, type StepContent, type StepDefinition, type Workflow, type WorkflowDefinition } from '../workflow.ts';
import type { Editable } from './catalog.ts';
import { parseWorkflow } from './operator.ts';

/**
 * Novu's v2 workflow shapes (`@novu/api@3.19`: `CreateWorkflowDto`, `UpdateWorkflowDto`, `WorkflowResponseDto`,
 * `ListWorkflowResponse`) and their mapping to Rekey's definitions.
 *
 * A channel step's `controlValues` hold its content: `subject`, `body` (and Rekey's `text`, the mail's plain part)
 * are the English (fallback) variant; Rekey's `locales: { fr: { subject, body } }` adds others. `skip` is Novu's
 * JSON-logic skip rule, stored as the step's condition (its negation). Delay and throttle controls are Novu's.
 */

// Types only at the edge: `parseWorkflow` checks every value and names the workflow and the step at fault.
const controlValues = z.record(z.string(), z.unknown());
export const stepUpsert = z.looseObject({
  _id: z.string().max(200).optional(),
  stepId: z.string().max(200).optional(),
  name: z.string().max(200),
  type: z.string().max(32),
  controlValues: controlValues.optional(),
});
const preferencesInput = z.looseObject({
  user: z.unknown().optional(),
  workflow: z
    .looseObject({ all: z.looseObject({ enabled: z.boolean().optional(), readOnly: z.boolean().optional() }).optional(), channels: z.unknown().optional() })
    .nullish(),
});
const workflowFields = {
  name: z.string().max(200),
  description: z.string().max(2_000).optional(),
  tags: z.array(z.string().max(64)).max(16).optional(),
  active: z.boolean().optional(),
  steps: z.array(stepUpsert).max(20),
  /** Novu's: a workflow whose preferences are read-only is critical (it ignores the subscriber's choices). */
  preferences: preferencesInput.nullish(),
  /** Rekey's, the same as `preferences.workflow.all.readOnly`. */
  critical: z.boolean().optional(),
};
export const createWorkflowBody = z.looseObject({ ...workflowFields, workflowId: z.string().max(200) });
export const updateWorkflowBody = z.looseObject({ ...workflowFields, workflowId: z.string().max(200).optional() });
export type WorkflowBody = z.infer<typeof updateWorkflowBody>;
/** Novu's `PatchWorkflowDto`: the fields it names change, the steps stay. */
export const patchWorkflowBody = z.looseObject({
  active: z.boolean().optional(),
  name: z.string().max(200).optional(),
  description: z.string().max(2_000).optional(),
  tags: z.array(z.string().max(64)).max(16).optional(),
});

const contentKeys = ['subject', 'body', 'text'] as const;
const DELAY_KEYS = ['type', 'amount', 'unit', 'until'] as const;
const THROTTLE_KEYS = ['type', 'amount', 'unit', 'dynamicKey', 'threshold', 'throttleKey'] as const;

const pick = (values: Record<string, unknown>, keys: readonly string[]) =>
  Object.fromEntries(keys.filter((key) => values[key] !== undefined && values[key] !== null).map((key) => [key, values[key]]));

/** Novu derives a missing step id from the step's name; so does Rekey. */
const slugOf = (name: string, index: number): string =>
  name
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64) || `step-${index + 1}`;

/** A channel step's content from its control values: the fallback variant (`en`) and Rekey's `locales`. */
export function contentOf(values: Record<string, unknown>): Record<string, unknown> | undefined {
  const content: Record<string, unknown> = {};
  const main = pick(values, contentKeys);
  if (Object.keys(main).length) content.en = main;
  const locales = values.locales;
  if (typeof locales === 'object' && locales !== null && !Array.isArray(locales)) {
    // A language with no part says nothing: it is not a blank message.
    for (const [locale, parts] of Object.entries(locales)) {
      if (typeof parts !== 'object' || parts === null || Object.keys(parts).length > 0) content[locale] = parts;
    }
  }
  return Object.keys(content).length ? content : undefined;
}

function stepOf(workflowId: string, step: z.infer<typeof stepUpsert>, index: number): Record<string, unknown> {
  const stepId = step.stepId || slugOf(step.name, index);
  if (!(STEP_TYPES as readonly string[]).includes(step.type)) {
    throw new RekeyError(
      'workflow_invalid',
      { workflowId, stepId, field: `steps.${index}.type` },
      `Workflow "${workflowId}", step "${stepId}": steps of type "${step.type}" are not supported (${STEP_TYPES.join(', ')}).`,
    );
  }
  const values = step.controlValues ?? {};
  const out: Record<string, unknown> = { stepId, type: step.type, ...(step.name ? { name: step.name } : {}) };
  const skip = values.skip;
  if (typeof skip === 'object' && skip !== null && Object.keys(skip).length) out.condition = { '!': skip };
  if (step.type === 'delay') out.controls = pick(values, DELAY_KEYS);
  else if (step.type === 'throttle') out.controls = pick(values, THROTTLE_KEYS);
  else {
    const content = contentOf(values);
    if (content) out.content = content;
  }
  return out;
}

/** Rekey's definition of a Novu body: `workflow_invalid` naming the workflow and the step at fault. */
export function definitionOf(workflowId: string, body: WorkflowBody): WorkflowDefinition {
  const critical = body.critical ?? body.preferences?.workflow?.all?.readOnly ?? false;
  return parseWorkflow({
    workflowId,
    name: body.name,
    ...(body.description ? { description: body.description } : {}),
    critical,
    ...(body.active !== undefined ? { active: body.active } : {}),
    ...(body.tags ? { tags: body.tags } : {}),
    steps: body.steps.map((step, i) => stepOf(workflowId, step, i)),
  });
}

// What the SDK validates (`WorkflowResponseDto`, `WorkflowListResponseDto`), plus Rekey's `critical` and `editable`.
/** Novu's `StepResponseDto`: a step of a workflow's answer, and the whole answer of `workflows.steps.retrieve`. */
export const stepResponse = z
  .object({
    _id: z.string(),
    stepId: z.string(),
    slug: z.string(),
    name: z.string(),
    type: z.string(),
    origin: z.enum(['novu-cloud', 'external']),
    workflowId: z.string(),
    workflowDatabaseId: z.string(),
    controls: z.object({ values: controlValues }),
    controlValues,
    variables: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'NovuWorkflowStep' });
export type StepResponse = z.infer<typeof stepResponse>;
const channelPreference = z.object({ enabled: z.boolean() });
export const workflowResponse = z
  .object({
    _id: z.string(),
    workflowId: z.string(),
    slug: z.string(),
    name: z.string(),
    description: z.string().optional(),
    tags: z.array(z.string()),
    active: z.boolean(),
    status: z.enum(['ACTIVE', 'INACTIVE']),
    validatePayload: z.boolean(),
    isTranslationEnabled: z.boolean(),
    origin: z.enum(['novu-cloud', 'external']),
    severity: z.literal('none'),
    createdAt: z.string(),
    updatedAt: z.string(),
    steps: z.array(stepResponse),
    preferences: z.object({
      user: z.null(),
      default: z.object({ all: z.object({ enabled: z.boolean(), readOnly: z.boolean() }), channels: z.record(z.string(), channelPreference) }),
    }),
    /** Rekey's: critical workflows ignore the subscriber's preferences. */
    critical: z.boolean(),
    /** Rekey's: `yes` (saved over the API), `content` (a built-in: its steps' content only) or `no` (rekey.config.json). */
    editable: z.enum(['yes', 'content', 'no']),
  })
  .meta({ id: 'NovuWorkflow' });
export type WorkflowResponse = z.infer<typeof workflowResponse>;
export const workflowListItem = workflowResponse
  .pick({
    _id: true,
    workflowId: true,
    slug: true,
    name: true,
    tags: true,
    status: true,
    origin: true,
    createdAt: true,
    updatedAt: true,
    isTranslationEnabled: true,
    critical: true,
    editable: true,
  })
  .extend({ stepTypeOverviews: z.array(z.string()), steps: z.array(z.object({ slug: z.string(), type: z.string() })) });

/** Novu's `_id` of a workflow not saved over the API (a built-in, or one of `rekey.config.json`): stable across nodes. */
export const databaseIdOf = (workflow: Workflow): string =>
  workflow.internalId ?? `wf_${createHash('sha256').update(workflow.workflowId).digest('base64url').slice(0, 24)}`;

/** The control values of a step as Novu shows them. */
export function controlValuesOf(step: StepDefinition): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  if ('controls' in step) Object.assign(values, step.controls);
  if ('content' in step && step.content) {
    const entries = Object.entries(step.content);
    const [mainKey, main] = entries.find(([key]) => key === 'en') ?? entries.find(([key]) => key === 'default') ?? entries[0] ?? [];
    Object.assign(values, pick((main ?? {}) as StepContent, contentKeys));
    const others = entries.filter(([key]) => key !== mainKey);
    if (others.length) values.locales = Object.fromEntries(others);
    // The SDK's email controls need a subject; a step with none in its main language shows it empty.
    if (step.type === 'email' && typeof values.subject !== 'string') values.subject = '';
  }
  if (step.condition) {
    const rule = step.condition as Record<string, unknown>;
    values.skip = '!' in rule && typeof rule['!'] === 'object' && rule['!'] !== null ? rule['!'] : { '!': rule };
  }
  return values;
}

/** Novu's `origin`: `novu-cloud` for a workflow saved over the API, `external` for a built-in or one of the file's. */
const originOf = (workflow: Workflow, editable: Editable) => (workflow.origin === 'api' && editable === 'yes' ? 'novu-cloud' : 'external');

/** Novu's `_id` of a step: its workflow's `_id` and its own id. */
export const stepDatabaseIdOf = (workflow: Workflow, stepId: string): string => `${databaseIdOf(workflow)}_${stepId}`;

export function toNovuStep(workflow: Workflow, step: StepDefinition, editable: Editable): StepResponse {
  const values = controlValuesOf(step);
  return {
    _id: stepDatabaseIdOf(workflow, step.stepId),
    stepId: step.stepId,
    slug: step.stepId,
    name: step.name ?? step.stepId,
    type: step.type,
    origin: originOf(workflow, editable),
    workflowId: workflow.workflowId,
    workflowDatabaseId: databaseIdOf(workflow),
    controls: { values },
    controlValues: values,
    variables: {},
  };
}

export function toNovuWorkflow(workflow: Workflow, editable: Editable, startedAt: number): WorkflowResponse {
  const databaseId = databaseIdOf(workflow);
  const origin = originOf(workflow, editable);
  const channels = [...new Set(workflow.steps.map((step) => step.type).filter(isChannel))];
  return {
    _id: databaseId,
    workflowId: workflow.workflowId,
    slug: workflow.workflowId,
    name: workflow.name,
    ...(workflow.description ? { description: workflow.description } : {}),
    tags: workflow.tags,
    active: workflow.active,
    status: workflow.active ? 'ACTIVE' : 'INACTIVE',
    validatePayload: workflow.payloadSchema !== undefined,
    isTranslationEnabled: false,
    origin,
    severity: 'none',
    createdAt: new Date(workflow.createdAt ?? startedAt).toISOString(),
    updatedAt: new Date(workflow.updatedAt ?? startedAt).toISOString(),
    steps: workflow.steps.map((step) => toNovuStep(workflow, step, editable)),
    preferences: {
      user: null,
      default: {
        all: { enabled: true, readOnly: workflow.critical },
        channels: Object.fromEntries(channels.map((channel) => [channel, { enabled: true }])),
      },
    },
    critical: workflow.critical,
    editable,
  };
}

export function toNovuListItem(workflow: Workflow, editable: Editable, startedAt: number): z.infer<typeof workflowListItem> {
  const full = toNovuWorkflow(workflow, editable, startedAt);
  return {
    _id: full._id,
    workflowId: full.workflowId,
    slug: full.slug,
    name: full.name,
    tags: full.tags,
    status: full.status,
    origin: full.origin,
    createdAt: full.createdAt,
    updatedAt: full.updatedAt,
    isTranslationEnabled: false,
    critical: full.critical,
    editable,
    stepTypeOverviews: [...new Set(workflow.steps.map((step) => step.type))],
    steps: workflow.steps.map((step) => ({ slug: step.stepId, type: step.type })),
  };
}
