import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { chromium, type Browser, type ConsoleMessage } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installErrorHandling } from '../errors/index.ts';
import { STORES, type TestStore } from '../store/testing.ts';
import { devMailboxRoutes } from './dev-mailbox.routes.ts';
import type { DevMailboxTable } from './outbox.table.ts';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];
/** Runs in the page; the project's types are Node's only (no DOM lib). */
declare const getComputedStyle: (element: unknown) => { color: string };

const ARTIFACTS = join(import.meta.dirname, '..', '..', 'test', 'artifacts');

/** The development mailbox page in Chromium: each mail's HTML framed beside its text, no script in it, and new mail appearing by itself. */
describe('development mailbox in a browser', () => {
  let browser: Browser;
  let store: TestStore;
  let app: FastifyInstance;
  let url: string;
  let at = Date.UTC(2026, 0, 2, 9, 0, 0);
  const put = (mail: Partial<DevMailboxTable> & Pick<DevMailboxTable, 'id'>) =>
    store.db
      .insertInto('dev_mailbox')
      .values({
        channel: 'email',
        outbox_id: null,
        to: 'ada@example.com',
        from: 'Rekey <no-reply@rekey.localhost>',
        subject: '',
        text: '',
        html: '',
        created_at: (at += 1000),
        ...mail,
      })
      .execute();

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    store = await STORES[0]!.open();
    app = Fastify();
    app.setValidatorCompiler(validatorCompiler);
    app.setSerializerCompiler(serializerCompiler);
    installErrorHandling(app);
    await app.register(devMailboxRoutes, { db: store.db });
    url = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await store?.close();
  });

  it('frames the HTML beside the text, styled, without running its script; links open outside the frame; new mail appears by itself', async () => {
    await put({ id: 'mail_sms', channel: 'sms', to: '+15551234567', text: 'Your Rekey code is 123456' });
    await put({
      id: 'mail_reset',
      subject: 'Reset your Rekey password',
      text: `Open ${url}/dev/mailbox/messages to reset your password.`,
      html: `<html><head><style>.cta { color: rgb(200, 0, 0); }</style></head><body>
<p id="greeting" class="cta">Hello Ada</p>
<p><a id="link" href="${url}/dev/mailbox/messages">Reset your password</a></p>
<script>document.getElementById('greeting').textContent = 'script ran'; fetch('/dev/mailbox/messages?leak=1');</script>
<img src="x" onerror="document.getElementById('greeting').textContent = 'handler ran'">
</body></html>`,
    });

    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const refused: string[] = [];
    const requests: string[] = [];
    page.on('console', (message: ConsoleMessage) => {
      // The mailbox page's own style and script must pass its CSP; the mail's script is meant to be refused.
      if (/Content Security Policy/i.test(message.text()) && message.location().url.endsWith('/dev/mailbox')) refused.push(message.text());
    });
    page.on('request', (request) => void requests.push(new URL(request.url()).pathname + new URL(request.url()).search));
    await page.goto(`${url}/dev/mailbox`);

    const article = page.locator('article.email');
    await expect.poll(() => article.locator('pre').textContent()).toContain('to reset your password');
    const frame = page.frameLocator('iframe[title="HTML of Reset your Rekey password"]');
    await expect.poll(() => frame.locator('#greeting').textContent()).toBe('Hello Ada');
    expect(await frame.locator('#greeting').evaluate((el) => getComputedStyle(el).color)).toBe('rgb(200, 0, 0)');
    // Text and HTML side by side at this width.
    const [text, html] = await Promise.all([article.locator('section').nth(0).boundingBox(), article.locator('section').nth(1).boundingBox()]);
    expect(html!.x).toBeGreaterThan(text!.x + text!.width - 1);
    expect(Math.abs(html!.y - text!.y)).toBeLessThan(2);
    expect(await page.locator('article.sms h2').textContent()).toBe('SMSto +15551234567');
    expect(await page.locator('article.sms iframe').count()).toBe(0);
    await page.screenshot({ path: join(ARTIFACTS, 'dev-mailbox-1280.png'), fullPage: true });

    // The reset link in the HTML opens in a new tab, outside the sandbox.
    const [popup] = await Promise.all([context.waitForEvent('page'), frame.locator('#link').click()]);
    await popup.waitForLoadState();
    expect(popup.url()).toBe(`${url}/dev/mailbox/messages`);
    await popup.close();

    // A new message shows up without a click (the page polls, then reloads).
    await put({ id: 'mail_later', subject: 'Your password was changed', text: 'It was you, we hope.', html: '<p>It was you, we hope.</p>' });
    await page.locator('h2', { hasText: 'Your password was changed' }).waitFor({ timeout: 15_000 });

    expect(await frame.locator('#greeting').textContent()).toBe('Hello Ada');
    expect(requests.filter((path) => path.includes('leak'))).toEqual([]);
    expect(refused).toEqual([]);

    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: join(ARTIFACTS, 'dev-mailbox-390.png'), fullPage: true });
    await context.close();
  });
});
