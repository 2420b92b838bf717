/**
 * The adoption gate of a new model against the current champion (seed 002 時系列CV・評価KPI 仕様 v1,
 * 採用判定（旧モデル比較, 多目的）):
 *
 *   Sharpe_new ≥ 0.95 × Sharpe_old
 *   MaxDD_new ≤ MaxDD_old + 0.03
 *   Stop誤検出率(AI2) < 10 %
 *   E/trade_new ≥ 0
 *   improvement 95 % CI (block bootstrap, computed by the caller) lower bound ≥ 0
 *
 * With no champion only the absolute criteria (AI2 false-stop rate, E/trade) apply. Every criterion
 * is evaluated — the decision lists all that failed, not just the first. Pure.
 *
 * Conventions: `maxDrawdown` is a non-negative fraction of equity (0.12 = 12 %), `ai2FalseStopRate`
 * a fraction in [0, 1]. A KPI that is missing or not finite (NaN: no trades) fails its criterion.
 */
import type { JsonObject } from '../../../core/event-log/port.ts';
import { PublishErrorIds, publishError } from './errors.ts';

export interface ModelKpis {
  /** Sharpe ratio of the daily-aggregated equity curve. */
  sharpe: number;
  /** Maximum drawdown, a non-negative fraction (0.12 = 12 %). */
  maxDrawdown: number;
  /** AI2 false-stop rate (Stop誤検出率), a fraction in [0, 1]. */
  ai2FalseStopRate: number;
  /** Expected PnL per trade (E/trade). */
  expectancyPerTrade: number;
}

/** The improvement's confidence interval (new − old), computed by the caller (block bootstrap). */
export interface ConfidenceInterval {
  lower: number;
  upper: number;
  /** e.g. 0.95. */
  level?: number;
}

export interface AdoptionThresholds {
  /** Sharpe_new ≥ sharpeRatioMin × Sharpe_old. */
  sharpeRatioMin: number;
  /** MaxDD_new ≤ MaxDD_old + maxDrawdownSlack. */
  maxDrawdownSlack: number;
  /** AI2 false-stop rate < ai2FalseStopRateMax (strict). */
  ai2FalseStopRateMax: number;
  /** E/trade ≥ expectancyMin. */
  expectancyMin: number;
  /** CI lower bound ≥ ciLowerMin. */
  ciLowerMin: number;
}

/** The seed's values. */
export const SEED_ADOPTION: Readonly<AdoptionThresholds> = Object.freeze({
  sharpeRatioMin: 0.95,
  maxDrawdownSlack: 0.03,
  ai2FalseStopRateMax: 0.1,
  expectancyMin: 0,
  ciLowerMin: 0,
});

export type AdoptionCriterion = 'sharpe' | 'max_drawdown' | 'ai2_false_stop_rate' | 'expectancy_per_trade' | 'improvement_ci';

export interface AdoptionCheck {
  criterion: AdoptionCriterion;
  passed: boolean;
  /** Not applied (a relative criterion with no champion); a skipped check counts as passed. */
  skipped: boolean;
  /** The candidate's value (the CI's lower bound for `improvement_ci`). */
  value: number | null;
  /** The bound it was held to. */
  threshold: number | null;
  reason: string;
}

export interface AdoptionDecision {
  passed: boolean;
  /** Why it failed: one line per failed criterion (empty when it passed). */
  reasons: string[];
  /** Every criterion, applied or skipped, with its reason. */
  checks: AdoptionCheck[];
  /** Whether a champion was compared against. */
  againstChampion: boolean;
}

export interface AdoptionInput {
  candidate: ModelKpis;
  /** The current production model's KPIs; null/undefined when there is none. */
  champion?: ModelKpis | null;
  /** The improvement's CI; required when there is a champion. */
  improvementCi?: ConfidenceInterval | null;
}

/** Floating-point slack for the non-strict bounds (0.95 × 1.2 is 1.1399999999999999). */
const EPS = 1e-12;

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const fmt = (v: number) => (Math.abs(v) >= 1e-3 || v === 0 ? Number(v.toFixed(4)).toString() : v.toExponential(3));
const pct = (v: number) => `${Number((100 * v).toFixed(2))} %`;

