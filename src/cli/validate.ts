import { InvalidArgumentError } from 'commander';
import type { z } from 'zod';
import { CliError } from './output.ts';

const reasons = (error: z.ZodError): string => error.issues.map((issue) => issue.message).join('; ');

/**
 * A command-line argument parser made from the zod field the HTTP API checks the same input with, so the CLI
 * refuses what the API refuses, for the API's reason. Commander prints the reason and exits with status 1.
 */
export const parsedBy =
  <T>(field: z.ZodType<T>) =>
  (value: string): T => {
    const result = field.safeParse(value);
    if (!result.success) throw new InvalidArgumentError(reasons(result.error));
    return result.data;
  };

/** The same check for a value that does not come from argv (a password read from stdin). */
export function checkedBy<T>(field: z.ZodType<T>, what: string, value: unknown): T {
  const result = field.safeParse(value);
  if (!result.success) throw new CliError(`invalid ${what}: ${reasons(result.error)}`);
  return result.data;
}
