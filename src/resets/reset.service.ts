import type { Application, ApplicationService } from '../apps/app.service.ts';
import type { PlatformDeps } from '../deps.ts';
import { outboxWrite, type EmailJob } from '../delivery/outbox.ts';
import { RekeyError } from '../errors/index.ts';
import type { SessionService } from '../sessions/session.service.ts';
import type { ChangeCause, User, UserService } from '../users/user.service.ts';
import { writeTogether, writeTogetherIf, type BoundWrite } from '../store/compiled.ts';
import type { FlowStore } from './flow.store.ts';
import { isUsable, type PasswordReset, type ResetStore } from './reset.store.ts';

export interface ResetServiceDeps extends PlatformDeps {
  applications: Pick<ApplicationService, 'get'>;
  resets: ResetStore;
  flows: FlowStore;
  users: UserService;
  sessions: SessionService;
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

export interface ResetService {
  /** Management API: the caller is trusted, so an unknown email is an error here (unlike the browser path). */
  createForEmail(email: string, application: Application): Promise<IssuedReset>;
  /** Issues a token for a known user, voiding older tokens and codes, and queues the mail, in one transaction. */
  issue(user: User, application: Application, options?: { flowId?: string | null }): Promise<IssuedReset>;
  /** The reset and, while it is still usable, its token (WorkOS's GET returns it). */
  get(id: string): Promise<{ reset: PasswordReset; token: string | null; url: string | null } | undefined>;
  /** `expectedEmail` binds the token to an account the caller names (Novel's `/auth/reset`, SEC-09). */
  confirm(token: string, newPassword: string, context?: ConfirmContext, options?: { expectedEmail?: string }): Promise<User>;
  /** SEC-12/13: the writes that void every outstanding link, code and grant of an account (but one flow). */
  voidOutstanding(userId: string, now: number, exceptFlowId?: string): BoundWrite[];
  /**
   * Every write of a completed reset, for the statement that spends its token or grant: the new hash
   * (which voids the account's other tokens, codes and flows), every session revoked but the one the
   * user may keep (SEC-34), and the "password changed" mail (SEC-39).
   */
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

  /** SEC-12/13: one place voids every outstanding link, code and grant of an account. */
  const voidOutstanding = (userId: string, now: number, exceptFlowId?: string, exceptResetId?: string) => [
    resets.invalidateOpenForUser(userId, now, exceptResetId),
    flows.expireOpenForUser(userId, now, exceptFlowId),
  ];
  // A password change or an email change voids them too (SEC-13), but the token or flow being spent.
  users.onAccountChange((userId, now, cause) => voidOutstanding(userId, now, cause?.flowId, cause?.resetId));

  const service: ResetService = {
    voidOutstanding,

    async createForEmail(email, application) {
      const user = await users.findByEmail(email);
      if (!user) throw new RekeyError('user_not_found', {}, 'No user with this email address.');
      if (user.disabled_at !== null) throw new RekeyError('user_disabled');
      return service.issue(user, application);
    },

    async issue(user, application, { flowId = null } = {}) {
      const token = tokens.newLinkToken();
      const url = resetUrl(application, token);
      const now = clock.now();
      const reset: PasswordReset = {
        id: ids.next('password_reset'),
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
      const mail: EmailJob = {
        template: 'password-reset',
        to: user.email,
        applicationId: application.id,
        locale: user.locale,
        data: { user: { email: user.email, first_name: user.first_name }, expires_in_minutes: config.resetTokenTtlMinutes },
        sealed: { link: tokens.seal(url) },
      };
      // One atomic write: the older tokens void (SEC-12), the new one and its mail exist together.
      await writeTogether(store.db, [
        ...voidOutstanding(user.id, now, flowId ?? undefined),
        ...(flowId ? [flows.bindAccount(flowId, { user_id: user.id, code_hash: null, code_expires_at: null }, now)] : []),
        resets.insert(reset),
        outboxWrite(deps, { kind: 'email', payload: mail, idempotencyKey: `${reset.id}:mail` }),
      ]);
      return { reset, token, url };
    },

    async get(id) {
      const reset = await resets.findById(id);
      if (!reset) return undefined;
      const usable = isUsable(reset, clock.now()) && reset.token_sealed !== null;
      const token = usable ? (tokens.unseal(reset.token_sealed!) ?? null) : null;
      const application = reset.application_id ? await deps.applications.get(reset.application_id) : undefined;
      return { reset, token, url: token ? resetUrl(application, token) : null };
    },

    async confirm(token, newPassword, context = {}, { expectedEmail } = {}) {
      const tokenHash = tokens.hash(token, 'password_reset');
      const candidate = await resets.findByHash(tokenHash);
      // SEC-04: unknown, expired, voided, used and other accounts' tokens all get the same answer.
      if (!candidate || !isUsable(candidate, clock.now())) throw new RekeyError('password_reset_token_invalid');
      const user = await users.getOrThrow(candidate.user_id);
      if (expectedEmail !== undefined && expectedEmail !== user.email) throw new RekeyError('password_reset_token_invalid');
      // SEC-14: the password is checked and hashed before the token is spent.
      const passwordHash = await users.hashPassword(users.acceptablePassword(newPassword, user));

      // The token is spent in the statement that makes the change, and only if it still can be (SEC-10):
      // of any number of racing requests, one spends it and the others write nothing.
      const now = clock.now();
      const changes = service.passwordChanged(user, passwordHash, { applicationId: candidate.application_id, context, now, cause: { resetId: candidate.id } });
      if (!(await writeTogetherIf(store.db, resets.consumeToken(tokenHash, now), changes))) throw new RekeyError('password_reset_token_invalid');
      return { ...user, password_hash: passwordHash, password_changed_at: now, email_verified: 1, updated_at: now };
    },

    passwordChanged(user, passwordHash, { applicationId, context, now, keepSessionId, cause }) {
      const notice: EmailJob = {
        template: 'password-changed',
        to: user.email,
        applicationId,
        locale: user.locale,
        data: {
          user: { email: user.email, first_name: user.first_name },
          changed_at: new Date(now).toISOString(),
          ip_address: context.ipAddress ?? null,
          user_agent: context.userAgent ?? null,
          help_url: `${config.baseUrl}/reset`,
        },
      };
      return [
        ...users.passwordChange(user.id, passwordHash, now, { markEmailVerified: true, cause }),
        sessions.revokeAllForUser(user.id, now, keepSessionId),
        outboxWrite(deps, { kind: 'email', payload: notice }),
      ];
    },
  };
  return service;
}
