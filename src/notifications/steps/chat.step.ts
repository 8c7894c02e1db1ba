import { PermanentDeliveryError, type ChatChannel } from '../../delivery/index.ts';
import type { Renderer } from '../content.ts';
import type { StepContext, StepResult, StepRunner } from '../step.job.ts';
import { render } from './email.step.ts';
import type { Branding } from './scope.ts';

/** Posts the rendered text to the operator's chat webhook, with the execution's ids (never the payload). */
export function createChatStep(deps: { chat: ChatChannel | undefined; renderer: Renderer; branding(applicationId: string): Promise<Branding> }): StepRunner {
  return async (ctx: StepContext): Promise<StepResult> => {
    if (!deps.chat) throw new PermanentDeliveryError('no chat endpoint is configured');
    const rendered = await render(deps.renderer, ctx, await deps.branding(ctx.execution.application_id));
    const message = {
      text: rendered.text,
      data: { subscriberId: ctx.execution.subscriber_id, workflowId: ctx.workflow.workflowId, transactionId: ctx.execution.transaction_id },
      outboxId: ctx.row.id,
    };
    const attempts = ctx.row.attempts + 1;
    if (deps.chat.write) return { outcome: { status: 'sent', attempts }, writes: [deps.chat.write(message)] };
    const sent = await deps.chat.send(message);
    return { outcome: { status: 'sent', providerMessageId: sent?.providerMessageId ?? null, attempts } };
  };
}
