import { createCodeStrategy } from './code.ts';
import { createLinkStrategy } from './link.ts';
import type { ResetStrategies, StrategyDeps } from './strategy.ts';

/** Rekey's first factors, by the id a flow stores in `strategy`. A new one adds a file and a line here. */
export const createResetStrategies = (deps: StrategyDeps): ResetStrategies => ({
  email_link: createLinkStrategy(deps),
  email_code: createCodeStrategy(deps),
});
