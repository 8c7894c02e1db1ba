import { PermanentDeliveryError, type SmsChannel } from '../../delivery/index.ts';
import type { Renderer } from '../content.ts';
import type { StepContext, StepResult, StepRunner } from '../step.job.ts';
import { render } from './email.step.ts';
import type { Branding } from './scope.ts';

export interface SmsStepDeps {
  sms: SmsChannel | undefined;
  renderer: Renderer;
  branding(applicationId: string): Promise<Branding>;
}

/** Renders the text in the subscriber's language and sends it to their phone. */
export function createSmsStep(deps: SmsStepDeps): StepRunner {
  return async (ctx: StepContext): Promise<StepResult> => {
    const attempts = ctx.row.attempts + 1;
    const to = ctx.run.subscriber.phone;
    if (!to) return { outcome: { status: 'failed', error: 'the subscriber has no phone number', attempts } };
    if (!deps.sms) throw new PermanentDeliveryError('no SMS provider is configured');
    const rendered = await render(deps.renderer, ctx, await deps.branding(ctx.execution.application_id));
    const from = ctx.run.overrides?.sms?.from;
    const message = { to, text: rendered.text, ...(from ? { from } : {}), outboxId: ctx.row.id };
    // The development mailbox keeps SMS too: its write commits with the step's done mark.
    if (deps.sms.write) return { outcome: { status: 'sent', attempts }, writes: [deps.sms.write(message)] };
    const sent = await deps.sms.send(message);
    return { outcome: { status: 'sent', providerMessageId: sent?.providerMessageId ?? null, attempts } };
  };
}
