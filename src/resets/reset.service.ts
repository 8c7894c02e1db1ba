import type { Application } from '../apps/app.service.ts';
import type { PlatformDeps } from '../deps.ts';
import { enqueue, type EmailJob } from '../delivery/outbox.ts';
import { RekeyError } from '../errors/index.ts';
import type { SessionService } from '../sessions/session.service.ts';
import type { User, UserService } from '../users/user.service.ts';
import { isUsable, type PasswordReset, type ResetStore } from './reset.store.ts';

export interface ResetServiceDeps extends PlatformDeps {
  resets: ResetStore;
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

export interface ResetService {
  /** Management API: the caller is trusted, so an unknown email is an error here (unlike the browser path). */
  createForEmail(email: string, application: Application): Promise<IssuedReset>;
  /** Issues a token for a known user, voiding older ones, and queues the mail, in one transaction. */
  issue(user: User, application: Application): Promise<IssuedReset>;
  /** The reset and, while it is still usable, its token (WorkOS's GET returns it). */
  get(id: string): Promise<{ reset: PasswordReset; token: string | null; url: string | null } | undefined>;
  confirm(token: string, newPassword: string, context?: ConfirmContext): Promise<User>;
}

export function createResetService(deps: ResetServiceDeps): ResetService {
  const { store, clock, ids, tokens, config, resets, users, sessions } = deps;

  const resetUrl = (application: Application | undefined, token: string): string => {
    // SEC-21: the origin comes from configuration (or the operator's own reset page), never from a request.
    const url = new URL(application?.reset_url ?? `${config.baseUrl}/reset/verify`);
    url.searchParams.set('token', token);
    return url.toString();
  };

  // SEC-13: any password or email change voids every outstanding reset token.
  users.onAccountChange((executor, userId) => resets.invalidateOpenForUser(executor, userId, clock.now()).then(() => undefined));

  const service: ResetService = {
    async createForEmail(email, application) {
      const user = await users.findByEmail(email);
      if (!user) throw new RekeyError('user_not_found', {}, 'No user with this email address.');
      if (user.disabled_at !== null) throw new RekeyError('user_disabled');
      return service.issue(user, application);
    },

    async issue(user, application) {
      const token = tokens.newLinkToken();
      const url = resetUrl(application, token);
      const now = clock.now();
      const reset: PasswordReset = {
        id: ids.next('password_reset'),
        user_id: user.id,
        email: user.email,
        application_id: application.id,
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
      await store.db.transaction().execute(async (trx) => {
        await resets.invalidateOpenForUser(trx, user.id, now); // SEC-12
        await resets.insert(trx, reset);
        await enqueue(trx, deps, { kind: 'email', payload: mail, idempotencyKey: `${reset.id}:mail` });
      });
      return { reset, token, url };
    },

    async get(id) {
      const reset = await resets.findById(id);
      if (!reset) return undefined;
      const usable = isUsable(reset, clock.now()) && reset.token_sealed !== null;
      const token = usable ? (tokens.unseal(reset.token_sealed!) ?? null) : null;
      const application = reset.application_id
        ? await store.db.selectFrom('applications').selectAll().where('id', '=', reset.application_id).executeTakeFirst()
        : undefined;
      return { reset, token, url: token ? resetUrl(application, token) : null };
    },

    async confirm(token, newPassword, context = {}) {
      const tokenHash = tokens.hash(token, 'password_reset');
      const candidate = await resets.findByHash(tokenHash);
      // SEC-04: unknown, expired, voided and used tokens all get the same answer.
      if (!candidate || !isUsable(candidate, clock.now())) throw new RekeyError('password_reset_token_invalid');
      const user = await users.getOrThrow(candidate.user_id);
      // SEC-14: the password is checked and hashed before the token is spent.
      const passwordHash = await users.hashPassword(users.acceptablePassword(newPassword, user));

      await store.db.transaction().execute(async (trx) => {
        const now = clock.now();
        const consumed = await resets.consumeToken(trx, tokenHash, now);
        if (!consumed) throw new RekeyError('password_reset_token_invalid');
        await users.setPasswordHash(trx, user.id, passwordHash, { markEmailVerified: true });
        await sessions.revokeAllForUser(trx, user.id); // SEC-34
        const notice: EmailJob = {
          template: 'password-changed',
          to: user.email,
          applicationId: consumed.application_id,
          locale: user.locale,
          data: {
            user: { email: user.email, first_name: user.first_name },
            changed_at: new Date(now).toISOString(),
            ip_address: context.ipAddress ?? null,
            user_agent: context.userAgent ?? null,
            help_url: `${config.baseUrl}/reset`,
          },
        };
        await enqueue(trx, deps, { kind: 'email', payload: notice, idempotencyKey: `${consumed.id}:changed` }); // SEC-39
      });
      return users.getOrThrow(user.id);
    },
  };
  return service;
}
