import type { FastifyPluginAsync } from 'fastify';
import type { Migration } from 'kysely';
import type { z } from 'zod';
import type { RateLimits } from './ratelimit.ts';
import type { PlatformDeps } from '../deps.ts';
import type { BoundWrite } from '../store/compiled.ts';

/** The outbox row a job runs for. `attempts` counts the attempts made before this one. */
export interface JobRow {
  id: string;
  attempts: number;
}

/**
 * One kind of outbox job. The dispatcher parses the stored payload with `schema` and dead-letters a row that
 * does not fit, so `handler` only ever sees a well-formed payload. Delivery is at-least-once: the handler
 * returns the writes that complete it (they commit with the row's "sent" mark, only while the row is still
 * claimed), or keys its effects so that a rerun changes nothing. Throw to retry with backoff.
 */
export interface Job<P = unknown> {
  schema: z.ZodType<P>;
  handler(payload: P, row: JobRow): Promise<void | BoundWrite[]>;
  /**
   * An operator retries a dead row (`rekey deliveries retry`): the writes that reopen what the job's own records
   * closed when the row died. They commit with the row's return to the queue, and only if it was still dead.
   */
  replay?(payload: P, row: JobRow): BoundWrite[];
  /**
   * The row died without the handler recording it in the job's own records: dead-lettered before or outside the
   * handler's own bookkeeping, expired in the outbox before it could be sent, or deleted past retention while dead.
   * The writes that record it there, committed with that change; run again, they must change nothing. `payload` is
   * the row's JSON as it is then (its sealed part may be gone, so it is not parsed with `schema`); `reason` is the
   * row's `last_error`.
   */
  dead?(payload: unknown, reason: string, now: number): BoundWrite[];
}

/** Declares a job kind; the handler's payload type comes from the schema. */
export const defineJob = <P>(schema: z.ZodType<P>, handler: (payload: P, row: JobRow) => Promise<void | BoundWrite[]>): Job<P> => ({ schema, handler });

/** One upkeep statement: given the time, it changes what has outlived its use and says how many rows. */
export type SweepStep = (now: number) => Promise<number>;

/**
 * What every module is built from: the platform, plus registries that the composition root fills with every
 * module's jobs and upkeep once all are built (read when work runs, never while modules are being built).
 */
export interface ModuleDeps extends PlatformDeps {
  rateLimits: RateLimits;
  jobs: Readonly<Record<string, Job>>;
  sweeps: Readonly<Record<string, SweepStep>>;
}

/** What a module's door hands the composition root. */
export interface ModuleParts {
  /** Public HTTP routes, registered after the platform plugins and before the hosted pages. */
  routes?: FastifyPluginAsync;
  /** Management HTTP routes, registered inside the secret-key scope. */
  managementRoutes?: FastifyPluginAsync;
  /** Outbox job kinds this module declares and handles. */
  jobs?: Record<string, Job>;
  /** The module's own migrations (also on its definition, for the store to assemble before anything runs). */
  migrations: Record<string, Migration>;
  /** Upkeep the delivery sweeper runs with its own, each one statement. */
  sweeps?: Record<string, SweepStep>;
  /** What the module puts on the `Rekey` object (services the server, the CLI and the tests call). */
  expose?: object;
  /** Runs once every module is built and the store is migrated. */
  start?(): Promise<void>;
  /** Runs at shutdown, in the reverse order of the list. */
  close?(): Promise<void>;
}

/** A module's entry in `src/modules.ts`: its name, its migrations and its factory. */
export interface ModuleDefinition<N extends string = string, D = never, M extends ModuleParts = ModuleParts> {
  readonly name: N;
  readonly migrations: Record<string, Migration>;
  create(deps: D): Promise<M>;
}

export const defineModule = <N extends string, D extends ModuleDeps, M extends ModuleParts>(
  name: N,
  migrations: Record<string, Migration>,
  create: (deps: D) => Promise<M>,
): ModuleDefinition<N, D, M> => ({ name, migrations, create });
