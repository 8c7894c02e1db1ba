import { z } from 'zod';
import type { ApplicationService } from '../apps/index.ts';
import type { PlatformDeps } from '../deps.ts';
import { PermanentDeliveryError } from '../delivery/index.ts';
import { BUILTIN, type NotificationService } from '../notifications/index.ts';
import { defineJob, type Job } from '../platform/module.ts';
import type { UserService } from '../users/index.ts';
import { effectiveStatus, FLOW_STRATEGIES } from './flow.ts';
import type { FlowStore } from './flow.store.ts';
import type { ResetLimits } from './limits.ts';
import type { ResetStrategies } from './strategies/strategy.ts';

export const RESET_REQUESTED = 'reset.requested';

/** Written by the browser request path. The identifier is sealed and wiped once the job has run. */
export const resetRequestedSchema = z.object({
  flowId: z.string().nullable(),
  strategy: z.enum(FLOW_STRATEGIES),
  applicationId: z.string(),
  ipAddress: z.string(),
  userAgent: z.string().nullable(),
  locale: z.string().nullable(),
  sealed: z.object({ identifier: z.string() }),
});
export type ResetRequestedJob = z.infer<typeof resetRequestedSchema>;

export interface ResetRequestedDeps extends PlatformDeps {
  apps: ApplicationService;
  users: UserService;
  flows: FlowStore;
  limits: ResetLimits;
  /** The first factors by id: what each issues once the account is known. */
  strategies: ResetStrategies;
  notifications: Pick<NotificationService, 'triggerWrites'>;
}

/**
 * The other half of "the miss path is the hit path": off the request path, resolve the account and,
 * only if there is one, let the flow's strategy issue its link or code and queue its mail. Unknown, disabled and rate-limited
 * requests end here without a trace in any response.
 *
 * Delivery is at-least-once, so the handler returns its writes instead of committing them: they commit
 * with the job's done mark, and a rerun (a lost lease, a crash before that commit) starts from nothing.
 */
export function createResetRequestedJob(deps: ResetRequestedDeps): Job<ResetRequestedJob> {
  const { apps, users, flows, limits, strategies, tokens, clock, config, logger } = deps;

  return defineJob(resetRequestedSchema, async (job, row) => {
    const email = tokens.unseal(job.sealed.identifier);
    if (!email) throw new PermanentDeliveryError('the identifier cannot be unsealed');
    const now = clock.now();
    // A newer request for the same identifier ended this one's flow (SEC-46): it sends nothing, whatever the account.
    if (job.flowId) {
      const flow = await flows.findById(job.flowId);
      if (!flow || effectiveStatus(flow, now) !== 'needs_first_factor') return [];
    }
    const application = (await apps.get(job.applicationId)) ?? (await apps.getDefault());
    const user = await users.findByEmail(email);

    if (!user || user.disabled_at !== null) {
      logger.info({ event: 'reset.requested', flow_id: job.flowId, matched: false }, 'reset requested');
      if (user || !config.notifyUnknownRecipients) return [];
      // A stranger is no subscriber: the id only names this one message in the activity.
      const stranger = { subscriberId: `unknown_${tokens.hash(email, 'identifier').slice(0, 22)}`, email };
      return deps.notifications.triggerWrites({
        workflowId: BUILTIN.resetUnknownAccount,
        to: [stranger],
        upsert: false,
        locale: job.locale,
        applicationId: application.id,
        transactionId: `${row.id}:unknown`,
        payload: { helpUrl: `${config.baseUrl}/reset` },
      }).writes;
    }
    // SEC-18: past the per-account mail limit the request is dropped; the response was the same anyway.
    // A rerun of this job does not spend the budget again.
    if ((await limits.requestJobRuns.consume(row.id)).allowed && !(await limits.resetMails.consume(user.id)).allowed) {
      logger.info({ event: 'reset.mail_suppressed', user_id: user.id, flow_id: job.flowId }, 'reset mail limit reached');
      return [];
    }
    logger.info({ event: 'reset.requested', flow_id: job.flowId, user_id: user.id, matched: true }, 'reset requested');

    // A request without a flow (the forgot endpoint) gets a link: only a link finds its way back without one.
    const strategy = job.flowId === null ? strategies.email_link : strategies[job.strategy];
    return strategy.issue({ user, application, flowId: job.flowId, now, locale: job.locale });
  });
}
