import { decodeTime } from 'ulid';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createIds } from './ids.ts';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** The 80-bit random part of a prefixed ULID, as a number. */
const randomPart = (id: string): bigint => [...id.slice(-16)].reduce((n, c) => n * 32n + BigInt(CROCKFORD.indexOf(c)), 0n);
const ulidOf = (id: string): string => id.slice(id.lastIndexOf('_') + 1);

const NOW = Date.UTC(2026, 10, 25, 12);

describe('ids', () => {
  // Every id below is made in one millisecond: exactly where a monotonic factory counts up by one.
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(NOW);
  });
  afterEach(() => vi.useRealTimers());

  it('SEC-06 consecutive opaque ids do not name their neighbours: no random part is the previous one plus one', () => {
    const ids = createIds();
    const made = Array.from({ length: 200 }, () => ids.opaque('flow'));
    for (const id of made) {
      expect(id).toMatch(/^flow_[0-9A-HJKMNP-TV-Z]{26}$/);
      expect(decodeTime(ulidOf(id))).toBe(NOW);
    }
    for (let i = 1; i < made.length; i++) {
      const step = randomPart(made[i]!) - randomPart(made[i - 1]!);
      expect(step === 1n || step === 0n).toBe(false);
    }
    expect(new Set(made).size).toBe(made.length);
  });

  it('next stays monotonic, so lists paginated by id keep their order', () => {
    const ids = createIds();
    const made = Array.from({ length: 200 }, () => ids.next('user'));
    expect([...made].sort()).toEqual(made);
    // Within one millisecond it counts up by one: the reason opaque() exists.
    for (let i = 1; i < made.length; i++) expect(randomPart(made[i]!) - randomPart(made[i - 1]!)).toBe(1n);
  });
});
