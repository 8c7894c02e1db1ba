import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD_POLICY_CODES } from '../errors/codes.ts';
import { createBlocklist, loadBlocklist, type Blocklist } from './blocklist.ts';
import { createPasswordPolicy, normalizePassword, type PasswordPolicy, type PolicyResult } from './password-policy.ts';

const context = { email: 'alice.smith@example.com', appName: 'Rekey' };
const EMOJI = ['🦊', '🌵', '🎻', '🚲', '🧩', '🍋', '🛶', '🐙', '🎈', '🧭', '🥝', '🦉', '🪐', '🍄', '🐝'];

let blocklist: Blocklist;
let policy: PasswordPolicy;
beforeAll(async () => {
  blocklist = await loadBlocklist();
  policy = createPasswordPolicy({ minLength: 15, maxLength: 256, blocklist });
});

const codeOf = (result: PolicyResult) => (result.ok ? 'ok' : result.code);
const randomPassphrase = (length: number) => randomBytes(length).toString('base64url').slice(0, length);

describe('blocklist', () => {
  it('keeps the top 100k plus the long entries of the 1M list, lower-cased, loaded once', async () => {
    expect(await loadBlocklist()).toBe(blocklist);
    expect(blocklist.size).toBeGreaterThan(100_000);
    expect(blocklist.has('qwertyuiopasdfg')).toBe(true); // rank ~83k
    expect(blocklist.has('polniypizdec0211')).toBe(true); // long entry
    expect(blocklist.has('dragon')).toBe(true);
    expect(blocklist.hasCommonBase('monkey')).toBe(true);
    expect(blocklist.hasCommonBase('qwertyuiopasdfg')).toBe(false);
  });
});

