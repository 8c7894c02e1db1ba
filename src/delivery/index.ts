/** The delivery module's door: the outbox, the dispatcher and the channels. It carries messages and knows no template. */
import { defineModule } from '../platform/module.ts';
import { createDeliveryModule } from './delivery.module.ts';
import { deliveryMigrations } from './migrations.ts';

export { createDeliveryModule, type DeliveryModule } from './delivery.module.ts';
export const deliveryModule = defineModule('delivery', deliveryMigrations, createDeliveryModule);

export type { Channel, ChatChannel, ChatMessage, Port, RenderedMail, SendResult, SmsChannel, SmsMessage } from './channel.ts';
export { createSmtpChannel, type SmtpChannelOptions } from './channels/smtp.ts';
export { createHttpEmailChannel } from './channels/http-email.ts';
export { createHttpSmsChannel } from './channels/http-sms.ts';
export { createTwilioChannel } from './channels/twilio.ts';
export { createChatWebhookChannel } from './channels/chat-webhook.ts';
export { withFallback } from './channels/fallback.ts';
export { ProviderError } from './channels/http.ts';
export {
  createDevMailboxChannel,
  createDevMailboxChatChannel,
  createDevMailboxSmsChannel,
  findDevMail,
  listDevMailbox,
  type DevMail,
} from './channels/dev-mailbox.ts';
export { checkProviders, type ProviderCheck } from './provider-checks.ts';
export { buildProvider, createChannels, describeChannels, planProviders, type Channels, type PlannedProvider } from './providers.ts';
export {
  createDispatcher,
  isPermanent,
  PermanentDeliveryError,
  scrubError,
  withoutSealed,
  type DeliveryStats,
  type Dispatcher,
  type DispatcherOptions,
} from './dispatcher.ts';
export { createDeliveriesService, type DeliveriesService, type Delivery, type Skipped } from './deliveries.service.ts';
export { deliveryObject, toWireDelivery, type WireDelivery } from './deliveries.wire.ts';
export { createSweeper, type Sweeper, type SweeperOptions, type SweepStep } from './sweeper.ts';
export { enqueue, outboxWrite, type OutboxMessage } from './outbox.ts';
export type { DevMailboxKind, DevMailboxTable, OutboxStatus, OutboxTable } from './outbox.table.ts';
export { deliveryMigrations };
