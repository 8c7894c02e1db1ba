import { generate } from 'otplib';
import type { Harness } from './harness.ts';

/** The browser API as an application's front end calls it: JSON, same origin. */
export function browserApi(h: Harness) {
  const post = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
    h.app.inject({ method: 'POST', url, payload: JSON.stringify(payload), headers: { 'content-type': 'application/json', ...headers } });
  return {
    post,
    forgot: (email: string, headers?: Record<string, string>) => post('/auth/forgot', { email }, headers),
    reset: (email: string, token: string, password: string) => post('/auth/reset', { email, token, password }),
    startFlow: (
      identifier: string,
      strategy: 'email_link' | 'email_code' = 'email_code',
      extra: Record<string, unknown> = {},
      headers?: Record<string, string>,
    ) => post('/v1/reset_flows', { identifier, strategy, ...extra }, headers),
    getFlow: (id: string) => h.app.inject({ method: 'GET', url: `/v1/reset_flows/${id}` }),
    attemptCode: (flowId: string, code: string, headers?: Record<string, string>) =>
      post(`/v1/reset_flows/${flowId}/attempt_first_factor`, { strategy: 'email_code', code }, headers),
    attemptLink: (token: string, headers?: Record<string, string>) => post('/v1/reset_flows/attempt_link', { token }, headers),
    secondFactor: (flowId: string, grant: string, code: string) => post(`/v1/reset_flows/${flowId}/attempt_second_factor`, { strategy: 'totp', code, grant }),
    setPassword: (flowId: string, grant: string, password: string, extra: Record<string, unknown> = {}) =>
      post(`/v1/reset_flows/${flowId}/reset_password`, { password, grant, ...extra }),
    /** Runs the dispatcher and reads the newest reset mail's code for an address. */
    async codeFor(email: string): Promise<string> {
      await h.deliver();
      await h.deliver();
      const mail = (await h.mailbox(email)).find((m) => /\b\d{6}\b/.test(m.text));
      const code = mail?.text.match(/^\s*(\d{6})\s*$/m)?.[1];
      if (!code) throw new Error(`no code mail for ${email}`);
      return code;
    },
    async linkTokenFor(email: string): Promise<string> {
      await h.deliver();
      await h.deliver();
      const mail = (await h.mailbox(email)).find((m) => m.text.includes('token='));
      const token = mail?.text.match(/token=([A-Za-z0-9_-]+)/)?.[1];
      if (!token) throw new Error(`no link mail for ${email}`);
      return token;
    },
  };
}

/** A TOTP code for a secret at the harness clock's time (the server verifies against the same clock). */
export const totpAt = (secret: string, ms: number): Promise<string> => generate({ secret, epoch: Math.floor(ms / 1000) });

/** Response headers without the ones SEC-01 allows to differ (date, request id). */
export function comparable(res: { statusCode: number; headers: Record<string, unknown>; body: string }) {
  const { date: _date, 'x-request-id': _id, ...headers } = res.headers;
  return { status: res.statusCode, headers, body: res.body };
}
