/**
 * Backtest engine throughput: `runBacktest` (bar loop with β-neutral sizing and every cost —
 * spread, time-of-day slippage, commission, swap with triple days — then the daily curve and
 * the KPIs) over 3,000,000 synthetic 15-minute bars of one pair, single thread. Baseline, same
 * run, same bars: the straightforward row-object reference of the tests
 * (test/backtests/reference.ts: an object per bar, Date objects for the calendar, rollovers
 * enumerated per bar), with its own daily aggregation. Both are checked to agree on the result.
 * Engine: best of 5 by process CPU time; reference: best of 2. Goal: value ≥ 1,000,000 bars/s.
 */
import { runBacktest } from '../assets/backtests/engine/index.ts';
import { metalsParams } from '../test/backtests/helpers.ts';
import { referenceBacktest, syntheticSeries } from '../test/backtests/reference.ts';
import type { BenchResult } from './run.ts';
import { best, timed } from './timing.ts';

const BARS = 3_000_000, RUNS = 5, BASELINE_RUNS = 2;

export async function run(): Promise<BenchResult> {
  const series = syntheticSeries({ n: BARS, seed: 17, stepMinutes: 15 });
  const params = metalsParams({ targetGrossNotional: 100_000 });

  let engineFinal = NaN, engineTrades = 0, referenceFinal = NaN, referenceTrades = 0;
  const engineRun = () => {
    const r = runBacktest(series, params);
    engineFinal = r.kpis.finalEquity;
    engineTrades = r.trades.length;
  };
  const referenceRun = () => {
    const r = referenceBacktest(series, params);
    referenceFinal = r.daily[r.daily.length - 1].equity;
    referenceTrades = r.trades.length;
  };
  timed(engineRun); // JIT warm-up
  const engine = best(Array.from({ length: RUNS }, () => timed(engineRun)));
  const reference = best(Array.from({ length: BASELINE_RUNS }, () => timed(referenceRun)));

  const perS = (ms: number) => Math.round(BARS / (ms / 1000));
  const value = perS(engine.cpuMs), baseline = perS(reference.cpuMs);
  return {
    value,
    unit: 'bars/s',
    baseline,
    ratio: Number((value / baseline).toFixed(2)),
    clock: `process CPU time, best of ${RUNS} (reference: best of ${BASELINE_RUNS})`,
    bars: BARS,
    trades: engineTrades,
    agrees_with_reference: engineTrades === referenceTrades && Math.abs(engineFinal - referenceFinal) <= 1e-6 * Math.abs(referenceFinal),
    ns_per_bar: Number((1e6 * engine.cpuMs / BARS).toFixed(1)),
    wall_value: perS(engine.wallMs),
    wall_baseline: perS(reference.wallMs),
    goal: 'value ≥ 1,000,000 bars/s',
  };
}
