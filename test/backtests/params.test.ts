/** Parameters from the shipped policies, and the sizing rules on their own. */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BT_PAIR_UNKNOWN, BT_PARAMS_INVALID, backtestParamsFromPolicies, sizePair, type LegLot } from '../../assets/backtests/engine/index.ts';
import { loadPolicies } from '../../assets/policies/index.ts';
import { metalsParams } from './helpers.ts';

const policies = loadPolicies(fileURLToPath(new URL('../../configs', import.meta.url)));

describe('backtestParamsFromPolicies', () => {
  it('reads θ, exits, legs, sessions and costs of a pair', () => {
    const p = backtestParamsFromPolicies(policies, 'XAUUSD_XAGUSD', { targetGrossNotional: 10_000 });
    expect(p).toEqual(metalsParams());
  });

  it('falls back to the defaults for a symbol without overrides', () => {
    const p = backtestParamsFromPolicies(policies, 'EURUSD_GBPUSD');
    expect(p.costsA).toEqual({ spreadBps: 5, slippageBps: 8, commissionBps: 10, swapLongBpsDay: 0, swapShortBpsDay: 0 });
    expect(p.legA).toMatchObject({ symbol: 'EURUSD', contractSize: 100_000, tickSize: 0.00001 });
    expect(p.minNotional).toBe(1000);
  });

  it('takes holiday dates per calendar and overrides', () => {
    const p = backtestParamsFromPolicies(policies, 'XAUUSD_XAGUSD', { holidayCalendars: { US: ['2024-07-04'] }, latencyBars: 1, theta1: 0.8 });
    expect(p.legA.holidays).toEqual(['2024-07-04']);
    expect(p.legB.holidays).toEqual(['2024-07-04']);
    expect([p.latencyBars, p.theta1]).toEqual([1, 0.8]);
  });

  it('use_theta = false opens the gate; use_position_scale = false pins the scale to 1', () => {
    const off = { ...policies, backtest: { ...policies.backtest, entry_rule: { use_theta: false, use_position_scale: false } } };
    const p = backtestParamsFromPolicies(off, 'XAUUSD_XAGUSD', { positionScale: 0.5 });
    expect([p.theta1, p.theta2, p.positionScale]).toEqual([0, 1, 1]);
  });

  it('rejects an unknown pair and bad overrides', () => {
    expect(() => backtestParamsFromPolicies(policies, 'FOO_BAR')).toThrow(expect.objectContaining({ errorId: BT_PAIR_UNKNOWN }));
    expect(() => backtestParamsFromPolicies(policies, 'XAUUSD_XAGUSD', { latencyBars: -1 })).toThrow(expect.objectContaining({ errorId: BT_PARAMS_INVALID }));
  });
});

describe('sizePair', () => {
  const fx: LegLot = { price: 0, contractSize: 100_000, minLot: 0.01, lotStep: 0.01, fx: 1 };

  it('rounds to lot steps and keeps the ratio within 1 % when it can', () => {
    // Gold 2000, silver 25, β = 1, 10,000 USD: 2.5 and 200 units exactly.
    const s = sizePair({ price: 2000, contractSize: 1, minLot: 0.01, lotStep: 0.01, fx: 1 }, { price: 25, contractSize: 1, minLot: 0.01, lotStep: 0.01, fx: 1 }, 1, 10_000, 100);
    expect(s).toMatchObject({ lotsA: 2.5, lotsB: 200, adjusted: false });
  });

  it('re-adjusts coarse lots: 5 × 1,080 vs 4 × 1,270 misses by 5.9 %, 7 × 1,080 vs 6 × 1,270 is within 1 %', () => {
    const s = sizePair({ ...fx, price: 1.08 }, { ...fx, price: 1.27 }, 1, 10_000, 0)!;
    expect(s.adjusted).toBe(true);
    expect(s.lotsA).toBeCloseTo(0.07, 12);
    expect(s.lotsB).toBeCloseTo(0.06, 12);
    expect(s.ratioError).toBeCloseTo((6 * 1270) / (7 * 1080) - 1, 12);
    expect(Math.abs(s.ratioError)).toBeLessThanOrEqual(0.01);
  });

  it('keeps the first rounding and reports its error when the box cannot meet 1 %', () => {
    // One step each is 1,080 vs 1,270; two steps of A against one of B is 2,160 vs 1,270: nothing fits.
    const s = sizePair({ ...fx, price: 1.08 }, { ...fx, price: 1.27 }, 1, 1000, 0)!;
    expect(s).toMatchObject({ adjusted: false });
    expect(s.lotsA).toBeCloseTo(0.01, 12);
    expect(s.lotsB).toBeCloseTo(0.01, 12);
    expect(s.ratioError).toBeCloseTo(1270 / 1080 - 1, 12);
  });

  it('scales both legs up proportionally until min lot and min notional hold', () => {
    // 200 USD gross at β = 1 is 100 per leg; a 1,000 USD minimum scales both to 1,000.
    const s = sizePair({ price: 2000, contractSize: 1, minLot: 0.01, lotStep: 0.01, fx: 1 }, { price: 25, contractSize: 1, minLot: 0.01, lotStep: 0.01, fx: 1 }, 1, 200, 1000)!;
    expect(s.notionalA).toBeCloseTo(1000, 9);
    expect(s.notionalB).toBeCloseTo(1000, 9);
    // A minimum lot of 1 on B (25 USD) next to a 0.5 USD target: A follows B up.
    const t = sizePair({ price: 20, contractSize: 1, minLot: 0.01, lotStep: 0.01, fx: 1 }, { price: 25, contractSize: 1, minLot: 1, lotStep: 1, fx: 1 }, 1, 1, 0)!;
    expect(t.lotsB).toBe(1);
    expect(t.notionalA).toBeCloseTo(25, 9);
  });

  it('has no size without a usable price or β', () => {
    expect(sizePair({ ...fx, price: NaN }, { ...fx, price: 1 }, 1, 1000, 0)).toBeNull();
    expect(sizePair({ ...fx, price: 1 }, { ...fx, price: 1 }, 0, 1000, 0)).toBeNull();
  });
});
