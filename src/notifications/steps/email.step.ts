import { PermanentDeliveryError, type Channel } from '../../delivery/index.ts';
import type { Renderer } from '../content.ts';
import type { StepContext, StepResult, StepRunner } from '../step.job.ts';
import { renderScope, type Branding } from './scope.ts';

export interface EmailStepDeps {
  channel: Channel;
  renderer: Renderer;
  /** The application's branding and From address. */
  branding(applicationId: string): Promise<Branding>;
}

/** Renders the step in the subscriber's language, inside the application's layout, and hands it to the mail channel. */
export function createEmailStep(deps: EmailStepDeps): StepRunner {
  return async (ctx: StepContext): Promise<StepResult> => {
    const attempts = ctx.row.attempts + 1;
    const { run } = ctx;
    const to = run.subscriber.email;
    if (!to) return { outcome: { status: 'failed', error: 'the subscriber has no email address', attempts } };
    const app = await deps.branding(ctx.execution.application_id);
    const rendered = await render(deps.renderer, ctx, app);
    const override = run.overrides?.email;
    const mail = {
      to,
      from: withSenderName(app.mailFrom, override?.senderName),
      subject: override?.subject ?? rendered.subject,
      text: rendered.text,
      html: rendered.html,
      outboxId: ctx.row.id,
    };
    // The development mailbox delivers into Rekey's own store: its write commits with the step's done mark.
    if (deps.channel.write) return { outcome: { status: 'sent', attempts }, writes: [deps.channel.write(mail)] };
    const sent = await deps.channel.send(mail);
    return { outcome: { status: 'sent', providerMessageId: sent?.providerMessageId ?? null, attempts } };
  };
}

export async function render(renderer: Renderer, ctx: StepContext, app: Branding) {
  const variants = ctx.workflow.variants.get(ctx.step.stepId);
  if (!variants) throw new PermanentDeliveryError(`step "${ctx.step.stepId}" has no content`);
  try {
    return await renderer.render(ctx.step.type, variants, renderScope(ctx, app), ctx.run.subscriber.locale);
  } catch (error) {
    // Rendering is deterministic: a variable that cannot be used fails the same way every time.
    throw new PermanentDeliveryError(`cannot render step "${ctx.step.stepId}": ${(error as Error).message}`);
  }
}

/** `Acme <no-reply@acme.test>` with a caller's sender name instead of Acme; quotes and brackets cannot break out. */
function withSenderName(from: string, senderName: string | undefined): string {
  if (!senderName) return from;
  const address = /<([^<>]+)>\s*$/.exec(from)?.[1] ?? from.trim();
  const name = senderName.replace(/["\\<>\r\n]/g, '').trim();
  return name ? `"${name}" <${address}>` : from;
}
