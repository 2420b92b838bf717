import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyHysteresis, rollbackDecision, SEED_THETA, THETA_INVALID, type HysteresisInput } from '../../assets/theta/engine/index.ts';

const OLD = { theta1: 0.7, theta2: 0.3 };
const base = (o: Partial<HysteresisInput> = {}): HysteresisInput => ({ old: OLD, proposed: { theta1: 0.72, theta2: 0.31 }, oosTrades: 200, tradesMin: 150, improvementCi: [0.01, 0.05], ...o });

describe('θ hysteresis (seed 002 安定化)', () => {
  it('holds when OOS trades < trades_min / 2, and only then', () => {
    const held = applyHysteresis(base({ oosTrades: 74 }));
    expect(held.held?.code).toBe('insufficient_oos_trades');
    expect(held.applied).toEqual(OLD);
    expect(held.steps.theta1).toMatchObject({ applied: 0.7, delta: 0, clamped: false });
    expect(applyHysteresis(base({ oosTrades: 75 })).held).toBeNull();
    expect(applyHysteresis(base({ oosTrades: 9, tradesMin: 20 })).held?.code).toBe('insufficient_oos_trades');
  });

  it('holds when the improvement CI lower bound is below 0; a bound of exactly 0 passes', () => {
    const held = applyHysteresis(base({ improvementCi: [-0.001, 0.2] }));
    expect(held.held?.code).toBe('improvement_ci_below_zero');
    expect(held.held?.message).toMatch(/-0\.001/);
    expect(held.applied).toEqual(OLD);
    expect(applyHysteresis(base({ improvementCi: [0, 0.2] })).held).toBeNull();
  });

  it('smooths with θ_applied = 0.7·θ_old + 0.3·θ_new when the step is small', () => {
    const r = applyHysteresis(base({ proposed: { theta1: 0.75, theta2: 0.26 } }));
    expect(r.held).toBeNull();
    expect(r.applied.theta1).toBeCloseTo(0.7 * 0.7 + 0.3 * 0.75, 12); // 0.715
    expect(r.applied.theta2).toBeCloseTo(0.7 * 0.3 + 0.3 * 0.26, 12); // 0.288
    expect(r.steps.theta1).toMatchObject({ old: 0.7, proposed: 0.75, clamped: false });
    expect(r.steps.theta1.delta).toBeCloseTo(0.015, 12);
  });

  it('clamps each θ to ±0.03 per update, in both directions, independently', () => {
    const up = applyHysteresis(base({ proposed: { theta1: 0.85, theta2: 0.31 } }));
    expect(up.steps.theta1.smoothed).toBeCloseTo(0.745, 12);
    expect(up.applied.theta1).toBeCloseTo(0.73, 12);
    expect(up.applied.theta1 - 0.7).toBeLessThanOrEqual(0.03);
    expect(up.steps.theta1.clamped).toBe(true);
    expect(up.steps.theta2.clamped).toBe(false);
    expect(up.applied.theta2).toBeCloseTo(0.303, 12);
    const down = applyHysteresis(base({ proposed: { theta1: 0.7, theta2: 0.2 } }));
    expect(down.steps.theta2.smoothed).toBeCloseTo(0.27, 12);
    expect(down.applied.theta2).toBeCloseTo(0.27, 12);
    const far = applyHysteresis(base({ proposed: { theta1: 0.6, theta2: 0.45 } }));
    expect(far.applied.theta1).toBeCloseTo(0.67, 12);
    expect(far.applied.theta2).toBeCloseTo(0.33, 12);
    expect(far.steps.theta1.clamped && far.steps.theta2.clamped).toBe(true);
  });

  it('uses the seed values by default and takes overrides', () => {
    expect(SEED_THETA.hysteresis).toEqual({ newWeight: 0.3, maxStep: 0.03, minOosTradesRatio: 0.5 });
    const r = applyHysteresis(base({ proposed: { theta1: 0.8, theta2: 0.3 } }), { newWeight: 0.5, maxStep: 0.1 });
    expect(r.applied.theta1).toBeCloseTo(0.75, 12);
  });

  it('rejects malformed input with ML_THETA_INVALID', () => {
    expect(() => applyHysteresis(base({ improvementCi: [0.2, 0.1] }))).toThrow(expect.objectContaining({ errorId: THETA_INVALID }));
    expect(() => applyHysteresis(base({ improvementCi: [Number.NaN, 0.1] }))).toThrow(expect.objectContaining({ errorId: THETA_INVALID }));
    expect(() => applyHysteresis(base({ proposed: { theta1: Number.NaN, theta2: 0.3 } }))).toThrow(expect.objectContaining({ errorId: THETA_INVALID }));
    expect(() => applyHysteresis(base({ oosTrades: -1 }))).toThrow(expect.objectContaining({ errorId: THETA_INVALID }));
  });

  const theta = fc.record({ theta1: fc.double({ min: 0, max: 1, noNaN: true }), theta2: fc.double({ min: 0, max: 1, noNaN: true }) });
  const ci = fc.tuple(fc.double({ min: -1, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true })).map(([lo, w]) => [lo, lo + w] as const);
  const input = fc.record({ old: theta, proposed: theta, oosTrades: fc.integer({ min: 0, max: 500 }), tradesMin: fc.integer({ min: 0, max: 400 }), improvementCi: ci });

  it('property: |θ_applied − θ_old| ≤ 0.03 always, and the move is toward θ_new without overshoot', () => {
    fc.assert(fc.property(input, (inp) => {
      const r = applyHysteresis(inp);
      for (const k of ['theta1', 'theta2'] as const) {
        const old = inp.old[k], prop = inp.proposed[k], applied = r.applied[k];
        expect(Math.abs(applied - old)).toBeLessThanOrEqual(0.03);
        expect(Math.min(old, prop) <= applied && applied <= Math.max(old, prop)).toBe(true);
        if (r.held) expect(applied).toBe(old);
        else if (Math.abs(0.3 * (prop - old)) <= 0.029) expect(applied).toBeCloseTo(0.7 * old + 0.3 * prop, 12);
        else if (Math.abs(0.3 * (prop - old)) > 0.031) expect(Math.abs(applied - old)).toBeCloseTo(0.03, 12);
      }
      expect(r.held !== null).toBe(inp.oosTrades < inp.tradesMin / 2 || inp.improvementCi[0] < 0);
    }), { numRuns: 2000 });
  });

  it('property: the limit holds exactly in floating point for any maxStep', () => {
    fc.assert(fc.property(input, fc.double({ min: 0, max: 0.2, noNaN: true }), (inp, maxStep) => {
      const r = applyHysteresis({ ...inp, oosTrades: 1000, tradesMin: 0, improvementCi: [0, 1] }, { maxStep });
      expect(Math.abs(r.applied.theta1 - inp.old.theta1)).toBeLessThanOrEqual(maxStep);
      expect(Math.abs(r.applied.theta2 - inp.old.theta2)).toBeLessThanOrEqual(maxStep);
    }), { numRuns: 2000 });
  });
});

