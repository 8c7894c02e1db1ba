/** The resets module's door: the reset flow state machine, its services and the hosted pages' view of it. */
import { defineModule } from '../platform/module.ts';
import { resetsMigrations } from './migrations.ts';
import { createResetsModule } from './resets.module.ts';

export { createResetsModule, type ResetsModule } from './resets.module.ts';
export const resetsModule = defineModule('resets', resetsMigrations, createResetsModule);

export {
  effectiveStatus,
  FLOW_STATUSES,
  FLOW_STRATEGIES,
  MAX_CODE_ATTEMPTS,
  type FlowStatus,
  type FlowStrategy,
  type PublicFlow,
  type ResetFlow,
  type ResetFlowsTable,
} from './flow.ts';
export type { FlowService, FlowViews, ManagementFlows, PendingSecondFactor, RequestContext, StartFlowInput } from './flow.service.ts';
export type { ConfirmContext, IssuedReset, PasswordChange, ResetService } from './reset.service.ts';
export type { PasswordReset } from './reset.store.ts';
export type { PasswordResetsTable } from './reset.table.ts';
export { RESET_REQUESTED, type ResetRequestedJob } from './reset-requested.job.ts';
export { resetsMigrations };
