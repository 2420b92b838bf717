/** Small robust statistics used by the rolling DQ rules. */

/** Median (mean of the two middle values for an even count); NaN when empty. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 === 1 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/** 1 / Φ⁻¹(3/4): makes the MAD a consistent estimator of σ for normal data. */
export const MAD_TO_SIGMA = 1.482602218505602;
/** √(π/2): makes the mean absolute deviation a consistent estimator of σ for normal data. */
export const MEAN_AD_TO_SIGMA = Math.sqrt(Math.PI / 2);

/**
 * The scale returns are clipped with: the LARGER of two consistent estimates of σ,
 * 1.4826·MAD and √(π/2)·mean|x − median|. The MAD alone collapses when more than half the values
 * (nearly) coincide — tick-discrete prices, quiet sessions: "one tick up" is almost the same log
 * return every time — and would then call every genuine move an outlier; the mean absolute
 * deviation cannot collapse while anything moves, and one gross value x shifts it by only |x|/n.
 * 0 only when every value is equal.
 */
export function clipScale(xs: readonly number[]): { center: number; sigma: number } {
  const center = median(xs);
  const dev = xs.map((x) => Math.abs(x - center));
  const mad = MAD_TO_SIGMA * median(dev);
  const meanAd = MEAN_AD_TO_SIGMA * (dev.reduce((a, b) => a + b, 0) / dev.length);
  const sigma = Math.max(mad, meanAd);
  return { center, sigma: sigma > 0 ? sigma : 0 };
}

/**
 * A one-step clipped ("sigma-clipped") mean and standard deviation: values farther than `k`
 * clip-scale σ (clipScale) from the median are set aside, and the mean and sample standard
 * deviation (n − 1) of the rest are returned. Null when there is no scale (all values equal,
 * fewer than two values kept, or a zero standard deviation).
 */
export function clippedScale(xs: readonly number[], k: number): { center: number; sigma: number; kept: number } | null {
  const r = clipScale(xs);
  if (!(r.sigma > 0)) return null;
  const limit = k * r.sigma;
  const kept = xs.filter((x) => Math.abs(x - r.center) <= limit);
  if (kept.length < 2) return null;
  const mean = kept.reduce((a, b) => a + b, 0) / kept.length;
  const sd = Math.sqrt(kept.reduce((a, x) => a + (x - mean) * (x - mean), 0) / (kept.length - 1));
  return sd > 0 ? { center: mean, sigma: sd, kept: kept.length } : null;
}
