/**
 * Feature normalisation (seed): fitted on the training window only, saved next to the model and
 * re-applied verbatim at inference — `applyNormalizer` never refits.
 *
 * Per feature: winsorise at the 1 % / 99 % quantiles, robust-standardise with the median and
 * MAD·1.4826 of the winsorised training values, clip to [−5, 5].
 */
import { MAD_TO_SIGMA } from './huber.ts';
import { sortedMedian } from './median.ts';

export const NORMALIZATION_METHOD = 'winsorize_robust_z';

export interface NormalizerOptions {
  lowerQuantile: number;
  upperQuantile: number;
  clip: number;
}

export const DEFAULT_NORMALIZER_OPTIONS: Readonly<NormalizerOptions> = Object.freeze({ lowerQuantile: 0.01, upperQuantile: 0.99, clip: 5 });

export interface FeatureNormParams {
  /** Winsorisation bounds (the training quantiles). */
  lower: number;
  upper: number;
  median: number;
  /** MAD·1.4826 of the winsorised values; see `fitNormalizer` for the MAD = 0 guard. */
  scale: number;
  /** Non-null training values the parameters came from. */
  count: number;
}

export interface NormalizerParams {
  method: typeof NORMALIZATION_METHOD;
  lowerQuantile: number;
  upperQuantile: number;
  clip: number;
  features: Record<string, FeatureNormParams>;
}

/** Quantile with linear interpolation between order statistics (numpy/pandas default). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * Fits the parameters on `rows` (the training window). Null values (warm-up) are skipped; a
 * feature with no value at all is an error. When MAD is 0 (over half the values identical) the
 * scale falls back to the winsorised standard deviation, and to 1 for a constant feature (or one
 * whose std under/overflows), so the transform is always finite.
 */
export function fitNormalizer(
  rows: readonly Readonly<Record<string, number | null | undefined | boolean>>[],
  featureNames: readonly string[],
  options: Partial<NormalizerOptions> = {},
): NormalizerParams {
  const o = { ...DEFAULT_NORMALIZER_OPTIONS, ...options };
  if (!(o.lowerQuantile >= 0 && o.lowerQuantile < o.upperQuantile && o.upperQuantile <= 1)) throw new RangeError('normaliser quantiles must satisfy 0 ≤ lower < upper ≤ 1');
  if (!(o.clip > 0)) throw new RangeError('normaliser clip must be > 0');
  const features: Record<string, FeatureNormParams> = {};
  for (const name of featureNames) {
    const values: number[] = [];
    for (const row of rows) {
      const v = row[name];
      if (v === null || v === undefined) continue;
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new RangeError(`feature "${name}": non-finite training value ${String(v)}`);
      values.push(v);
    }
    if (values.length === 0) throw new RangeError(`feature "${name}": no non-null training values`);
    const sorted = Float64Array.from(values).sort();
    const lower = quantileSorted(sorted, o.lowerQuantile), upper = quantileSorted(sorted, o.upperQuantile);
    // Clamping is monotone, so the winsorised values stay sorted.
    const wins = sorted.map((v) => (v < lower ? lower : v > upper ? upper : v));
    const median = sortedMedian(wins, wins.length);
    const dev = wins.map((v) => Math.abs(v - median)).sort();
    let scale = MAD_TO_SIGMA * sortedMedian(dev, dev.length);
    if (!(scale > 0)) {
      // wins is sorted: equal ends mean a constant feature (its rounding-noise std would explode).
      if (wins[0] === wins[wins.length - 1]) scale = 1;
      else {
        let sum = 0;
        for (const v of wins) sum += v;
        const mean = sum / wins.length;
        let ss = 0;
        for (const v of wins) ss += (v - mean) * (v - mean);
        scale = Math.sqrt(ss / wins.length);
      }
    }
    // Subnormal data can underflow the std to 0 (and huge data overflow it): never divide by that.
    if (!(scale > 0 && scale < Infinity)) scale = 1;
    // + 0 turns −0 into 0, so the saved JSON reads back identical.
    features[name] = { lower: lower + 0, upper: upper + 0, median: median + 0, scale, count: values.length };
  }
  return { method: NORMALIZATION_METHOD, lowerQuantile: o.lowerQuantile, upperQuantile: o.upperQuantile, clip: o.clip, features };
}

/** One value through saved parameters: winsorise, standardise, clip. */
export function normalizeValue(p: FeatureNormParams, clip: number, v: number): number {
  const w = v < p.lower ? p.lower : v > p.upper ? p.upper : v;
  const z = (w - p.median) / p.scale;
  return z > clip ? clip : z < -clip ? -clip : z;
}

/** Applies saved parameters to one row; returns exactly the fitted features (null stays null). */
export function applyNormalizer(params: NormalizerParams, row: Readonly<Record<string, number | null | undefined | boolean>>): Record<string, number | null> {
  if (params.method !== NORMALIZATION_METHOD) throw new RangeError(`unknown normalisation method "${params.method}"`);
  const out: Record<string, number | null> = {};
  for (const [name, p] of Object.entries(params.features)) {
    const v = row[name];
    if (v === undefined) throw new RangeError(`row has no feature "${name}"`);
    if (v === null) { out[name] = null; continue; }
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new RangeError(`feature "${name}": non-finite value ${String(v)}`);
    out[name] = normalizeValue(p, params.clip, v);
  }
  return out;
}
