import type { RenderScope } from '../content.ts';
import type { StepContext } from '../step.job.ts';

/** An application as a message shows it: its name and branding, and the From address of its mail. */
export interface Branding {
  name: string;
  logo_url: string | null;
  brand_color: string | null;
  sign_in_url: string | null;
  support_email: string | null;
  /** The From header: the application's own `mail_from`, else the server's `mailFrom`. */
  mailFrom: string;
}

/** Novu's names: `payload`, `subscriber` and `step`; `app` is Rekey's (the application's branding). */
export function renderScope(ctx: StepContext, app: Branding): RenderScope {
  const { mailFrom: _from, ...branding } = app;
  return {
    payload: ctx.run.payload,
    subscriber: { ...ctx.run.subscriber },
    app: branding,
    step: { stepId: ctx.step.stepId, type: ctx.step.type, workflowId: ctx.workflow.workflowId, transactionId: ctx.execution.transaction_id },
  };
}
