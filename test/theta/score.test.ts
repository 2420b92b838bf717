import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPolicies } from '../../assets/policies/index.ts';
import { SEED_THETA, THETA_INVALID, thetaScore, thetaSettings, type ThetaEvaluation } from '../../assets/theta/engine/index.ts';

const ev = (o: Partial<ThetaEvaluation> = {}): ThetaEvaluation => ({ annReturn: 0.2, maxDD: 0.08, tradesPerYear: 200, fpRateAi2: 0.05, sharpe: 1.2, trades: 400, ...o });

function errorId(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return (e as { errorId?: string }).errorId;
  }
  return undefined;
}

describe('θ score (seed 002 閾値最適化 v1 目的関数)', () => {
  it('matches the formula by hand with every penalty active', () => {
    // 0.25 − 2.0·(0.15 − 0.12) − 0.05·(150 − 120) − 0.10·0.08 = 0.25 − 0.06 − 1.5 − 0.008
    const s = thetaScore(ev({ annReturn: 0.25, maxDD: 0.15, tradesPerYear: 120, fpRateAi2: 0.08 }));
    expect(s.score).toBeCloseTo(-1.318, 12);
    expect(s.terms.ddPenalty).toBeCloseTo(0.06, 12);
    expect(s.terms.tradesPenalty).toBeCloseTo(1.5, 12);
    expect(s.terms.stopPenalty).toBeCloseTo(0.008, 12);
    expect(s.terms.annReturn).toBe(0.25);
    expect(s.feasible).toBe(false);
    expect(s.violations).toEqual(['max_dd', 'trades_per_year']);
  });

  it('charges nothing for DD under target or trades above the minimum (the max(0, ·) clamps)', () => {
    const s = thetaScore(ev({ annReturn: 0.2, maxDD: 0.05, tradesPerYear: 400, fpRateAi2: 0.05 }));
    expect(s.terms.ddPenalty).toBe(0);
    expect(s.terms.tradesPenalty).toBe(0);
    expect(s.score).toBeCloseTo(0.2 - 0.1 * 0.05, 12);
  });

  it('uses the seed defaults and takes overrides', () => {
    expect(SEED_THETA.score).toMatchObject({ ddTarget: 0.12, tradesMin: 150, lambdaDd: 2.0, lambdaTrades: 0.05, lambdaStop: 0.1, maxDd: 0.12, tradesPerYearMin: 150, fpRateAi2Max: 0.1 });
    const e = ev({ annReturn: 0.3, maxDD: 0.2, tradesPerYear: 100, fpRateAi2: 0.2 });
    const s = thetaScore(e, { ddTarget: 0.1, lambdaDd: 1, tradesMin: 120, lambdaTrades: 0.01, lambdaStop: 0.5 });
    expect(s.score).toBeCloseTo(0.3 - 1 * 0.1 - 0.01 * 20 - 0.5 * 0.2, 12);
  });

  it('hard constraints: MaxDD ≤ 0.12 and trades/yr ≥ 150 are inclusive bounds', () => {
    expect(thetaScore(ev({ maxDD: 0.12, tradesPerYear: 150 })).feasible).toBe(true);
    expect(thetaScore(ev({ maxDD: 0.1201 })).violations).toEqual(['max_dd']);
    expect(thetaScore(ev({ tradesPerYear: 149.9 })).violations).toEqual(['trades_per_year']);
    // The constraint is separate from the soft target: a stricter hard cap with the same penalty.
    const strict = thetaScore(ev({ maxDD: 0.11 }), { maxDd: 0.1 });
    expect(strict.feasible).toBe(false);
    expect(strict.terms.ddPenalty).toBe(0);
  });

  it('flags FP_rate_AI2 above 10 % without making the trial infeasible', () => {
    expect(thetaScore(ev({ fpRateAi2: 0.1 })).fpWarning).toBe(false);
    const s = thetaScore(ev({ fpRateAi2: 0.25 }));
    expect(s.fpWarning).toBe(true);
    expect(s.feasible).toBe(true);
  });

  it('refuses evaluations it cannot score, with ML_THETA_INVALID', () => {
    expect(errorId(() => thetaScore(ev({ annReturn: Number.NaN })))).toBe(THETA_INVALID);
    expect(errorId(() => thetaScore({ annReturn: 0.1 } as unknown as ThetaEvaluation))).toBe(THETA_INVALID);
    // The "negative drawdown" convention would silently pass the DD constraint.
    expect(errorId(() => thetaScore(ev({ maxDD: -0.15 })))).toBe(THETA_INVALID);
    expect(errorId(() => thetaScore(ev({ fpRateAi2: 8 })))).toBe(THETA_INVALID); // percent, not a fraction
    expect(errorId(() => thetaScore(ev({ tradesPerYear: -1 })))).toBe(THETA_INVALID);
  });
});

describe('θ settings from the core policy', () => {
  it('returns the seed defaults without a policy and reads range and initial θ from core_policy.yaml', () => {
    expect(thetaSettings()).toBe(SEED_THETA);
    const core = loadPolicies(resolve(import.meta.dirname, '..', '..', 'configs')).core;
    const s = thetaSettings(core);
    expect(s.range).toEqual({ theta1: core.theta_search_range.theta1, theta2: core.theta_search_range.theta2 });
    expect(s.initial).toEqual({ theta1: core.theta1_initial, theta2: core.theta2_initial });
    expect(s.score).toEqual(SEED_THETA.score);
    expect(s.search).toEqual(SEED_THETA.search);
  });

  it('overlays the suggested theta_* keys and rejects malformed ones', () => {
    const s = thetaSettings({
      theta_search_range: { theta1: [0.62, 0.8], theta2: [0.22, 0.4] },
      theta_objective: { lambda_dd: 3, trades_min: 120 },
      theta_constraints: { max_dd: 0.1 },
      theta_search: { tpe_trials_max: 80, early_stop_patience: 10, seed: 7 },
      theta_hysteresis: { max_step: 0.02 },
      theta_rollback: { sharpe_drop: 0.25 },
    });
    expect(s.range).toEqual({ theta1: [0.62, 0.8], theta2: [0.22, 0.4] });
    expect(s.score).toEqual({ ...SEED_THETA.score, lambdaDd: 3, tradesMin: 120, maxDd: 0.1 });
    expect(s.search).toEqual({ ...SEED_THETA.search, tpeMaxTrials: 80, earlyStopPatience: 10, seed: 7 });
    expect(s.hysteresis).toEqual({ ...SEED_THETA.hysteresis, maxStep: 0.02 });
    expect(s.rollback).toEqual({ ...SEED_THETA.rollback, sharpeDrop: 0.25 });
    expect(errorId(() => thetaSettings({ theta_objective: { lambda_dd: '2' as unknown as number } }))).toBe(THETA_INVALID);
    expect(errorId(() => thetaSettings({ theta_search_range: { theta1: [0.8, 0.6], theta2: [0.2, 0.4] } }))).toBe(THETA_INVALID);
  });
});
