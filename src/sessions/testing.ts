import { loadConfig } from '../config/load.ts';
import type { ConfigInput } from '../config/schema.ts';
import type { PlatformDeps } from '../deps.ts';
import { manualClock, type ManualClock } from '../platform/clock.ts';
import { createIds } from '../platform/ids.ts';
import { createLogger } from '../platform/logger.ts';
import { createTokens } from '../platform/tokens.ts';
import type { TestStore } from '../store/testing.ts';

/** Platform deps over a test store for the sessions module's own tests: a fixed clock, silent logs. */
export function sessionTestDeps(store: TestStore, secret: string, config: Partial<ConfigInput> = {}): PlatformDeps & { clock: ManualClock } {
  return {
    config: loadConfig({ env: {}, overrides: { env: 'test', secret, dataDir: '/nonexistent-rekey-test', ...config } }),
    store,
    clock: manualClock(Date.UTC(2026, 0, 1)),
    ids: createIds(),
    tokens: createTokens(secret),
    logger: createLogger('silent'),
  };
}
