import { PermanentDeliveryError } from '../../delivery/index.ts';
import type { Renderer } from '../content.ts';
import type { StepContext, StepResult, StepRunner } from '../step.job.ts';
import { render } from './email.step.ts';
import type { Branding } from './scope.ts';

/** The SMS channel's port (see `src/delivery/channels/`): sends one text and says the provider's message id. */
export interface SmsPort {
  send(message: { to: string; text: string; from?: string; outboxId: string }): Promise<{ providerMessageId?: string } | void>;
}

export interface SmsStepDeps {
  sms: SmsPort | undefined;
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
    const sent = await deps.sms.send({ to, text: rendered.text, ...(from ? { from } : {}), outboxId: ctx.row.id });
    return { outcome: { status: 'sent', providerMessageId: (sent && sent.providerMessageId) ?? null, attempts } };
  };
}
