import { describe, expect, it } from 'vitest';
import { createTokens } from './tokens.ts';

const tokens = createTokens('a-test-secret-that-is-long-enough-000000');

/** χ² statistic of observed counts against a uniform expectation. */
function chiSquare(counts: number[], total: number): number {
  const expected = total / counts.length;
  return counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
}

describe('tokens', () => {
  it('SEC-06 link tokens carry 256 bits, never repeat and are uniform per position', () => {
    const sample = Array.from({ length: 1000 }, () => tokens.newLinkToken());
    expect(new Set(sample).size).toBe(1000);
    for (const token of sample) expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/); // 43 × 6 bits ≥ 256
    expect(new Set(sample.map((t) => t.slice(0, 4))).size).toBeGreaterThan(990); // no shared prefixes
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    // Positions 0..41 carry full 6-bit symbols; χ² with 63 dof stays below the 0.01 % critical value (111.4).
    for (let position = 0; position < 42; position += 7) {
      const counts = new Array<number>(64).fill(0);
      for (const token of sample) counts[alphabet.indexOf(token[position]!)]!++;
      expect(chiSquare(counts, sample.length)).toBeLessThan(111.4);
    }
  });

  it('SEC-07 codes are 6+ uniform digits with leading zeros kept', () => {
    const codes = Array.from({ length: 10_000 }, () => tokens.newCode(6));
    for (const code of codes.slice(0, 100)) expect(code).toMatch(/^\d{6}$/);
    expect(codes.some((c) => c.startsWith('0'))).toBe(true);
    for (let position = 0; position < 6; position++) {
      const counts = new Array<number>(10).fill(0);
      for (const code of codes) counts[Number(code[position])]!++;
      expect(chiSquare(counts, codes.length)).toBeLessThan(33.7); // 9 dof, p = 0.0001
    }
    expect(tokens.newCode(8)).toMatch(/^\d{8}$/);
  });

  it('SEC-09 a hash is bound to its purpose', () => {
    const token = tokens.newLinkToken();
    expect(tokens.hash(token, 'password_reset')).not.toBe(tokens.hash(token, 'email_verification'));
    expect(tokens.hash(token, 'password_reset')).toBe(tokens.hash(token, 'password_reset'));
  });

  it('seals and unseals, and refuses a tampered or foreign copy', () => {
    const sealed = tokens.seal('hello');
    expect(tokens.unseal(sealed)).toBe('hello');
    expect(sealed).not.toContain('hello');
    const tampered = Buffer.from(sealed, 'base64url');
    tampered[tampered.length - 1]! ^= 1;
    expect(tokens.unseal(tampered.toString('base64url'))).toBeUndefined();
    expect(createTokens('another-secret-that-is-long-enough-11111').unseal(sealed)).toBeUndefined();
  });
});