describe('θ rollback (seed 002 重大悪化)', () => {
  const oldTheta = { theta1: 0.7, theta2: 0.3 };
  const currentTheta = { theta1: 0.73, theta2: 0.28 };
  const decide = (baseline: { sharpe: number; maxDD: number }, current: { sharpe: number; maxDD: number }) => rollbackDecision({ oldTheta, currentTheta, baseline, current });

  it('rolls back to the old θ when Sharpe falls by more than 20 %', () => {
    const r = decide({ sharpe: 1.5, maxDD: 0.08 }, { sharpe: 1.19, maxDD: 0.08 });
    expect(r.rollback).toBe(true);
    expect(r.theta).toEqual(oldTheta);
    expect(r.reasons.map((x) => x.code)).toEqual(['sharpe_drop']);
    expect(decide({ sharpe: 1.5, maxDD: 0.08 }, { sharpe: 1.2, maxDD: 0.08 })).toMatchObject({ rollback: false, theta: currentTheta, reasons: [] });
  });

  it('rolls back when MaxDD rises by more than 3 points; exactly +3 points does not', () => {
    expect(decide({ sharpe: 1, maxDD: 0.1 }, { sharpe: 1, maxDD: 0.131 }).reasons.map((x) => x.code)).toEqual(['max_dd_rise']);
    // 0.13 − 0.10 is 0.030000000000000013 in floating point: still "+3 points", not beyond.
    expect(decide({ sharpe: 1, maxDD: 0.1 }, { sharpe: 1, maxDD: 0.13 }).rollback).toBe(false);
    expect(decide({ sharpe: 1, maxDD: 0.12 }, { sharpe: 1, maxDD: 0.15 }).rollback).toBe(false);
  });

  it('reports both reasons, and reads a negative baseline Sharpe relative to its magnitude', () => {
    const both = decide({ sharpe: 1, maxDD: 0.05 }, { sharpe: 0.5, maxDD: 0.1 });
    expect(both.reasons.map((x) => x.code)).toEqual(['sharpe_drop', 'max_dd_rise']);
    expect(decide({ sharpe: -0.5, maxDD: 0.05 }, { sharpe: -0.65, maxDD: 0.05 }).rollback).toBe(true);
    expect(decide({ sharpe: -0.5, maxDD: 0.05 }, { sharpe: -0.55, maxDD: 0.05 }).rollback).toBe(false);
    // Improvements never roll back.
    expect(decide({ sharpe: 1, maxDD: 0.1 }, { sharpe: 2, maxDD: 0.02 }).rollback).toBe(false);
  });
});
