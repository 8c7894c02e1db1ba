export type { Channel, RenderedMail } from './channel.ts';
export { createSmtpChannel, type SmtpChannelOptions } from './channels/smtp.ts';
export { createDevMailboxChannel, listDevMailbox, type DevMail } from './channels/dev-mailbox.ts';
export { devMailboxRoutes } from './dev-mailbox.routes.ts';
export {
  createDispatcher,
  PermanentDeliveryError,
  scrubError,
  withoutSealed,
  type DeliveryStats,
  type Dispatcher,
  type DispatcherOptions,
} from './dispatcher.ts';
export { createSweeper, type SweepStep, type Sweeper, type SweeperOptions } from './sweeper.ts';
export { enqueue, outboxWrite, type OutboxMessage } from './outbox.ts';
export type { OutboxStatus } from './outbox.table.ts';
export { deliveryMigrations } from './migrations.ts';
