import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { RekeyError, type ErrorCode } from '../errors/index.ts';
import { buildPages, LINK_TOKEN } from './testing.ts';

const open: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((app) => app.close()));
});

const GOOD_PASSWORD = 'correct horse battery staple';
type Call = 'start' | 'attemptCode' | 'attemptLink' | 'attemptSecondFactor' | 'setPassword';
const STEPS = ['ask', 'code', 'verify', 'second_factor', 'new_password'] as const;
type Step = (typeof STEPS)[number];

/** Walks a browser to `step`'s form, makes its service call fail with `error`, and submits the form. */
async function failAt(step: Step, error: RekeyError): Promise<LightMyRequestResponse> {
  const { app, flows, browser } = await buildPages();
  open.push(app);
  const submit = async (call: Call, path: string, fields: Record<string, string>) => {
    await browser.get(path);
    flows.failNext.set(call, error);
    return browser.post(path, fields);
  };
  if (step === 'ask') return submit('start', '/reset', { email: 'ada@example.com', method: 'email_link' });
  if (step === 'verify') {
    await browser.get(`/reset/verify?token=${LINK_TOKEN}`);
    return submit('attemptLink', '/reset/verify', {});
  }
  flows.secondFactor = step === 'second_factor';
  await browser.get('/reset');
  await browser.post('/reset', { email: 'ada@example.com', method: 'email_code' });
  if (step === 'code') return submit('attemptCode', '/reset/code', { code: '123456' });
  await browser.get('/reset/code');
  await browser.post('/reset/code', { code: '123456' });
  if (step === 'second_factor') return submit('attemptSecondFactor', '/reset/second-factor', { type: 'totp', code: '654321' });
  return submit('setPassword', '/reset/new', { password: GOOD_PASSWORD, confirm: GOOD_PASSWORD });
}

/**
 * What the user sees, per step, for each kind of failure: `<status> form|page <codes shown> [@field] [retry-after=…]
 * [link-cleared]` for a page, `303 → <location>` for a redirect. The table in errors.ts decides; this pins it.
 */
function seen(response: LightMyRequestResponse): string {
  if (response.statusCode === 303) return `303 → ${response.headers.location}`;
  const kind = /<form method="post"/.test(response.body) ? 'form' : 'page';
  const codes = [...new Set([...response.body.matchAll(/data-code="(\w+)"/g)].map((match) => match[1]))].sort();
  const field = /href="#(\w+)"/.exec(response.body)?.[1];
  const retryAfter = response.headers['retry-after'];
  const linkCleared = response.cookies.some((cookie) => cookie.name === 'rekey_link' && cookie.value === '');
  return [response.statusCode, kind, codes.join(','), field && `@${field}`, retryAfter && `retry-after=${retryAfter}`, linkCleared && 'link-cleared']
    .filter(Boolean)
    .join(' ');
}

const EXPECTED: Record<Step, Array<[ErrorCode, Record<string, unknown>, string]>> = {
  ask: [
    ['flow_expired', {}, '410 form flow_expired'],
    ['code_attempts_exceeded', {}, '429 form code_attempts_exceeded'],
    ['flow_state_invalid', {}, '409 form flow_state_invalid'],
    ['password_reset_token_invalid', {}, '400 form password_reset_token_invalid'],
    ['code_incorrect', {}, '422 form code_incorrect'],
    ['totp_incorrect', {}, '422 form totp_incorrect'],
    ['rate_limited', { retryAfterSeconds: 60 }, '429 form rate_limited retry-after=60'],
    ['rate_limited', {}, '429 form rate_limited'],
    ['mfa_required', {}, '403 form mfa_required'],
    ['password_too_short', { min: 15 }, '400 form password_too_short'],
  ],
  code: [
    ['flow_expired', {}, '410 page flow_expired'],
    ['code_attempts_exceeded', {}, '429 page code_attempts_exceeded'],
    ['flow_state_invalid', {}, '303 → /reset/code'],
    ['password_reset_token_invalid', {}, '400 form password_reset_token_invalid'],
    ['code_incorrect', {}, '422 form code_incorrect @code'],
    ['totp_incorrect', {}, '422 form totp_incorrect'],
    ['rate_limited', { retryAfterSeconds: 60 }, '429 form rate_limited retry-after=60'],
    ['rate_limited', {}, '429 form rate_limited'],
    ['mfa_required', {}, '403 form mfa_required'],
    ['password_too_short', { min: 15 }, '400 form password_too_short'],
  ],
  verify: [
    ['flow_expired', {}, '400 page link_invalid link-cleared'],
    ['code_attempts_exceeded', {}, '429 form code_attempts_exceeded'],
    ['flow_state_invalid', {}, '400 page link_invalid link-cleared'],
    ['password_reset_token_invalid', {}, '400 page link_invalid link-cleared'],
    ['code_incorrect', {}, '422 form code_incorrect'],
    ['totp_incorrect', {}, '422 form totp_incorrect'],
    ['rate_limited', { retryAfterSeconds: 60 }, '429 form rate_limited retry-after=60'],
    ['rate_limited', {}, '429 form rate_limited'],
    ['mfa_required', {}, '403 form mfa_required'],
    ['password_too_short', { min: 15 }, '400 form password_too_short'],
  ],
  second_factor: [
    ['flow_expired', {}, '410 page flow_expired'],
    ['code_attempts_exceeded', {}, '429 page code_attempts_exceeded'],
    ['flow_state_invalid', {}, '303 → /reset/second-factor'],
    ['password_reset_token_invalid', {}, '400 form password_reset_token_invalid'],
    ['code_incorrect', {}, '422 form code_incorrect'],
    ['totp_incorrect', {}, '422 form totp_incorrect @totp'],
    ['rate_limited', { retryAfterSeconds: 60 }, '429 form rate_limited retry-after=60'],
    ['rate_limited', {}, '429 form rate_limited'],
    ['mfa_required', {}, '403 form mfa_required'],
    ['password_too_short', { min: 15 }, '400 form password_too_short'],
  ],
  new_password: [
    ['flow_expired', {}, '410 page flow_expired'],
    ['code_attempts_exceeded', {}, '429 page code_attempts_exceeded'],
    ['flow_state_invalid', {}, '303 → /reset/new'],
    ['password_reset_token_invalid', {}, '400 form password_reset_token_invalid'],
    ['code_incorrect', {}, '422 form code_incorrect'],
    ['totp_incorrect', {}, '422 form totp_incorrect'],
    ['rate_limited', { retryAfterSeconds: 60 }, '429 form rate_limited retry-after=60'],
    ['rate_limited', {}, '429 form rate_limited'],
    ['mfa_required', {}, '303 → /reset/second-factor'],
    ['password_too_short', { min: 15 }, '400 form password_too_short @password'],
  ],
};

describe('hosted pages: a failed service call on each step', () => {
  for (const step of STEPS) {
    it(`${step}: ends, redirects or shows the form as the step's table says`, async () => {
      const answers: Array<[ErrorCode, Record<string, unknown>, string]> = [];
      for (const [code, context] of EXPECTED[step]) answers.push([code, context, seen(await failAt(step, new RekeyError(code, context)))]);
      expect(answers).toEqual(EXPECTED[step]);
    });
  }

  it("fills a policy failure's details into its message next to the password field", async () => {
    const response = await failAt('new_password', new RekeyError('password_too_short', { min: 15 }));
    expect(response.body).toMatch(/<a href="#password">[^<]*15[^<]*<\/a>/);
  });
});
