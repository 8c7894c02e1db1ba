/** The delivery module's door: the outbox, the dispatcher and the channels. It carries messages and knows no template. */
import { defineModule } from '../platform/module.ts';
import { createDeliveryModule } from './delivery.module.ts';
import { deliveryMigrations } from './migrations.ts';

export { createDeliveryModule, type DeliveryModule } from './delivery.module.ts';
export const deliveryModule = defineModule('delivery', deliveryMigrations, createDeliveryModule);

export type { Channel, RenderedMail } from './channel.ts';
export { createSmtpChannel, type SmtpChannelOptions } from './channels/smtp.ts';
export { createDevMailboxChannel, listDevMailbox, type DevMail } from './channels/dev-mailbox.ts';
export {
  createDispatcher,
  PermanentDeliveryError,
  scrubError,
  withoutSealed,
  type DeliveryStats,
  type Dispatcher,
  type DispatcherOptions,
} from './dispatcher.ts';
export { createSweeper, type Sweeper, type SweeperOptions, type SweepStep } from './sweeper.ts';
export { enqueue, outboxWrite, type OutboxMessage } from './outbox.ts';
export type { DevMailboxTable, OutboxStatus, OutboxTable } from './outbox.table.ts';
export { deliveryMigrations };
