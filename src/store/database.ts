import type { ApiKeysTable, ApplicationsTable } from '../apps/index.ts';
import type { DevMailboxTable, OutboxTable } from '../delivery/index.ts';
import type { AuthFactorsTable, FactorChallengesTable, FactorEnrollmentLinksTable, PendingAuthenticationsTable, RecoveryCodesTable } from '../factors/index.ts';
import type {
  InAppMessagesTable,
  NotificationExecutionsTable,
  NotificationIdempotencyTable,
  NotificationStepsTable,
  NotificationThrottlesTable,
  NotificationWorkflowRevisionTable,
  NotificationWorkflowsTable,
  SubscriberPreferencesTable,
  SubscribersTable,
} from '../notifications/index.ts';
import type { PasswordResetsTable, ResetFlowsTable } from '../resets/index.ts';
import type { SessionsTable, SignInDevicesTable } from '../sessions/index.ts';
import type { UsersTable } from '../users/index.ts';

/** The union of every module's tables. Modules own their tables; this file only assembles them. */
export interface Database {
  applications: ApplicationsTable;
  api_keys: ApiKeysTable;
  users: UsersTable;
  sessions: SessionsTable;
  sign_in_devices: SignInDevicesTable;
  password_resets: PasswordResetsTable;
  reset_flows: ResetFlowsTable;
  outbox: OutboxTable;
  dev_mailbox: DevMailboxTable;
  auth_factors: AuthFactorsTable;
  pending_authentications: PendingAuthenticationsTable;
  subscribers: SubscribersTable;
  subscriber_preferences: SubscriberPreferencesTable;
  factor_challenges: FactorChallengesTable;
  recovery_codes: RecoveryCodesTable;
  factor_enrollment_links: FactorEnrollmentLinksTable;
  notification_executions: NotificationExecutionsTable;
  notification_steps: NotificationStepsTable;
  notification_throttles: NotificationThrottlesTable;
  in_app_messages: InAppMessagesTable;
  notification_idempotency: NotificationIdempotencyTable;
  notification_workflows: NotificationWorkflowsTable;
  notification_workflow_revision: NotificationWorkflowRevisionTable;
}
