/** The engine against the brute-force reference on random series and parameters (fast-check). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runBacktest, simulate, sizePair, type BacktestParams, type BacktestSeries } from '../../assets/backtests/engine/index.ts';
import { mulberry32 } from '../../core/random.ts';
import { metalsParams } from './helpers.ts';
import { referenceBacktest, referenceSize } from './reference.ts';

const near = (x: number, y: number, what: string) => {
  if (Number.isNaN(x) && Number.isNaN(y)) return;
  // The reference takes costs as price differences (p1 − p0), the engine as p0·bps: equal up to rounding.
  const tol = 1e-6 + 1e-9 * Math.max(Math.abs(x), Math.abs(y));
  if (!(Math.abs(x - y) <= tol)) throw new Error(`${what}: engine ${x} vs reference ${y}`);
};

/** A messy series: irregular spacing (weekends, nights, gaps), missing values, β near 0 and negative. */
function randomSeries(seed: number, n: number): BacktestSeries {
  const r = mulberry32(seed);
  const ts = new Float64Array(n), priceA = new Float64Array(n), priceB = new Float64Array(n), z = new Float64Array(n), beta = new Float64Array(n);
  const returnProb = new Float64Array(n), riskScore = new Float64Array(n), ai2Label = new Float64Array(n);
  // Bars on whole quarter hours, so session edges and rollovers (whole 5 minutes) are hit exactly.
  let t = Date.UTC(2024, 0, 1) + Math.floor(r() * 7 * 96) * 900_000, a = 50 + r() * 3000, b = 1 + r() * 40, zz = 0;
  const spacing = [15, 60, 60, 240, 600][Math.floor(r() * 5)] * 60_000;
  const missing = r() * 0.1;
  for (let i = 0; i < n; i++) {
    ts[i] = t;
    t += r() < 0.05 ? Math.floor(r() * 3 * 96) * 900_000 + 900_000 : spacing * (1 + Math.floor(r() * 2));
    a *= Math.exp(0.01 * (r() - 0.5)); b *= Math.exp(0.01 * (r() - 0.5));
    zz = 0.8 * zz + 1.6 * (r() - 0.5);
    priceA[i] = r() < missing ? NaN : a;
    priceB[i] = r() < missing ? NaN : b;
    z[i] = r() < missing ? NaN : zz * 2;
    beta[i] = r() < missing ? NaN : r() < 0.05 ? 0 : (r() - 0.3) * 2.5;
    returnProb[i] = Math.abs(z[i]) >= 1 && r() > missing ? r() : NaN;
    riskScore[i] = r() < missing ? NaN : r();
    ai2Label[i] = r() < 0.3 ? NaN : r() < 0.5 ? 0 : 1;
  }
  return { ts, priceA, priceB, z, beta, returnProb, riskScore, ai2Label };
}

const hhmm = fc.tuple(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 11 }).map((m) => m * 5)).map(([h, m]) => `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`);

