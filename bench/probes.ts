import type { AutocannonRequest } from 'autocannon';
import type { ServerProcess } from './processes.ts';
import { emailOf, passwordOf } from './protocol.ts';

export interface Probe {
  label: string;
  request: AutocannonRequest;
}

/**
 * The probes of SEC-48, called as an application calls Rekey: an access token checked (jose's HMAC runs on
 * libuv's pool, with the hashes), a secret-key management read, and the health check. The access token
 * comes from the password grant, as an application gets one, and is fetched again before each run (it
 * lives five minutes).
 */
export async function probesFor(server: ServerProcess): Promise<Probe[]> {
  const response = await fetch(`${server.url}/user_management/authenticate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      grant_type: 'password',
      client_id: server.clientId,
      client_secret: server.secretKey,
      email: emailOf('probe', 0),
      password: passwordOf(0),
    }),
  });
  if (response.status !== 200) throw new Error(`password grant for the probe user: ${response.status} ${await response.text()}`);
  const { access_token: accessToken, user } = (await response.json()) as { access_token: string; user: { id: string } };
  return [
    { label: '`GET /v1/session` (access token)', request: { method: 'GET', path: '/v1/session', headers: { authorization: `Bearer ${accessToken}` } } },
    {
      label: '`GET /user_management/users/:id` (secret key)',
      request: { method: 'GET', path: `/user_management/users/${user.id}`, headers: { authorization: `Bearer ${server.secretKey}` } },
    },
    { label: '`GET /healthz`', request: { method: 'GET', path: '/healthz' } },
  ];
}
