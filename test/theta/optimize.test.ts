import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  dominates, optimizeTheta, optimizeThetaAsync, paretoFront, SEED_THETA, THETA_INVALID,
  type ThetaEvaluation, type ThetaOptimization, type ThetaTrial,
} from '../../assets/theta/engine/index.ts';

/** An evaluation whose score is exactly `annReturn` (no penalty active, no false stops). */
const ev = (annReturn: number, o: Partial<ThetaEvaluation> = {}): ThetaEvaluation => ({ annReturn, maxDD: 0.05, tradesPerYear: 200, fpRateAi2: 0, sharpe: 1, trades: 400, ...o });

/** A smooth bump with its peak off the 0.02 grid. */
const C1 = 0.7312, C2 = 0.3271;
const bump = (a: number, b: number) => ev(0.3 * Math.exp(-(((a - C1) / 0.05) ** 2 + ((b - C2) / 0.05) ** 2) / 2));
const dist = (t: { theta1: number; theta2: number }) => Math.hypot(t.theta1 - C1, t.theta2 - C2);
const bestOf = (ts: ThetaTrial[]) => ts.reduce((a, b) => (b.score! > a.score! ? b : a));
const key = (t: { theta1: number; theta2: number }) => `${t.theta1},${t.theta2}`;

/** Recomputes, from the log alone, which trials improved the incumbent (feasible first, then score). */
function recomputeImproved(trials: ThetaTrial[], minImprovement = 0): boolean[] {
  let inc: ThetaTrial | null = null;
  const cls = (t: ThetaTrial) => (t.status === 'failed' ? 0 : t.feasible ? 2 : 1);
  return trials.map((t) => {
    const margin = t.phase === 'tpe' ? minImprovement : 0;
    const better = t.status === 'ok' && (inc === null || cls(t) > cls(inc) || (cls(t) === cls(inc) && t.score! > inc.score! + margin));
    if (better) inc = t;
    return better;
  });
}

/** The early-stop rule, checked against the log: TPE stopped at the first trial where it was allowed to. */
function checkStopRule(r: ThetaOptimization, min: number, max: number, patience: number): void {
  const tpe = r.trials.filter((t) => t.phase === 'tpe');
  expect(tpe.length).toBe(r.counts.tpe);
  expect(tpe.length).toBeGreaterThanOrEqual(min);
  expect(tpe.length).toBeLessThanOrEqual(max);
  let since = 0;
  for (let i = 0; i < tpe.length; i++) {
    // Had the rule allowed a stop before trial i, trial i should not exist.
    expect(i >= min && since >= patience).toBe(false);
    since = tpe[i].improved ? 0 : since + 1;
  }
  if (r.stop === 'early_stop') {
    expect(tpe.length >= min && since >= patience).toBe(true);
    expect(tpe.slice(-patience).every((t) => !t.improved)).toBe(true);
  } else {
    expect(tpe.length).toBe(max);
  }
}

