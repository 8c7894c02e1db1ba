import { sql } from 'kysely';
import { PermanentDeliveryError } from '../../delivery/index.ts';
import type { RateLimits } from '../../platform/ratelimit.ts';
import { compiled } from '../../store/compiled.ts';
import type { Store } from '../../store/connect.ts';
import type { StepContext, StepResult, StepRunner } from '../step.job.ts';
import { durationMs, type TimeUnit } from '../workflow.ts';
import { readPath } from './delay.step.ts';

/**
 * One statement counts an execution into its window: a new key or an ended window starts at 1, anything else
 * adds one. PostgreSQL locks the row for the upsert and SQLite has one writer, so concurrent executions each
 * see a different count (COMPAT §2.4: 20 at once, threshold 1 → one continues).
 */
const countIn = compiled<{ key: string; now: number; end: number }, { count: number | string }>((db, p) =>
  db
    .insertInto('notification_throttles')
    .values({ key: p.key, window_start: p.now, window_end: p.end, count: 1 })
    .onConflict((oc) =>
      oc.column('key').doUpdateSet({
        count: sql`case when notification_throttles.window_end <= excluded.window_start then 1 else notification_throttles.count + 1 end`,
        window_start: sql`case when notification_throttles.window_end <= excluded.window_start then excluded.window_start else notification_throttles.window_start end`,
        window_end: sql`case when notification_throttles.window_end <= excluded.window_start then excluded.window_end else notification_throttles.window_end end`,
      }),
    )
    .returning('count'),
);

export interface ThrottleDeps {
  store: Store;
  /** With Redis configured, fixed windows count there (shared by every node); otherwise in the store. */
  rateLimits?: RateLimits;
}

/**
 * Novu's throttle: up to `threshold` executions per subscriber (and `throttleKey`, a payload field) in a window
 * continue; later ones stop here, skipped as `throttled`, and their later steps do not run. Critical workflows too.
 */
export function createThrottleStep(deps: ThrottleDeps): StepRunner {
  return async (ctx: StepContext): Promise<StepResult> => {
    if (ctx.step.type !== 'throttle') throw new PermanentDeliveryError('not a throttle step');
    const attempts = ctx.row.attempts + 1;
    const controls = ctx.step.controls;
    const windowEnd = endOf(controls, ctx);
    const groupBy = controls.throttleKey ? readPath(ctx.run.payload, controls.throttleKey.replace(/^payload\./, '')) : undefined;
    const key = [ctx.execution.application_id, ctx.workflow.workflowId, ctx.step.stepId, ctx.execution.subscriber_id, JSON.stringify(groupBy ?? null)].join(
      '\u001f',
    );
    const count = await countExecution(key, ctx.now, windowEnd, controls.threshold, controls.type === 'fixed');
    if (count <= controls.threshold) return { outcome: { status: 'sent', attempts } };
    return { outcome: { status: 'skipped', reason: 'throttled', attempts }, stop: 'throttled' };
  };

  async function countExecution(key: string, now: number, end: number, threshold: number, fixed: boolean): Promise<number> {
    const seconds = Math.ceil((end - now) / 1000);
    if (deps.rateLimits?.backend === 'redis' && fixed) {
      // rate-limiter-flexible counts atomically in Redis and starts the window at the first execution.
      const limiter = deps.rateLimits.limiter(`throttle-${threshold}-${seconds}`, { points: threshold, durationSeconds: seconds });
      return (await limiter.consume(key)).allowed ? 1 : threshold + 1;
    }
    const row = await countIn.first(deps.store.db, { key, now, end });
    return Number(row?.count ?? 1);
  }
}

function endOf(controls: Extract<StepContext['step'], { type: 'throttle' }>['controls'], ctx: StepContext): number {
  if (controls.type === 'fixed') return ctx.now + durationMs(controls.amount!, controls.unit as TimeUnit);
  const value = readPath(ctx.run.payload, controls.dynamicKey!.replace(/^payload\./, ''));
  if (typeof value === 'string' && !Number.isNaN(Date.parse(value))) return Math.max(ctx.now + 1, Date.parse(value));
  if (typeof value === 'object' && value !== null) {
    const { amount, unit } = value as { amount?: unknown; unit?: unknown };
    if (typeof amount === 'number' && amount > 0 && typeof unit === 'string' && ['minutes', 'hours', 'days'].includes(unit)) {
      return ctx.now + durationMs(amount, unit as TimeUnit);
    }
  }
  throw new PermanentDeliveryError(`${controls.dynamicKey} is neither a date nor { amount, unit }`);
}
