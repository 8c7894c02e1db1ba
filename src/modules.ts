import { actionsModule } from './actions/index.ts';
import { appsModule } from './apps/index.ts';
import { deliveryModule, type Channel } from './delivery/index.ts';
import { factorsModule } from './factors/index.ts';
import { notificationsModule } from './notifications/index.ts';
import type { ModuleDefinition, ModuleDeps } from './platform/module.ts';
import { resetsModule } from './resets/index.ts';
import { sessionsModule } from './sessions/index.ts';
import { usersModule } from './users/index.ts';

/**
 * Every domain module, in the order they are built, their routes registered and their migrations listed: a
 * module comes after the modules it is built from (tsc checks it below). Adding a feature adds one line.
 */
export const MODULES = [appsModule, usersModule, deliveryModule, notificationsModule, factorsModule, sessionsModule, actionsModule, resetsModule] as const;

/** What the composition root passes to every module, beside the modules built before it. */
export type SharedDeps = ModuleDeps & {
  /** Replaces the configured mail channel (tests). */
  mailChannel?: Channel;
};

/** The built modules by name. */
export type BuiltModules = Built<typeof MODULES>;

/** What the modules put on the `Rekey` object, merged. */
export type ExposedServices = UnionToIntersection<{ [K in keyof BuiltModules]: BuiltModules[K] extends { expose: infer E } ? E : never }[keyof BuiltModules]>;

type Built<L> = L extends readonly [ModuleDefinition<infer N, infer _D, infer M>, ...infer Rest] ? { [K in N]: M } & Built<Rest> : unknown;

/** `true` when each module's factory needs only the shared deps and the modules listed before it. */
type InOrder<L, Have> = L extends readonly [ModuleDefinition<infer N, infer D, infer M>, ...infer Rest]
  ? Have extends D
    ? InOrder<Rest, Have & { [K in N]: M }>
    : `module "${N}" needs a module that is listed after it`
  : true;

type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;

// A compile-time check only: a module listed before one it is built from fails here.
const inOrder: InOrder<typeof MODULES, SharedDeps> = true;
void inOrder;
