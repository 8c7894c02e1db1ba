import { createVerifier } from 'fast-jwt';
import { SignJWT } from 'jose';
import { PostgresAdapter, sql, type Kysely } from 'kysely';
import { RekeyError } from '../errors/index.ts';
import { paginate, type ListQuery, type Page } from '../http/pagination.ts';
import type { RecipientUser } from '../notifications/index.ts';
import { compiled, writeTogetherIf, type BoundWrite } from '../store/compiled.ts';
import type { Database } from '../store/database.ts';
import { createNewSignInWrites, type NewSignInDeps } from './new-sign-in.ts';
import type { SessionsTable } from './session.table.ts';

export type Session = SessionsTable;
export type SessionStatus = 'active' | 'expired' | 'revoked';

export interface IssuedSession {
  session: Session;
  accessToken: string;
  refreshToken: string;
}

export interface IssueInput {
  /** The account signing in: its id, and what a `new-sign-in` notice to it needs. */
  user: RecipientUser;
  applicationId: string;
  /** The password hash the sign-in was checked against (`users.password_hash` as read before verifying). */
  checkedPasswordHash: string;
  ipAddress?: string | null;
  userAgent?: string | null;
  authMethod?: string;
}

export interface SessionService {
  /**
   * A new session, only while the account still has the password that was checked and is not disabled
   * (SEC-47): `undefined` when a reset (or any password change) committed since, whose revocation the
   * session would otherwise have escaped. Every session starts here, so every sign-in from a device new to
   * the account triggers `new-sign-in`, in the statement that inserts the session (`notifyNewSignIn`).
   */
  issue(input: IssueInput): Promise<IssuedSession | undefined>;
  /**
   * Rotates the refresh token: the old one stops working the moment the new one is returned. Only for
   * the application that was issued it; any other gets `invalid_grant` and the session stays as it was.
   */
  refresh(refreshToken: string, applicationId: string): Promise<IssuedSession>;
  list(userId: string, query: ListQuery): Promise<Page<Session>>;
  revoke(sessionId: string): Promise<boolean>;
  /**
   * Ends every live session of a user, as a write of the caller's password change (SEC-34).
   * `keepSessionId` is the one exception SEC-34 allows: the session doing the change, on the user's opt-in.
   */
  revokeAllForUser(userId: string, now: number, keepSessionId?: string | null): BoundWrite;
  /** An access token's session, if that session is still active. */
  verifyAccessToken(accessToken: string): Promise<Session>;
  /** What an access token names, once its signature, issuer and expiry are checked (no read); else `session_invalid`. */
  accessTokenClaims(accessToken: string): AccessTokenClaims;
  /** The session of checked claims, if it is still active; else `session_invalid`. */
  activeSession(claims: AccessTokenClaims): Promise<Session>;
  statusOf(session: Session): SessionStatus;
}

/** The session and the user an access token names (`sid`, `sub`). */
export interface AccessTokenClaims {
  sessionId: string;
  userId: string;
}

const revokeAll = compiled<{ userId: string; now: number; keep: string }>((db, p) =>
  db
    .updateTable('sessions')
    .set({ ended_at: p.now, refresh_token_hash: null, updated_at: p.now })
    .where('user_id', '=', p.userId)
    .where('ended_at', 'is', null)
    .where('id', '!=', p.keep),
);

/**
 * The session row, inserted only if the account still has the checked hash and is enabled, in one statement:
 * a change committed before it is seen, so no session is created for a password that is gone (SEC-47). The
 * sessions module reads `users` here because no service call can be part of this statement.
 */
const insertRow = (db: Kysely<Database>, p: Session & { checked_password_hash: string }) => {
  const checked = db
    .selectFrom('users')
    .select(sql<number>`1`.as('one'))
    .where('users.id', '=', p.user_id)
    .where('users.password_hash', '=', p.checked_password_hash)
    .where('users.disabled_at', 'is', null);
  const row = db
    .selectNoFrom((eb) => {
      // PostgreSQL types a bare parameter in a select list as text; the bigint columns need it said.
      const bigint = (value: number) => eb.cast<number>(eb.val(value), 'bigint');
      return [
        eb.val(p.id).as('id'),
        eb.val(p.user_id).as('user_id'),
        eb.val(p.application_id).as('application_id'),
        eb.val(p.ip_address).as('ip_address'),
        eb.val(p.user_agent).as('user_agent'),
        eb.val(p.auth_method).as('auth_method'),
        eb.val(p.refresh_token_hash).as('refresh_token_hash'),
        bigint(p.expires_at).as('expires_at'),
        bigint(p.created_at).as('created_at'),
        bigint(p.updated_at).as('updated_at'),
      ];
    })
    .where((eb) => eb.exists(checked));
  return db
    .insertInto('sessions')
    .columns(['id', 'user_id', 'application_id', 'ip_address', 'user_agent', 'auth_method', 'refresh_token_hash', 'expires_at', 'created_at', 'updated_at'])
    .expression(row);
};
const insertIfPasswordUnchanged = compiled(insertRow);

