import type { FlowGate } from '../actions/index.ts';
import type { Application, ApplicationService } from '../apps/index.ts';
import type { PlatformDeps } from '../deps.ts';
import { RekeyError } from '../errors/index.ts';
import type { FactorService } from '../factors/index.ts';
import { BUILTIN, userRecipient, type NotificationService } from '../notifications/index.ts';
import type { SessionService } from '../sessions/index.ts';
import type { AccountChange, ChangeCause, User, UserService } from '../users/index.ts';
import { writeTogether, writeTogetherIf, type BoundWrite } from '../store/compiled.ts';
import type { FlowStore } from './flow.store.ts';
import { isUsable, type PasswordReset, type ResetStore } from './reset.store.ts';

export interface ResetServiceDeps extends PlatformDeps {
  applications: Pick<ApplicationService, 'get'>;
  resets: ResetStore;
  flows: FlowStore;
  users: UserService;
  sessions: SessionService;
  factors: Pick<FactorService, 'hasSecondFactor' | 'noSecondFactorGuard' | 'onFactorChange'>;
  /**
   * Whether a reset of this account must go through the flow, where the post-challenge actions run, instead of ending
   * on the emailed token alone. Defaults to "has a second factor" (SEC-36).
   */
  requiresFlow?: (userId: string) => Promise<boolean>;
  /**
   * The same rule for the statement that spends a token: `'flow'` for every account, else a read that finds a row
   * while this account may do without the flow, or nothing. Defaults to "has no second factor".
   */
  flowGate?: (userId: string) => FlowGate;
  notifications: Pick<NotificationService, 'triggerWrites'>;
}

export interface IssuedReset {
  reset: PasswordReset;
  token: string;
  url: string;
}

export interface ConfirmContext {
  ipAddress?: string | null;
  userAgent?: string | null;
}

export interface PasswordChange {
  applicationId: string | null;
  context: ConfirmContext;
  now: number;
  keepSessionId?: string | null;
  /** The token or flow being spent in the same statement: its own write settles it. */
  cause: ChangeCause;
}

/** How a token-only confirm treats an account with a second factor (SEC-36). */
export type SecondFactorPolicy = 'required' | 'skip';

export interface ResetService {
  /** Management API: the caller is trusted, so an unknown email is an error here (unlike the browser path). */
  createForEmail(email: string, application: Application): Promise<IssuedReset>;
  /** Issues a token for a known user, voiding older tokens and codes, and queues the mail, in one transaction. */
  issue(user: User, application: Application, options?: { flowId?: string | null }): Promise<IssuedReset>;
  /** `issue`'s writes, for a caller that commits them with its own (a job's done mark). `locale` is the page's, if the user asked on one. */
  issueWrites(
    user: User,
    application: Application,
    options: { flowId?: string | null; now: number; locale?: string | null },
  ): IssuedReset & { writes: BoundWrite[] };
  /** The reset and, while it is still usable, its token (WorkOS's GET returns it). */
  get(id: string): Promise<{ reset: PasswordReset; token: string | null; url: string | null } | undefined>;
  /**
   * Sets the password with the emailed token alone. `expectedEmail` binds the token to an account the caller
   * names (Novel's `/auth/reset`, SEC-09). An account with a second factor gets `mfa_required` and the token
   * stays unspent (SEC-36), unless a trusted caller says `secondFactor: 'skip'` for this call.
   */
  confirm(token: string, newPassword: string, context?: ConfirmContext, options?: { expectedEmail?: string; secondFactor?: SecondFactorPolicy }): Promise<User>;
  /** SEC-12: the write that voids every unused link token of an account (a new one is being issued). */
  voidTokens(userId: string, now: number): BoundWrite;
  /**
   * Every write of a completed reset, for the statement that spends its token or grant: the new hash and
   * what every password change brings (see the account-change hook below).
   */
  /**
   * After a change's statement committed, on PostgreSQL: that statement revoked the sessions it could see when
   * it began, and a sign-in that committed while it ran is revoked by this second pass; one that commits later
   * sees the new hash and ends its own session (the sessions module re-reads the account after inserting).
   * SQLite has one writer, so nothing commits meanwhile there (SEC-47).
   */
  revokeLateSignIns(userId: string, now: number, keepSessionId?: string | null): Promise<void>;
  passwordChanged(user: User, passwordHash: string, change: PasswordChange): BoundWrite[];
}

