import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertUser } from '../factors/testing.ts';
import { createTokens } from '../platform/tokens.ts';
import { STORES, type TestStore } from '../store/testing.ts';
import { sessionTestDeps } from './testing.ts';
import { createSessionService, type SessionService } from './session.service.ts';

const SECRET = 'access-token-test-secret-that-is-long-0123';

/** Access tokens are checked synchronously on the event loop; they must still refuse everything jose did. */
describe('access tokens', () => {
  const factory = STORES[0]!;
  let store: TestStore;
  let deps: ReturnType<typeof sessionTestDeps>;
  let sessions: SessionService;

  beforeAll(async () => {
    store = await factory.open();
    deps = sessionTestDeps(store, SECRET, { accessTokenTtlSeconds: 300 });
    sessions = createSessionService(deps);
  });
  afterAll(() => store.close());

  const issue = async () => {
    const user = await insertUser(deps, `${deps.ids.next('user')}@example.com`);
    await store.db.updateTable('users').set({ password_hash: '$argon2id$stand-in' }).where('id', '=', user.id).execute();
    const issued = await sessions.issue({
      user: { ...user, first_name: null, last_name: null, locale: null },
      applicationId: 'app_1',
      checkedPasswordHash: '$argon2id$stand-in',
    });
    if (!issued) throw new Error('no session issued');
    return issued;
  };
  const refused = (token: string) => expect(sessions.verifyAccessToken(token)).rejects.toMatchObject({ code: 'session_invalid' });
  const forge = (payload: Record<string, unknown>, key: Uint8Array, alg = 'HS256') =>
    new SignJWT(payload)
      .setProtectedHeader({ alg, typ: 'JWT' })
      .setIssuer(deps.config.baseUrl)
      .setIssuedAt()
      .setExpirationTime(Math.floor(deps.clock.now() / 1000) + 60)
      .sign(key);

  it('accepts its own token until it expires, by the injected clock', async () => {
    const { accessToken, session } = await issue();
    expect((await sessions.verifyAccessToken(accessToken)).id).toBe(session.id);
    deps.clock.advance(299_000);
    expect((await sessions.verifyAccessToken(accessToken)).id).toBe(session.id);
    deps.clock.advance(1_000);
    await refused(accessToken);
  });

  it("refuses a token whose subject is not its session's user", async () => {
    const [mine, theirs] = [await issue(), await issue()];
    const key = createTokens(SECRET).deriveKey('access-token-hs256');
    await refused(await forge({ sid: mine.session.id, sub: theirs.session.user_id }, key));
    await refused(await forge({ sid: mine.session.id }, key));
    expect((await sessions.verifyAccessToken(await forge({ sid: mine.session.id, sub: mine.session.user_id }, key))).id).toBe(mine.session.id);
  });

  it('refuses a token signed with another key, another algorithm, another issuer, or tampered with', async () => {
    const { accessToken, session } = await issue();
    await refused(await forge({ sid: session.id }, createTokens('another-secret-that-is-long-enough-000').deriveKey('access-token-hs256')));
    await refused(await forge({ sid: session.id }, createTokens(SECRET).deriveKey('access-token-hs256'), 'HS512'));
    const [header, , signature] = accessToken.split('.');
    const payload = Buffer.from(JSON.stringify({ sid: session.id, iss: 'https://evil.test', exp: 4_000_000_000 })).toString('base64url');
    await refused(`${header}.${payload}.${signature}`);
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${payload}.`;
    await refused(unsigned);
    await refused('not a token');
  });
});
