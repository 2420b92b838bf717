/** Small builders for the backtest engine tests. */
import type { BacktestParams, BacktestSeries } from '../../assets/backtests/engine/index.ts';

/** XAUUSD/XAGUSD as universe.yaml and cost_table.yaml ship them, a 10,000 USD gross target. */
export function metalsParams(overrides: Partial<BacktestParams> = {}): BacktestParams {
  return {
    pairId: 'XAUUSD_XAGUSD',
    theta1: 0.7,
    theta2: 0.3,
    thetaStop: 0.45,
    riskStop: true,
    zExit: 0.5,
    maxBars: 48,
    positionScale: 1,
    latencyBars: 0,
    legA: { symbol: 'XAUUSD', tickSize: 0.01, contractSize: 1, minLot: 0.01, lotStep: 0.01, quoteCcy: 'USD', sessions: [{ start: '00:05', end: '23:55' }], holidays: [] },
    legB: { symbol: 'XAGUSD', tickSize: 0.001, contractSize: 1, minLot: 0.01, lotStep: 0.01, quoteCcy: 'USD', sessions: [{ start: '00:05', end: '23:55' }], holidays: [] },
    minNotional: 100,
    costsA: { spreadBps: 6, slippageBps: 10, commissionBps: 10, swapLongBpsDay: -4, swapShortBpsDay: 3 },
    costsB: { spreadBps: 8, slippageBps: 12, commissionBps: 10, swapLongBpsDay: -3, swapShortBpsDay: 2.5 },
    rolloverDay: 'WED',
    rolloverTimeUtc: '21:00',
    slippageMultipliers: { '22:00-01:00': 1.5, '01:00-07:00': 1.2 },
    targetGrossNotional: 10_000,
    initialEquity: 100_000,
    accountCurrency: 'USD',
    ratioTolerance: 0.01,
    periodsPerYear: 252,
    ...overrides,
  };
}

export interface BarSpec {
  /** ISO time of the bar close, UTC. */
  t: string;
  a: number;
  b: number;
  z: number;
  beta?: number;
  rp?: number;
  rs?: number;
  label?: number;
}

/** A series from readable rows; rp defaults to missing, rs to 0.1, β to 1. */
export function seriesOf(rows: readonly BarSpec[]): BacktestSeries {
  const col = (f: (r: BarSpec) => number) => Float64Array.from(rows, f);
  return {
    ts: col((r) => Date.parse(r.t)),
    priceA: col((r) => r.a),
    priceB: col((r) => r.b),
    z: col((r) => r.z),
    beta: col((r) => r.beta ?? 1),
    returnProb: col((r) => r.rp ?? NaN),
    riskScore: col((r) => r.rs ?? 0.1),
    ai2Label: col((r) => r.label ?? NaN),
  };
}
