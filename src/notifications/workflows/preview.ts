import { z } from 'zod';
import { RekeyError } from '../../errors/index.ts';
import { parseVariants, variablesOf, type ParsedVariants, type Renderer } from '../content.ts';
import type { CompiledWorkflow } from '../registry.ts';
import type { Branding } from '../steps/scope.ts';
import { isChannel, type StepContent } from '../workflow.ts';
import { contentOf, controlValuesOf } from './workflow.wire.ts';

/** Novu's `GeneratePreviewRequestDto`: control values to try instead of the saved ones, and the data to render with. */
export const previewBody = z.looseObject({
  controlValues: z.record(z.string(), z.unknown()).optional(),
  previewPayload: z
    .looseObject({
      payload: z.record(z.string(), z.unknown()).optional(),
      subscriber: z.record(z.string(), z.unknown()).optional(),
    })
    .optional(),
});

/** Novu's `GeneratePreviewResponseDto`. */
export const previewResponse = z.object({
  result: z.object({ type: z.string(), preview: z.record(z.string(), z.unknown()) }),
  previewPayloadExample: z.object({ payload: z.record(z.string(), z.unknown()), subscriber: z.record(z.string(), z.unknown()) }),
  schema: z.null(),
});

/** Who a preview is addressed to, unless the request names someone. */
const SAMPLE_SUBSCRIBER = {
  subscriberId: 'preview-subscriber',
  firstName: 'Ada',
  lastName: 'Lovelace',
  email: 'ada@example.com',
  phone: '+15555550100',
  locale: 'en',
};

/** A placeholder for every `payload.*` variable the templates read (`{{payload.resetUrl}}`), nested as they name them. */
function samplePayload(variants: ParsedVariants): Record<string, unknown> {
  const sample: Record<string, unknown> = {};
  for (const path of variablesOf(variants)) {
    if (path[0] !== 'payload' || path.length < 2) continue;
    let node = sample;
    for (const key of path.slice(1, -1)) {
      if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[path.at(-1)!] ??= `{{${path.join('.')}}}`;
  }
  return sample;
}

/** Deep merge of what the caller gave over the sample: the caller's values win. */
function over(sample: Record<string, unknown>, given: Record<string, unknown> | undefined): Record<string, unknown> {
  const out = { ...sample };
  for (const [key, value] of Object.entries(given ?? {})) {
    const base = out[key];
    const nested = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
    out[key] = nested(base) && nested(value) ? over(base, value) : value;
  }
  return out;
}

/**
 * Renders one step as it would go out: the saved content, or `controlValues` tried before they are saved (a
 * template that does not parse is refused, naming the workflow and the step), with sample data under the caller's.
 */
export async function previewStep(
  deps: { renderer: Renderer; branding: Branding },
  workflow: CompiledWorkflow,
  stepId: string,
  body: z.infer<typeof previewBody>,
): Promise<z.infer<typeof previewResponse>> {
  const step = workflow.steps.find((s) => s.stepId === stepId);
  if (!step) throw new RekeyError('workflow_step_not_found', { workflowId: workflow.workflowId, stepId });
  const given = body.previewPayload;
  const subscriber = over(SAMPLE_SUBSCRIBER, given?.subscriber);
  if (!isChannel(step.type)) {
    // A delay or a throttle sends nothing: its preview is what it will do.
    const values = body.controlValues ?? controlValuesOf(step);
    return { result: { type: step.type, preview: values }, previewPayloadExample: { payload: given?.payload ?? {}, subscriber }, schema: null };
  }
  const tried = body.controlValues ? contentOf(body.controlValues) : undefined;
  const variants = tried ? parseVariants(workflow.workflowId, stepId, step.type, tried as Record<string, StepContent>) : workflow.variants.get(stepId);
  if (!variants || variants.size === 0) {
    throw new RekeyError(
      'workflow_template_invalid',
      { workflowId: workflow.workflowId, stepId },
      `Workflow "${workflow.workflowId}", step "${stepId}" has no content.`,
    );
  }
  const payload = over(samplePayload(variants), given?.payload);
  const { mailFrom: _from, ...app } = deps.branding;
  const scope = { payload, subscriber, app, step: { stepId, type: step.type, workflowId: workflow.workflowId, transactionId: 'preview' } };
  let rendered;
  try {
    rendered = await deps.renderer.render(step.type, variants, scope, subscriber.locale);
  } catch (error) {
    throw new RekeyError(
      'workflow_template_invalid',
      { workflowId: workflow.workflowId, stepId },
      `Workflow "${workflow.workflowId}", step "${stepId}": cannot render: ${(error as Error).message.split('\n')[0]}`,
    );
  }
  const preview =
    step.type === 'email'
      ? { subject: rendered.subject, body: rendered.html, text: rendered.text }
      : step.type === 'in_app'
        ? { subject: rendered.subject, body: rendered.text }
        : { body: rendered.text };
  return { result: { type: step.type, preview }, previewPayloadExample: { payload, subscriber }, schema: null };
}