const paramsArb: fc.Arbitrary<BacktestParams> = fc.record({
  theta1: fc.double({ min: 0.2, max: 0.9, noNaN: true }),
  theta2: fc.double({ min: 0.2, max: 0.9, noNaN: true }),
  thetaStop: fc.double({ min: 0.3, max: 1, noNaN: true }),
  riskStop: fc.boolean(),
  zExit: fc.double({ min: 0, max: 1.5, noNaN: true }),
  maxBars: fc.integer({ min: 1, max: 12 }),
  latencyBars: fc.integer({ min: 0, max: 2 }),
  positionScale: fc.double({ min: 0.1, max: 1, noNaN: true }),
  contractA: fc.constantFrom(1, 100, 100_000),
  contractB: fc.constantFrom(100, 5000, 100_000),
  stepA: fc.constantFrom(0.01, 0.1, 1),
  stepB: fc.constantFrom(0.01, 0.1, 1),
  minStepsA: fc.integer({ min: 1, max: 3 }),
  minNotional: fc.constantFrom(0, 100, 1000, 20_000),
  // Moderate step counts keep the reference's brute-force sizing box small.
  gross: fc.double({ min: 500, max: 1e5, noNaN: true }),
  sessionA: fc.tuple(hhmm, hhmm),
  sessionB: fc.array(fc.tuple(hhmm, hhmm), { minLength: 1, maxLength: 2 }),
  holiday: fc.option(fc.integer({ min: 0, max: 30 })),
  slip: fc.dictionary(fc.tuple(hhmm, hhmm).map(([s, e]) => `${s}-${e}`), fc.double({ min: 0.5, max: 3, noNaN: true }), { maxKeys: 3 }),
  rollover: fc.constantFrom('MON', 'TUE', 'WED', 'THU', 'FRI'),
  rolloverTime: hhmm,
  costs: fc.array(fc.double({ min: 0, max: 30, noNaN: true }), { minLength: 6, maxLength: 6 }),
  swaps: fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: 4, maxLength: 4 }),
}).map((g) => {
  const base = metalsParams();
  return {
    ...base,
    theta1: g.theta1, theta2: g.theta2, thetaStop: g.thetaStop, riskStop: g.riskStop, zExit: g.zExit, maxBars: g.maxBars, latencyBars: g.latencyBars,
    positionScale: g.positionScale, minNotional: g.minNotional, targetGrossNotional: g.gross,
    legA: { ...base.legA, contractSize: g.contractA, lotStep: g.stepA, minLot: g.stepA * g.minStepsA, sessions: [{ start: g.sessionA[0], end: g.sessionA[1] }] },
    legB: {
      ...base.legB, contractSize: g.contractB, lotStep: g.stepB, minLot: g.stepB, sessions: g.sessionB.map(([start, end]) => ({ start, end })),
      holidays: g.holiday === null ? [] : [new Date(Date.UTC(2024, 0, 1 + g.holiday)).toISOString().slice(0, 10)],
    },
    slippageMultipliers: g.slip,
    rolloverDay: g.rollover as BacktestParams['rolloverDay'],
    rolloverTimeUtc: g.rolloverTime,
    costsA: { spreadBps: g.costs[0], slippageBps: g.costs[1], commissionBps: g.costs[2], swapLongBpsDay: g.swaps[0], swapShortBpsDay: g.swaps[1] },
    costsB: { spreadBps: g.costs[3], slippageBps: g.costs[4], commissionBps: g.costs[5], swapLongBpsDay: g.swaps[2], swapShortBpsDay: g.swaps[3] },
  };
});

/** What the random runs went through, so a vacuous property (no trades, no stops …) fails. */
const seen = { trades: 0, z_exit: 0, risk_stop: 0, max_bars: 0, dropped: 0, delayed: 0, swapped: 0, open: 0 };

function compare(series: BacktestSeries, params: BacktestParams): void {
  const got = simulate(series, params), want = referenceBacktest(series, params);
  seen.trades += got.trades.length;
  for (const t of got.trades) { seen[t.exit_reason]++; if (t.cost_swap !== 0) seen.swapped++; }
  seen.dropped += got.counters.entriesDropped;
  seen.delayed += got.counters.exitsDelayed;
  if (got.open) seen.open++;
  expect(got.trades.length).toBe(want.trades.length);
  got.trades.forEach((t, i) => {
    const w = want.trades[i];
    expect([t.side, t.bar_signal_entry, t.bar_entry, t.bar_signal_exit, t.bar_exit, t.exit_reason])
      .toEqual([w.side, w.barSignalEntry, w.barEntry, w.barSignalExit, w.barExit, w.exitReason]);
    const pairs: Array<[keyof typeof t, keyof typeof w]> = [
      ['lots_A', 'lotsA'], ['lots_B', 'lotsB'], ['qty_A', 'qtyA'], ['qty_B', 'qtyB'], ['price_A_entry', 'priceAEntry'], ['price_B_entry', 'priceBEntry'],
      ['price_A_exit', 'priceAExit'], ['price_B_exit', 'priceBExit'], ['cost_spread', 'costSpread'], ['cost_slippage', 'costSlippage'],
      ['cost_commission', 'costCommission'], ['cost_swap', 'costSwap'], ['gross_pnl', 'grossPnl'], ['pnl', 'pnl'], ['ratio_error', 'ratioError'],
    ];
    for (const [a, b] of pairs) near(t[a] as number, w[b] as number, `trade ${i} ${a}`);
  });
  for (let k = 0; k < got.equity.length; k++) near(got.equity[k], want.equity[k], `equity[${k}]`);
  expect(got.counters).toMatchObject(want.counters);
}

