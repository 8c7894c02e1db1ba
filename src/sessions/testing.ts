import { loadConfig } from '../config/load.ts';
import type { ConfigInput } from '../config/schema.ts';
import type { PlatformDeps } from '../deps.ts';
import type { NotificationService } from '../notifications/index.ts';
import { manualClock, type ManualClock } from '../platform/clock.ts';
import { createIds } from '../platform/ids.ts';
import { createLogger } from '../platform/logger.ts';
import { createTokens } from '../platform/tokens.ts';
import type { TestStore } from '../store/testing.ts';

type Trigger = Parameters<NotificationService['triggerWrites']>[0];

/**
 * Platform deps over a test store for the sessions module's own tests: a fixed clock, silent logs, and a
 * notification service that records what it was asked to trigger (and writes nothing).
 */
export function sessionTestDeps(
  store: TestStore,
  secret: string,
  config: Partial<ConfigInput> = {},
): PlatformDeps & { clock: ManualClock; notifications: Pick<NotificationService, 'triggerWrites'>; triggered: Trigger[] } {
  const triggered: Trigger[] = [];
  return {
    triggered,
    notifications: {
      triggerWrites: (input) => {
        triggered.push(input);
        return { transactionId: input.transactionId ?? 'txn', executionIds: [], writes: [] };
      },
    },
    config: loadConfig({ env: {}, overrides: { env: 'test', secret, dataDir: '/nonexistent-rekey-test', ...config } }),
    store,
    clock: manualClock(Date.UTC(2026, 0, 1)),
    ids: createIds(),
    tokens: createTokens(secret),
    logger: createLogger('silent'),
  };
}
