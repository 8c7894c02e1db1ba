import { CompiledQuery, PostgresAdapter, type Compilable, type Kysely, type QueryResult } from 'kysely';
import { sqliteHandleOf, type SqliteHandle } from './connect.ts';
import type { Database } from './database.ts';
import { combined, groupsWith, joinPostgresGroup, rawOf, statementOf, type CompiledWrite } from './postgres-writes.ts';
import { afterQuietTurns } from './quiet-turns.ts';
import { checkedRun, writeGroupsChecked, type Run } from './write-groups.ts';

/**
 * A Kysely query built and compiled once, then run with new values. Building and compiling cost Rekey's
 * hot paths about as much as running the statement in SQLite (≈ 20–30 µs a statement), for SQL that never
 * changes. The builder names its inputs through `p` (`where('id', '=', p.id)`, or `values(p)` for a whole
 * row); every other value stays as written.
 *
 * Only values can be inputs, never the shape: a builder must not branch on an input (write two
 * statements), and an input must reach the SQL as one bound value (not `is null`, not an `in` list).
 */
export interface CompiledStatement<Input, Row = unknown> {
  execute(executor: Kysely<Database>, input: Input): Promise<QueryResult<Row>>;
  /** The rows of a `SELECT` or `… RETURNING`. */
  rows(executor: Kysely<Database>, input: Input): Promise<Row[]>;
  first(executor: Kysely<Database>, input: Input): Promise<Row | undefined>;
  /** This statement with its input, to be run later, alone or with others (`writeTogether`). */
  bind(input: Input): BoundWrite;
}

/** A write ready to run: see `writeTogether`. */
export interface BoundWrite {
  /** SQL and parameters for the executor's dialect. */
  compile(executor: Kysely<Database>): CompiledWrite;
  /** Names the statement, whatever its input. */
  readonly key: number;
}

/** Stands for an input until the query is compiled; no real value looks like it. */
const MARK = '\u0000rekey-input:';

type Slot = { input: string } | { value: unknown };
interface Template {
  sql: string;
  slots: Slot[];
}

let statementCount = 0;

class Statement<Input extends object, Row> implements CompiledStatement<Input, Row> {
  readonly key = ++statementCount;
  // One template per Kysely instance (its adapter), as the dialect decides the SQL.
  readonly #templates = new WeakMap<object, Template>();
  readonly #build: (db: Kysely<Database>, p: Input) => Compilable<Row>;

  constructor(build: (db: Kysely<Database>, p: Input) => Compilable<Row>) {
    this.#build = build;
  }

  compile(executor: Kysely<Database>, input: Input): CompiledWrite {
    const adapter = executor.getExecutor().adapter;
    let template = this.#templates.get(adapter);
    if (!template) {
      template = compileTemplate(executor, this.#build, input);
      this.#templates.set(adapter, template);
    }
    return { sql: template.sql, parameters: bindSlots(template.slots, input as Record<string, unknown>) };
  }

  execute(executor: Kysely<Database>, input: Input): Promise<QueryResult<Row>> {
    const { sql, parameters } = this.compile(executor, input);
    return executor.executeQuery<Row>(CompiledQuery.raw(sql, parameters));
  }

  async rows(executor: Kysely<Database>, input: Input): Promise<Row[]> {
    return (await this.execute(executor, input)).rows;
  }

  async first(executor: Kysely<Database>, input: Input): Promise<Row | undefined> {
    return (await this.execute(executor, input)).rows[0];
  }

  bind(input: Input): BoundWrite {
    return new Bound(this, input);
  }
}

class Bound<Input extends object> implements BoundWrite {
  constructor(
    readonly statement: Statement<Input, unknown>,
    readonly input: Input,
  ) {}

  get key(): number {
    return this.statement.key;
  }

