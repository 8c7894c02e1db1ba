/**
 * Turns of the event loop a group commit may wait for more callers. A commit's cost is mostly per commit (SQLite:
 * the pages it writes, the last leaf of each index shared by every caller; PostgreSQL: a round trip, a plan, a
 * flush), so bigger groups cost less per caller: under ten connections of triggers, waiting while each turn brought
 * someone new grew SQLite's groups from about five callers to about eight and triggers/s by 15–25 %. A lone caller
 * waits one turn more than it would for the current I/O callbacks alone.
 */
const MAX_WAIT_TURNS = 5;

/** Runs `commit` on a later turn, once a turn brought no new caller (`size` did not grow) or after the last turn. */
export function afterQuietTurns(size: () => number, commit: () => void): void {
  let seen = 0;
  let turns = 0;
  const commitOnceQuiet = () => {
    if (size() > seen && ++turns < MAX_WAIT_TURNS) {
      seen = size();
      setImmediate(commitOnceQuiet);
      return;
    }
    commit();
  };
  setImmediate(commitOnceQuiet);
}
