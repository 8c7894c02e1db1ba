import { BlockList, isIP } from 'node:net';

/**
 * The client address behind trusted proxies (SEC-19).
 *
 * `X-Forwarded-For` is written by whoever sends the request, so it counts only when the socket peer is a
 * configured proxy: otherwise a client could pick its own rate-limit key by sending the header. Behind a trusted
 * peer the list is read from the right (each proxy appends the address it saw), trusted hops are skipped, and the
 * first untrusted address is the client. If every hop is trusted the leftmost one is the client.
 *
 * IPv4-mapped IPv6 (`::ffff:1.2.3.4`) is returned as plain IPv4, so one client has one key whichever way it came in.
 */
export function clientIp(socketAddress: string, forwardedFor: string | undefined, trustedProxies: string[]): string {
  const peer = normalize(socketAddress) ?? socketAddress;
  const trusted = matcherFor(trustedProxies);
  if (!trusted(peer) || forwardedFor === undefined) return peer;

  const hops = forwardedFor
    .split(',')
    .map((hop) => hop.trim())
    .filter((hop) => hop !== '');
  let client = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = normalize(hops[i]!);
    // A hop a trusted proxy reported that is not an address: keep the proxy that reported it rather than
    // hand an arbitrary string on as a rate-limit key.
    if (hop === undefined) return client;
    client = hop;
    if (!trusted(hop)) return hop;
  }
  return client;
}

/**
 * Parses a comma-separated list of IPs and CIDRs, IPv4 or IPv6 (e.g. `127.0.0.1/32, 10.0.0.0/8, ::1`).
 * Throws an Error naming the first malformed entry. Blank entries are ignored; an empty value trusts no one.
 */
export function parseTrustedProxies(value: string): string[] {
  const entries = value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  for (const entry of entries) parseEntry(entry);
  return entries;
}

interface Subnet {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

function parseEntry(entry: string): Subnet {
  const slash = entry.indexOf('/');
  const rawAddress = slash === -1 ? entry : entry.slice(0, slash);
  const rawPrefix = slash === -1 ? undefined : entry.slice(slash + 1);
  const version = isIP(rawAddress);
  const max = version === 4 ? 32 : 128;
  if (version === 0 || rawAddress.includes('%')) {
    throw new Error(`Invalid trusted proxy "${entry}": expected an IPv4/IPv6 address or CIDR such as 10.0.0.0/8`);
  }
  if (rawPrefix !== undefined && !(/^\d{1,3}$/.test(rawPrefix) && Number(rawPrefix) <= max)) {
    throw new Error(`Invalid trusted proxy "${entry}": the prefix length must be 0–${max}`);
  }
  const prefix = rawPrefix === undefined ? max : Number(rawPrefix);
  // ::ffff:a.b.c.d/N names IPv4 space; addresses are compared as IPv4, so store the rule as IPv4 too.
  const mapped = version === 6 ? unmap(rawAddress) : undefined;
  if (mapped !== undefined && prefix >= 96) return { address: mapped, prefix: prefix - 96, family: 'ipv4' };
  return { address: rawAddress, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

const matchers = new WeakMap<readonly string[], (address: string) => boolean>();

/** Compiles the list once per array (the config is parsed once and frozen). */
function matcherFor(trustedProxies: readonly string[]): (address: string) => boolean {
  let match = matchers.get(trustedProxies);
  // The default trusts no one: no address check on every request for an empty list.
  if (!match && trustedProxies.length === 0) match = () => false;
  if (!match) {
    const list = new BlockList();
    for (const entry of trustedProxies) {
      const { address, prefix, family } = parseEntry(entry.trim());
      list.addSubnet(address, prefix, family);
    }
    match = (address) => {
      const version = isIP(address);
      return version !== 0 && list.check(address, version === 4 ? 'ipv4' : 'ipv6');
    };
    matchers.set(trustedProxies, match);
  }
  return match;
}

/** A usable address from a socket or a forwarded hop (`[::1]:443`, `1.2.3.4:5678`, `fe80::1%eth0`), else undefined. */
function normalize(raw: string): string | undefined {
  let value = raw.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(value);
  if (bracketed) value = bracketed[1]!;
  else if (/^[\d.]+:\d+$/.test(value)) value = value.slice(0, value.indexOf(':'));
  value = value.replace(/%.*$/, '');
  const version = isIP(value);
  if (version === 0) return undefined;
  return version === 6 ? (unmap(value) ?? value.toLowerCase()) : value;
}

/** `::ffff:1.2.3.4` (any case, or the hex form `::ffff:102:304`) → `1.2.3.4`; undefined if not IPv4-mapped. */
function unmap(address: string): string | undefined {
  const dotted = /^(?:0{0,4}:){0,5}:?ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (dotted && isIP(dotted[1]!) === 4) return dotted[1];
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (!hex) return undefined;
  const high = parseInt(hex[1]!, 16);
  const low = parseInt(hex[2]!, 16);
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
}
