/** The notifications module's door: workflows, triggers, subscribers and the activity. */
import { defineModule } from '../platform/module.ts';
import { notificationsMigrations } from './migrations.ts';
import { createNotificationsModule } from './notifications.module.ts';
import { subscribersMigrations } from './subscribers/index.ts';

export { createNotificationsModule, type NotificationsModule } from './notifications.module.ts';
export const notificationsModule = defineModule('notifications', { ...subscribersMigrations, ...notificationsMigrations }, createNotificationsModule);

export type { NotificationService } from './notification.service.ts';
export { MAX_RECIPIENTS, NOTIFICATION_STEP, type Recipient, type TriggerInput, type Triggered } from './engine.ts';
export { BUILTIN, describeDevice } from './workflows/builtins.ts';
export { userRecipient, type RecipientUser } from './user-recipient.ts';
export type { ChannelType } from './workflow.ts';
export type {
  InAppMessagesTable,
  NotificationIdempotencyTable,
  NotificationExecutionsTable,
  NotificationStepsTable,
  NotificationThrottlesTable,
} from './execution.table.ts';
export type { NotificationWorkflowRevisionTable, NotificationWorkflowsTable } from './workflows/workflow.table.ts';
export { WORKFLOW_FRESHNESS_MS } from './workflows/catalog.ts';
export { notificationsMigrations };
export * from './subscribers/index.ts';
