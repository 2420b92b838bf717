import type { JsonObject } from '../event-log/port.ts';
import type { StepContext } from './asset.ts';

/**
 * A check evaluated on a freshly computed value before it is stored. A failing blocking check
 * fails the step: nothing is written and nothing downstream runs.
 */
export interface AssetCheck<T> {
  name: string;
  description?: string;
  severity?: 'ERROR' | 'WARN';
  /** Defaults to true for ERROR, false for WARN. */
  blocking?: boolean;
  evaluate(value: T, ctx: StepContext<unknown>): Promise<CheckOutcome> | CheckOutcome;
}

export interface CheckOutcome {
  passed: boolean;
  metadata?: JsonObject;
}

export function isBlocking(check: AssetCheck<unknown>): boolean {
  return check.blocking ?? (check.severity ?? 'ERROR') === 'ERROR';
}
