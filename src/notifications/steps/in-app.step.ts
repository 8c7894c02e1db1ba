import type { Renderer } from '../content.ts';
import { compiled } from '../../store/compiled.ts';
import type { StepContext, StepResult, StepRunner } from '../step.job.ts';
import type { InAppMessagesTable } from '../execution.table.ts';
import { render } from './email.step.ts';
import type { Branding } from './scope.ts';

const insertMessage = compiled<InAppMessagesTable>((db, p) =>
  db
    .insertInto('in_app_messages')
    .values(p)
    .onConflict((oc) => oc.column('id').doNothing()),
);

/** Stores the message for the subscriber's inbox; it commits with the step's done mark, so it is stored once. */
export function createInAppStep(deps: { renderer: Renderer; branding(applicationId: string): Promise<Branding> }): StepRunner {
  return async (ctx: StepContext): Promise<StepResult> => {
    const rendered = await render(deps.renderer, ctx, await deps.branding(ctx.execution.application_id));
    const id = `${ctx.execution.id}:${ctx.step.stepId}`;
    return {
      outcome: { status: 'sent', providerMessageId: id, attempts: ctx.row.attempts + 1 },
      writes: [
        insertMessage.bind({
          id,
          application_id: ctx.execution.application_id,
          subscriber_id: ctx.execution.subscriber_id,
          execution_id: ctx.execution.id,
          transaction_id: ctx.execution.transaction_id,
          workflow_id: ctx.workflow.workflowId,
          subject: rendered.subject || null,
          body: rendered.text,
          created_at: ctx.now,
          seen_at: null,
          read_at: null,
          archived_at: null,
        }),
      ],
    };
  };
}
