import { DynamicPartitions, MultiPartitions, StaticPartitions } from '../../core/partitions/definitions.ts';
import { TimeWindowPartitions } from '../../core/partitions/time-window.ts';
import { DateTime } from 'luxon';
import type { Policies } from '../policies/index.ts';

/** The partitions shared by the pipeline: timeframe × symbol × month for bars, timeframe × pair × month for pairs. */
export interface PipelinePartitions {
  timeframes: StaticPartitions;
  symbols: DynamicPartitions;
  pairs: DynamicPartitions;
  months: TimeWindowPartitions;
  bars: MultiPartitions;
  pairBars: MultiPartitions;
}

export function pipelinePartitions(p: Policies): PipelinePartitions {
  const timeframes = new StaticPartitions(p.pipeline.timeframe_allowed);
  const symbols = new DynamicPartitions('symbols', [...new Set(p.universe.pairs.flatMap((x) => [x.leg_A.canonical_symbol, x.leg_B.canonical_symbol]))]);
  const pairs = new DynamicPartitions('pairs', p.universe.pairs.map((x) => x.pair_id));
  const start = DateTime.fromISO(`${p.pipeline.history_start}-01`, { zone: 'UTC' });
  const months = new TimeWindowPartitions({
    cadence: 'monthly',
    start: start.toISODate()!,
    end: start.plus({ months: p.pipeline.history_lookback_months }).toISODate()!,
    timezone: 'UTC',
  });
  return {
    timeframes, symbols, pairs, months,
    bars: new MultiPartitions([['timeframe', timeframes], ['symbol', symbols], ['month', months]]),
    pairBars: new MultiPartitions([['timeframe', timeframes], ['pair', pairs], ['month', months]]),
  };
}

/** The two leg symbols of a pair, from `universe.yaml` (pairs registered later follow LEGA_LEGB). */
export function legsOf(p: Policies): (pairId: string) => [string, string] {
  const byId = new Map(p.universe.pairs.map((x) => [x.pair_id, [x.leg_A.canonical_symbol, x.leg_B.canonical_symbol] as [string, string]]));
  return (pairId) => byId.get(pairId) ?? (pairId.split('_') as [string, string]);
}
