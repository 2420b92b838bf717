/**
 * Settings of the θ1/θ2 optimisation (seed 002 閾値最適化（θ1/θ2）仕様 v1) and the seed's defaults.
 *
 * `core_policy.yaml` already carries `theta_search_range`, `theta1_initial`, `theta2_initial`; the
 * objective weights, constraints, search budget, hysteresis and rollback limits are not (yet) in a
 * config, so they live here as `SEED_THETA` and `thetaSettings(core)` overlays whatever the core
 * policy provides (unknown-to-the-schema keys are read defensively, so adding them later needs no
 * change here).
 */
import { invalid } from './errors.ts';

export interface Theta {
  /** Regression-probability threshold: enter when return_prob > θ1. */
  theta1: number;
  /** Risk threshold: enter when risk_score < θ2. */
  theta2: number;
}

/** Closed search intervals, `[low, high]`. */
export interface ThetaRange {
  theta1: readonly [number, number];
  theta2: readonly [number, number];
}

export interface ThetaScoreOptions {
  /** Soft drawdown target of the penalty λ_dd·max(0, MaxDD − dd_target). */
  ddTarget: number;
  /** Soft trade-count target (per year) of the penalty λ_trades·max(0, trades_min − trades_per_year). */
  tradesMin: number;
  lambdaDd: number;
  lambdaTrades: number;
  lambdaStop: number;
  /** Hard constraint: MaxDD ≤ maxDd, else the trial is never chosen. */
  maxDd: number;
  /** Hard constraint: trades_per_year ≥ tradesPerYearMin, else the trial is never chosen. */
  tradesPerYearMin: number;
  /** Recommended ceiling of the AI2 false-stop rate: exceeding it only flags the trial. */
  fpRateAi2Max: number;
}

export interface ThetaSearchOptions {
  /** Coarse grid step (0.02). */
  gridStep: number;
  /** Every θ the engine evaluates is a multiple of this (ranges and grid step must be too); makes the cache hit. */
  resolution: number;
  /** TPE trials always run at least this many (the seed's 50〜100 試行) … */
  tpeMinTrials: number;
  /** … and at most this many. */
  tpeMaxTrials: number;
  /** Stop TPE after this many consecutive trials without improving the incumbent (once past tpeMinTrials). */
  earlyStopPatience: number;
  /** A trial improves only when it beats the incumbent's score by more than this. */
  minImprovement: number;
  /** The best ⌈gamma·√n⌉ of the n ranked trials form the "good" density l(x) (hyperopt's TPE split). */
  gamma: number;
  /** Cap on the size of the good set. */
  maxGood: number;
  /** Candidates drawn from l(x) per TPE trial; the one with the largest l/g is evaluated. */
  candidates: number;
  seed: number;
}

export interface HysteresisOptions {
  /** Weight of the new θ in θ_applied = (1 − w)·θ_old + w·θ_new. */
  newWeight: number;
  /** |θ_applied − θ_old| ≤ maxStep per update, per θ. */
  maxStep: number;
  /** Hold the update when OOS trades < ratio·trades_min. */
  minOosTradesRatio: number;
}

export interface RollbackOptions {
  /** Roll back when Sharpe falls by more than this fraction of the baseline's |Sharpe|. */
  sharpeDrop: number;
  /** Roll back when MaxDD rises by more than this (absolute, 0.03 = 3 points). */
  maxDdRise: number;
}

export interface ThetaSettings {
  range: ThetaRange;
  initial: Theta;
  score: ThetaScoreOptions;
  search: ThetaSearchOptions;
  hysteresis: HysteresisOptions;
  rollback: RollbackOptions;
}

/** The seed's recommended values (閾値最適化 v1) where no config provides them. */
export const SEED_THETA: ThetaSettings = Object.freeze({
  range: Object.freeze({ theta1: [0.6, 0.85] as const, theta2: [0.2, 0.45] as const }),
  initial: Object.freeze({ theta1: 0.7, theta2: 0.3 }),
  score: Object.freeze({
    ddTarget: 0.12, tradesMin: 150, lambdaDd: 2.0, lambdaTrades: 0.05, lambdaStop: 0.1,
    maxDd: 0.12, tradesPerYearMin: 150, fpRateAi2Max: 0.1,
  }),
  search: Object.freeze({
    gridStep: 0.02, resolution: 0.001, tpeMinTrials: 50, tpeMaxTrials: 100, earlyStopPatience: 15,
    minImprovement: 0, gamma: 0.25, maxGood: 25, candidates: 24, seed: 42,
  }),
  hysteresis: Object.freeze({ newWeight: 0.3, maxStep: 0.03, minOosTradesRatio: 0.5 }),
  rollback: Object.freeze({ sharpeDrop: 0.2, maxDdRise: 0.03 }),
}) as ThetaSettings;

/**
 * The part of `policies.core` this engine reads. `CorePolicy` is assignable to it; the `theta_*`
 * groups are the keys suggested for `core_policy.yaml` (snake_case, each optional, each field optional).
 */