function checkKpis(k: ModelKpis, who: string): void {
  if (finite(k.maxDrawdown) && k.maxDrawdown < 0) {
    throw publishError(PublishErrorIds.GATE_INVALID, `The ${who}'s maxDrawdown is ${k.maxDrawdown}: give the drawdown as a non-negative fraction (0.12 = 12 %).`, { who, maxDrawdown: k.maxDrawdown });
  }
  if (finite(k.ai2FalseStopRate) && (k.ai2FalseStopRate < 0 || k.ai2FalseStopRate > 1)) {
    throw publishError(PublishErrorIds.GATE_INVALID, `The ${who}'s ai2FalseStopRate is ${k.ai2FalseStopRate}: give it as a fraction in [0, 1].`, { who, ai2FalseStopRate: k.ai2FalseStopRate });
  }
}

export function adoptionGate(input: AdoptionInput, thresholds: Partial<AdoptionThresholds> = {}): AdoptionDecision {
  const t: AdoptionThresholds = { ...SEED_ADOPTION, ...thresholds };
  const c = input.candidate;
  const old = input.champion ?? null;
  checkKpis(c, 'candidate');
  if (old) checkKpis(old, 'champion');
  const checks: AdoptionCheck[] = [];
  const skip = (criterion: AdoptionCriterion, reason: string) => checks.push({ criterion, passed: true, skipped: true, value: null, threshold: null, reason });
  const judge = (criterion: AdoptionCriterion, value: number | null | undefined, threshold: number | null, passed: boolean, reason: string) =>
    checks.push({ criterion, passed, skipped: false, value: finite(value) ? value : null, threshold, reason });

  // Relative criteria.
  if (!old) {
    skip('sharpe', 'no champion: the Sharpe comparison does not apply');
    skip('max_drawdown', 'no champion: the MaxDD comparison does not apply');
    skip('improvement_ci', 'no champion: there is no improvement to bound');
  } else {
    if (!finite(c.sharpe) || !finite(old.sharpe)) {
      judge('sharpe', c.sharpe, null, false, `Sharpe cannot be compared (candidate ${c.sharpe}, champion ${old.sharpe})`);
    } else {
      const bound = t.sharpeRatioMin * old.sharpe;
      const ok = c.sharpe >= bound - EPS;
      judge('sharpe', c.sharpe, bound, ok, `Sharpe ${fmt(c.sharpe)} ${ok ? '≥' : '<'} ${t.sharpeRatioMin} × ${fmt(old.sharpe)} = ${fmt(bound)}`);
    }
    if (!finite(c.maxDrawdown) || !finite(old.maxDrawdown)) {
      judge('max_drawdown', c.maxDrawdown, null, false, `MaxDD cannot be compared (candidate ${c.maxDrawdown}, champion ${old.maxDrawdown})`);
    } else {
      const bound = old.maxDrawdown + t.maxDrawdownSlack;
      const ok = c.maxDrawdown <= bound + EPS;
      judge('max_drawdown', c.maxDrawdown, bound, ok, `MaxDD ${pct(c.maxDrawdown)} ${ok ? '≤' : '>'} ${pct(old.maxDrawdown)} + ${pct(t.maxDrawdownSlack)} = ${pct(bound)}`);
    }
    const ci = input.improvementCi;
    if (!ci || !finite(ci.lower)) {
      judge('improvement_ci', null, t.ciLowerMin, false, 'the improvement confidence interval over the champion was not given (block bootstrap, 95 %)');
    } else {
      const ok = ci.lower >= t.ciLowerMin - EPS;
      const level = ci.level === undefined ? '' : `${Number((100 * ci.level).toFixed(1))} % `;
      judge('improvement_ci', ci.lower, t.ciLowerMin, ok, `improvement ${level}CI [${fmt(ci.lower)}, ${fmt(ci.upper)}]: lower bound ${ok ? '≥' : '<'} ${fmt(t.ciLowerMin)}`);
    }
  }

  // Absolute criteria.
  if (!finite(c.ai2FalseStopRate)) {
    judge('ai2_false_stop_rate', null, t.ai2FalseStopRateMax, false, `AI2 false-stop rate is missing (${c.ai2FalseStopRate})`);
  } else {
    const ok = c.ai2FalseStopRate < t.ai2FalseStopRateMax;
    judge('ai2_false_stop_rate', c.ai2FalseStopRate, t.ai2FalseStopRateMax, ok, `AI2 false-stop rate ${pct(c.ai2FalseStopRate)} ${ok ? '<' : '≥'} ${pct(t.ai2FalseStopRateMax)}`);
  }
  if (!finite(c.expectancyPerTrade)) {
    judge('expectancy_per_trade', null, t.expectancyMin, false, `E/trade is missing (${c.expectancyPerTrade}): no trades?`);
  } else {
    const ok = c.expectancyPerTrade >= t.expectancyMin - EPS;
    judge('expectancy_per_trade', c.expectancyPerTrade, t.expectancyMin, ok, `E/trade ${fmt(c.expectancyPerTrade)} ${ok ? '≥' : '<'} ${fmt(t.expectancyMin)}`);
  }

  const reasons = checks.filter((k) => !k.passed).map((k) => k.reason);
  return { passed: reasons.length === 0, reasons, checks, againstChampion: old !== null };
}

