import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from '../../src/pages/testing.ts';
import { STORES } from '../../src/store/testing.ts';
import { actionsHarness, fixture, type ActionsHarness } from '../support/actions.ts';

/** What a stack trace or a leaked internal path looks like in a response body. */
const STACK_TRACE = /\n\s+at [^\n]+[(:]\d+|node_modules|\.ts:\d+|\bTypeError\b|\bReferenceError\b/;

/**
 * The hosted pages' way back from an action's redirect (`/reset/continue`), without a browser: Auth0's redirect sample,
 * verbatim, sends the user away; only the state it was given, once, in time, for this browser's flow, brings the reset
 * back. The Chromium walk through a verifier is in actions-browser.test.ts.
 */
for (const factory of STORES) {
  describe(`${factory.name}: the continue page after an action's redirect`, () => {
    let h: ActionsHarness;
    beforeAll(async () => {
      h = await actionsHarness(
        factory,
        { postChallenge: [{ name: 'redirect', path: fixture('auth0-redirect-continue/action.js') }] },
        { config: { rateLimitIpRequests: 10_000, rateLimitIpVerifications: 10_000 } },
      );
    });
    afterAll(() => h.close());

    const origin = () => new URL(h.config.baseUrl).origin;

    /** A browser whose reset the action sent away, and the state in the address it was sent to. */
    const redirected = async () => {
      const who = await h.account();
      const browser = new Browser(h.app, origin());
      await browser.get('/reset');
      await browser.post('/reset', { email: who.address, method: 'email_code' });
      await browser.get('/reset/code');
      const passed = await browser.postOnly('/reset/code', { code: await h.web.codeFor(who.address) });
      expect(passed.headers.location).toBe('/reset/second-factor');
      expect((await browser.get('/reset/second-factor')).headers.location).toBe('/reset/redirect');
      const leaving = await browser.get('/reset/redirect');
      expect(leaving.statusCode).toBe(200);
      const href = leaving.body.match(/<a class="button" href="(https:\/\/my-app\.example\.com[^"]+)"/)?.[1];
      const state = new URL(href!.replace(/&amp;/g, '&')).searchParams.get('state')!;
      expect(state.length).toBeGreaterThanOrEqual(40);
      return { who, browser, state };
    };

    /** A refusal: the page that says the link cannot be used, with its code, and the way to start again. */
    const refused = (response: { statusCode: number; body: string }, code: string) => {
      expect({ status: response.statusCode, code: response.body.match(/data-code="(\w+)"/)?.[1] }).toEqual({ status: 400, code });
      expect(response.body).toContain('href="/reset"');
      expect(response.body).not.toMatch(STACK_TRACE);
    };

    it('a tampered, a missing or a misshapen state is refused and the reset still waits; the real one continues once', async () => {
      const { browser, state } = await redirected();
      const tampered = `${state.slice(0, -2)}${state.endsWith('AA') ? 'BB' : 'AA'}`;
      refused(await browser.get(`/reset/continue?state=${tampered}`), 'action_state_invalid');
      refused(await browser.get('/reset/continue'), 'action_state_invalid');
      refused(await browser.get('/reset/continue?state=short'), 'action_state_invalid');
      // Control characters in the address are refused before any route reads them.
      const nul = await browser.get(`/reset/continue?state=${'%00'.repeat(30)}`);
      expect({ status: nul.statusCode, code: nul.body.match(/data-code="(\w+)"/)?.[1] }).toEqual({ status: 422, code: 'invalid_request_parameters' });
      refused(await browser.postOnly('/reset/continue', { state: 'not a state!' }), 'action_state_invalid');
      // None of it moved the reset: it still waits on the redirect.
      expect((await browser.get('/reset/second-factor')).headers.location).toBe('/reset/redirect');

      const resumed = await browser.get(`/reset/continue?state=${state}`);
      expect(resumed.statusCode).toBe(303);
      expect(resumed.headers.location).toMatch(/^\/reset\/(second-factor|choose)/);
      // Used: the same state again (by link or by a verifier's POST) is refused, and the reset stays where it is.
      refused(await browser.get(`/reset/continue?state=${state}`), 'action_state_invalid');
      refused(await browser.postOnly('/reset/continue', { state }), 'action_state_invalid');
      expect((await browser.get('/reset/new')).headers.location).toMatch(/^\/reset\/(second-factor|choose)/);
    });

    it("an expired state, and another flow's state, are refused", async () => {
      const first = await redirected();
      const second = await redirected();
      refused(await second.browser.get(`/reset/continue?state=${first.state}`), 'action_state_invalid');
      h.clock.advance(5 * 60_000 + 1);
      refused(await first.browser.get(`/reset/continue?state=${first.state}`), 'action_state_invalid');
    });

    it('the redirect and choose pages without a reset in this browser say it has ended, never a stack trace', async () => {
      const stranger = new Browser(h.app, origin());
      for (const path of ['/reset/redirect', '/reset/choose']) {
        const page = await stranger.get(path);
        expect({ path, status: page.statusCode, code: page.body.match(/data-code="(\w+)"/)?.[1] }).toEqual({ path, status: 410, code: 'flow_not_found' });
        expect(page.body).not.toMatch(STACK_TRACE);
      }
    });

    it('without the flow cookie the page goes on from its own origin, and a browser with no reset is told to start again', async () => {
      const { state } = await redirected();
      const stranger = new Browser(h.app, origin());
      // A cross-site arrival carries no SameSite=Strict cookie: the page moves on by itself, from Rekey's origin.
      const arrival = await stranger.get(`/reset/continue?state=${state}`);
      expect(arrival.statusCode).toBe(200);
      expect(arrival.body).toContain('<form method="post" action="/reset/continue">');
      expect(arrival.body).toContain('resumed=1');
      // Still no cookie there: this browser has no reset to continue.
      const again = await stranger.get(`/reset/continue?state=${state}&resumed=1`);
      expect({ status: again.statusCode, code: again.body.match(/data-code="(\w+)"/)?.[1] }).toEqual({ status: 400, code: 'flow_not_found' });
      expect(again.body).toContain('started in another browser');
      // A verifier's cross-site POST without the cookie gets the form that carries its fields on.
      const posted = await stranger.postOnly(
        '/reset/continue',
        { state, verdict: 'ok' },
        { origin: 'https://my-app.example.com', 'sec-fetch-site': 'cross-site' },
      );
      expect(posted.statusCode).toBe(200);
      expect(posted.body).toContain(`<input type="hidden" name="state" value="${state}">`);
      expect(posted.body).toContain('<input type="hidden" name="verdict" value="ok">');
    });
  });
}
