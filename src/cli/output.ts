import type { Rekey } from '../compose.ts';
import type { Config } from '../config/schema.ts';
import { toIsoOrNull } from '../platform/clock.ts';

/** What every command group is given by the entry point: config, services and the output mode. */
export interface CliContext {
  /** `--json` was given: print machine-readable output only. */
  json(): boolean;
  /** Loads (and validates) the configuration once per process. */
  config(): Config;
  /** Builds the services, runs `fn`, and always closes them so the process can exit. Never starts the dispatcher. */
  withRekey<T>(fn: (rekey: Rekey) => Promise<T>): Promise<T>;
}

/** An expected failure of a command: printed as one line, no stack trace. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

type Cell = string | number | boolean | null | undefined;

/** Prints rows as an aligned text table (columns from the first row), or a note when there are none. */
export function printTable(rows: Array<Record<string, Cell>>, empty = '(none)'): void {
  const first = rows[0];
  if (!first) {
    process.stdout.write(`${empty}\n`);
    return;
  }
  const columns = Object.keys(first);
  const cells = rows.map((row) => columns.map((column) => formatCell(row[column])));
  const widths = columns.map((column, i) => Math.max(column.length, ...cells.map((line) => line[i]!.length)));
  const line = (values: string[]) =>
    values
      .map((value, i) => value.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  process.stdout.write(`${[line(columns.map((c) => c.toUpperCase())), ...cells.map(line)].join('\n')}\n`);
}

/** Prints one record as `key: value` lines. */
export function printRecord(record: Record<string, Cell>): void {
  const width = Math.max(...Object.keys(record).map((key) => key.length));
  const lines = Object.entries(record).map(([key, value]) => `${`${key}:`.padEnd(width + 1)} ${formatCell(value)}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A line for the operator that is not the command's result (so `$(rekey …)` captures only the result). */
export function note(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** Epoch milliseconds → ISO 8601 (or null). */
export const iso = (ms: number | null | undefined): string | null => toIsoOrNull(ms ?? null);

function formatCell(value: Cell): string {
  if (value === null || value === undefined || value === '') return '-';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  return String(value);
}