describe('password policy', () => {
  it('SEC-28 14 code points rejected, 15 accepted', () => {
    expect(policy.check('maple orbit ja', context)).toEqual({
      ok: false,
      code: 'password_too_short',
      message: 'Use at least 15 characters.',
      details: { min: 15 },
    });
    expect(policy.check('maple orbit jar', context)).toEqual({ ok: true, normalized: 'maple orbit jar' });
  });

  it('SEC-28 a per-account minimum of 8 applies to MFA accounts, and nothing goes below 8', () => {
    expect(codeOf(policy.check('vivid ox', { ...context, minLength: 8 }))).toBe('ok');
    expect(codeOf(policy.check('vivid o', { ...context, minLength: 8 }))).toBe('password_too_short');
    expect(policy.check('vivid o', { ...context, minLength: 4 })).toMatchObject({ details: { min: 8 } });
    expect(() => createPasswordPolicy({ minLength: 6, maxLength: 256, blocklist })).toThrow(RangeError);
  });

  it('SEC-29 accepts 64 and 128, rejects 300 with password_too_long, never truncates', () => {
    for (const length of [64, 128]) {
      const password = randomPassphrase(length);
      expect(policy.check(password, context)).toEqual({ ok: true, normalized: password });
    }
    const long = randomPassphrase(300);
    expect(policy.check(long, context)).toEqual({
      ok: false,
      code: 'password_too_long',
      message: 'Use at most 256 characters.',
      details: { max: 256 },
    });
    expect(codeOf(policy.check(randomPassphrase(257), context))).toBe('password_too_long');
    expect(codeOf(policy.check('x'.repeat(1_000_000), context))).toBe('password_too_long');
  });

  it('SEC-29 caps at 1 KiB of UTF-8 even when the code point limit is higher', () => {
    const wide = createPasswordPolicy({ minLength: 15, maxLength: 1024, blocklist });
    const emoji = (n: number) => Array.from({ length: n }, (_, i) => EMOJI[i % EMOJI.length]).join('');
    expect(codeOf(wide.check(emoji(256), context))).toBe('ok'); // 1024 bytes
    expect(wide.check(emoji(257), context)).toMatchObject({ code: 'password_too_long', details: { max: 1024 } });
  });

  it('SEC-30 15 emoji count as 15 code points', () => {
    const fifteen = EMOJI.join('');
    expect(fifteen.length).toBe(30);
    expect(policy.check(fifteen, context)).toEqual({ ok: true, normalized: fifteen });
    expect(codeOf(policy.check(EMOJI.slice(0, 14).join(''), context))).toBe('password_too_short');
  });

  it('SEC-30 no composition rules: passphrases, spaces and any script are accepted', () => {
    for (const password of [
      'correct horse battery staple',
      'pässwörd-ist-lang-genug',
      'Tr0ub4dor&3-horse-battery',
      'the quick brown fox jumps',
      'παράδειγμα κωδικού πρόσβασης',
    ]) {
      expect(codeOf(policy.check(password, context)), password).toBe('ok');
    }
  });

  it('SEC-30 control characters and lone surrogates are refused, not stripped', () => {
    for (const bad of ['\u0000', '\t', '\n', '\u007f', '\u0085', '\ud800', '\udc00']) {
      const result = policy.check(`maple orbit jar${bad}x`, context);
      expect(codeOf(result), JSON.stringify(bad)).toBe('password_invalid_characters');
    }
    // Emoji ZWJ sequences are format characters, not controls.
    expect(codeOf(policy.check('👩‍💻 writes maple code', context))).toBe('ok');
  });

  it('SEC-31 common, breached and context passwords get a machine-readable reason', () => {
    const cases: Array<[string, string[]]> = [
      ['password1234567', ['password_common', 'password_breached']],
      ['qwertyuiopasdfg', ['password_common', 'password_breached']],
      ['rekey2025!!!!!!', ['password_context']],
      ['alice.smith123456789', ['password_context']],
    ];
    for (const [password, codes] of cases) {
      const result = policy.check(password, context);
      expect(result.ok, password).toBe(false);
      if (result.ok) continue;
      expect(codes, password).toContain(result.code);
      expect(PASSWORD_POLICY_CODES).toContain(result.code);
      expect(result.message).toMatch(/^[A-Z].+\.$/);
    }
  });

  it('SEC-31 an exact list entry is breached; a common base with decoration or a pattern is common', () => {
    expect(codeOf(policy.check('1qaz2wsx3edc4rfv', context))).toBe('password_breached');
    expect(codeOf(policy.check('QWERTYUIOPASDFG', context))).toBe('password_breached');
    for (const password of [
      'P@ssw0rd2024!!!!',
      'monkeymonkeymonkey',
      '!!!dragon2024!!!',
      'zxcvbnm,./asdfghjkl',
      '1qaz-2wsx-3edc-4rfv-5',
      'ああああああああああああああああ',
      'abc123!!!!!!!!!!!',
      'abcdefghijklmnopq!',
      '98765432109876543',
      'xk9xk9xk9xk9xk9xk9',
    ]) {
      expect(codeOf(policy.check(password, context)), password).toBe('password_common');
    }
  });

  it('SEC-31 context words: app name, every part of the email, extra words; not when something real is left', () => {
    const check = (password: string, extra: object = {}) => codeOf(policy.check(password, { ...context, ...extra }));
    expect(check('Smith-Alice-2025-!!')).toBe('password_context');
    expect(check('alicesmith@example')).toBe('password_context');
    expect(check('rekeyrekeyrekey')).toBe('password_context');
    expect(check('rekey monkey 12345')).toBe('password_context');
    expect(check('acmecorp-2025-2026', { extraWords: ['AcmeCorp'] })).toBe('password_context');
    expect(check('alice likes quiet mornings')).toBe('ok');
    expect(check('rekey2025!!!!!!', { appName: undefined })).toBe('ok');
  });

  it('SEC-32 NFKC: precomposed and decomposed ä normalise to the same string', () => {
    const precomposed = 'p\u00e4ssw\u00f6rd-ist-lang-genug';
    const decomposed = 'pa\u0308sswo\u0308rd-ist-lang-genug';
    expect(precomposed).not.toBe(decomposed);
    expect(normalizePassword(decomposed)).toBe(normalizePassword(precomposed));
    const a = policy.check(precomposed, context);
    const b = policy.check(decomposed, context);
    expect(a).toEqual({ ok: true, normalized: precomposed });
    expect(b).toEqual(a);
  });

  it('SEC-32 the blocklist sees the NFKC form (full-width digits and letters fold to ASCII)', () => {
    expect(normalizePassword('ｐａｓｓｗｏｒｄ１２３４５６７')).toBe('password1234567');
    expect(policy.check('ｐａｓｓｗｏｒｄ１２３４５６７', context).ok).toBe(false);
  });

  it('createBlocklist builds a small list for tests, ranked by order', () => {
    const small = createPasswordPolicy({ minLength: 15, maxLength: 256, blocklist: createBlocklist(['hunter2hunter2hunter2']) });
    expect(codeOf(small.check('Hunter2Hunter2Hunter2'))).toBe('password_breached');
    expect(codeOf(small.check('!!hunter2hunter2hunter2!!'))).toBe('password_common');
  });
});
