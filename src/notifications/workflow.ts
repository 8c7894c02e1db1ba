import { z } from 'zod';

/** Channels a step can deliver on; a subscriber's preferences are kept per workflow and channel. */
export const CHANNELS = ['email', 'sms', 'in_app', 'chat'] as const;
export type ChannelType = (typeof CHANNELS)[number];

/** Steps that do not deliver: they hold the execution back (`delay`) or stop it (`throttle`). */
export const ACTION_STEPS = ['delay', 'throttle'] as const;
export const STEP_TYPES = [...CHANNELS, ...ACTION_STEPS] as const;
export type StepType = (typeof STEP_TYPES)[number];

export const isChannel = (type: StepType): type is ChannelType => (CHANNELS as readonly string[]).includes(type);

const slug = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9][a-z0-9_-]*$/i, 'must be a slug: letters, digits, - and _');

const UNITS = ['seconds', 'minutes', 'hours', 'days', 'weeks', 'months'] as const;
export type TimeUnit = (typeof UNITS)[number];
const UNIT_MS: Record<TimeUnit, number> = {
  seconds: 1_000,
  minutes: 60_000,
  hours: 3_600_000,
  days: 86_400_000,
  weeks: 604_800_000,
  months: 2_592_000_000,
};
export const durationMs = (amount: number, unit: TimeUnit): number => amount * UNIT_MS[unit];

/** Liquid sources of a channel step, per part; `html` is the body the shared layout wraps. */
export const contentSchema = z.strictObject({
  subject: z.string().max(2_000).optional(),
  /** Email: the HTML body (inside the layout). SMS, chat and in-app: the text. */
  body: z.string().max(100_000).optional(),
  /** Email: the plain-text part. Derived from nothing: a mail without one gets the body with its tags removed. */
  text: z.string().max(100_000).optional(),
});
export type StepContent = z.infer<typeof contentSchema>;

/** A JSON-logic rule over `{ payload, subscriber }`, as Novu's step conditions (`{ "==": [{ "var": "payload.plan" }, "pro"] }`). */
const condition = z.record(z.string(), z.unknown()).refine((rule) => Object.keys(rule).length === 1, 'must be one JSON-logic operation');

const common = {
  stepId: slug,
  name: z.string().min(1).max(200).optional(),
  condition: condition.optional(),
};

const channelStep = <T extends string>(type: T) =>
  z.strictObject({
    ...common,
    type: z.literal(type),
    /** Content by locale (`en`, `fr`, `fr-CA`); `default` (or the first) is the fallback. */
    content: z.record(z.string().min(1).max(35), contentSchema).optional(),
  });

export const delayControls = z.union([
  z.strictObject({ type: z.literal('regular').default('regular'), amount: z.number().int().positive(), unit: z.enum(UNITS) }),
  /** Until a date the payload holds, e.g. `payload.sendAt` (ISO 8601); a date in the past runs at once. */
  z.strictObject({ type: z.literal('timed'), until: z.string().regex(/^payload\.[\w.-]+$/, 'must name a payload field, e.g. payload.sendAt') }),
]);

/** COMPAT §2.4: Novu's throttle controls. */
export const throttleControls = z
  .strictObject({
    type: z.enum(['fixed', 'dynamic']).default('fixed'),
    amount: z.number().int().positive().optional(),
    unit: z.enum(['minutes', 'hours', 'days']).optional(),
    dynamicKey: z.string().min(1).max(200).optional(),
    threshold: z.number().int().positive().max(1_000_000).default(1),
    throttleKey: z.string().min(1).max(200).optional(),
  })
  .superRefine((value, ctx) => {
    if (value.type === 'fixed' && (value.amount === undefined || value.unit === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'a fixed throttle needs amount and unit' });
    }
    if (value.type === 'fixed' && value.amount !== undefined && value.unit === 'minutes' && value.amount < 1) {
      ctx.addIssue({ code: 'custom', message: 'the window is at least one minute' });
    }
    if (value.type === 'dynamic' && !value.dynamicKey) ctx.addIssue({ code: 'custom', message: 'a dynamic throttle needs dynamicKey' });
  });

export const stepSchema = z.discriminatedUnion('type', [
  channelStep('email'),
  channelStep('sms'),
  channelStep('in_app'),
  channelStep('chat'),
  z.strictObject({ ...common, type: z.literal('delay'), controls: delayControls }),
  z.strictObject({ ...common, type: z.literal('throttle'), controls: throttleControls }),
]);
export type StepDefinition = z.output<typeof stepSchema>;
export type StepInput = z.input<typeof stepSchema>;

export const workflowSchema = z
  .strictObject({
    workflowId: slug,
    name: z.string().min(1).max(200),
    description: z.string().max(2_000).optional(),
    /** Critical workflows ignore the subscriber's preferences (a reset link must arrive). */
    critical: z.boolean().default(false),
    active: z.boolean().default(true),
    tags: z.array(z.string().max(64)).max(16).default([]),
    steps: z.array(stepSchema).max(20),
  })
  .superRefine((workflow, ctx) => {
    const seen = new Set<string>();
    workflow.steps.forEach((step, i) => {
      if (seen.has(step.stepId)) ctx.addIssue({ code: 'custom', path: ['steps', i, 'stepId'], message: `step "${step.stepId}" is declared twice` });
      seen.add(step.stepId);
    });
  });
export type WorkflowDefinition = z.output<typeof workflowSchema>;
export type WorkflowInput = z.input<typeof workflowSchema>;

/** Where a workflow comes from: shipped with Rekey, `rekey.config.json`, or the `/v2/workflows` API. */
export type WorkflowOrigin = 'builtin' | 'config' | 'api';

/**
 * A workflow as the engine runs it. A built-in declares its payload's schema (so no caller can trigger it with a
 * missing variable) and which payload fields are secrets; operators may change its content but not its steps.
 */
export interface Workflow extends WorkflowDefinition {
  origin: WorkflowOrigin;
  /** Validates (and may normalise) the trigger payload; built-ins only. */
  payloadSchema?: z.ZodType<Record<string, unknown>>;
  /** Internal id of a stored workflow (API), for Novu's `_id`. */
  internalId?: string;
  createdAt?: number;
  updatedAt?: number;
}

/** What the subscribers' preferences list: a workflow and the channels its steps use. */
export interface WorkflowSummary {
  id: string;
  name: string;
  critical: boolean;
  channels: ChannelType[];
}

export const summarize = (workflow: Workflow): WorkflowSummary => ({
  id: workflow.workflowId,
  name: workflow.name,
  critical: workflow.critical,
  channels: [...new Set(workflow.steps.map((step) => step.type).filter(isChannel))],
});
