/** AI2 (risk) labels and their triggers on hand-worked series. */
import { describe, expect, it } from 'vitest';
import { labelRisk, pairDrawdown, riskTriggers, speedEma, type LabelConfig, type RiskInputs } from '../../assets/labels/engine/index.ts';

const N = 10;
/** H = 3 bars; drawdown window = 3 business days × barsPerBusinessDay (1 here) = 3 bars. */
const CFG: Partial<LabelConfig> = { riskHorizonBars: 3, ddWindowBusinessDays: 3 };
const fill = (v: number, n = N) => new Array<number | null>(n).fill(v);
/** Every input well inside its threshold: nothing fires anywhere. */
function calm(n = N) {
  return { corrStability: fill(0.01, n), volRatio: fill(1, n), deltaZ: fill(0, n), rA: fill(0, n), rB: fill(0, n), beta: fill(1, n), barsPerBusinessDay: 1 };
}
const withAt = (s: Array<number | null>, at: Record<number, number | null>) => s.map((v, i) => (i in at ? at[i] : v));
const labelsOf = (inputs: RiskInputs, cfg = CFG) => labelRisk(inputs, cfg).map((l) => [l.t, l.label]);

describe('AI2 with no trigger', () => {
  it('labels every bar whose window fits in the data with 0', () => {
    const labels = labelRisk(calm(), CFG);
    expect(labels.map((l) => l.t)).toEqual([0, 1, 2, 3, 4, 5, 6]); // t+3 ≤ 9
    for (const l of labels) expect(l).toEqual({ t: l.t, label: 0, lastBarLooked: l.t + 3, triggers: [], firstTriggerBar: null });
  });

  it('uses H = M = 48 by default', () => {
    const labels = labelRisk(calm(60));
    expect(labels).toHaveLength(60 - 48);
    expect(labels.at(-1)).toMatchObject({ t: 11, lastBarLooked: 59 });
  });
});

describe('AI2 forward horizon', () => {
  it('counts a trigger in t+1 … t+H only: not at t, not after t+H', () => {
    const inputs = { ...calm(), corrStability: withAt(fill(0.01), { 5: 0.03 }) };
    // bar 5 is inside the windows of t = 2, 3, 4 (t+1 … t+3); t = 5 looks at 6 … 8.
    expect(labelsOf(inputs)).toEqual([[0, 0], [1, 0], [2, 1], [3, 1], [4, 1], [5, 0], [6, 0]]);
    expect(labelRisk(inputs, CFG)[2]).toEqual({ t: 2, label: 1, lastBarLooked: 5, triggers: ['corr_instability'], firstTriggerBar: 5 });
  });

  it('honours a horizon override', () => {
    const inputs = { ...calm(), corrStability: withAt(fill(0.01), { 5: 0.03 }) };
    expect(labelsOf(inputs, { ...CFG, riskHorizonBars: 1 })).toEqual([[0, 0], [1, 0], [2, 0], [3, 0], [4, 1], [5, 0], [6, 0], [7, 0], [8, 0]]);
  });

  it('gives no label where an input at t is missing', () => {
    const inputs = { ...calm(), volRatio: withAt(fill(1), { 1: null }), rB: withAt(fill(0), { 4: null }) };
    expect(labelRisk(inputs, CFG).map((l) => l.t)).toEqual([0, 2, 3, 5, 6]);
  });
});

