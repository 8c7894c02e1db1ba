import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createNetServer } from 'node:net';
import { jwtVerify, SignJWT } from 'jose';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORES, type StoreFactory } from '../../src/store/testing.ts';
import { fixture, withFlows, type ActionsHarness } from '../support/actions.ts';
import { createHarness, type Harness } from '../support/harness.ts';

/**
 * A reset in Chromium whose post-challenge action sends the user to a third-party verifier (a page this test serves
 * on another site: `localhost`, while Rekey is `127.0.0.1`), which posts its signed verdict back to
 * `/reset/continue`; the reset then ends with the new password working.
 */

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
  '--host-resolver-rules=MAP localhost 127.0.0.1',
];
const SECRET = 'verifier-shared-secret-for-chromium-0123456789';
const KEY = new TextEncoder().encode(SECRET);

let browser: Browser;
beforeAll(async () => {
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
});
afterAll(async () => {
  await browser?.close();
});

async function freePort(): Promise<number> {
  const probe = createNetServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** The verifier: checks Rekey's token, then offers a form that posts its verdict back to Rekey. */
async function startVerifier(rekeyUrl: () => string, now: () => number) {
  const seen: Array<{ sub: unknown; email: unknown }> = [];
  const server: Server = createServer((request, response) => {
    void (async () => {
      const url = new URL(request.url ?? '/', 'http://localhost');
      const state = url.searchParams.get('state') ?? '';
      const { payload } = await jwtVerify(url.searchParams.get('session_token') ?? '', KEY, { currentDate: new Date(now()) });
      seen.push({ sub: payload.sub, email: payload.email });
      const verdict = await new SignJWT({ state, verified: true })
        .setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime(Math.floor(now() / 1000) + 120)
        .sign(KEY);
      response.setHeader('content-type', 'text/html; charset=utf-8');
      response.end(`<!doctype html><title>Verifier</title>
<form method="post" action="${rekeyUrl()}/reset/continue">
<input type="hidden" name="state" value="${state}"><input type="hidden" name="verdict" value="${verdict}">
<button id="back" type="submit">Back to the reset</button></form>`);
    })().catch((error: Error) => {
      response.statusCode = 400;
      response.end(error.message);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://localhost:${(server.address() as AddressInfo).port}/check`, seen, close: () => new Promise((r) => server.close(r)) };
}

async function listening(factory: StoreFactory, verifierUrl: string): Promise<ActionsHarness & { url: string }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      const h = await createHarness(factory, {
        listen: true,
        config: {
          port,
          baseUrl: `http://127.0.0.1:${port}`,
          rateLimitIpRequests: 10_000,
          rateLimitIpVerifications: 10_000,
          actions: {
            postChallenge: [{ name: 'verifier', path: fixture('verifier/action.mjs'), secrets: { VERIFIER_SECRET: SECRET, VERIFIER_URL: verifierUrl } }],
          },
        },
      });
      return withFlows(h as Harness & { url: string }) as ActionsHarness & { url: string };
    } catch (error) {
      if ((error as { code?: string }).code !== 'EADDRINUSE' || attempt >= 5) throw error;
    }
  }
}

for (const factory of STORES) {
  describe(`${factory.name}: a reset that leaves for a verifier and comes back, in Chromium`, () => {
    let h: ActionsHarness & { url: string };
    let verifier: Awaited<ReturnType<typeof startVerifier>>;
    beforeAll(async () => {
      let rekeyUrl = '';
      let clock = () => Date.now();
      verifier = await startVerifier(
        () => rekeyUrl,
        () => clock(),
      );
      h = await listening(factory, verifier.url);
      rekeyUrl = h.url;
      clock = () => h.clock.now();
    });
    afterAll(async () => {
      await h?.close();
      await verifier?.close();
    });

    it('asks for the code, goes to the verifier, posts back cross-site, continues, and the new password works', async () => {
      const who = await h.account();
      const context = await browser.newContext();
      const page = await context.newPage();
      try {
        await page.goto(`${h.url}/reset`);
        await page.fill('#email', who.address);
        await page.check('#method-code');
        await Promise.all([page.waitForURL(/\/reset\/code/), page.click('button[type=submit]')]);
        await page.fill('#code', await h.web.codeFor(who.address));
        // The action runs when the code is verified: the browser leaves for the verifier (a GET navigation).
        await Promise.all([page.waitForURL(/^http:\/\/localhost:\d+\/check\?/), page.click('button[type=submit]')]);
        expect(verifier.seen.at(-1)).toEqual({ sub: who.user.id, email: who.address });
        // A cross-site POST carries no SameSite=Strict cookie: Rekey's continue page goes on from its own origin.
        await Promise.all([page.waitForURL(/\/reset\/continue/), page.click('#back')]);
        await Promise.all([page.waitForURL(/\/reset\/new/), page.click('button[type=submit]')]);
        const chosen = h.password();
        await page.fill('#password', chosen);
        await page.fill('#confirm', chosen);
        await Promise.all([page.waitForURL(/\/reset\/done/), page.click('button[type=submit]')]);
        expect((await h.api.login(who.address, chosen)).statusCode).toBe(200);
        expect((await h.api.login(who.address, who.original)).statusCode).toBe(400);
      } finally {
        await context.close();
      }
    });
  });
}
