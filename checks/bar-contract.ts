import type { AssetCheck } from '../core/definitions/checks.ts';
import type { CanonicalBar } from '../core/market-data.ts';
import { dateParse } from './dq/time.ts';

/** Contract checks every bar partition passes before it is stored (the data issue adds DQ). */
export const barChecks: AssetCheck<CanonicalBar[]>[] = [
  {
    name: 'ohlc_consistent',
    description: 'low ≤ min(open, close) ≤ max(open, close) ≤ high, all prices positive and finite.',
    severity: 'ERROR',
    evaluate(bars) {
      const bad = bars.filter((b) => !(b.low > 0 && b.low <= Math.min(b.open, b.close) && Math.max(b.open, b.close) <= b.high && Number.isFinite(b.high)));
      return { passed: bad.length === 0, metadata: { violations: bad.length, first: bad[0]?.ts_utc ?? null } };
    },
  },
  {
    name: 'unique_ordered_ts',
    description: 'ts_utc strictly increasing: unique per (symbol, timeframe, ts_utc).',
    severity: 'ERROR',
    evaluate(bars) {
      let bad = 0;
      for (let i = 1; i < bars.length; i++) if (!(bars[i].ts_utc > bars[i - 1].ts_utc)) bad++;
      return { passed: bad === 0, metadata: { violations: bad } };
    },
  },
  {
    name: 'within_partition',
    description: 'Every bar belongs to the partition: its symbol, timeframe and month.',
    severity: 'ERROR',
    evaluate(bars, ctx) {
      const { symbol, timeframe } = ctx.dimensions;
      const start = ctx.window!.start.getTime(), end = ctx.window!.end.getTime();
      const bad = bars.filter((b) => { if (b.symbol !== symbol || b.timeframe !== timeframe) return true; const t = dateParse(b.ts_utc); return t < start || t >= end; });
      return { passed: bad.length === 0, metadata: { violations: bad.length } };
    },
  },
];
