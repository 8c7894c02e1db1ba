import { SignJWT, jwtVerify } from 'jose';
import type { PlatformDeps } from '../deps.ts';
import { RekeyError } from '../errors/index.ts';
import { paginate, type ListQuery, type Page } from '../http/pagination.ts';
import { compiled, type BoundWrite } from '../store/compiled.ts';
import type { SessionsTable } from './session.table.ts';

export type Session = SessionsTable;
export type SessionStatus = 'active' | 'expired' | 'revoked';

export interface IssuedSession {
  session: Session;
  accessToken: string;
  refreshToken: string;
}

export interface SessionService {
  issue(input: { userId: string; applicationId: string | null; ipAddress?: string | null; userAgent?: string | null; authMethod?: string }): Promise<IssuedSession>;
  /** Rotates the refresh token: the old one stops working the moment the new one is returned. */
  refresh(refreshToken: string): Promise<IssuedSession>;
  list(userId: string, query: ListQuery): Promise<Page<Session>>;
  revoke(sessionId: string): Promise<boolean>;
  /**
   * Ends every live session of a user, as a write of the caller's password change (SEC-34).
   * `keepSessionId` is the one exception SEC-34 allows: the session doing the change, on the user's opt-in.
   */
  revokeAllForUser(userId: string, now: number, keepSessionId?: string | null): BoundWrite;
  /** An access token's session, if that session is still active. */
  verifyAccessToken(accessToken: string): Promise<Session>;
  statusOf(session: Session): SessionStatus;
}

const revokeAll = compiled<{ userId: string; now: number; keep: string }>((db, p) =>
  db
    .updateTable('sessions')
    .set({ ended_at: p.now, refresh_token_hash: null, updated_at: p.now })
    .where('user_id', '=', p.userId)
    .where('ended_at', 'is', null)
    .where('id', '!=', p.keep),
);

export function createSessionService(deps: PlatformDeps): SessionService {
  const { store, clock, ids, tokens, config } = deps;
  const db = store.db;
  const jwtKey = tokens.deriveKey('access-token-hs256');

  const signAccessToken = (session: Session) => {
    const now = Math.floor(clock.now() / 1000);
    return new SignJWT({ sid: session.id })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(session.user_id)
      .setIssuer(config.baseUrl)
      .setIssuedAt(now)
      .setExpirationTime(now + config.accessTokenTtlSeconds)
      .setJti(ids.next('at'))
      .sign(jwtKey);
  };

  const service: SessionService = {
    async issue({ userId, applicationId, ipAddress = null, userAgent = null, authMethod = 'password' }) {
      const now = clock.now();
      const refreshToken = tokens.newLinkToken();
      const session: Session = {
        id: ids.next('session'),
        user_id: userId,
        application_id: applicationId,
        ip_address: ipAddress,
        user_agent: userAgent,
        auth_method: authMethod,
        refresh_token_hash: tokens.hash(refreshToken, 'refresh_token'),
        expires_at: now + config.sessionTtlHours * 3_600_000,
        ended_at: null,
        created_at: now,
        updated_at: now,
      };
      await db.insertInto('sessions').values(session).execute();
      return { session, refreshToken, accessToken: await signAccessToken(session) };
    },
    async refresh(refreshToken) {
      const now = clock.now();
      const next = tokens.newLinkToken();
      // One conditional update: a refresh token can be exchanged once, even under concurrency.
      const session = await db
        .updateTable('sessions')
        .set({ refresh_token_hash: tokens.hash(next, 'refresh_token'), updated_at: now })
        .where('refresh_token_hash', '=', tokens.hash(refreshToken, 'refresh_token'))
        .where('ended_at', 'is', null)
        .where('expires_at', '>', now)
        .returningAll()
        .executeTakeFirst();
      if (!session) throw new RekeyError('invalid_grant');
      return { session, refreshToken: next, accessToken: await signAccessToken(session) };
    },
    list: (userId, query) => paginate(db.selectFrom('sessions').selectAll().where('user_id', '=', userId), 'id', query),
    async revoke(sessionId) {
      const now = clock.now();
      const result = await db
        .updateTable('sessions')
        .set({ ended_at: now, refresh_token_hash: null, updated_at: now })
        .where('id', '=', sessionId)
        .where('ended_at', 'is', null)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) > 0) return true;
      return (await db.selectFrom('sessions').select('id').where('id', '=', sessionId).executeTakeFirst()) !== undefined;
    },
    // No session id is empty, so `''` keeps none and one statement serves both cases.
    revokeAllForUser: (userId, now, keepSessionId) => revokeAll.bind({ userId, now, keep: keepSessionId ?? '' }),
    async verifyAccessToken(accessToken) {
      let sessionId: string;
      try {
        const { payload } = await jwtVerify(accessToken, jwtKey, { issuer: config.baseUrl, algorithms: ['HS256'], currentDate: new Date(clock.now()) });
        sessionId = String(payload.sid);
      } catch {
        throw new RekeyError('session_invalid');
      }
      const session = await db.selectFrom('sessions').selectAll().where('id', '=', sessionId).executeTakeFirst();
      if (!session || service.statusOf(session) !== 'active') throw new RekeyError('session_invalid');
      return session;
    },
    statusOf: (session) => (session.ended_at !== null ? 'revoked' : session.expires_at <= clock.now() ? 'expired' : 'active'),
  };
  return service;
}
