/** What `rekey serve` adds to its environment and Node flags before it serves (see serve-tuning.js). */
export interface ServeTuning {
  env: NodeJS.ProcessEnv;
  execArgv: string[];
}

/** The tuning to apply, or undefined when the environment and flags already carry it. */
export function serveTuning(env?: NodeJS.ProcessEnv, execArgv?: string[]): ServeTuning | undefined;

/** Whether these command-line arguments run the server. */
export function serving(args: string[]): boolean;

/** V8 flags the serving process sets on itself at start (`v8.setFlagsFromString`). */
export const SERVE_V8_FLAGS: readonly string[];
