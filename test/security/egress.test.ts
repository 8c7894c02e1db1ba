import { channel } from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORES } from '../../src/store/testing.ts';
import { managementApi } from '../support/api.ts';
import { browserApi } from '../support/browser-api.ts';
import { createHarness, GOOD_PASSWORD, type Harness } from '../support/harness.ts';

/** Every TCP or pipe client socket the process opens is published here (Node ≥ 16), before it connects. */
const clientSockets = channel('net.client.socket');

interface Connection {
  /** The name looked up, when the socket was given one. */
  host?: string;
  addresses: string[];
  port?: number;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/** The port of the store's own connections (PostgreSQL on loopback in the suite); SQLite opens none. */
function storePortOf(url: string): number | undefined {
  if (!/^postgres(ql)?:\/\//.test(url)) return undefined;
  return Number(new URL(url).port || 5432);
}

for (const factory of STORES) {
  describe(`${factory.name}: egress`, () => {
    let h: Harness;
    const connections: Connection[] = [];
    const watch = (message: unknown) => {
      const socket = (message as { socket: Socket }).socket;
      const connection: Connection = { addresses: [] };
      connections.push(connection);
      socket.on('lookup', (_error, _address, _family, host) => (connection.host = host));
      socket.on('connectionAttempt', (address: string, port: number) => {
        connection.addresses.push(address);
        connection.port = port;
      });
    };

    beforeAll(async () => {
      // No mail provider, as on a fresh clone: no SMTP URL, so mail goes to the development mailbox.
      h = await createHarness(factory);
      expect(h.config.smtpUrl).toBeUndefined();
      clientSockets.subscribe(watch);
    });
    afterAll(async () => {
      clientSockets.unsubscribe(watch);
      await h.close();
    });

    it('SEC-43 with no provider configured, every reset path succeeds and nothing leaves the host', async () => {
      const api = managementApi(h);
      const web = browserApi(h);
      const email = 'egress@example.com';
      await api.createUser(email, `${GOOD_PASSWORD} before`);

      // The browser's forgot for a known and an unknown address, a code flow, and the management API's reset.
      expect((await web.forgot(email)).statusCode).toBe(204);
      expect((await web.forgot('nobody-egress@example.com')).statusCode).toBe(204);
      expect((await web.startFlow(email, 'email_code')).statusCode).toBe(201);
      const { password_reset_token: token } = await api.resetToken(email);
      expect((await api.confirm(token, `${GOOD_PASSWORD} after`)).statusCode).toBe(200);
      await h.deliver();
      await h.deliver();

      // The mail was "sent": it is in the development mailbox, on this host.
      const subjects = (await h.mailbox(email)).map((mail) => mail.subject);
      expect(subjects.length).toBeGreaterThanOrEqual(4);
      expect(subjects.some((subject) => /changed/i.test(subject))).toBe(true);

      // Meanwhile the process connected to nothing but its own store on loopback (to nothing at all on SQLite).
      const storePort = storePortOf(h.store.url);
      const leaving = connections.filter((c) => c.addresses.length === 0 || c.addresses.some((address) => !LOOPBACK.has(address)) || c.port !== storePort);
      expect(leaving).toEqual([]);
    });
  });
}
