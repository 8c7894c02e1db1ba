import { monotonicFactory } from 'ulid';
import { randomBytes } from './random.ts';

/** Prefixed, time-sortable ids in WorkOS's style (`user_01H…`), so cursor pagination can order by id. */
export interface Ids {
  next(prefix: string): string;
}

export function createIds(): Ids {
  // ulid asks for one random byte per character: served from the pooled CSPRNG.
  const ulid = monotonicFactory(() => randomBytes(1)[0]! / 256);
  return { next: (prefix) => `${prefix}_${ulid()}` };
}