describe('θ search: coarse grid', () => {
  it('evaluates the closed range on exact decimal grid points (integer steps, upper bound included)', () => {
    const r = optimizeTheta(bump);
    const grid = r.trials.filter((t) => t.phase === 'grid');
    const axis1 = [...new Set(grid.map((t) => t.theta1))];
    const axis2 = [...new Set(grid.map((t) => t.theta2))];
    // 0.60 + k·0.02 as decimals — 0.6 + 7·0.02 in floating point would be 0.7400000000000001.
    expect(axis1).toEqual([0.6, 0.62, 0.64, 0.66, 0.68, 0.7, 0.72, 0.74, 0.76, 0.78, 0.8, 0.82, 0.84, 0.85]);
    expect(axis2).toEqual([0.2, 0.22, 0.24, 0.26, 0.28, 0.3, 0.32, 0.34, 0.36, 0.38, 0.4, 0.42, 0.44, 0.45]);
    expect(grid).toHaveLength(196);
    expect(r.counts.grid).toBe(196);
    // A range that is a whole number of steps gets no extra end point.
    const even = optimizeTheta(bump, { range: { theta1: [0.6, 0.84], theta2: [0.2, 0.3] }, search: { tpeMinTrials: 0, tpeMaxTrials: 0 } });
    expect(even.trials.map((t) => t.theta1).filter((x, i, a) => a.indexOf(x) === i)).toHaveLength(13);
    expect(even.trials).toHaveLength(13 * 6);
  });

  it('rejects a range or step off the resolution lattice, and bad search settings', () => {
    const id = (f: () => unknown) => { try { f(); } catch (e) { return (e as { errorId?: string }).errorId; } return undefined; };
    expect(id(() => optimizeTheta(bump, { range: { theta1: [0.6005, 0.85], theta2: [0.2, 0.45] } }))).toBe(THETA_INVALID);
    expect(id(() => optimizeTheta(bump, { search: { gridStep: 0.0125 } }))).toBe(THETA_INVALID);
    expect(id(() => optimizeTheta(bump, { search: { tpeMinTrials: 60, tpeMaxTrials: 50 } }))).toBe(THETA_INVALID);
    expect(id(() => optimizeTheta(bump, { search: { earlyStopPatience: 0 } }))).toBe(THETA_INVALID);
    expect(id(() => optimizeTheta(bump, { range: { theta1: [0.8, 0.6], theta2: [0.2, 0.45] } }))).toBe(THETA_INVALID);
  });
});