  compile(executor: Kysely<Database>): CompiledWrite {
    return this.statement.compile(executor, this.input);
  }
}

export function compiled<Input extends object, Row = unknown>(build: (db: Kysely<Database>, p: Input) => Compilable<Row>): CompiledStatement<Input, Row> {
  return new Statement(build);
}

/**
 * Writes that commit together or not at all, none of which needs another's result. It resolves once
 * they are committed. The rule: every write of one call (guards included) must do what it would do alone
 * on the rows as they were before the call, so no two of them may change, or would change, the same row.
 *
 * On PostgreSQL they go as one statement (each but the last in a data-modifying `WITH`): one round trip
 * and one commit instead of one per write plus `BEGIN`/`COMMIT`. Every write of that statement sees the
 * rows as they were before it, and of two changes to one row PostgreSQL silently keeps one. Outside a
 * transaction, writes that only insert share that statement with other such callers of the same moment
 * (postgres-writes.ts).
 *
 * On SQLite they run in order in one transaction: the caller's if it is in one, otherwise one shared with
 * the other callers of the same moment (a group commit). Each commit writes every page it touched to the
 * WAL, which cost more than the statements: ten requests' rows in one commit write those pages once.
 * In order, each write sees the earlier ones; a call that breaks the rule is refused (`checkWriteGroups`),
 * and as both stores run the same calls, SQLite's refusal in the tests keeps PostgreSQL's result right.
 */
export async function writeTogether(executor: Kysely<Database>, writes: BoundWrite[]): Promise<void> {
  if (writes.length === 0) return;
  if (executor.getExecutor().adapter instanceof PostgresAdapter) {
    const parts = writes.map((write) => write.compile(executor));
    if (!executor.isTransaction && groupsWith(parts)) await joinPostgresGroup(executor, writes, parts);
    else await executor.executeQuery(statementOf(executor, { writes, parts }));
  } else if (executor.isTransaction) {
    await runGuarded(executor, { writes });
  } else {
    await joinGroupCommit(executor, { writes });
  }
}

/**
 * `writes` together with `guard`, a conditional `UPDATE … RETURNING`, and only if the guard changed a
 * row: resolves to the guard's first row, or undefined when it changed none (and nothing was written).
 * The rules of `writeTogether` hold, guard included: no write may touch a row the guard changes.
 *
 * `conditions` are reads (`SELECT`s) that must each find a row as well, or nothing is written: a check
 * made in the statement that commits, instead of a round trip before it. Like every write of the call,
 * they see the rows as they were before it.
 *
 * On PostgreSQL this is one statement too: the guard, the conditions and the writes as `WITH`s, and a
 * main query that divides by the guard's row count and each condition's. No row, and the division fails
 * the statement, so none of it stays. On SQLite the conditions run first, then the guard, and the
 * writes follow them in their transaction.
 */
export async function writeTogetherIf<Row>(
  executor: Kysely<Database>,
  guard: BoundWrite,
  writes: BoundWrite[],
  conditions: BoundWrite[] = [],
): Promise<Row | undefined> {
  if (executor.getExecutor().adapter instanceof PostgresAdapter) {
    if (writes.length === 0 && conditions.length === 0) return (await executor.executeQuery<Row>(rawOf(guard.compile(executor)))).rows[0];
    try {
      const statement = combined(executor, [guard, ...conditions, ...writes], guardedMain(conditions.length));
      const row = (await executor.executeQuery<Row & { rekey_guard?: unknown }>(statement)).rows[0];
      if (row === undefined) return undefined;
      const { rekey_guard: _checked, ...rest } = row;
      return rest as Row;
    } catch (error) {
      if ((error as { code?: string }).code === DIVISION_BY_ZERO) return undefined;
      throw error;
    }
  }
  if (executor.isTransaction) return (await runGuarded(executor, { guard, writes, conditions })) as Row | undefined;
  return (await joinGroupCommit(executor, { guard, writes, conditions })) as Row | undefined;
}

/**
 * Several guarded groups (`writeTogetherIf`'s guard and writes) in one commit, all or nothing: true if
 * every guard changed a row and everything was written, false (nothing written) if any guard changed
 * none. On PostgreSQL one statement; on SQLite one transaction.
 */
export async function writeAllIf(executor: Kysely<Database>, groups: Array<{ guard: BoundWrite; writes: BoundWrite[] }>): Promise<boolean> {
  if (groups.length === 0) return true;
  if (executor.getExecutor().adapter instanceof PostgresAdapter) {
    const writes: BoundWrite[] = [];
    const guards: number[] = [];
    for (const group of groups) {
      guards.push(writes.length);
      writes.push(group.guard, ...group.writes);
    }
    // Every guard's count is divided into 1, so a guard without a row fails the whole statement.
    const main = `select ${guards.map((i) => `(select 1 / count(*) from "write_${i}")`).join(' + ')} as "rekey_guard"`;
    try {
      await executor.executeQuery(combined(executor, writes, main));
      return true;
    } catch (error) {
      if ((error as { code?: string }).code === DIVISION_BY_ZERO) return false;
      throw error;
    }
  }
  // One call on PostgreSQL, so one call for the check too: no two groups may touch one row either.
  const all = (trx: Kysely<Database>) =>
    watched(trx, groups, async (run) => {
      for (const group of groups) if ((await runWork(run, group)).length === 0) throw new GuardMissed();
    });
  try {
    await (executor.isTransaction ? all(executor) : executor.transaction().execute(all));
    return true;
  } catch (error) {
    if (error instanceof GuardMissed) return false;
    throw error;
  }
}

class GuardMissed extends Error {}

const DIVISION_BY_ZERO = '22012';
/**
 * The main query of a guarded statement (the guard `write_0`, then `conditions` reads): the guard's rows, or
 * a division by zero if it or a condition has none. The division is an output column of every row (and there
 * is at least one), so the planner cannot skip it.
 */
const guardedMain = (conditions: number) => {
  const divisions = Array.from({ length: conditions + 1 }, (_, i) => `(select 1 / count(*) from "write_${i}")`).join(' + ');
  return `select ${divisions} as "rekey_guard", "write_0".* from (values (1)) as "one" left join "write_0" on true`;
};

interface Work {
  guard?: BoundWrite;
  /** Reads that must each return a row before anything is written (see `writeTogetherIf`). */
  conditions?: BoundWrite[];
  writes: BoundWrite[];
}

interface Waiting extends Work {
  resolve(row: unknown): void;
  reject(error: unknown): void;
}

/** The group being collected for each database. */
const collecting = new WeakMap<Kysely<Database>, Waiting[]>();

function joinGroupCommit(db: Kysely<Database>, work: Work): Promise<unknown> {
  let group = collecting.get(db);
  if (!group) {
    const started: Waiting[] = (group = []);
    collecting.set(db, started);
    afterQuietTurns(
      () => started.length,
      () => {
        collecting.delete(db);
        void commitGroup(db, started);
      },
    );
  }
  return new Promise((resolve, reject) => group.push({ ...work, resolve, reject }));
}

async function commitGroup(db: Kysely<Database>, group: Waiting[]): Promise<void> {
  const sqlite = writeGroupsChecked() ? undefined : sqliteHandleOf(db);
  if (sqlite) {
    // No connection to be had (the store closed while the group waited): every caller hears of it, and
    // nothing is left to reject unhandled.
    return db
      .connection()
      .execute(async () => commitDirect(db, sqlite, group))
      .catch((error: unknown) => group.forEach((waiting) => waiting.reject(error)));
  }
  try {
    const results = await db.transaction().execute(async (trx) => {
      const rows: unknown[] = [];
      for (const waiting of group) rows.push(await runGuarded(trx, waiting));
      return rows;
    });
    group.forEach((waiting, i) => waiting.resolve(results[i]));
  } catch (error) {
    if (group.length === 1) return group[0]!.reject(error);
    // One caller's write failed and took the group down: commit each alone, so only that caller sees it.
    for (const waiting of group) {
      await db
        .transaction()
        .execute((trx) => runGuarded(trx, waiting))
        .then(waiting.resolve, waiting.reject);
    }
  }
}

/**
 * `commitGroup` straight on the driver, synchronously (Kysely's connection held): through Kysely each
 * statement cost about 8 µs and each transaction about 15 µs more than the statement itself, a good share
 * of a trigger's four inserts. Unchecked only: the write-group check runs its statements through Kysely.
 */
function commitDirect(db: Kysely<Database>, sqlite: SqliteHandle, group: Waiting[]): void {
  const run = (write: BoundWrite): unknown[] => {
    const { sql, parameters } = write.compile(db);
    const statement = sqlite.prepare(sql);
    if (statement.reader) return statement.all(parameters);
    statement.run(parameters);
    return [];
  };
  const work = ({ guard, conditions = [], writes }: Work): unknown => {
    if (conditions.some((condition) => run(condition).length === 0)) return undefined;
    const rows = guard ? run(guard) : [];
    if (guard && rows.length === 0) return undefined;
    for (const write of writes) run(write);
    return rows[0];
  };
  const inTransaction = <T>(body: () => T): T => {
    sqlite.prepare('begin').run();
    try {
      const result = body();
      sqlite.prepare('commit').run();
      return result;
    } catch (error) {
      // Some errors (a full disk) end the transaction themselves.
      if (sqlite.database.inTransaction) sqlite.prepare('rollback').run();
      throw error;
    }
  };
  let results: unknown[];
  try {
    results = inTransaction(() => group.map(work));
  } catch (error) {
    if (group.length === 1) return group[0]!.reject(error);
    // One caller's write failed and took the group down: commit each alone, so only that caller sees it.
    for (const waiting of group) {
      try {
        waiting.resolve(inTransaction(() => work(waiting)));
      } catch (alone) {
        waiting.reject(alone);
      }
    }
    return;
  }
  group.forEach((waiting, i) => waiting.resolve(results[i]));
}

/** The guard's first row (undefined: nothing written), or undefined after the writes when there is no guard. */
async function runGuarded(executor: Kysely<Database>, work: Work): Promise<unknown> {
  return watched(executor, [work], async (run) => (await runWork(run, work))[0]);
}

/** The rows of the guard (if any) once every write of `work` ran; none when the guard changed no row. */
async function runWork(run: Run, { guard, conditions = [], writes }: Work): Promise<unknown[]> {
  for (const condition of conditions) if ((await run(condition)).length === 0) return [];
  const rows = guard ? await run(guard) : [];
  if (guard && rows.length === 0) return rows;
  for (const write of writes) await run(write);
  return rows;
}

/** SQLite: runs one call's writes (`works`, what PostgreSQL would send as one statement), checked if enabled. */
async function watched<T>(executor: Kysely<Database>, works: Work[], body: (run: Run) => Promise<T>): Promise<T> {
  const plain: Run = async (write) => (await executor.executeQuery(rawOf(write.compile(executor)))).rows;
  const writes = works.flatMap((work) => [...(work.conditions ?? []), ...(work.guard ? [work.guard] : []), ...work.writes]);
  return !writeGroupsChecked() || writes.length < 2 ? body(plain) : checkedRun(executor, writes, plain, body);
}

function compileTemplate<Input extends object>(
  executor: Kysely<Database>,
  build: (db: Kysely<Database>, p: Input) => Compilable<unknown>,
  input: Input,
): Template {
  // The placeholder row has the keys of the first input, so `values(p)` lists every column of the row.
  const keys = Object.keys(input);
  const placeholders = new Proxy({} as Record<string, unknown>, {
    get: (_, name) => `${MARK}${String(name)}`,
    ownKeys: () => keys,
    getOwnPropertyDescriptor: (_, name) => ({ value: `${MARK}${String(name)}`, enumerable: true, configurable: true, writable: false }),
  });
  const query = build(executor, placeholders as Input).compile();
  const slots = query.parameters.map((value): Slot => {
    if (typeof value === 'string' && value.startsWith(MARK)) return { input: value.slice(MARK.length) };
    if (typeof value === 'string' && value.includes(MARK)) throw new Error('compiled(): an input was folded into a larger value; bind it on its own');
    return { value };
  });
  return { sql: query.sql, slots };
}

function bindSlots(slots: Slot[], input: Record<string, unknown>): unknown[] {
  return slots.map((slot) => {
    if (!('input' in slot)) return slot.value;
    const value = input[slot.input];
    // A missing value would bind as NULL (or fail in the driver) far from the mistake.
    if (value === undefined) throw new Error(`compiled(): no value for "${slot.input}"`);
    return value;
  });
}
