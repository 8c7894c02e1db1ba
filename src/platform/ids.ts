import { monotonicFactory } from 'ulid';

/** Prefixed, time-sortable ids in WorkOS's style (`user_01H…`), so cursor pagination can order by id. */
export interface Ids {
  next(prefix: string): string;
}

export function createIds(): Ids {
  const ulid = monotonicFactory();
  return { next: (prefix) => `${prefix}_${ulid()}` };
}