describe('θ search: TPE refinement', () => {
  it('lands closer to an off-grid optimum than the best grid point, for every seed tried', () => {
    for (const seed of [1, 7, 42, 1234, 99_999]) {
      const r = optimizeTheta(bump, { search: { seed } });
      const gridBest = bestOf(r.trials.filter((t) => t.phase === 'grid'));
      expect(gridBest).toMatchObject({ theta1: 0.74, theta2: 0.32 });
      expect(r.outcome).toBe('optimal');
      expect(r.best!.phase).toBe('tpe');
      expect(r.best!.score!).toBeGreaterThan(gridBest.score!);
      // Grid best is 0.0113 away; TPE gets within a few lattice steps (0.001) of the peak.
      expect(dist(r.best!)).toBeLessThan(dist(gridBest) / 3);
      expect(r.best).toBe(bestOf(r.trials));
    }
  });

  it('follows a diagonal ridge (θ1 and θ2 interact) to its lattice optimum', () => {
    // Max 0.2 at θ2 = 0.3123, θ1 = 0.6 + 0.9·(θ2 − 0.2) + 0.0137 ≈ 0.7148.
    const ridge = (a: number, b: number) => ev(0.2 - 40 * (a - 0.6 - (b - 0.2) * 0.9 - 0.0137) ** 2 - 2 * (b - 0.3123) ** 2);
    const r = optimizeTheta(ridge, { search: { seed: 3 } });
    const gridBest = bestOf(r.trials.filter((t) => t.phase === 'grid'));
    expect(r.best!.score!).toBeGreaterThan(gridBest.score!);
    expect(Math.abs(r.best!.theta1 - 0.7148)).toBeLessThanOrEqual(0.002);
    expect(Math.abs(r.best!.theta2 - 0.3123)).toBeLessThanOrEqual(0.002);
  });

  it('never chooses an infeasible θ, even when infeasible trials score higher', () => {
    // The peak sits in a disc where MaxDD is 12.5 %: penalised only 0.01, so it still outscores the rest.
    const P1 = 0.8, P2 = 0.4;
    const f = (a: number, b: number) => {
      const r = Math.hypot(a - P1, b - P2);
      return ev(0.3 * Math.exp(-((r / 0.1) ** 2) / 2), { maxDD: r < 0.0613 ? 0.125 : 0.08, sharpe: 2 - r });
    };
    const r = optimizeTheta(f, { search: { seed: 5 } });
    expect(r.outcome).toBe('optimal');
    expect(r.best!.feasible).toBe(true);
    expect(r.best!.evaluation!.maxDD).toBeLessThanOrEqual(0.12);
    expect(Math.hypot(r.best!.theta1 - P1, r.best!.theta2 - P2)).toBeGreaterThanOrEqual(0.0613);
    const infeasible = r.trials.filter((t) => !t.feasible);
    expect(infeasible.length).toBeGreaterThan(0);
    expect(Math.max(...infeasible.map((t) => t.score!))).toBeGreaterThan(r.best!.score!);
    expect(infeasible.every((t) => t.violations.includes('max_dd'))).toBe(true);
    // The best feasible trial of the whole log, and at least as good as the grid's.
    expect(r.best).toBe(bestOf(r.trials.filter((t) => t.feasible)));
    expect(r.best!.score!).toBeGreaterThanOrEqual(bestOf(r.trials.filter((t) => t.feasible && t.phase === 'grid')).score!);
  });

  it('reports "no feasible θ" rather than a best when nothing meets the constraints', () => {
    const r = optimizeTheta((a, b) => ev(a + b, { tradesPerYear: 100 }), { search: { tpeMinTrials: 0 } });
    expect(r.outcome).toBe('no_feasible');
    expect(r.best).toBeNull();
    expect(r.pareto).toEqual([]);
    expect(r.reason).toMatch(/no feasible θ/);
    expect(r.reason).toMatch(/trades\/yr violated/);
    expect(r.trials.length).toBe(r.counts.grid + r.counts.tpe);
    expect(r.trials.every((t) => t.status === 'ok' && !t.feasible && t.violations.includes('trades_per_year'))).toBe(true);
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const a = optimizeTheta(bump, { search: { seed: 11 } });
    const b = optimizeTheta(bump, { search: { seed: 11 } });
    expect(b).toEqual(a);
    const c = optimizeTheta(bump, { search: { seed: 12 } });
    expect(c.trials.filter((t) => t.phase === 'tpe').map(key)).not.toEqual(a.trials.filter((t) => t.phase === 'tpe').map(key));
    expect(a.seed).toBe(11);
  });

  it('the async driver gives the same result as the sync one', async () => {
    const sync = optimizeTheta(bump, { search: { seed: 4 } });
    const async = await optimizeThetaAsync(async (a, b) => {
      await new Promise((r) => setImmediate(r));
      return bump(a, b);
    }, { search: { seed: 4 } });
    expect(async).toEqual(sync);
  });

  it('refuses a Promise from the sync driver instead of logging every trial as failed', () => {
    expect(() => optimizeTheta((async (a: number, b: number) => bump(a, b)) as unknown as (a: number, b: number) => ThetaEvaluation))
      .toThrow(/optimizeThetaAsync/);
  });
});

