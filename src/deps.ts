import type { Logger } from 'pino';
import type { Config } from './config/schema.ts';
import type { Clock } from './platform/clock.ts';
import type { Ids } from './platform/ids.ts';
import type { Tokens } from './platform/tokens.ts';
import type { Store } from './store/connect.ts';

/** What every service is built from. Time and randomness come in here so tests can replace them. */
export interface PlatformDeps {
  config: Config;
  store: Store;
  clock: Clock;
  ids: Ids;
  tokens: Tokens;
  logger: Logger;
}
