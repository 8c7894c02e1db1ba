import { describe, expect, it } from 'vitest';
import { clientIp, parseTrustedProxies } from './client-ip.ts';

const PROXIES = ['127.0.0.1/32', '10.0.0.0/8', 'fd00::/8', '::1'];

describe('clientIp', () => {
  it('ignores a spoofed X-Forwarded-For from an untrusted peer (SEC-19)', () => {
    expect(clientIp('203.0.113.7', '198.51.100.1', PROXIES)).toBe('203.0.113.7');
    expect(clientIp('203.0.113.7', '10.0.0.1, 127.0.0.1', PROXIES)).toBe('203.0.113.7');
    // Each spoofed value lands on the same key, so rotating the header does not reset a counter.
    const keys = new Set(['1.1.1.1', '2.2.2.2', 'garbage'].map((xff) => clientIp('203.0.113.7', xff, PROXIES)));
    expect([...keys]).toEqual(['203.0.113.7']);
  });

  it('trusts no one when the list is empty', () => {
    expect(clientIp('127.0.0.1', '198.51.100.1', [])).toBe('127.0.0.1');
  });

  it('returns the client behind a trusted proxy hop', () => {
    expect(clientIp('127.0.0.1', '198.51.100.1', PROXIES)).toBe('198.51.100.1');
    expect(clientIp('::ffff:127.0.0.1', ' 198.51.100.1 ', PROXIES)).toBe('198.51.100.1');
  });

  it('walks from the right, skipping trusted hops, and ignores what the client prepended', () => {
    // The client sent "X-Forwarded-For: 6.6.6.6"; two trusted proxies appended what they saw.
    expect(clientIp('10.0.0.2', '6.6.6.6, 198.51.100.1, 10.0.0.1', PROXIES)).toBe('198.51.100.1');
  });

  it('returns the leftmost hop when every hop is trusted, and the peer when the header is absent or empty', () => {
    expect(clientIp('10.0.0.2', '10.1.1.1, 10.0.0.1', PROXIES)).toBe('10.1.1.1');
    expect(clientIp('10.0.0.2', undefined, PROXIES)).toBe('10.0.0.2');
    expect(clientIp('10.0.0.2', ' , ', PROXIES)).toBe('10.0.0.2');
  });

  it('never hands on a non-address: falls back to the hop that reported it', () => {
    expect(clientIp('10.0.0.2', 'unknown', PROXIES)).toBe('10.0.0.2');
    expect(clientIp('10.0.0.2', 'evil, 10.0.0.1', PROXIES)).toBe('10.0.0.1');
  });

  it('matches IPv4 CIDRs, including IPv4-mapped IPv6 peers and hops', () => {
    expect(clientIp('10.255.255.254', '198.51.100.1', PROXIES)).toBe('198.51.100.1');
    expect(clientIp('11.0.0.1', '198.51.100.1', PROXIES)).toBe('11.0.0.1');
    expect(clientIp('::ffff:10.9.8.7', '::FFFF:198.51.100.9', PROXIES)).toBe('198.51.100.9');
    expect(clientIp('::ffff:a09:807', '198.51.100.1', PROXIES)).toBe('198.51.100.1');
    expect(clientIp('::ffff:203.0.113.7', '198.51.100.1', PROXIES)).toBe('203.0.113.7');
    expect(clientIp('127.0.0.2', '198.51.100.1', PROXIES)).toBe('127.0.0.2'); // /32 means exactly one
  });

  it('matches IPv6 CIDRs and single IPv6 addresses', () => {
    expect(clientIp('fd12:3456::1', '2001:db8::42', PROXIES)).toBe('2001:db8::42');
    expect(clientIp('::1', '2001:db8::42', PROXIES)).toBe('2001:db8::42');
    expect(clientIp('fe80::1', '2001:db8::42', PROXIES)).toBe('fe80::1');
    expect(clientIp('2001:db8::1', '198.51.100.1', ['2001:db8::/32'])).toBe('198.51.100.1');
    expect(clientIp('2001:db9::1', '198.51.100.1', ['2001:db8::/32'])).toBe('2001:db9::1');
  });

  it('treats a ::ffff:0:0/96-style rule as IPv4 space', () => {
    expect(clientIp('10.1.2.3', '198.51.100.1', ['::ffff:10.0.0.0/104'])).toBe('198.51.100.1');
    expect(clientIp('11.1.2.3', '198.51.100.1', ['::ffff:10.0.0.0/104'])).toBe('11.1.2.3');
  });

  it('strips ports and brackets that some proxies add', () => {
    expect(clientIp('127.0.0.1', '198.51.100.1:5678', PROXIES)).toBe('198.51.100.1');
    expect(clientIp('127.0.0.1', '[2001:db8::42]:443', PROXIES)).toBe('2001:db8::42');
  });
});

describe('parseTrustedProxies', () => {
  it('parses a comma-separated list of IPs and CIDRs', () => {
    expect(parseTrustedProxies(' 127.0.0.1/32, 10.0.0.0/8 ,::1, fd00::/8,')).toEqual(['127.0.0.1/32', '10.0.0.0/8', '::1', 'fd00::/8']);
    expect(parseTrustedProxies('')).toEqual([]);
  });

  it.each(['10.0.0.0/33', '::/129', 'localhost', '10.0.0/8', '10.0.0.0/', '10.0.0.0/8/8', '1.2.3.4/-1', 'fe80::1%eth0'])(
    'rejects %s with a clear message',
    (entry) => {
      expect(() => parseTrustedProxies(`127.0.0.1, ${entry}`)).toThrow(/Invalid trusted proxy/);
      expect(() => parseTrustedProxies(entry)).toThrow(entry);
    },
  );

  it('makes clientIp throw on a malformed list rather than trust nothing silently', () => {
    expect(() => clientIp('127.0.0.1', '1.2.3.4', ['nope'])).toThrow(/Invalid trusted proxy "nope"/);
  });
});
