import { monotonicFactory, ulid } from 'ulid';
import { randomByte } from './random.ts';

/** Prefixed, time-sortable ids in WorkOS's style (`user_01H…`), so cursor pagination can order by id. */
export interface Ids {
  /**
   * Monotonic within a process: ids made in the same millisecond count up by one, so rows listed and
   * paginated by id keep their order. Anyone who sees one such id can name its neighbours.
   */
  next(prefix: string): string;
  /**
   * A fresh random ULID each time, still prefixed by its millisecond (so it sorts by time, not within one).
   * For ids handed to callers that must not reveal their neighbours (SEC-06): request ids, flow ids,
   * reset ids, pending sign-ins.
   */
  opaque(prefix: string): string;
}

export function createIds(): Ids {
  // ulid asks for one random byte per character: served from the pooled CSPRNG.
  const random = () => randomByte() / 256;
  const monotonic = monotonicFactory(random);
  return {
    next: (prefix) => `${prefix}_${monotonic()}`,
    opaque: (prefix) => `${prefix}_${ulid(undefined, random)}`,
  };
}