/**
 * The metric names under which a model's KPIs are kept in the registry's `metrics` (and in
 * experiment runs), so the champion's KPIs can be read back for the next gate.
 */
export const KPI_METRIC_KEYS = {
  sharpe: 'sharpe',
  maxDrawdown: 'max_dd',
  ai2FalseStopRate: 'ai2_false_stop_rate',
  expectancyPerTrade: 'e_per_trade',
} as const satisfies Record<keyof ModelKpis, string>;

/** A model's KPIs from registry metrics; a missing key reads as NaN (which fails its criterion). */
export function kpisFromMetrics(metrics: JsonObject): ModelKpis {
  const num = (key: string) => {
    const v = metrics[key];
    return typeof v === 'number' ? v : Number.NaN;
  };
  return {
    sharpe: num(KPI_METRIC_KEYS.sharpe),
    maxDrawdown: num(KPI_METRIC_KEYS.maxDrawdown),
    ai2FalseStopRate: num(KPI_METRIC_KEYS.ai2FalseStopRate),
    expectancyPerTrade: num(KPI_METRIC_KEYS.expectancyPerTrade),
  };
}

/** KPIs as registry metrics (the inverse of `kpisFromMetrics`). */
export function kpisToMetrics(k: ModelKpis): JsonObject {
  return {
    [KPI_METRIC_KEYS.sharpe]: k.sharpe,
    [KPI_METRIC_KEYS.maxDrawdown]: k.maxDrawdown,
    [KPI_METRIC_KEYS.ai2FalseStopRate]: k.ai2FalseStopRate,
    [KPI_METRIC_KEYS.expectancyPerTrade]: k.expectancyPerTrade,
  };
}

/** `runbook_policy.yaml` `rollback_policy` (seed 002 運用Runbook: "Sharpe -20% or MaxDD +3%"). */
export interface RollbackLimits {
  /** Relative Sharpe drop beyond which to roll back (0.20 = −20 %). */
  sharpe_drop_limit: number;
  /** Absolute MaxDD increase beyond which to roll back (0.03 = +3 points). */
  maxdd_increase_limit: number;
}

export const SEED_ROLLBACK: Readonly<RollbackLimits> = Object.freeze({ sharpe_drop_limit: 0.2, maxdd_increase_limit: 0.03 });

/**
 * Whether a live model has worsened enough to roll back (seed 002 閾値最適化 "重大悪化（Sharpe -20% or
 * MaxDD +3% 超）で即時旧 θ に復帰"): its Sharpe fell by more than `sharpe_drop_limit` of the baseline
 * (the KPIs it was adopted with), or its MaxDD rose by more than `maxdd_increase_limit`. Pure; the
 * caller then runs `ModelRegistry.rollback`.
 */
export function rollbackTriggered(live: Pick<ModelKpis, 'sharpe' | 'maxDrawdown'>, baseline: Pick<ModelKpis, 'sharpe' | 'maxDrawdown'>, limits: RollbackLimits = SEED_ROLLBACK): { rollback: boolean; reasons: string[] } {
  const reasons: string[] = [];
  if (finite(live.sharpe) && finite(baseline.sharpe) && baseline.sharpe !== 0) {
    const drop = (baseline.sharpe - live.sharpe) / Math.abs(baseline.sharpe);
    if (drop > limits.sharpe_drop_limit + EPS) reasons.push(`Sharpe ${fmt(live.sharpe)} is ${pct(drop)} below the adopted ${fmt(baseline.sharpe)} (limit ${pct(limits.sharpe_drop_limit)})`);
  }
  if (finite(live.maxDrawdown) && finite(baseline.maxDrawdown)) {
    const rise = live.maxDrawdown - baseline.maxDrawdown;
    if (rise > limits.maxdd_increase_limit + EPS) reasons.push(`MaxDD ${pct(live.maxDrawdown)} is ${pct(rise)} above the adopted ${pct(baseline.maxDrawdown)} (limit ${pct(limits.maxdd_increase_limit)})`);
  }
  return { rollback: reasons.length > 0, reasons };
}
