import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { StoreFactory } from '../../src/store/testing.ts';
import type { managementApi } from '../support/api.ts';
import { createHarness, GOOD_PASSWORD, type Harness, type HarnessOptions } from '../support/harness.ts';

/**
 * What the hosted pages' Chromium suites share: the browser (Debian's Chromium through playwright-core, one per test
 * file), a listening server whose base URL is its own address, a second origin for the application, a cookie jar
 * for non-browser clients, and axe-core.
 */

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];
export const ARTIFACTS = join(import.meta.dirname, '..', 'artifacts');

/**
 * With `localhost`, the name resolves to 127.0.0.1 only: WebAuthn needs a domain as RP ID, and the servers listen on
 * 127.0.0.1, so the name must not try ::1 first.
 */
export async function launchChromium({ localhost = false }: { localhost?: boolean } = {}): Promise<Browser> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const args = localhost ? [...CHROMIUM_ARGS, '--host-resolver-rules=MAP localhost 127.0.0.1'] : CHROMIUM_ARGS;
  return chromium.launch({ executablePath: '/usr/bin/chromium', args });
}

/** A port nobody listens on right now, so `baseUrl` can name it before the server starts. */
async function freePort(): Promise<number> {
  const probe = createNetServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/**
 * A server whose `config.baseUrl` is its own listening URL (the pages compare POST Origins with it); by the name
 * `localhost` where WebAuthn needs a domain for its RP ID.
 */
export async function listeningHarness(
  factory: StoreFactory,
  { host = '127.0.0.1', config = {} }: { host?: '127.0.0.1' | 'localhost'; config?: HarnessOptions['config'] } = {},
): Promise<Harness & { url: string }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      const h = await createHarness(factory, {
        listen: true,
        // Every request here comes from 127.0.0.1: the per-IP limits would otherwise be what the tests measure.
        config: { ...config, port, baseUrl: `http://${host}:${port}`, rateLimitIpRequests: 10_000, rateLimitIpVerifications: 10_000 },
      });
      return h as Harness & { url: string };
    } catch (error) {
      // Someone took the port between the probe and the listen: try another.
      if ((error as { code?: string }).code !== 'EADDRINUSE' || attempt >= 5) throw error;
    }
  }
}

/**
 * A tiny server on another site serving one HTML page at every path (or the page `body` makes of the request's URL):
 * 127.0.0.2 is loopback too, but another host; `localhost` is another site that the redirect allow-list accepts over
 * plain http; 127.0.0.1 is another site than a server reached as `localhost`.
 */
