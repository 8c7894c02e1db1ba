/** The actions module's door: Auth0's post-challenge actions, run in sandboxes, and the pipeline the reset flow asks. */
import { defineModule } from '../platform/module.ts';
import { createActionsModule } from './actions.module.ts';
import { actionsMigrations } from './migrations.ts';

export { createActionsModule, type ActionsModule, type ActionsService, type FlowGate } from './actions.module.ts';
export const actionsModule = defineModule('actions', actionsMigrations, createActionsModule);

export type { Decision, PostChallengeEvent } from './action.ts';
export { actionRequestOf, type ActionRequestInfo } from './event.ts';
export { ActionConfigError } from './loader.ts';
export type { FlowRef, PendingStep, Pipeline, RunContext } from './pipeline.ts';
export type { ActionCacheTable, ResetFlowActionsTable } from './progress.store.ts';
export { actionsMigrations };