describe('θ search: budget and early stop', () => {
  /** Best only at the grid point (0.70, 0.30): TPE can never improve. */
  const spike = (a: number, b: number) => ev(a === 0.7 && b === 0.3 ? 0.2 : 0.1);

  it('stops after exactly 15 non-improving TPE trials when no minimum applies', () => {
    const r = optimizeTheta(spike, { search: { tpeMinTrials: 0 } });
    expect(r.stop).toBe('early_stop');
    expect(r.counts.tpe).toBe(SEED_THETA.search.earlyStopPatience);
    expect(r.trials.filter((t) => t.phase === 'tpe').every((t) => !t.improved)).toBe(true);
    expect(r.best).toMatchObject({ theta1: 0.7, theta2: 0.3, phase: 'grid' });
  });

  it('runs at least tpeMinTrials (50) and at most tpeMaxTrials (100)', () => {
    expect(optimizeTheta(spike).counts.tpe).toBe(50);
    const capped = optimizeTheta(spike, { search: { earlyStopPatience: 500 } });
    expect(capped.counts.tpe).toBe(100);
    expect(capped.stop).toBe('max_trials');
  });

  it('on a surface TPE can improve, stops exactly when the rule says (checked from the log)', () => {
    const r = optimizeTheta(bump, { search: { seed: 2, tpeMinTrials: 0 } });
    expect(r.trials.filter((t) => t.phase === 'tpe').some((t) => t.improved)).toBe(true);
    checkStopRule(r, 0, 100, 15);
    expect(r.trials.map((t) => t.improved)).toEqual(recomputeImproved(r.trials));
  });

  it('property: any budget and patience respects min ≤ TPE trials ≤ max and the early-stop rule', () => {
    const range = { theta1: [0.6, 0.7] as const, theta2: [0.2, 0.3] as const };
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 30 }), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      fc.double({ min: 0, max: 0.01, noNaN: true }),
      (min, extra, patience, seed, minImprovement) => {
        const max = min + extra;
        const r = optimizeTheta(bump, { range, search: { tpeMinTrials: min, tpeMaxTrials: max, earlyStopPatience: patience, seed, minImprovement } });
        checkStopRule(r, min, max, patience);
        expect(r.trials.map((t) => t.improved)).toEqual(recomputeImproved(r.trials, minImprovement));
        const inBox = (t: ThetaTrial) => t.theta1 >= 0.6 && t.theta1 <= 0.7 && t.theta2 >= 0.2 && t.theta2 <= 0.3;
        expect(r.trials.every(inBox)).toBe(true);
        // Every θ is on the 0.001 lattice.
        expect(r.trials.every((t) => t.theta1 === Math.round(t.theta1 * 1000) / 1000 && t.theta2 === Math.round(t.theta2 * 1000) / 1000)).toBe(true);
      },
    ), { numRuns: 40 });
  });
});

describe('θ search: trial log and cache', () => {
  it('logs every trial — grid, TPE, failed ones — with θ, phase, score, feasibility and the evaluation', () => {
    const calls: Array<[number, number, string, number]> = [];
    const r = optimizeTheta((a, b, ctx) => {
      calls.push([a, b, ctx.phase, ctx.trial]);
      if (a >= 0.84) throw new Error('backtest crashed');
      if (b === 0.45) return ev(Number.NaN);
      return bump(a, b);
    }, { search: { seed: 8 } });
    expect(r.trials).toHaveLength(r.counts.grid + r.counts.tpe);
    expect(r.trials.map((t) => t.index)).toEqual(r.trials.map((_, i) => i));
    // The evaluator saw exactly the non-cached trials, in order, told their phase and index.
    expect(calls).toEqual(r.trials.filter((t) => t.cachedFrom === null).map((t) => [t.theta1, t.theta2, t.phase, t.index]));
    const crashed = r.trials.filter((t) => t.theta1 >= 0.84);
    expect(crashed.length).toBeGreaterThan(0);
    for (const t of crashed) expect(t).toMatchObject({ status: 'failed', score: null, feasible: false, evaluation: null, error: { message: 'backtest crashed' } });
    const nan = r.trials.find((t) => t.theta1 < 0.84 && t.theta2 === 0.45)!;
    expect(nan).toMatchObject({ status: 'failed', error: { errorId: THETA_INVALID } });
    expect(r.counts.failed).toBe(r.trials.filter((t) => t.status === 'failed' && t.cachedFrom === null).length);
    for (const t of r.trials.filter((t) => t.status === 'ok')) {
      expect(t.evaluation).toEqual(bump(t.theta1, t.theta2));
      expect(t.score).toBeCloseTo(t.evaluation!.annReturn, 12);
      expect(t.phase === 'grid' || t.phase === 'tpe').toBe(true);
    }
    expect(r.best!.status).toBe('ok');
  });

  it('keeps caller fields of the evaluation', () => {
    const r = optimizeTheta((a, b) => ({ ...bump(a, b), foldSharpes: [1, 2], dataHash: 'abc' }), { search: { tpeMinTrials: 0, tpeMaxTrials: 1 } });
    expect(r.trials[0].evaluation).toMatchObject({ foldSharpes: [1, 2], dataHash: 'abc' });
  });

  it('evaluates each distinct θ once; repeats are served from the cache and still logged', () => {
    let calls = 0;
    const r = optimizeTheta((a, b) => { calls++; return bump(a, b); }, {
      range: { theta1: [0.6, 0.62], theta2: [0.2, 0.22] },
      search: { resolution: 0.01, gridStep: 0.01, tpeMinTrials: 5, tpeMaxTrials: 5 },
    });
    // Only 3×3 lattice points exist: the grid takes them all, every TPE trial is a repeat.
    expect(calls).toBe(9);
    expect(r.trials).toHaveLength(14);
    expect(r.counts).toMatchObject({ grid: 9, tpe: 5, evaluations: 9, cached: 5 });
    for (const t of r.trials.filter((t) => t.phase === 'tpe')) {
      expect(t.cachedFrom).not.toBeNull();
      const src = r.trials[t.cachedFrom!];
      expect(key(src)).toBe(key(t));
      expect(src.cachedFrom).toBeNull();
      expect(t.evaluation).toBe(src.evaluation);
    }
    // In a normal run no θ is evaluated twice.
    const seen: string[] = [];
    optimizeTheta((a, b) => { seen.push(`${a},${b}`); return bump(a, b); }, { search: { seed: 9 } });
    expect(new Set(seen).size).toBe(seen.length);
  });
});

