import { UAParser } from 'ua-parser-js';
import type { Tokens } from '../platform/tokens.ts';
import { compiled, type BoundWrite } from '../store/compiled.ts';
import type { Database } from '../store/database.ts';
import type { Kysely } from 'kysely';

/**
 * The devices an account has signed in from, to tell a new one from a known one (the `new-sign-in` notice).
 *
 * A device is the browser family and the OS family of the user agent ("Firefox", "Linux"), not the user agent
 * itself: a browser update is not a new device, and a table of these never holds a user agent. It is kept as an
 * HMAC of the user id and the two names under the server secret, so a dump says neither which browsers a user has
 * nor which users share one. Versions and IP addresses are left out on purpose: both change without the user
 * changing device, and a notice on every update or network would be noise the user learns to ignore.
 */
export interface SignInDevices {
  /** The device key of a sign-in by `userId` with this user agent (an absent or unreadable one is one device too). */
  keyOf(userId: string, userAgent: string | null): string;
  /** Whether the account has a known device at all, and whether it knows this one: one indexed read. */
  lookup(db: Kysely<Database>, userId: string, deviceKey: string): Promise<{ anyKnown: boolean; known: boolean }>;
  /** Records the device; a second record of it (a concurrent sign-in) changes nothing. */
  remember(userId: string, deviceKey: string, now: number): BoundWrite;
}

const lookup = compiled<{ userId: string; deviceKey: string }, { any_known: unknown; known: unknown }>((db, p) =>
  db.selectNoFrom((eb) => [
    eb.exists(eb.selectFrom('sign_in_devices').select('user_id').where('user_id', '=', p.userId)).as('any_known'),
    eb.exists(eb.selectFrom('sign_in_devices').select('user_id').where('user_id', '=', p.userId).where('device_key', '=', p.deviceKey)).as('known'),
  ]),
);

const remember = compiled<{ user_id: string; device_key: string; first_seen_at: number }>((db, p) =>
  db
    .insertInto('sign_in_devices')
    .values(p)
    .onConflict((oc) => oc.columns(['user_id', 'device_key']).doNothing()),
);

/** PostgreSQL answers booleans, SQLite 0 and 1. */
const truthy = (value: unknown) => value === true || value === 1 || value === '1' || value === 't';

/** The browser and OS families of a user agent; parsed once per distinct string (sign-ins repeat a handful). */
export function deviceFamilies(userAgent: string | null): { browser: string | null; os: string | null } {
  if (!userAgent) return { browser: null, os: null };
  let found = parsed.get(userAgent);
  if (!found) {
    const parser = new UAParser(userAgent.slice(0, 1_000));
    found = { browser: parser.getBrowser().name ?? null, os: parser.getOS().name ?? null };
    // A bounded memo: clearing it now and then costs a few parses, never memory.
    if (parsed.size >= 1_000) parsed.clear();
    parsed.set(userAgent, found);
  }
  return found;
}
const parsed = new Map<string, { browser: string | null; os: string | null }>();

export function createSignInDevices(tokens: Tokens): SignInDevices {
  return {
    keyOf(userId, userAgent) {
      const { browser, os } = deviceFamilies(userAgent);
      return tokens.hash(`${userId}\0${browser ?? ''}\0${os ?? ''}`, 'sign_in_device');
    },
    async lookup(db, userId, deviceKey) {
      const row = await lookup.first(db, { userId, deviceKey });
      return { anyKnown: truthy(row?.any_known), known: truthy(row?.known) };
    },
    remember: (userId, deviceKey, now) => remember.bind({ user_id: userId, device_key: deviceKey, first_seen_at: now }),
  };
}
