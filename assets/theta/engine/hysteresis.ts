/**
 * Stabilisation and rollback of θ updates (seed 002 閾値最適化 v1 安定化（ヒステリシス）, ロールバック):
 *
 * - data guard: hold when OOS trades < trades_min/2;
 * - falsification guard: hold when the 95 % (block-bootstrap) CI of the improvement has lower bound < 0;
 * - otherwise EWMA θ_applied = 0.7·θ_old + 0.3·θ_new, then |θ_applied − θ_old| ≤ 0.03 per update, per θ;
 * - rollback: Sharpe −20 % or MaxDD +3 points beyond the baseline ⇒ back to the old θ at once.
 */
import { invalid } from './errors.ts';
import { SEED_THETA, type HysteresisOptions, type RollbackOptions, type Theta } from './settings.ts';

export interface HysteresisInput {
  old: Theta;
  proposed: Theta;
  /** Trades in the OOS evaluation that supports the proposal. */
  oosTrades: number;
  tradesMin: number;
  /** 95 % CI [lo, hi] of the improvement (new − old) of the objective. */
  improvementCi: readonly [number, number];
}

export type HoldCode = 'insufficient_oos_trades' | 'improvement_ci_below_zero';

export interface HysteresisStep {
  old: number;
  proposed: number;
  /** (1 − w)·old + w·proposed: what the EWMA alone would apply. */
  smoothed: number;
  /** What is applied: old when held, else smoothed clamped to old ± maxStep. */
  applied: number;
  /** applied − old. */
  delta: number;
  /** The step limit cut the EWMA move. */
  clamped: boolean;
}

export interface HysteresisResult {
  applied: Theta;
  held: null | { code: HoldCode; message: string };
  steps: { theta1: HysteresisStep; theta2: HysteresisStep };
}

const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/** The next double from x toward `to` (IEEE-754 nextafter). */
function nextToward(x: number, to: number): number {
  if (x === to) return x;
  if (x === 0) return to > 0 ? Number.MIN_VALUE : -Number.MIN_VALUE;
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, x);
  const bits = buf.getBigInt64(0);
  buf.setBigInt64(0, (to > x) === (x > 0) ? bits + 1n : bits - 1n);
  return buf.getFloat64(0);
}

function step(old: number, proposed: number, o: HysteresisOptions, held: boolean): HysteresisStep {
  const smoothed = old + o.newWeight * (proposed - old);
  if (held) return { old, proposed, smoothed, applied: old, delta: 0, clamped: false };
  const clamped = Math.abs(smoothed - old) > o.maxStep;
  let applied = clamped ? old + Math.sign(smoothed - old) * o.maxStep : smoothed;
  // old ± 0.03 can round to a double a hair beyond the limit; the guarantee is |applied − old| ≤ maxStep as computed.
  while (Math.abs(applied - old) > o.maxStep) applied = nextToward(applied, old);
  return { old, proposed, smoothed, applied, delta: applied - old, clamped };
}

