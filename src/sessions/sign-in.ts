import { isIP } from 'node:net';
import type { PlatformDeps } from '../deps.ts';
import { RekeyError } from '../errors/index.ts';
import type { FactorService } from '../factors/index.ts';
import { clientIp } from '../platform/client-ip.ts';
import type { RateLimits } from '../platform/ratelimit.ts';
import type { User, UserService } from '../users/index.ts';
import type { IssuedSession, SessionService } from './session.service.ts';
import { createSignInThrottle } from './sign-in-throttle.ts';

/** Who is signing in through which application, as the `authenticate` caller describes it. */
export interface SignInContext {
  applicationId: string;
  /** The end user's address as the application reports it (`ip_address`), recorded on the session. */
  ipAddress: string | null;
  userAgent: string | null;
  /** The address of the HTTP caller, behind trusted proxies. */
  callerIp: string;
}

export type SignInOutcome =
  | { kind: 'signed_in'; user: User; issued: IssuedSession }
  /** The password was right and the account has a second factor: only that factor can finish the sign-in. */
  | { kind: 'second_factor_required'; user: User; pendingAuthenticationToken: string };

/**
 * Sign-in, one first factor and then the second, apart from any HTTP shape so that recovery can share its
 * steps. Every session it creates exists only for the password it was checked against (SEC-47).
 */
export interface SignInService {
  /** Throttled per account and per address (SEC-44); `invalid_credentials` for a wrong or outdated password. */
  withPassword(email: string, password: string, context: SignInContext): Promise<SignInOutcome>;
  /** Finishes a sign-in that passed its password; `totp_incorrect` for a wrong code or a token that is not this application's. */
  withTotp(pendingAuthenticationToken: string, code: string, context: SignInContext): Promise<Extract<SignInOutcome, { kind: 'signed_in' }>>;
  /** A new access and refresh token for a refresh token this application was issued. */
  withRefreshToken(refreshToken: string, applicationId: string): Promise<Extract<SignInOutcome, { kind: 'signed_in' }>>;
}

export interface SignInDeps extends PlatformDeps {
  users: UserService;
  sessions: SessionService;
  factors: FactorService;
  rateLimits: RateLimits;
}

export function createSignInService(deps: SignInDeps): SignInService {
  const { users, sessions, factors } = deps;
  const throttle = createSignInThrottle(deps.rateLimits, deps.config, deps.tokens);

  /** The session, if the checked hash is still the account's; a lost race answers as a wrong password would. */
  async function startSession(user: User, checkedPasswordHash: string, context: SignInContext) {
    const issued = await sessions.issue({
      user,
      applicationId: context.applicationId,
      checkedPasswordHash,
      ipAddress: context.ipAddress,
      userAgent: context.userAgent,
    });
    if (!issued) throw new RekeyError('invalid_credentials');
    await users.recordSignIn(user.id);
    return { kind: 'signed_in' as const, user: { ...user, last_sign_in_at: issued.session.created_at }, issued };
  }

  return {
    async withPassword(email, password, context) {
      const attempt = await throttle.spend(email, throttleAddress(context));
      // A check that never ran (the hashing queue is full: 503) is no guess and costs nothing.
      const user = await users.verifyCredentials(email, password).catch(async (error: unknown) => {
        await attempt.refund();
        throw error;
      });
      if (!user?.password_hash) throw new RekeyError('invalid_credentials');
      // A right password is no failure, whatever happens next.
      await attempt.refund();
      // SEC-35/36: a password alone never signs in an account that has a second factor, reset or not.
      if (await factors.hasSecondFactor(user.id)) {
        const { pendingAuthenticationToken } = await factors.beginMfaLogin(user, context.applicationId, {
          ipAddress: context.ipAddress,
          userAgent: context.userAgent,
        });
        return { kind: 'second_factor_required', user, pendingAuthenticationToken };
      }
      return startSession(user, user.password_hash, context);
    },

    async withTotp(pendingAuthenticationToken, code, context) {
      let current: User | undefined;
      // The pending sign-in compares the password it began with to the account's current one (SEC-47).
      const completed = await factors.completeMfaLogin(pendingAuthenticationToken, code, async (userId) => {
        current = await users.get(userId);
        return current?.password_hash;
      });
      if (!completed || (completed.applicationId !== null && completed.applicationId !== context.applicationId)) throw new RekeyError('totp_incorrect');
      if (!current?.password_hash || current.id !== completed.userId) throw new RekeyError('invalid_credentials');
      return startSession(current, current.password_hash, context);
    },

    async withRefreshToken(refreshToken, applicationId) {
      const issued = await sessions.refresh(refreshToken, applicationId);
      return { kind: 'signed_in', user: await users.getOrThrow(issued.session.user_id), issued };
    },
  };
}

/**
 * The address the per-IP limit counts. `authenticate` is called by an application's back end, so the socket
 * peer is usually that server, shared by all its users: one attacker behind it would lock every user out. The
 * `ip_address` the application passes (it holds the secret key) names the end user; without one, the caller.
 */
function throttleAddress(context: SignInContext): string {
  const reported = context.ipAddress;
  return reported !== null && isIP(reported) !== 0 ? clientIp(reported, undefined, []) : context.callerIp;
}
