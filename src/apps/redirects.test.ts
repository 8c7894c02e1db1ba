import { describe, expect, it } from 'vitest';
import { safeRedirect } from './redirects.ts';

const allowed = ['https://app.example.com/after-reset', 'https://app.example.com/account/'];

describe('safeRedirect', () => {
  it('SEC-23 refuses the seven open-redirect payloads', () => {
    const payloads = [
      '//evil.test',
      'https://good@evil.test',
      'https://good.evil.test',
      '/\\evil.test',
      'javascript:alert(1)',
      '%2F%2Fevil.test',
      'https://evil.test#@good',
    ];
    const good = ['https://app.example.com', 'https://app.example.com/account/'];
    for (const payload of payloads) {
      expect(safeRedirect(payload, allowed), payload).toBeNull();
      // The same payloads aimed at the allowed host's own name.
      expect(safeRedirect(payload.replaceAll('good', 'app.example.com'), good), payload).toBeNull();
    }
  });

  it('SEC-23 accepts the allowed origin under its path prefix and returns the normalised URL', () => {
    expect(safeRedirect('https://app.example.com/after-reset', allowed)).toBe('https://app.example.com/after-reset');
    expect(safeRedirect('https://app.example.com/after-reset?from=rekey#top', allowed)).toBe('https://app.example.com/after-reset?from=rekey#top');
    expect(safeRedirect('https://app.example.com/after-reset/welcome', allowed)).toBe('https://app.example.com/after-reset/welcome');
    expect(safeRedirect('https://APP.example.com/account/settings', allowed)).toBe('https://app.example.com/account/settings');
    expect(safeRedirect('https://app.example.com/account/', allowed)).toBe('https://app.example.com/account/');
    // An entry with no path allows the whole origin.
    expect(safeRedirect('https://app.example.com/anything', ['https://app.example.com'])).toBe('https://app.example.com/anything');
    // A fragment holding "@" is harmless when the origin itself is allowed.
    expect(safeRedirect('https://app.example.com/account/#@evil.test', allowed)).toBe('https://app.example.com/account/#@evil.test');
  });

  it('SEC-23 matches path prefixes segment by segment', () => {
    expect(safeRedirect('https://app.example.com/after-reset-evil', allowed)).toBeNull();
    expect(safeRedirect('https://app.example.com/account', allowed)).toBeNull();
    expect(safeRedirect('https://app.example.com/accounts/x', allowed)).toBeNull();
    expect(safeRedirect('https://app.example.com/', allowed)).toBeNull();
    expect(safeRedirect('https://app.example.com/account/../admin', allowed)).toBeNull();
    expect(safeRedirect('https://app.example.com/account/..%2Fadmin', allowed)).toBeNull();
    expect(safeRedirect('https://app.example.com/account/%2e%2e/admin', allowed)).toBeNull();
  });

  it('SEC-23 requires the exact origin: scheme, host and port', () => {
    expect(safeRedirect('http://app.example.com/after-reset', allowed)).toBeNull();
    expect(safeRedirect('https://app.example.com:8443/after-reset', allowed)).toBeNull();
    expect(safeRedirect('https://app.example.com.evil.test/after-reset', allowed)).toBeNull();
    expect(safeRedirect('https://example.com/after-reset', allowed)).toBeNull();
    expect(safeRedirect('https://app.example.com./after-reset', allowed)).toBeNull();
    expect(safeRedirect('https://app.example.com:443/after-reset', allowed)).toBeNull();
  });

  it('SEC-23 refuses userinfo, backslashes, control characters and unparsable input', () => {
    for (const candidate of [
      'https://user:pass@app.example.com/account/',
      'https://@app.example.com/account/',
      'https://app.example.com\\@evil.test/account/',
      'https://app.example.com/account/\\evil',
      'https://app.example.com/account/\tx',
      'https://app.example.com/account/\nx',
      '\u0000https://app.example.com/account/',
      ' https://app.example.com/account/',
      'https:app.example.com/account/',
      'https:/app.example.com/account/',
      'https:///app.example.com/account/',
      'https://',
      'https://[::1',
      'data:text/html,<script>alert(1)</script>',
      '/account/',
      'account/',
      '',
      `https://app.example.com/account/${'a'.repeat(5000)}`,
      undefined,
      null,
    ]) {
      expect(safeRedirect(candidate, allowed), String(candidate)).toBeNull();
    }
  });

  it('SEC-23 allows plain http only on loopback, and ignores unusable allow-list entries', () => {
    expect(safeRedirect('http://127.0.0.1:3000/done', ['http://127.0.0.1:3000/'])).toBe('http://127.0.0.1:3000/done');
    expect(safeRedirect('http://localhost:3000/done', ['http://localhost:3000'])).toBe('http://localhost:3000/done');
    expect(safeRedirect('http://app.example.com/done', ['http://app.example.com/'])).toBeNull();
    expect(safeRedirect('https://app.example.com/x', ['not a url', 'https://u@app.example.com/', 'javascript:alert(1)'])).toBeNull();
    expect(safeRedirect('https://app.example.com/x', [])).toBeNull();
  });
});
