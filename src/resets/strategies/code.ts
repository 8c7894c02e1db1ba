import { PermanentDeliveryError } from '../../delivery/index.ts';
import { RekeyError } from '../../errors/index.ts';
import { BUILTIN, userRecipient } from '../../notifications/index.ts';
import { MAX_CODE_ATTEMPTS } from '../flow.ts';
import type { ResetStrategy, StrategyDeps } from './strategy.ts';

const CODE_SHAPE = /^\d{6,8}$/;

/** `email_code`: a six-digit code mailed for one flow and typed into it. */
export function createCodeStrategy(deps: StrategyDeps): ResetStrategy<'email_code'> {
  const { clock, tokens, config, flows, limits, resetService, logger, notifications } = deps;
  // SEC-09: the hash binds the code to its flow, so a code works only where it was issued.
  const codeHash = (flowId: string, code: string) => tokens.hash(`${flowId}:${code}`, 'reset_code');
  // Stands in for a flow that has no code (unknown address, not yet delivered), so a guess costs the same (SEC-02).
  const NO_CODE = tokens.hash('no code', 'reset_code');
  const ttlMs = config.resetCodeTtlMinutes * 60_000;

  return {
    id: 'email_code',
    ttlMs,

    issue({ user, application, flowId, now, locale }) {
      // The job answers a request without a flow with a link; a code here would have nowhere to be typed.
      if (flowId === null) throw new PermanentDeliveryError('a reset code needs the flow it is bound to');
      const code = tokens.newCode(6);
      const mail = notifications.triggerWrites({
        workflowId: BUILTIN.passwordResetCode,
        to: [userRecipient(user)],
        // The language of the page the reset was asked on, else the account's.
        locale,
        applicationId: application.id,
        // One code mail per flow, however often the job reruns.
        transactionId: `${flowId}:code`,
        payload: { code, expiresInMinutes: config.resetCodeTtlMinutes },
      });
      return [
        // A code replaces the account's open links (SEC-12); its earlier flows ended when this one started.
        resetService.voidTokens(user.id, now),
        flows.bindAccount(flowId, { user_id: user.id, code_hash: codeHash(flowId, code), code_expires_at: now + ttlMs }, now),
        ...mail.writes,
      ];
    },

    async attempt(flow, code, context) {
      // The day's budget of wrong codes is the identifier's, so an unknown address spends it the same way
      // (SEC-03, SEC-46), and every guess does the same work whether or not a code was ever issued (SEC-02).
      if ((await limits.codeFailures.peek(flow.identifier_hash)) >= config.codeFailuresPerDay) throw new RekeyError('code_attempts_exceeded');
      const now = clock.now();
      // SEC-17: counted in one statement before comparing, so concurrent guesses cannot share an attempt.
      const counted = await flows.countCodeAttempt(flow.id, MAX_CODE_ATTEMPTS, now);
      if (!counted) throw new RekeyError('code_attempts_exceeded');
      const matches = tokens.equal(counted.code_hash ?? NO_CODE, codeHash(flow.id, code));
      const valid = matches && counted.code_hash !== null && (counted.code_expires_at ?? 0) > now && CODE_SHAPE.test(code);
      if (!valid) {
        await limits.codeFailures.consume(flow.identifier_hash);
        logger.info({ event: 'reset.code_failed', flow_id: flow.id, ip: context.ipAddress }, 'reset code rejected');
        throw new RekeyError('code_incorrect', { attempts_remaining: MAX_CODE_ATTEMPTS - counted.code_attempts });
      }
      return counted;
    },
  };
}
