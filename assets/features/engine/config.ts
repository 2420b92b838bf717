/**
 * Feature-engine configuration (seed 002 特徴量仕様 v1 defaults) and the feature catalogue.
 * Every window counts bars, never time.
 */

/** Bumped whenever a formula changes; part of the feature schema (and so of its hash). */
export const ENGINE_VERSION = '1.0.0';

export interface FeatureConfig {
  /** Rolling OLS / Huber window of P_A on P_B. */
  betaWindow: number;
  /** Half-life (bars) of the EMA that smooths the raw β. */
  betaHalfLife: number;
  /** Window of one-step residuals behind the MAD ratio. */
  madRatioWindow: number;
  /** MAD ratio above which the β fit switches from OLS to Huber. */
  madRatioThreshold: number;
  /** Huber threshold k = huberK × robust scale. */
  huberK: number;
  huberMaxIter: number;
  /** IRLS stops when α and β move less than this (relative to max(1, |value|)). */
  huberTol: number;
  /** Window of the spread's mean/σ behind z (and σ_S of slope_spread). */
  zWindow: number;
  /** z is clipped to [−zClip, zClip]. */
  zClip: number;
  zEmaHalfLife: number;
  /** Wilder ATR period (spread and legs). */
  atrPeriod: number;
  /** Window of the ATR median behind vol_ratio_spread and atr_ratio_A/B. */
  atrMedianWindow: number;
  halfLifeWindow: number;
  halfLifeMin: number;
  halfLifeMax: number;
  rhoWindow: number;
  corrStabilityWindow: number;
  betaStabilityWindow: number;
  betaStabilityEps: number;
  emaFastSpan: number;
  emaSlowSpan: number;
  slopeWindow: number;
  rsiPeriod: number;
}

export const DEFAULT_FEATURE_CONFIG: Readonly<FeatureConfig> = Object.freeze({
  betaWindow: 180,
  betaHalfLife: 72,
  madRatioWindow: 180,
  madRatioThreshold: 2.0,
  huberK: 1.345,
  huberMaxIter: 50,
  huberTol: 1e-12,
  zWindow: 180,
  zClip: 5,
  zEmaHalfLife: 12,
  atrPeriod: 14,
  atrMedianWindow: 180,
  halfLifeWindow: 180,
  halfLifeMin: 1,
  halfLifeMax: 240,
  rhoWindow: 180,
  corrStabilityWindow: 180,
  betaStabilityWindow: 180,
  betaStabilityEps: 1e-6,
  emaFastSpan: 12,
  emaSlowSpan: 26,
  slopeWindow: 20,
  rsiPeriod: 14,
});

/** The model features of the manifest (configs/base/features.yaml), in manifest order. */
export const FEATURE_NAMES = [
  'delta_z', 'z_ema', 'atr_spread', 'vol_ratio_spread', 'half_life', 'rho_rolling', 'corr_stability',
  'beta_stability', 'atr_A', 'atr_B', 'atr_ratio_A', 'atr_ratio_B', 'ema_gap_spread', 'slope_spread',
  'rsi_spread', 'abs_delta_S', 'abs_delta_z', 'slope_z',
] as const;
export type FeatureName = (typeof FEATURE_NAMES)[number];

/** Everything numeric the engine emits per bar: the features plus the pair state they derive from. */
export const OUTPUT_NAMES = ['beta', 'spread', 'z', ...FEATURE_NAMES] as const;
export type OutputName = (typeof OUTPUT_NAMES)[number];

const INTEGER_KEYS = [
  'betaWindow', 'madRatioWindow', 'huberMaxIter', 'zWindow', 'atrPeriod', 'atrMedianWindow', 'halfLifeWindow',
  'rhoWindow', 'corrStabilityWindow', 'betaStabilityWindow', 'slopeWindow', 'rsiPeriod',
] as const satisfies readonly (keyof FeatureConfig)[];

