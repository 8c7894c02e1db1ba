import type { SelectQueryBuilder } from 'kysely';
import { z } from 'zod';

/** WorkOS list query: cursor pagination over time-sortable ids. */
export const listQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(10),
  before: z.string().min(1).max(200).optional(),
  after: z.string().min(1).max(200).optional(),
  order: z.enum(['asc', 'desc', 'normal']).default('desc'),
});
export type ListQuery = z.infer<typeof listQuery>;

export interface Page<T> {
  data: T[];
  before: string | null;
  after: string | null;
}

export const listMetadata = z.object({ before: z.string().nullable(), after: z.string().nullable() });

export const listEnvelope = <T extends z.ZodType>(item: T) => z.object({ object: z.literal('list'), data: z.array(item), list_metadata: listMetadata });

/**
 * Applies a cursor to a query ordered by `id`. `after` walks forward in the chosen order,
 * `before` walks backward; one extra row tells whether another page exists.
 */
export async function paginate<DB, TB extends keyof DB, O extends { id: string }>(
  query: SelectQueryBuilder<DB, TB, O>,
  idColumn: string,
  { limit, before, after, order }: ListQuery,
): Promise<Page<O>> {
  const descending = order === 'desc';
  const backward = before !== undefined && after === undefined;
  const cursor = after ?? before;
  const forwardOp = descending ? '<' : '>';
  const backwardOp = descending ? '>' : '<';
  // The builder arrives typed for its own table, and the cursor column is named at run time: Kysely cannot check
  // that name statically, so the builder is widened here (the callers pass only their own id column).
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let q = query as unknown as SelectQueryBuilder<any, any, O>;
  if (cursor !== undefined) q = q.where(idColumn, backward ? backwardOp : forwardOp, cursor);
  const direction = descending !== backward ? 'desc' : 'asc';
  const rows = await q
    .orderBy(idColumn, direction)
    .limit(limit + 1)
    .execute();
  const more = rows.length > limit;
  const data = rows.slice(0, limit);
  if (backward) data.reverse();
  const first = data[0]?.id ?? null;
  const last = data[data.length - 1]?.id ?? null;
  return {
    data,
    after: backward ? (cursor !== undefined ? last : null) : more ? last : null,
    before: backward ? (more ? first : null) : cursor !== undefined ? first : null,
  };
}
