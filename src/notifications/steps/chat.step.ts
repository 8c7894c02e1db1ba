import { PermanentDeliveryError } from '../../delivery/index.ts';
import type { Renderer } from '../content.ts';
import type { StepContext, StepResult, StepRunner } from '../step.job.ts';
import { render } from './email.step.ts';
import type { Branding } from './scope.ts';

/** The chat channel's port (see `src/delivery/channels/`): a signed JSON POST to the configured URL. */
export interface ChatPort {
  post(message: {
    text: string;
    subscriberId: string;
    workflowId: string;
    transactionId: string;
    outboxId: string;
  }): Promise<{ providerMessageId?: string } | void>;
}

export function createChatStep(deps: { chat: ChatPort | undefined; renderer: Renderer; branding(applicationId: string): Promise<Branding> }): StepRunner {
  return async (ctx: StepContext): Promise<StepResult> => {
    if (!deps.chat) throw new PermanentDeliveryError('no chat endpoint is configured');
    const rendered = await render(deps.renderer, ctx, await deps.branding(ctx.execution.application_id));
    const sent = await deps.chat.post({
      text: rendered.text,
      subscriberId: ctx.execution.subscriber_id,
      workflowId: ctx.workflow.workflowId,
      transactionId: ctx.execution.transaction_id,
      outboxId: ctx.row.id,
    });
    return { outcome: { status: 'sent', providerMessageId: (sent && sent.providerMessageId) ?? null, attempts: ctx.row.attempts + 1 } };
  };
}
