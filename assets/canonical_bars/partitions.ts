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
  /** Pair groups of `universe.yaml` (`metals`, `fx_majors`): models and θ are per group. */
  groups: DynamicPartitions;
  /** Months a model can be trained up to: the first leaves room for the minimum walk-forward training span and one month out of sample. */
  modelMonths: TimeWindowPartitions;
  /** timeframe × group × month: the training window of the ML assets, month = the last month of data a model may see. */
  modelWindows: MultiPartitions;
}

/** Whole months of history before the first model month (wf_min_train_days = 360, plus one month to evaluate out of sample). */
export const MODEL_MIN_HISTORY_MONTHS = 13;

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
  const groups = new DynamicPartitions('groups', [...new Set(p.universe.pairs.map((x) => x.group))]);
  const modelMonths = new TimeWindowPartitions({
    cadence: 'monthly',
    start: start.plus({ months: Math.min(MODEL_MIN_HISTORY_MONTHS, p.pipeline.history_lookback_months - 1) }).toISODate()!,
    end: start.plus({ months: p.pipeline.history_lookback_months }).toISODate()!,
    timezone: 'UTC',
  });
  return {
    timeframes, symbols, pairs, months, groups, modelMonths,
    modelWindows: new MultiPartitions([['timeframe', timeframes], ['group', groups], ['month', modelMonths]]),
    bars: new MultiPartitions([['timeframe', timeframes], ['symbol', symbols], ['month', months]]),
    pairBars: new MultiPartitions([['timeframe', timeframes], ['pair', pairs], ['month', months]]),
  };
}

/** The two leg symbols of a pair, from `universe.yaml` (pairs registered later follow LEGA_LEGB). */
export function legsOf(p: Policies): (pairId: string) => [string, string] {
  const byId = new Map(p.universe.pairs.map((x) => [x.pair_id, [x.leg_A.canonical_symbol, x.leg_B.canonical_symbol] as [string, string]]));
  return (pairId) => byId.get(pairId) ?? (pairId.split('_') as [string, string]);
}

/** The pairs of a group, from `universe.yaml`. */
export function pairsOfGroup(p: Policies): (group: string) => string[] {
  return (group) => p.universe.pairs.filter((x) => x.group === group).map((x) => x.pair_id);
}
