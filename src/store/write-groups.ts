import { CompiledQuery, type Kysely } from 'kysely';
import type { BoundWrite } from './compiled.ts';
import type { Database } from './database.ts';

/* The write-group check of `writeTogether` and its kin (SQLite only): see `checkWriteGroups`. */

let checking = true;

/** Runs one write and returns the rows it returned. */
export type Run = (write: BoundWrite) => Promise<unknown[]>;

export const writeGroupsChecked = (): boolean => checking;

/**
 * Whether SQLite refuses a call of `writeTogether`, `writeTogetherIf` or `writeAllIf` that breaks their
 * rule (on unless turned off; production should). Each write of the call but the first runs alone on the
 * rows as they were, in a savepoint rolled back at once, then all run in order; temporary triggers of the
 * connection record the rowid of every row a write inserts, updates or deletes. The call fails when two
 * writes touch one row, or when a write touches other rows in order than alone (an earlier write changed
 * which rows it matches): what SQLite then wrote is what PostgreSQL's one statement writes.
 * It needs no declaration from the statements, so none can be forgotten, and it sees rows that a key
 * could not name (an account's open tokens); matching RETURNING ids on PostgreSQL would miss the change
 * PostgreSQL drops. Cost: none for a call of one write; otherwise about 25–30 µs a write (4 writes:
 * ≈ 90 → 205 µs a call), three statements per write and a few per call. Not seen: a write whose values,
 * rather than its rows, read another write's rows.
 */
export function checkWriteGroups(on: boolean): void {
  checking = on;
}

const TOUCHED = 'rekey_touched';
const WATCHING = 'rekey_watching';

/** SQLite: runs `body` over `writes` (one call's) with `execWrite`, refusing what breaks the rule above. */
export async function checkedRun<T>(executor: Kysely<Database>, writes: BoundWrite[], execWrite: Run, body: (run: Run) => Promise<T>): Promise<T> {
  const exec = async (sql: string) => (await executor.executeQuery(CompiledQuery.raw(sql))).rows;
  await watchEveryTable(exec);
  await exec(`insert into ${WATCHING} values (1)`);
  try {
    const alone = new Map<BoundWrite, string | undefined>();
    await exec('savepoint rekey_alone');
    for (const write of writes.slice(1)) {
      try {
        await execWrite(write);
        alone.set(write, signature(await exec(`select tbl, rid, inserted from ${TOUCHED}`)));
      } catch {
        // Alone it may fail where in order it would not (a foreign key to an earlier write's row, checked at
        // the end of PostgreSQL's statement): nothing to compare, the run in order tells.
        alone.set(write, undefined);
      }
      await exec('rollback to rekey_alone');
    }
    await exec('release rekey_alone');
    const touchedBy = new Map<string, number>();
    let index = 0;
    return await body(async (write) => {
      const position = index++;
      const rows = await execWrite(write);
      const touched = (await exec(`delete from ${TOUCHED} returning tbl, rid, inserted`)) as Touched[];
      for (const { tbl, rid } of touched) {
        const earlier = touchedBy.get(`${tbl}#${rid}`);
        if (earlier !== undefined) throw overlap(`writes ${earlier} and ${position} both change row ${rid} of ${tbl}`);
        touchedBy.set(`${tbl}#${rid}`, position);
      }
      const expected = alone.get(write);
      const actual = signature(touched);
      if (position > 0 && expected !== undefined && expected !== actual) {
        throw overlap(`write ${position} changes other rows after the writes before it than alone ([${actual}] instead of [${expected}])`);
      }
      return rows;
    });
  } finally {
    await exec(`delete from ${WATCHING}`).then(() => exec(`delete from ${TOUCHED}`));
  }
}

type Touched = { tbl: string; rid: number; inserted: number };
/** The rows a write changed: existing ones by rowid, new ones by number only (their rowids depend on order). */
const signature = (rows: unknown[]): string =>
  (rows as Touched[])
    .map(({ tbl, rid, inserted }) => (inserted ? `${tbl}:new` : `${tbl}#${rid}`))
    .sort()
    .join(', ');
const overlap = (detail: string) =>
  new Error(`writeTogether(): ${detail}; on PostgreSQL one of the two changes would be lost or see the rows as they were. Split the call or merge the writes.`);

/** Temporary (this connection's) triggers on every table that has none yet: a table created later gets its own. */
async function watchEveryTable(exec: (sql: string) => Promise<unknown[]>): Promise<void> {
  const unwatched = (await exec(
    `select name from sqlite_schema where type = 'table' and name not like 'sqlite_%' and name not in (select tbl_name from temp.sqlite_schema where type = 'trigger')`,
  )) as Array<{ name: string }>;
  if (unwatched.length === 0) return;
  await exec(`create temp table if not exists ${TOUCHED} (tbl text not null, rid integer not null, inserted integer not null)`);
  await exec(`create temp table if not exists ${WATCHING} (watching integer not null)`);
  for (const { name } of unwatched) {
    for (const [event, row, inserted] of [
      ['insert', 'new', 1],
      ['update', 'old', 0],
      ['delete', 'old', 0],
    ] as const) {
      await exec(
        `create temp trigger if not exists "rekey_watch_${event}_${name}" after ${event} on main."${name}" when exists (select 1 from ${WATCHING}) ` +
          `begin insert into ${TOUCHED} values ('${name}', ${row}.rowid, ${inserted}); end`,
      );
    }
  }
}
