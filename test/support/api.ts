import type { Harness } from './harness.ts';

/** Small helpers over `app.inject` for the WorkOS-shaped management API. */
export function managementApi(h: Harness) {
  const call = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown, headers: Record<string, string> = {}) =>
    h.app.inject({ method, url, payload: payload as object, headers: { ...h.auth, ...headers } });
  return {
    call,
    createUser: async (email: string, password?: string, extra: Record<string, unknown> = {}) => {
      const res = await call('POST', '/user_management/users', { email, ...(password !== undefined ? { password } : {}), ...extra });
      if (res.statusCode !== 201) throw new Error(`createUser ${res.statusCode} ${res.body}`);
      return res.json() as { id: string; email: string; email_verified: boolean };
    },
    createReset: (email: string, headers?: Record<string, string>) => call('POST', '/user_management/password_reset', { email }, headers),
    async resetToken(email: string) {
      const res = await call('POST', '/user_management/password_reset', { email });
      if (res.statusCode !== 201) throw new Error(`createReset ${res.statusCode} ${res.body}`);
      return res.json() as { id: string; password_reset_token: string; password_reset_url: string };
    },
    confirm: (token: string, newPassword: string) => call('POST', '/user_management/password_reset/confirm', { token, new_password: newPassword }),
    login: (email: string, password: string) =>
      h.app.inject({
        method: 'POST',
        url: '/user_management/authenticate',
        payload: {
          grant_type: 'password',
          client_id: h.clientId,
          client_secret: h.secretKey,
          email,
          password,
          ip_address: '198.51.100.7',
          user_agent: 'TestAgent/1.0',
        },
      }),
    /** The second step of an MFA sign-in: the `pending_authentication_token` of an `mfa_challenge` and a TOTP code. */
    completeMfa: (pendingAuthenticationToken: string, code: string) =>
      h.app.inject({
        method: 'POST',
        url: '/user_management/authenticate',
        payload: {
          grant_type: 'urn:workos:oauth:grant-type:mfa-totp',
          client_id: h.clientId,
          client_secret: h.secretKey,
          pending_authentication_token: pendingAuthenticationToken,
          code,
        },
      }),
    refresh: (refreshToken: string) =>
      h.app.inject({
        method: 'POST',
        url: '/user_management/authenticate',
        payload: { grant_type: 'refresh_token', client_id: h.clientId, client_secret: h.secretKey, refresh_token: refreshToken },
      }),
    whoami: (accessToken: string) => h.app.inject({ method: 'GET', url: '/v1/session', headers: { authorization: `Bearer ${accessToken}` } }),
  };
}