describe('engine = brute-force reference', () => {
  it('on random series and parameters', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 1, max: 250 }), paramsArb, (seed, n, params) => {
      compare(randomSeries(seed, n), params);
    }), { numRuns: 300 });
    // Typical counts are 30–2000 each.
    for (const [what, count] of Object.entries(seen)) expect(count, what).toBeGreaterThan(5);
  });

  it('with conversion rates on both legs', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), paramsArb, (seed, params) => {
      const s = randomSeries(seed, 200);
      const r = mulberry32(seed ^ 0x5bd1e995);
      const fxA = Float64Array.from(s.ts, () => (r() < 0.03 ? NaN : 0.5 + r()));
      const fxB = Float64Array.from(s.ts, () => (r() < 0.03 ? NaN : 1 + 0.1 * r()));
      const p = { ...params, legA: { ...params.legA, quoteCcy: 'JPY' }, legB: { ...params.legB, quoteCcy: 'EUR' } };
      compare({ ...s, fxA, fxB }, p);
    }), { numRuns: 100 });
  });

  it('daily curve, Sharpe and MaxDD agree with the reference\'s own aggregation', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), paramsArb, (seed, params) => {
      const s = randomSeries(seed, 240);
      const run = runBacktest(s, params), ref = referenceBacktest(s, params);
      expect(run.daily.map((d) => d.date)).toEqual(ref.daily.map((d) => d.date));
      run.daily.forEach((d, i) => { near(d.equity, ref.daily[i].equity, `daily equity ${d.date}`); near(d.dd, ref.daily[i].dd, `dd ${d.date}`); });
      near(run.kpis.sharpe, ref.sharpe, 'sharpe');
      near(run.kpis.maxDd, ref.maxDd, 'maxDd');
    }), { numRuns: 100 });
  });
});

describe('sizing = brute force', () => {
  it('same lots and ratio error, within tolerance whenever the box allows it', () => {
    fc.assert(fc.property(
      fc.double({ min: 0.5, max: 5000, noNaN: true }), fc.double({ min: 0.5, max: 5000, noNaN: true }),
      fc.constantFrom(1, 100, 1000, 100_000), fc.constantFrom(1, 100, 1000, 100_000), fc.constantFrom(0.01, 0.1, 1), fc.constantFrom(0.01, 0.1, 1),
      fc.double({ min: 0.05, max: 5, noNaN: true }), fc.double({ min: 100, max: 1e6, noNaN: true }), fc.constantFrom(0, 100, 1000),
      (pA, pB, csA, csB, stepA, stepB, beta, gross, minNotional) => {
        // Keep the brute-force box (≈ the step counts) small enough to scan.
        fc.pre(gross / (stepA * pA * csA) < 2e4 && gross / (stepB * pB * csB) < 2e4);
        const base = metalsParams();
        const p = { ...base, minNotional, legA: { ...base.legA, contractSize: csA, lotStep: stepA, minLot: stepA }, legB: { ...base.legB, contractSize: csB, lotStep: stepB, minLot: stepB } };
        const got = sizePair({ price: pA, contractSize: csA, minLot: stepA, lotStep: stepA, fx: 1 }, { price: pB, contractSize: csB, minLot: stepB, lotStep: stepB, fx: 1 }, beta, gross, minNotional);
        const want = referenceSize(pA, pB, p, beta, gross);
        expect(got).not.toBeNull();
        near(got!.lotsA, want!.kA * stepA, 'lotsA');
        near(got!.lotsB, want!.kB * stepB, 'lotsB');
        near(got!.ratioError, want!.err, 'ratio error');
        expect(got!.notionalA).toBeGreaterThanOrEqual(minNotional - 1e-6);
        expect(got!.notionalB).toBeGreaterThanOrEqual(minNotional - 1e-6);
      },
    ), { numRuns: 2000 });
  });
});
