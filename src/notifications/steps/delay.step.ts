import { PermanentDeliveryError } from '../../delivery/index.ts';
import type { StepContext, StepResult } from '../step.job.ts';
import { durationMs } from '../workflow.ts';

/** Holds the execution back: the next step's outbox row is written now, due later (`notBefore`). */
export async function runDelay(ctx: StepContext): Promise<StepResult> {
  if (ctx.step.type !== 'delay') throw new PermanentDeliveryError('not a delay step');
  const attempts = ctx.row.attempts + 1;
  const controls = ctx.step.controls;
  if (controls.type === 'regular') return { outcome: { status: 'sent', attempts }, nextAt: ctx.now + durationMs(controls.amount, controls.unit) };
  const value = readPath(ctx.run.payload, controls.until.slice('payload.'.length));
  const until = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(until)) throw new PermanentDeliveryError(`${controls.until} is not a date`);
  // A date already past lets the next step run at once.
  return { outcome: { status: 'sent', attempts }, nextAt: Math.max(ctx.now, until) };
}

/** `a.b.c` in a payload; own properties only. */
export function readPath(object: Record<string, unknown>, path: string): unknown {
  let value: unknown = object;
  for (const key of path.split('.')) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}