export function applyHysteresis(input: HysteresisInput, opts: Partial<HysteresisOptions> = {}): HysteresisResult {
  const o = { ...SEED_THETA.hysteresis, ...opts };
  const { old, proposed, oosTrades, tradesMin, improvementCi } = input;
  if (![old?.theta1, old?.theta2, proposed?.theta1, proposed?.theta2].every(finite)) invalid('old and proposed must hold finite theta1 and theta2.', { old, proposed });
  if (!(finite(oosTrades) && oosTrades >= 0)) invalid(`oosTrades must be a finite number ≥ 0 (got ${oosTrades}).`, { oosTrades });
  if (!(finite(tradesMin) && tradesMin >= 0)) invalid(`tradesMin must be a finite number ≥ 0 (got ${tradesMin}).`, { tradesMin });
  if (!(Array.isArray(improvementCi) && improvementCi.length === 2 && improvementCi.every(finite) && improvementCi[0] <= improvementCi[1])) {
    invalid(`improvementCi must be [lo, hi] with finite lo ≤ hi (got ${JSON.stringify(improvementCi)}).`, { improvementCi });
  }
  if (!(finite(o.newWeight) && o.newWeight >= 0 && o.newWeight <= 1)) invalid(`newWeight must be in [0, 1] (got ${o.newWeight}).`, { options: o });
  if (!(finite(o.maxStep) && o.maxStep >= 0)) invalid(`maxStep must be ≥ 0 (got ${o.maxStep}).`, { options: o });
  if (!(finite(o.minOosTradesRatio) && o.minOosTradesRatio >= 0)) invalid(`minOosTradesRatio must be ≥ 0 (got ${o.minOosTradesRatio}).`, { options: o });

  let held: HysteresisResult['held'] = null;
  const minTrades = o.minOosTradesRatio * tradesMin;
  if (oosTrades < minTrades) {
    held = { code: 'insufficient_oos_trades', message: `OOS trades ${oosTrades} < ${minTrades} (trades_min ${tradesMin} × ${o.minOosTradesRatio}): too little evidence, θ kept.` };
  } else if (improvementCi[0] < 0) {
    held = { code: 'improvement_ci_below_zero', message: `the improvement's CI lower bound ${improvementCi[0]} is below 0: the gain is not established, θ kept.` };
  }
  const s1 = step(old.theta1, proposed.theta1, o, held !== null);
  const s2 = step(old.theta2, proposed.theta2, o, held !== null);
  return { applied: { theta1: s1.applied, theta2: s2.applied }, held, steps: { theta1: s1, theta2: s2 } };
}

export interface KpiSnapshot {
  sharpe: number;
  /** Positive fraction, 0.12 = 12 %. */
  maxDD: number;
}

export interface RollbackInput {
  /** θ before the update (what a rollback returns to). */
  oldTheta: Theta;
  /** θ in force now. */
  currentTheta: Theta;
  /** KPIs under the old θ. */
  baseline: KpiSnapshot;
  /** KPIs observed under the current θ. */
  current: KpiSnapshot;
}

export type RollbackCode = 'sharpe_drop' | 'max_dd_rise';

export interface RollbackDecision {
  rollback: boolean;
  /** oldTheta when rolling back, else currentTheta. */
  theta: Theta;
  reasons: Array<{ code: RollbackCode; message: string; observed: number; limit: number }>;
}

/** Absorbs the rounding of e.g. 0.15 − 0.12 so "exactly +3 points" is not "beyond +3 points". */
const EPS = 1e-12;

/**
 * Severe deterioration (重大悪化): Sharpe fell by more than `sharpeDrop`·|baseline Sharpe| (−20 %),
 * or MaxDD rose by more than `maxDdRise` (+0.03). Relative to |Sharpe| so a negative baseline
 * still reads "fell by 20 %"; a baseline Sharpe of 0 rolls back on any fall.
 */
export function rollbackDecision(input: RollbackInput, opts: Partial<RollbackOptions> = {}): RollbackDecision {
  const o = { ...SEED_THETA.rollback, ...opts };
  const { baseline: b, current: c } = input;
  if (![b?.sharpe, b?.maxDD, c?.sharpe, c?.maxDD].every(finite)) invalid('baseline and current need finite sharpe and maxDD.', { baseline: b, current: c });
  if (b.maxDD < 0 || c.maxDD < 0) invalid('maxDD must be a positive fraction (0.12 = 12 % drawdown).', { baseline: b, current: c });
  const reasons: RollbackDecision['reasons'] = [];
  const drop = b.sharpe - c.sharpe;
  const dropLimit = o.sharpeDrop * Math.abs(b.sharpe);
  if (drop > dropLimit + EPS) reasons.push({ code: 'sharpe_drop', message: `Sharpe ${c.sharpe} fell ${drop} below the baseline ${b.sharpe} (limit ${dropLimit}).`, observed: drop, limit: dropLimit });
  const rise = c.maxDD - b.maxDD;
  if (rise > o.maxDdRise + EPS) reasons.push({ code: 'max_dd_rise', message: `MaxDD ${c.maxDD} rose ${rise} above the baseline ${b.maxDD} (limit ${o.maxDdRise}).`, observed: rise, limit: o.maxDdRise });
  const rollback = reasons.length > 0;
  return { rollback, theta: rollback ? input.oldTheta : input.currentTheta, reasons };
}