export function createResetService(deps: ResetServiceDeps): ResetService {
  const { store, clock, ids, tokens, config, resets, flows, users, sessions } = deps;

  const resetUrl = (application: Application | undefined, token: string): string => {
    // SEC-21: the origin comes from configuration (or the operator's own reset page), never from a request.
    const url = new URL(application?.reset_url ?? `${config.baseUrl}/reset/verify`);
    // The hosted pages brand themselves by client id; the default application needs none.
    if (!application?.reset_url && application && !application.is_default) url.searchParams.set('client_id', application.client_id);
    url.searchParams.set('token', token);
    return url.toString();
  };

  /** SEC-13: one place voids every outstanding link, code and grant of an account. */
  const voidOutstanding = (userId: string, now: number, cause?: ChangeCause) => [
    resets.invalidateOpenForUser(userId, now, cause?.resetId),
    flows.expireOpenForUser(userId, now, cause?.flowId),
  ];

  /** SEC-39: the notice names when, from where and on what device, and how to take the account back. */
  const passwordChangedNotice = ({ user, now, context }: AccountChange): BoundWrite[] =>
    deps.notifications.triggerWrites({
      workflowId: BUILTIN.passwordChanged,
      to: [userRecipient(user)],
      applicationId: context?.applicationId ?? null,
      payload: {
        changedAt: new Date(now).toISOString(),
        ipAddress: context?.ipAddress ?? null,
        userAgent: context?.userAgent ?? null,
        helpUrl: `${config.baseUrl}/reset`,
      },
    }).writes;

  // What goes with every password change, whichever path made it (SEC-45): outstanding tokens, codes and
  // grants void (SEC-13), every session ends but the one the user may keep (SEC-34), and the user is told
  // (SEC-39). An email change voids the tokens too. All commit with the change itself.
  users.onAccountChange((change) => [
    ...voidOutstanding(change.user.id, change.now, change.cause),
    ...(change.kind === 'password' ? [sessions.revokeAllForUser(change.user.id, change.now, change.keepSessionId), ...passwordChangedNotice(change)] : []),
  ]);
  // A grant or link earned before a factor was enrolled (or removed) must not set a password past it (SEC-13).
  deps.factors.onFactorChange((userId, now) => voidOutstanding(userId, now));

  const requiresFlow = deps.requiresFlow ?? deps.factors.hasSecondFactor;
  const flowGate = deps.flowGate ?? deps.factors.noSecondFactorGuard;

  const service: ResetService = {
    voidTokens: (userId, now) => resets.invalidateOpenForUser(userId, now),

    async createForEmail(email, application) {
      const user = await users.findByEmail(email);
      if (!user) throw new RekeyError('user_not_found', {}, 'No user with this email address.');
      if (user.disabled_at !== null) throw new RekeyError('user_disabled');
      return service.issue(user, application);
    },

    issueWrites(user, application, { flowId = null, now, locale }) {
      const token = tokens.newLinkToken();
      const url = resetUrl(application, token);
      const reset: PasswordReset = {
        id: ids.opaque('password_reset'),
        user_id: user.id,
        email: user.email,
        application_id: application.id,
        flow_id: flowId,
        token_hash: tokens.hash(token, 'password_reset'),
        token_sealed: tokens.seal(token),
        created_at: now,
        expires_at: now + config.resetTokenTtlMinutes * 60_000,
        consumed_at: null,
        invalidated_at: null,
      };
      // The link rests sealed in the workflow's outbox row, and only until the mail is settled.
      const mail = deps.notifications.triggerWrites({
        workflowId: BUILTIN.passwordReset,
        to: [userRecipient(user)],
        // The language of the page the reset was asked on, else the account's.
        locale,
        applicationId: application.id,
        transactionId: reset.id,
        payload: { resetUrl: url, expiresInMinutes: config.resetTokenTtlMinutes },
      });
      // The older tokens void (SEC-12), the new one and its mail exist together.
      const writes = [
        resets.invalidateOpenForUser(user.id, now),
        ...(flowId ? [flows.bindAccount(flowId, { user_id: user.id, code_hash: null, code_expires_at: null }, now)] : []),
        resets.insert(reset),
        ...mail.writes,
      ];
      return { reset, token, url, writes };
    },

    async issue(user, application, { flowId = null } = {}) {
      const issued = service.issueWrites(user, application, { flowId, now: clock.now() });
      await writeTogether(store.db, issued.writes);
      return issued;
    },

    async get(id) {
      const reset = await resets.findById(id);
      if (!reset) return undefined;
      const usable = isUsable(reset, clock.now()) && reset.token_sealed !== null;
      const token = usable ? (tokens.unseal(reset.token_sealed!) ?? null) : null;
      const application = reset.application_id ? await deps.applications.get(reset.application_id) : undefined;
      return { reset, token, url: token ? resetUrl(application, token) : null };
    },

    async confirm(token, newPassword, context = {}, { expectedEmail, secondFactor = 'required' } = {}) {
      const tokenHash = tokens.hash(token, 'password_reset');
      const candidate = await resets.findByHash(tokenHash);
      // SEC-04: unknown, expired, voided, used and other accounts' tokens all get the same answer.
      if (!candidate || !isUsable(candidate, clock.now())) throw new RekeyError('password_reset_token_invalid');
      const user = await users.getOrThrow(candidate.user_id);
      if (expectedEmail !== undefined && expectedEmail !== user.email) throw new RekeyError('password_reset_token_invalid');
      // SEC-14: the password is checked before the token is spent.
      const normalized = users.acceptablePassword(newPassword, user);
      // SEC-36: the emailed token proves the mailbox, not the second factor.
      const gate = secondFactor === 'required' ? flowGate(user.id) : undefined;
      if (gate === 'flow') throw new RekeyError('mfa_required');
      const passwordHash = await users.hashPassword(normalized);

      // The token is spent in the statement that makes the change, and only if it still can be (SEC-10): of any
      // number of racing requests, one spends it and the others write nothing. The same statement checks that the
      // account has no second factor (a read less per confirm than asking first); enrolling one voids the token.
      const now = clock.now();
      const changes = service.passwordChanged(user, passwordHash, { applicationId: candidate.application_id, context, now, cause: { resetId: candidate.id } });
      if (!(await writeTogetherIf(store.db, resets.consumeToken(tokenHash, now), changes, gate ? [gate] : []))) {
        // Nothing written: a spent token, or a second factor to go through first.
        if (gate && (await requiresFlow(user.id))) throw new RekeyError('mfa_required');
        throw new RekeyError('password_reset_token_invalid');
      }
      await service.revokeLateSignIns(user.id, now);
      return { ...user, password_hash: passwordHash, password_changed_at: now, email_verified: 1, updated_at: now };
    },

    async revokeLateSignIns(userId, now, keepSessionId) {
      if (store.dialect === 'postgres') await writeTogether(store.db, [sessions.revokeAllForUser(userId, now, keepSessionId)]);
    },

    passwordChanged: (user, passwordHash, { applicationId, context, now, keepSessionId, cause }) =>
      users.passwordChange(user, passwordHash, { now, cause, keepSessionId, markEmailVerified: true, context: { ...context, applicationId } }),
  };
  return service;
}