export interface ThetaPolicyLike {
  theta1_initial?: number;
  theta2_initial?: number;
  theta_search_range?: { theta1: readonly [number, number] | number[]; theta2: readonly [number, number] | number[] };
  theta_objective?: Partial<Record<'dd_target' | 'trades_min' | 'lambda_dd' | 'lambda_trades' | 'lambda_stop', number>>;
  theta_constraints?: Partial<Record<'max_dd' | 'trades_per_year_min' | 'fp_rate_ai2_max', number>>;
  theta_search?: Partial<Record<
    'grid_step' | 'resolution' | 'tpe_trials_min' | 'tpe_trials_max' | 'early_stop_patience' | 'min_improvement' | 'gamma' | 'max_good' | 'candidates' | 'seed',
    number
  >>;
  theta_hysteresis?: Partial<Record<'new_weight' | 'max_step' | 'min_oos_trades_ratio', number>>;
  theta_rollback?: Partial<Record<'sharpe_drop' | 'max_dd_rise', number>>;
}

type Group = Record<string, unknown> | undefined;

function group(core: object, key: string): Group {
  const g = (core as Record<string, unknown>)[key];
  if (g === undefined || g === null) return undefined;
  if (typeof g !== 'object' || Array.isArray(g)) invalid(`core_policy.${key} must be a mapping.`, { key, value: g });
  return g as Record<string, unknown>;
}

function num(g: Group, groupKey: string, key: string, fallback: number): number {
  const v = g?.[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) invalid(`core_policy.${groupKey}.${key} must be a finite number (got ${String(v)}).`, { key: `${groupKey}.${key}`, value: v });
  return v;
}

function pair(v: unknown, key: string): [number, number] {
  if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => typeof x === 'number' && Number.isFinite(x)) || !(v[0] < v[1])) {
    invalid(`core_policy.theta_search_range.${key} must be [low, high] with low < high (got ${JSON.stringify(v)}).`, { key, value: v });
  }
  return [v[0], v[1]];
}

/** SEED_THETA overlaid with what `policies.core` provides. */
export function thetaSettings(core?: ThetaPolicyLike | null): ThetaSettings {
  if (!core) return SEED_THETA;
  const s = SEED_THETA;
  const r = core.theta_search_range;
  const obj = group(core, 'theta_objective');
  const con = group(core, 'theta_constraints');
  const se = group(core, 'theta_search');
  const hy = group(core, 'theta_hysteresis');
  const rb = group(core, 'theta_rollback');
  return {
    range: r ? { theta1: pair(r.theta1, 'theta1'), theta2: pair(r.theta2, 'theta2') } : s.range,
    initial: { theta1: core.theta1_initial ?? s.initial.theta1, theta2: core.theta2_initial ?? s.initial.theta2 },
    score: {
      ddTarget: num(obj, 'theta_objective', 'dd_target', s.score.ddTarget),
      tradesMin: num(obj, 'theta_objective', 'trades_min', s.score.tradesMin),
      lambdaDd: num(obj, 'theta_objective', 'lambda_dd', s.score.lambdaDd),
      lambdaTrades: num(obj, 'theta_objective', 'lambda_trades', s.score.lambdaTrades),
      lambdaStop: num(obj, 'theta_objective', 'lambda_stop', s.score.lambdaStop),
      maxDd: num(con, 'theta_constraints', 'max_dd', s.score.maxDd),
      tradesPerYearMin: num(con, 'theta_constraints', 'trades_per_year_min', s.score.tradesPerYearMin),
      fpRateAi2Max: num(con, 'theta_constraints', 'fp_rate_ai2_max', s.score.fpRateAi2Max),
    },
    search: {
      gridStep: num(se, 'theta_search', 'grid_step', s.search.gridStep),
      resolution: num(se, 'theta_search', 'resolution', s.search.resolution),
      tpeMinTrials: num(se, 'theta_search', 'tpe_trials_min', s.search.tpeMinTrials),
      tpeMaxTrials: num(se, 'theta_search', 'tpe_trials_max', s.search.tpeMaxTrials),
      earlyStopPatience: num(se, 'theta_search', 'early_stop_patience', s.search.earlyStopPatience),
      minImprovement: num(se, 'theta_search', 'min_improvement', s.search.minImprovement),
      gamma: num(se, 'theta_search', 'gamma', s.search.gamma),
      maxGood: num(se, 'theta_search', 'max_good', s.search.maxGood),
      candidates: num(se, 'theta_search', 'candidates', s.search.candidates),
      seed: num(se, 'theta_search', 'seed', s.search.seed),
    },
    hysteresis: {
      newWeight: num(hy, 'theta_hysteresis', 'new_weight', s.hysteresis.newWeight),
      maxStep: num(hy, 'theta_hysteresis', 'max_step', s.hysteresis.maxStep),
      minOosTradesRatio: num(hy, 'theta_hysteresis', 'min_oos_trades_ratio', s.hysteresis.minOosTradesRatio),
    },
    rollback: {
      sharpeDrop: num(rb, 'theta_rollback', 'sharpe_drop', s.rollback.sharpeDrop),
      maxDdRise: num(rb, 'theta_rollback', 'max_dd_rise', s.rollback.maxDdRise),
    },
  };
}
