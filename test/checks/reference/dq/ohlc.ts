// Reference: checks/dq/ohlc.ts as of commit 5b2be95, before the ingest speed-up; test/checks/equivalence.test.ts holds the optimised code to it. Do not edit.
/** OHLCV consistency of one bar (the same rule as `checks/bar-contract.ts` `ohlc_consistent`, plus volume). */
import type { CanonicalBar } from '../../../../core/market-data.ts';

/**
 * Why a bar's OHLCV is unusable, or null when it is fine: prices must be finite numbers with
 * 0 < low ≤ min(open, close) ≤ max(open, close) ≤ high; volume null or a finite number ≥ 0.
 */
export function ohlcProblem(bar: Pick<CanonicalBar, 'open' | 'high' | 'low' | 'close' | 'volume'>): string | null {
  const { open, high, low, close, volume } = bar;
  for (const [name, v] of [['open', open], ['high', high], ['low', low], ['close', close]] as const) {
    if (typeof v !== 'number' || !Number.isFinite(v)) return `${name} is not a finite number`;
  }
  if (!(low > 0)) return 'low ≤ 0';
  if (low > Math.min(open, close)) return 'low > min(open, close)';
  if (Math.max(open, close) > high) return 'max(open, close) > high';
  if (volume !== null && !(typeof volume === 'number' && Number.isFinite(volume) && volume >= 0)) return 'volume is not null or a finite number ≥ 0';
  return null;
}