/** Seed defaults with `overrides` applied; throws a RangeError naming the first bad key. */
export function resolveFeatureConfig(overrides: Partial<FeatureConfig> = {}): FeatureConfig {
  for (const key of Object.keys(overrides)) {
    if (!(key in DEFAULT_FEATURE_CONFIG)) throw new RangeError(`unknown feature config key "${key}"`);
  }
  const c: FeatureConfig = { ...DEFAULT_FEATURE_CONFIG, ...overrides };
  const bad = (key: keyof FeatureConfig, why: string) => new RangeError(`feature config ${key}=${c[key]}: ${why}`);
  for (const key of Object.keys(c) as (keyof FeatureConfig)[]) {
    if (typeof c[key] !== 'number' || !Number.isFinite(c[key])) throw bad(key, 'must be a finite number');
  }
  // Regressions and variances need at least two points.
  for (const key of INTEGER_KEYS) if (!Number.isInteger(c[key]) || c[key] < (key === 'huberMaxIter' || key === 'atrPeriod' || key === 'rsiPeriod' ? 1 : 2)) throw bad(key, 'must be an integer window');
  for (const key of ['betaHalfLife', 'zEmaHalfLife'] as const) if (c[key] < 0) throw bad(key, 'must be ≥ 0');
  for (const key of ['emaFastSpan', 'emaSlowSpan'] as const) if (c[key] < 1) throw bad(key, 'must be ≥ 1');
  for (const key of ['madRatioThreshold', 'huberK', 'zClip', 'halfLifeMin', 'betaStabilityEps'] as const) if (!(c[key] > 0)) throw bad(key, 'must be > 0');
  if (c.huberTol < 0) throw bad('huberTol', 'must be ≥ 0');
  if (!(c.halfLifeMax >= c.halfLifeMin)) throw bad('halfLifeMax', 'must be ≥ halfLifeMin');
  return c;
}

/**
 * 0-based index of the first bar on which each output is non-null (its windows are warm).
 * The chain: β needs `betaWindow` bars; the spread exists from then on; spread statistics then
 * need their own windows of spreads (or of spread changes, which start one spread later).
 */
export function warmupBars(c: FeatureConfig): Record<OutputName, number> {
  const first = c.betaWindow - 1; // first bar with β and a spread
  const z = first + c.zWindow - 1;
  const atrSpread = first + c.atrPeriod;
  return {
    beta: first,
    spread: first,
    z,
    delta_z: z + 1,
    z_ema: z,
    atr_spread: atrSpread,
    vol_ratio_spread: atrSpread + c.atrMedianWindow - 1,
    half_life: first + c.halfLifeWindow,
    rho_rolling: c.rhoWindow,
    corr_stability: c.rhoWindow + c.corrStabilityWindow - 1,
    beta_stability: first + c.betaStabilityWindow - 1,
    atr_A: c.atrPeriod,
    atr_B: c.atrPeriod,
    atr_ratio_A: c.atrPeriod + c.atrMedianWindow - 1,
    atr_ratio_B: c.atrPeriod + c.atrMedianWindow - 1,
    ema_gap_spread: first + Math.ceil(Math.max(c.emaFastSpan, c.emaSlowSpan)) - 1,
    slope_spread: first + Math.max(c.slopeWindow, c.zWindow) - 1,
    rsi_spread: first + c.rsiPeriod,
    abs_delta_S: first + 1,
    abs_delta_z: z + 1,
    slope_z: z + c.slopeWindow - 1,
  };
}

/** First bar on which the robust (Huber) switch can fire: the residual window must be full. */
export function robustWarmupBar(c: FeatureConfig): number {
  return c.betaWindow + c.madRatioWindow - 1;
}

/** The bar window each output looks back over (for the feature schema). */
export function outputWindows(c: FeatureConfig): Record<OutputName, number> {
  return {
    beta: c.betaWindow,
    spread: c.betaWindow,
    z: c.zWindow,
    delta_z: c.zWindow,
    z_ema: c.zWindow,
    atr_spread: c.atrPeriod,
    vol_ratio_spread: c.atrMedianWindow,
    half_life: c.halfLifeWindow,
    rho_rolling: c.rhoWindow,
    corr_stability: c.corrStabilityWindow,
    beta_stability: c.betaStabilityWindow,
    atr_A: c.atrPeriod,
    atr_B: c.atrPeriod,
    atr_ratio_A: c.atrMedianWindow,
    atr_ratio_B: c.atrMedianWindow,
    ema_gap_spread: Math.max(c.emaFastSpan, c.emaSlowSpan),
    slope_spread: c.slopeWindow,
    rsi_spread: c.rsiPeriod,
    abs_delta_S: 1,
    abs_delta_z: 1,
    slope_z: c.slopeWindow,
  };
}

/** EMA half-lives (bars) behind each output; the β half-life reaches every spread-derived one. */
export function outputHalfLives(c: FeatureConfig): Partial<Record<OutputName, number>> {
  return { beta: c.betaHalfLife, z_ema: c.zEmaHalfLife };
}