export async function otherOrigin(
  body: string | ((url: URL) => string),
  host: '127.0.0.2' | '127.0.0.1' | 'localhost' = '127.0.0.2',
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((request, response) => {
    if (request.url === '/favicon.ico') {
      response.writeHead(204);
      response.end();
      return;
    }
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(typeof body === 'string' ? body : body(new URL(request.url ?? '/', `http://${host}`)));
  });
  await new Promise<void>((resolve) => server.listen(0, host === 'localhost' ? '127.0.0.1' : host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * The application's own site, at 127.0.0.1 (another site than Rekey's `localhost`): at every path a page whose one link,
 * named `label`, goes where its `?to=` says.
 */
export const linkingSite = (label: string) =>
  otherOrigin((url) => {
    const to = (url.searchParams.get('to') ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
    return `<!doctype html><a href="${to}">${label}</a>`;
  }, '127.0.0.1');

/** A cookie jar for Node's fetch: what a non-browser client (a scanner, a forged request) holds. */
export class Jar {
  readonly cookies = new Map<string, string>();
  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
  take(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=Thu, 01 Jan 1970/i.test(a));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
}

export const csrfIn = (body: string): string => {
  const token = body.match(/name="csrf" value="([^"]+)"/)?.[1];
  if (!token) throw new Error('no CSRF field on the page');
  return token;
};

export const isHtml = (res: Response) => (res.headers.get('content-type') ?? '').startsWith('text/html');

/** The mail helpers every journey needs, over a harness. */
export function mailReader(h: Harness & { url: string }) {
  /** Delivers the outbox (the reset.requested job writes the mail on a second pass) and reads the newest mail. */
  const mailText = async (email: string) => {
    await h.deliver();
    await h.deliver();
    const [mail] = await h.mailbox(email);
    if (!mail) throw new Error(`no mail for ${email}`);
    return mail.text;
  };
  return {
    mailText,
    async linkFor(email: string) {
      const link = (await mailText(email)).match(/https?:\/\/\S+[?&]token=[A-Za-z0-9_-]+/)?.[0];
      if (!link) throw new Error(`no link in the mail to ${email}`);
      if (new URL(link).origin !== h.url) throw new Error(`the link ${link} is not on ${h.url}`);
      return link;
    },
    async codeFor(email: string) {
      const code = (await mailText(email)).match(/^\s*(\d{6})\s*$/m)?.[1];
      if (!code) throw new Error(`no code in the mail to ${email}`);
      return code;
    },
  };
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/**
 * axe-core run inside the page, evaluated through the DevTools protocol (the pages' CSP allows no inline script, and
 * it must not be loosened for a test), with the page's JavaScript on or off. Returns the serious and critical
 * violations.
 */
export async function axeViolations(page: Page, auditor?: Page): Promise<AxeViolation[]> {
  // axe waits on timers, which a page without JavaScript never runs: such a page is audited as a copy, without its
  // script tags (so it stays the page a script-less browser shows), in a page that runs them, at the same origin.
  if (auditor) {
    const copy = (await page.content()).replace(/<script\b[^>]*><\/script>/g, '');
    const at = new URL('/__axe__', page.url());
    await auditor.route(at.href, (route) => route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: copy }));
    await auditor.goto(at.href);
    await auditor.unroute(at.href);
    page = auditor;
  }
  const found = (await page.evaluate(`(async () => {
    if (!window.axe) { ${AXE_SOURCE}\n }
    const result = await window.axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')) }));
  })()`)) as AxeViolation[];
  return found.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

type ManagementApi = ReturnType<typeof managementApi>;

/**
 * The steps of the journey as a user takes them, on the current `page` (set per test): new accounts, the first
 * page, the mailed link or code, the new password. Screenshots go to test/artifacts/ when given a name.
 */
export class Steps {
  page!: Page;
  private n = 0;
  readonly mail: ReturnType<typeof mailReader>;
  constructor(
    readonly h: Harness & { url: string },
    readonly api: ManagementApi,
    readonly store: string,
  ) {
    this.mail = mailReader(h);
  }

  async newUser(tag: string) {
    const email = `${tag}${++this.n}-${this.store}@example.com`;
    const password = `${GOOD_PASSWORD} old ${this.n}`;
    await this.api.createUser(email, password, { email_verified: true });
    return { email, password };
  }
  newPassword = () => `${GOOD_PASSWORD} new ${++this.n}`;
  linkFor = (email: string) => this.mail.linkFor(email);
  codeFor = (email: string) => this.mail.codeFor(email);
  signsIn = async (email: string, password: string) => (await this.api.login(email, password)).statusCode;
  shot = (name: string) => this.page.screenshot({ path: join(ARTIFACTS, `${this.store}-${name}.png`), fullPage: true });

  /** The first page: type the address, pick the method, submit. */
  async ask(email: string, method: 'link' | 'code', journey?: string) {
    const page = this.page;
    await page.goto('/reset');
    await page.fill('#email', email);
    if (method === 'code') await page.check('#method-code');
    else if (!(await page.isChecked('#method-link'))) throw new Error('the link is not the default method');
    if (journey) await this.shot(`${journey}-01-ask`);
    await Promise.all([page.waitForURL(method === 'code' ? '**/reset/code' : '**/reset/sent'), page.click('button[type=submit]')]);
  }
  /** The new-password page: both fields, submit, land on the done page (`?lang=` kept when one was chosen). */
  async setPassword(password: string, journey?: string) {
    const page = this.page;
    await page.fill('#password', password);
    // The strength meter (same-origin script, allowed by the CSP) rates the password after a short pause.
    await page.waitForSelector('[data-strength][data-score]');
    await page.fill('#confirm', password);
    if (journey) await this.shot(`${journey}-04-new`);
    await Promise.all([page.waitForURL(/\/reset\/done(\?|$)/), page.click('form[action="/reset/new"] button[type=submit]')]);
    if (journey) await this.shot(`${journey}-05-done`);
  }
  /** Follows a mailed link and confirms it with the button. */
  async followLink(link: string, journey?: string) {
    const page = this.page;
    const landing = await page.goto(link);
    if (landing?.status() !== 200 || new URL(page.url()).pathname !== '/reset/verify') throw new Error(`the link landed on ${page.url()}`);
    if (journey) await this.shot(`${journey}-03-verify`);
    await Promise.all([page.waitForURL('**/reset/new'), page.click('button[type=submit]')]);
  }
  /** A code journey up to the new-password page. */
  async codeUpToNew(email: string) {
    await this.ask(email, 'code');
    await this.page.fill('#code', await this.codeFor(email));
    await Promise.all([this.page.waitForURL('**/reset/new'), this.page.click('form[action="/reset/code"] button[type=submit]')]);
  }
}