/**
 * PostgreSQL only, once the insert has committed: whether the account still has the checked hash. A password
 * change is one statement whose snapshot is taken when it starts; if the insert commits between that moment
 * and the change's lock on the user row, the change cannot see the new session and does not revoke it. Such
 * a change, already running when the insert committed, holds the row or waits for it by the time this read
 * arrives: the read queues behind it and, once it commits, sees the new hash. The insert takes no lock on
 * purpose: a change waiting for that lock would wake at the insert's commit, and this read could take the
 * row before it did. (A change held up between its start and the row, e.g. by another sign-in's read, can
 * still let one through; only the change taking the row before its changing statement closes that.)
 * SQLite has one writer: a change and an insert never overlap.
 */
const passwordStillChecked = compiled<{ userId: string; checkedPasswordHash: string }>((db, p) =>
  db
    .selectFrom('users')
    .select('users.id')
    .where('users.id', '=', p.userId)
    .where('users.password_hash', '=', p.checkedPasswordHash)
    .where('users.disabled_at', 'is', null)
    // FOR UPDATE, not the change's own NO KEY UPDATE: it also waits for the key-share locks of other sign-ins'
    // foreign key checks, so it joins the queue on the row (behind a waiting change) more often than it finds
    // the row free and slips ahead (measured over races of 20 sign-ins and a reset: 3 live sessions in 133
    // with NO KEY UPDATE, none in 250 with this).
    .forUpdate(),
);
const deleteSession = compiled<{ id: string }>((db, p) => db.deleteFrom('sessions').where('id', '=', p.id));

/** The same insert as a guard (`writeTogetherIf`): the writes that go with it commit only if it inserted the row. */
const insertIfPasswordUnchangedGuard = compiled((db: Kysely<Database>, p: Session & { checked_password_hash: string }) => insertRow(db, p).returning('id'));

export function createSessionService(deps: NewSignInDeps): SessionService {
  const { store, clock, ids, tokens, config } = deps;
  const db = store.db;
  const newSignInWrites = createNewSignInWrites(deps);
  const jwtKey = tokens.deriveKey('access-token-hs256');
  // Checked with a synchronous HMAC on the event loop: WebCrypto (jose's verify) queues the HMAC on libuv's
  // thread pool, where it would wait behind password hashes during a reset storm (SEC-48). Expiry is checked
  // below against the injected clock.
  const verifyJwt = createVerifier({ key: jwtKey, algorithms: ['HS256'], allowedIss: config.baseUrl, ignoreExpiration: true, cache: false });
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;

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
    async issue({ user, applicationId, checkedPasswordHash, ipAddress = null, userAgent = null, authMethod = 'password' }) {
      const userId = user.id;
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
      const row = { ...session, checked_password_hash: checkedPasswordHash };
      const writes = await newSignInWrites(user, session);
      if (writes.length === 0) {
        const inserted = await insertIfPasswordUnchanged.execute(db, row);
        if (Number(inserted.numAffectedRows ?? 0) === 0) return undefined;
      } else if (!(await writeTogetherIf(db, insertIfPasswordUnchangedGuard.bind(row), writes))) {
        return undefined;
      }
      if (postgres && !(await passwordStillChecked.first(db, { userId, checkedPasswordHash }))) {
        // Never handed out, so it goes rather than stays as a revoked session nobody signed in with. A notice of
        // it stays: whoever it was knew the password a moment before it changed, which the user should hear of.
        await deleteSession.execute(db, { id: session.id });
        return undefined;
      }
      return { session, refreshToken, accessToken: await signAccessToken(session) };
    },
    async refresh(refreshToken, applicationId) {
      const now = clock.now();
      const next = tokens.newLinkToken();
      // One conditional update: a refresh token can be exchanged once, even under concurrency.
      const session = await db
        .updateTable('sessions')
        .set({ refresh_token_hash: tokens.hash(next, 'refresh_token'), updated_at: now })
        .where('refresh_token_hash', '=', tokens.hash(refreshToken, 'refresh_token'))
        .where('application_id', '=', applicationId)
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
    verifyAccessToken: async (accessToken) => service.activeSession(service.accessTokenClaims(accessToken)),
    accessTokenClaims(accessToken) {
      try {
        const payload = verifyJwt(accessToken) as { sid?: unknown; sub?: unknown; exp?: unknown };
        if (typeof payload.exp !== 'number' || payload.exp * 1000 <= clock.now()) throw new Error('expired');
        if (typeof payload.sid !== 'string' || typeof payload.sub !== 'string') throw new Error('malformed');
        return { sessionId: payload.sid, userId: payload.sub };
      } catch {
        throw new RekeyError('session_invalid');
      }
    },
    async activeSession({ sessionId, userId }) {
      const session = await db.selectFrom('sessions').selectAll().where('id', '=', sessionId).executeTakeFirst();
      if (!session || session.user_id !== userId || service.statusOf(session) !== 'active') throw new RekeyError('session_invalid');
      return session;
    },
    statusOf: (session) => (session.ended_at !== null ? 'revoked' : session.expires_at <= clock.now() ? 'expired' : 'active'),
  };
  return service;
}
