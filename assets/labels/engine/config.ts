import { OrreryError } from '../../../core/errors.ts';
import type { CorePolicy } from '../../policies/schemas.ts';

/** Thrown for a config or input series the label functions cannot work with. */
export const LABEL_INVALID = 'ML_LABEL_INVALID';

/** A per-bar series; null (or a non-finite number) means "not observed at this bar". */
export type Series = ReadonlyArray<number | null>;

/** Label parameters. Defaults are the seed values (core_policy.yaml). */
export interface LabelConfig {
  /** AI1 event start: |z_t| ≥ zEntry. */
  zEntry: number;
  /** AI1 success: |z| ≤ zExit within the horizon. Must be below zEntry. */
  zExit: number;
  /** AI1 horizon M in bars. */
  horizonBars: number;
  /** AI1 speed exclusion window K (bars t−K … t−1). */
  speedLookbackBars: number;
  /** Speed threshold: AI1 excludes when mean |Δz| > thetaSpeed; AI2 fires when EMA(|Δz|) > thetaSpeed. */
  thetaSpeed: number;
  /** AI2 trigger: corr_stability (variance of rolling rho) > thetaCorrVar. */
  thetaCorrVar: number;
  /** AI2 trigger: vol_ratio_spread > thetaVol. */
  thetaVol: number;
  /** AI2 trigger: pair drawdown > thetaDd. */
  thetaDd: number;
  /** AI2 drawdown window, in business days (multiplied by barsPerBusinessDay). */
  ddWindowBusinessDays: number;
  /** AI2 half-life (bars) of the EMA of |Δz|. */
  speedEmaHalfLife: number;
  /** AI2 forward horizon H; null means "same as horizonBars" (the seed's H = M). */
  riskHorizonBars: number | null;
  /** Class weights: max/min weight ratio cap. */
  classWeightMaxRatio: number;
}

export const DEFAULT_LABEL_CONFIG: Readonly<LabelConfig> = Object.freeze({
  zEntry: 2.0,
  zExit: 0.5,
  horizonBars: 48,
  speedLookbackBars: 6,
  thetaSpeed: 0.12,
  thetaCorrVar: 0.025,
  thetaVol: 1.8,
  thetaDd: 0.07,
  ddWindowBusinessDays: 60,
  speedEmaHalfLife: 6,
  riskHorizonBars: null,
  classWeightMaxRatio: 5,
});

/** The label config a loaded core_policy describes. */
export function labelConfigFromPolicy(core: CorePolicy): LabelConfig {
  const r = core.risk_label_thresholds;
  return {
    zEntry: core.z_entry,
    zExit: core.z_exit,
    horizonBars: core.horizon_bars,
    speedLookbackBars: core.speed_lookback_bars,
    thetaSpeed: r.theta_speed,
    thetaCorrVar: r.theta_corr_var,
    thetaVol: r.theta_vol,
    thetaDd: r.theta_dd,
    ddWindowBusinessDays: r.dd_window_business_days,
    speedEmaHalfLife: r.speed_ema_half_life,
    riskHorizonBars: null,
    classWeightMaxRatio: core.class_weight_max_ratio,
  };
}

/** Defaults overlaid with `overrides`, validated. */
export function resolveConfig(overrides: Partial<LabelConfig> = {}): LabelConfig {
  const c: LabelConfig = { ...DEFAULT_LABEL_CONFIG, ...overrides };
  const posInt = (k: keyof LabelConfig, v: number) => { if (!Number.isInteger(v) || v < 1) invalid(`${k} must be a positive integer, got ${v}`); };
  const pos = (k: keyof LabelConfig, v: number) => { if (!(Number.isFinite(v) && v > 0)) invalid(`${k} must be a positive number, got ${v}`); };
  posInt('horizonBars', c.horizonBars);
  posInt('speedLookbackBars', c.speedLookbackBars);
  posInt('ddWindowBusinessDays', c.ddWindowBusinessDays);
  if (c.riskHorizonBars !== null) posInt('riskHorizonBars', c.riskHorizonBars);
  for (const k of ['zEntry', 'thetaSpeed', 'thetaCorrVar', 'thetaVol', 'thetaDd', 'speedEmaHalfLife'] as const) pos(k, c[k]);
  // zExit < zEntry keeps "exit" and "entry/reversal" disjoint at a single bar.
  if (!(Number.isFinite(c.zExit) && c.zExit >= 0 && c.zExit < c.zEntry)) invalid(`zExit must be in [0, zEntry), got ${c.zExit} (zEntry ${c.zEntry})`);
  if (!(Number.isFinite(c.classWeightMaxRatio) && c.classWeightMaxRatio >= 1)) invalid(`classWeightMaxRatio must be ≥ 1, got ${c.classWeightMaxRatio}`);
  return c;
}

export function invalid(message: string, details: Record<string, unknown> = {}): never {
  throw new OrreryError(LABEL_INVALID, message, details);
}

/** A finite observed value (null, undefined and NaN count as missing). */
export function observed(v: number | null | undefined): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

export function sameLength(series: Record<string, Series>): number {
  const lengths = Object.entries(series).map(([name, s]) => [name, s.length] as const);
  const n = lengths[0]?.[1] ?? 0;
  const bad = lengths.filter(([, len]) => len !== n);
  if (bad.length > 0) invalid(`input series differ in length: ${lengths.map(([k, l]) => `${k}=${l}`).join(', ')}`);
  return n;
}
