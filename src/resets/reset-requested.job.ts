import type { ApplicationService } from '../apps/app.service.ts';
import type { PlatformDeps } from '../deps.ts';
import { PermanentDeliveryError, type OutboxHandler } from '../delivery/dispatcher.ts';
import { enqueue, outboxWrite, type EmailJob } from '../delivery/outbox.ts';
import { writeTogether } from '../store/compiled.ts';
import type { UserService } from '../users/user.service.ts';
import type { FlowStrategy } from './flow.ts';
import type { FlowStore } from './flow.store.ts';
import type { ResetLimits } from './limits.ts';
import type { ResetService } from './reset.service.ts';

export const RESET_REQUESTED = 'reset.requested';

/** Written by the browser request path. The identifier is sealed and wiped once the job has run. */
export interface ResetRequestedJob {
  flowId: string | null;
  strategy: FlowStrategy;
  applicationId: string;
  ipAddress: string;
  userAgent: string | null;
  locale: string | null;
  sealed: { identifier: string };
}

export interface ResetRequestedDeps extends PlatformDeps {
  apps: ApplicationService;
  users: UserService;
  flows: FlowStore;
  resetService: ResetService;
  limits: ResetLimits;
}

/**
 * The other half of "the miss path is the hit path": off the request path, resolve the account and,
 * only if there is one, issue the link or code and queue its mail. Unknown, disabled and rate-limited
 * requests end here without a trace in any response.
 */
export function createResetRequestedHandler(deps: ResetRequestedDeps): OutboxHandler {
  const { apps, users, flows, resetService, limits, tokens, clock, config, logger, store } = deps;

  return async (payload) => {
    const job = payload as ResetRequestedJob;
    const email = tokens.unseal(job.sealed?.identifier ?? '');
    if (!email) throw new PermanentDeliveryError('the identifier cannot be unsealed');
    const application = (await apps.get(job.applicationId)) ?? (await apps.getDefault());
    const user = await users.findByEmail(email);

    if (!user || user.disabled_at !== null) {
      if (!user && config.notifyUnknownRecipients) {
        const mail: EmailJob = { template: 'reset-unknown-account', to: email, applicationId: application.id, data: { help_url: `${config.baseUrl}/reset` } };
        await enqueue(store.db, deps, { kind: 'email', payload: mail });
      }
      logger.info({ event: 'reset.requested', flow_id: job.flowId, matched: false }, 'reset requested');
      return;
    }
    // SEC-18: past the per-account mail limit the request is dropped; the response was the same anyway.
    const allowance = await limits.resetMails.consume(user.id);
    if (!allowance.allowed) {
      logger.info({ event: 'reset.mail_suppressed', user_id: user.id, flow_id: job.flowId }, 'reset mail limit reached');
      return;
    }
    logger.info({ event: 'reset.requested', flow_id: job.flowId, user_id: user.id, matched: true }, 'reset requested');

    if (job.flowId && job.strategy === 'email_code') {
      const flowId = job.flowId;
      const code = tokens.newCode(6);
      const now = clock.now();
      const mail: EmailJob = {
        template: 'password-reset',
        to: user.email,
        applicationId: application.id,
        locale: job.locale ?? user.locale,
        data: { user: { email: user.email, first_name: user.first_name }, expires_in_minutes: config.resetCodeTtlMinutes },
        sealed: { code: tokens.seal(code) },
      };
      await writeTogether(store.db, [
        ...resetService.voidOutstanding(user.id, now, flowId),
        flows.bindAccount(
          flowId,
          { user_id: user.id, code_hash: tokens.hash(`${flowId}:${code}`, 'reset_code'), code_expires_at: now + config.resetCodeTtlMinutes * 60_000 },
          now,
        ),
        outboxWrite(deps, { kind: 'email', payload: mail, idempotencyKey: `${flowId}:code` }),
      ]);
      return;
    }
    await resetService.issue(user, application, { flowId: job.flowId });
  };
}