describe('AI2 triggers one by one', () => {
  it('correlation instability: var(rho) > 0.025, strictly', () => {
    expect(riskTriggers({ ...calm(), corrStability: withAt(fill(0.01), { 2: 0.026, 3: 0.025 }) }, CFG).fired.slice(1, 5))
      .toEqual([[], ['corr_instability'], [], []]);
  });

  it('vol spike: vol_ratio > 1.8, strictly', () => {
    const inputs = { ...calm(), volRatio: withAt(fill(1), { 2: 1.81, 3: 1.8 }) };
    expect(riskTriggers(inputs, CFG).fired.slice(1, 5)).toEqual([[], ['vol_spike'], [], []]);
    expect(labelRisk(inputs, CFG)[0]).toMatchObject({ label: 1, triggers: ['vol_spike'], firstTriggerBar: 2 });
  });

  it('speed: EMA(|Δz|, half-life 6) > 0.12', () => {
    // alpha = 1 − 2^(−1/6) ≈ 0.10910; from a seed of 0, one |Δz| = 1.2 gives ≈ 0.1309 > 0.12,
    // and the next calm bar decays it to ≈ 0.1166, back under.
    const inputs = { ...calm(), deltaZ: withAt(fill(0), { 5: -1.2 }) };
    const { speedEma: ema, fired } = riskTriggers(inputs, CFG);
    expect(ema[5]).toBeCloseTo(0.130922, 5);
    expect(ema[6]).toBeCloseTo(0.116638, 5);
    expect(fired.map((f) => f.length)).toEqual([0, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
    expect(fired[5]).toEqual(['speed']);
    // A smaller jump stays under the threshold.
    expect(riskTriggers({ ...calm(), deltaZ: withAt(fill(0), { 5: 1.0 }) }, CFG).fired.flat()).toEqual([]);
  });

  it('drawdown: 1 − E/max(E over the window) > 0.07 on the hedged pair r_A − β·r_B', () => {
    // Leg A flat, leg B +0.2 with β = 0.5 → pair log return −0.1 at bar 5: dd = 1 − e^−0.1 ≈ 0.0952.
    const inputs = { ...calm(), rB: withAt(fill(0), { 5: 0.2 }), beta: fill(0.5) };
    const { drawdown, fired } = riskTriggers(inputs, CFG);
    expect(drawdown[5]).toBeCloseTo(1 - Math.exp(-0.1), 12);
    expect(fired[5]).toEqual(['drawdown']);
    // The window is 3 bars (u−2 … u): the peak at bar 4 is still in it at bar 6, gone at bar 7.
    expect(drawdown[6]).toBeCloseTo(1 - Math.exp(-0.1), 12);
    expect(drawdown[7]).toBe(0);
    expect(fired[7]).toEqual([]);
  });

  it('drawdown window is ddWindowBusinessDays × barsPerBusinessDay bars', () => {
    // −0.04 a bar: two bars of loss (≈ 0.077) break 0.07, one (≈ 0.039) does not.
    const rA = fill(-0.04);
    const oneDay = { ddWindowBusinessDays: 1, riskHorizonBars: 3 };
    expect(riskTriggers({ ...calm(), rA, barsPerBusinessDay: 2 }, oneDay).fired.flat()).toEqual([]); // window 2 bars
    expect(riskTriggers({ ...calm(), rA, barsPerBusinessDay: 3 }, oneDay).fired.slice(0, 3)).toEqual([[], [], ['drawdown']]); // window 3 bars
  });

  it('lists every trigger that fired in the window, in a fixed order, with the first bar', () => {
    const inputs = { ...calm(), volRatio: withAt(fill(1), { 3: 2 }), corrStability: withAt(fill(0.01), { 2: 0.05 }) };
    expect(labelRisk(inputs, CFG)[0]).toEqual({ t: 0, label: 1, lastBarLooked: 3, triggers: ['corr_instability', 'vol_spike'], firstTriggerBar: 2 });
  });

  it('a trigger whose input is missing at a bar does not fire there', () => {
    const inputs = { ...calm(), corrStability: withAt(fill(0.05), { 4: null }) };
    expect(riskTriggers(inputs, CFG).fired[4]).toEqual([]);
  });
});

describe('AI2 building blocks', () => {
  it('speedEma seeds with the first observed |Δz| and skips missing bars', () => {
    const a = 1 - 2 ** (-1 / 2);
    const ema = speedEma([null, -0.3, null, 0.1], 2);
    expect(ema[0]).toBeNull();
    expect(ema[1]).toBeCloseTo(0.3, 12);
    expect(ema[2]).toBeNull();
    expect(ema[3]).toBeCloseTo(a * 0.1 + (1 - a) * 0.3, 12);
  });

  it('pairDrawdown compounds in log space and measures from the window peak', () => {
    const dd = pairDrawdown([0.1, -0.05, -0.05, 0.2], [0, 0, 0, 0], [1, 1, 1, 1], 10);
    expect(dd[0]).toBe(0);
    expect(dd[1]).toBeCloseTo(1 - Math.exp(-0.05), 12);
    expect(dd[2]).toBeCloseTo(1 - Math.exp(-0.1), 12);
    expect(dd[3]).toBe(0);
  });

  it('pairDrawdown treats a missing return as a flat bar with no drawdown reading', () => {
    const dd = pairDrawdown([-0.1, null, -0.1], [0, 0, 0], [1, 1, 1], 10);
    expect(dd[1]).toBeNull();
    expect(dd[2]).toBeCloseTo(1 - Math.exp(-0.1), 12);
  });
});
