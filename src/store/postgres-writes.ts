import { CompiledQuery, type Kysely } from 'kysely';
import type { BoundWrite } from './compiled.ts';
import type { Database } from './database.ts';
import { afterQuietTurns } from './quiet-turns.ts';

/** A write compiled for one executor: its SQL and parameters. */
export interface CompiledWrite {
  sql: string;
  parameters: unknown[];
}

export const rawOf = ({ sql, parameters }: CompiledWrite): CompiledQuery => CompiledQuery.raw(sql, parameters);

/** Combined SQL by the statements it is made of (their keys in order), per Kysely instance. */
const combinations = new WeakMap<object, Map<string, string>>();

/** One statement of `writes`: each but the last in a `WITH`, or every one when a `main` query ends it. */
export function combined(
  executor: Kysely<Database>,
  writes: BoundWrite[],
  main?: string,
  parts = writes.map((write) => write.compile(executor)),
): CompiledQuery {
  const adapter = executor.getExecutor().adapter;
  const byKeys = combinations.get(adapter) ?? new Map<string, string>();
  combinations.set(adapter, byKeys);
  const id = `${main ?? ''}|${writes.map((write) => write.key).join(',')}`;
  let sql = byKeys.get(id);
  if (!sql) {
    let offset = 0;
    // Kysely numbers each statement's parameters from $1; in one statement they follow one another.
    const renumbered = parts.map((part) => {
      const text = part.sql.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + offset}`);
      offset += part.parameters.length;
      return text;
    });
    const last = main ?? renumbered.pop()!;
    sql = `with ${renumbered.map((text, i) => `"write_${i}" as (${text})`).join(', ')} ${last}`;
    byKeys.set(id, sql);
  }
  return CompiledQuery.raw(
    sql,
    parts.flatMap((part) => part.parameters),
  );
}

/**
 * Callers whose writes only insert may share one statement with the other such callers of the same moment: one
 * round trip, one plan and one commit for several triggers cost PostgreSQL about half as much per caller as a
 * statement each, and less than one bare insert alone. Only inserts, because of two changes to one row in one
 * statement PostgreSQL keeps one and drops the other without a word; of two inserts of one key, the second either
 * does nothing (`on conflict do nothing`, as it would after the first) or fails the statement (a key taken, an
 * upsert touching the row twice), and then each caller's writes run alone, so only the one at fault hears of it.
 * Only small callers, and only with callers of the same statements: each combined text is prepared on every
 * connection, so the texts stay few (at most `MAX_CALLERS` per shape of caller).
 */
export const groupsWith = (parts: CompiledWrite[]): boolean => parts.length <= MAX_WRITES && parts.every((part) => INSERT.test(part.sql));

const INSERT = /^\s*insert\b/i;

/** A trigger for one recipient is four or five writes; a larger caller (a bulk trigger) is its own statement. */
const MAX_WRITES = 8;
/** Up to this many callers a statement. */
const MAX_CALLERS = 16;

interface Waiting {
  writes: BoundWrite[];
  parts: CompiledWrite[];
  resolve(): void;
  reject(error: unknown): void;
}

/** The group being collected, per database and per shape of caller (its statements' keys). */
const collecting = new WeakMap<Kysely<Database>, Map<string, Waiting[]>>();

/** Resolves once `writes` (see `groupsWith`) committed, alone or with other callers' of the same statements. */
export function joinPostgresGroup(db: Kysely<Database>, writes: BoundWrite[], parts: CompiledWrite[]): Promise<void> {
  const shape = writes.map((write) => write.key).join(',');
  const groups = collecting.get(db) ?? new Map<string, Waiting[]>();
  collecting.set(db, groups);
  const open = groups.get(shape);
  // A full group commits on its own schedule; this caller starts the next one.
  const group = open && open.length < MAX_CALLERS ? open : startGroup(db, groups, shape);
  return new Promise((resolve, reject) => group.push({ writes, parts, resolve, reject }));
}

function startGroup(db: Kysely<Database>, groups: Map<string, Waiting[]>, shape: string): Waiting[] {
  const group: Waiting[] = [];
  groups.set(shape, group);
  afterQuietTurns(
    () => group.length,
    () => {
      if (groups.get(shape) === group) groups.delete(shape);
      void commitGroup(db, group);
    },
  );
  return group;
}

/** One caller's writes (or a group's, laid end to end) as one statement. */
export const statementOf = (db: Kysely<Database>, { writes, parts }: Pick<Waiting, 'writes' | 'parts'>): CompiledQuery =>
  writes.length === 1 ? rawOf(parts[0]!) : combined(db, writes, undefined, parts);

async function commitGroup(db: Kysely<Database>, group: Waiting[]): Promise<void> {
  if (group.length > 1) {
    const all = { writes: group.flatMap((waiting) => waiting.writes), parts: group.flatMap((waiting) => waiting.parts) };
    const committed = await db.executeQuery(statementOf(db, all)).then(
      () => true,
      () => false,
    );
    if (committed) return group.forEach((waiting) => waiting.resolve());
  }
  await Promise.all(group.map((waiting) => db.executeQuery(statementOf(db, waiting)).then(() => waiting.resolve(), waiting.reject)));
}