describe('θ search: Pareto set (Sharpe ↑, MaxDD ↓)', () => {
  /** Sharpe and MaxDD pull apart, quantised so that ties occur; part of the box is infeasible. */
  const tradeOff = (a: number, b: number) => {
    const sharpe = Math.round((2 - 8 * (a - 0.8) ** 2 - 4 * (b - 0.4) ** 2) * 20) / 20;
    const maxDD = Math.round((0.03 + 1.5 * (a - 0.6) * (b - 0.15)) * 200) / 200;
    return ev(sharpe / 10, { sharpe, maxDD });
  };

  it('is exactly the non-dominated subset of the feasible trials (brute force)', () => {
    const r = optimizeTheta(tradeOff, { search: { seed: 21 } });
    const feasible = r.trials.filter((t) => t.status === 'ok' && t.feasible && t.cachedFrom === null);
    expect(r.trials.some((t) => !t.feasible)).toBe(true);
    expect(r.pareto.length).toBeGreaterThan(1);
    const inFront = new Set(r.pareto);
    for (const t of feasible) {
      const dominated = feasible.some((o) => o !== t && dominates(o.evaluation!, t.evaluation!));
      expect(inFront.has(t)).toBe(!dominated);
    }
    for (const p of r.pareto) expect(p.feasible).toBe(true);
    // Sorted by Sharpe descending; along the front MaxDD then falls too.
    for (let i = 1; i < r.pareto.length; i++) {
      expect(r.pareto[i].evaluation!.sharpe).toBeLessThanOrEqual(r.pareto[i - 1].evaluation!.sharpe);
      expect(r.pareto[i].evaluation!.maxDD).toBeLessThanOrEqual(r.pareto[i - 1].evaluation!.maxDD);
    }
  });

  it('paretoFront keeps ties, drops weakly dominated points', () => {
    const pts = [
      { id: 'a', evaluation: { sharpe: 2, maxDD: 0.1 } },
      { id: 'b', evaluation: { sharpe: 2, maxDD: 0.1 } }, // tie with a: neither dominates
      { id: 'c', evaluation: { sharpe: 2, maxDD: 0.11 } }, // same Sharpe, worse DD: dominated
      { id: 'd', evaluation: { sharpe: 1, maxDD: 0.05 } },
      { id: 'e', evaluation: { sharpe: 0.5, maxDD: 0.05 } }, // dominated by d
      { id: 'f', evaluation: null },
    ];
    expect(paretoFront(pts).map((p) => p.id)).toEqual(['a', 'b', 'd']);
  });
});
