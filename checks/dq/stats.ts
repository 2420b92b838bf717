/** Small robust statistics used by the rolling DQ rules. */

/** Median (mean of the two middle values for an even count); NaN when empty. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  return medianOfSorted(Float64Array.from(xs).sort());
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

/**
 * A sliding window of numbers kept in ascending order (insert and remove by binary search), so
 * a rolling median or MAD needs no sort per step. Values must not be NaN.
 */
export class SortedWindow {
  private a: Float64Array;
  private n = 0;

  constructor(capacity: number) {
    this.a = new Float64Array(Math.max(1, capacity));
  }

  get size(): number {
    return this.n;
  }

  /** The values, ascending (a view: valid until the next insert or remove). */
  sorted(): Float64Array {
    return this.a.subarray(0, this.n);
  }

  insert(x: number): void {
    if (this.n === this.a.length) {
      const grown = new Float64Array(this.a.length * 2);
      grown.set(this.a);
      this.a = grown;
    }
    const i = this.lowerBound(x);
    this.a.copyWithin(i + 1, i, this.n);
    this.a[i] = x;
    this.n++;
  }

  remove(x: number): void {
    const i = this.lowerBound(x);
    if (i >= this.n || this.a[i] !== x) throw new Error(`SortedWindow.remove: ${x} is not in the window`);
    this.a.copyWithin(i, i + 1, this.n);
    this.n--;
  }

  median(): number {
    return medianOfSorted(this.a, this.n);
  }

  /** clippedScaleSorted(this.sorted(), k), without making the view. */
  clippedScale(k: number): { center: number; sigma: number; kept: number } | null {
    return clippedScaleOf(this.a, this.n, k, true);
  }

  clear(): void {
    this.n = 0;
  }

  private lowerBound(x: number): number {
    let lo = 0;
    let hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.a[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

function medianOfSorted(s: ArrayLike<number>, n = s.length): number {
  if (n === 0) return NaN;
  const h = n >> 1;
  return n % 2 === 1 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/** First index of ascending `s[0..n)` whose value is not below `c` (n when none). */
function lowerBoundOf(s: ArrayLike<number>, n: number, c: number): number {
  let lo = 0, hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (s[mid] < c) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The k-th and (k+1)-th smallest (0-based) of |s[i] − c| over ascending `s[0..n)`, into `out[0]`
 * and `out[1]`, by merging outward from c: O(k). NaN where there is none.
 */
function kthDeviation(s: ArrayLike<number>, n: number, c: number, k: number, out: Float64Array): void {
  let right = 0;
  while (right < n && s[right] < c) right++;
  let left = right - 1;
  let d = NaN;
  out[0] = NaN;
  out[1] = NaN;
  for (let taken = 0; taken <= k + 1; taken++) {
    const dl = left >= 0 ? c - s[left] : Infinity;
    const dr = right < n ? s[right] - c : Infinity;
    if (dl <= dr) { d = dl; left--; } else { d = dr; right++; }
    if (taken >= k) out[taken - k] = d;
  }
}

/**
 * kthDeviation by bisection, O(log n): the deviations left of c (c − s[right−1−j]) and right of
 * it (s[right+j] − c) are two ascending runs, and the k+1 smallest take i from the first and
 * k+1−i from the second for the i found below. The same values as the merge (order statistics do
 * not depend on how ties are taken) for NaN-free `s` and a finite `c`.
 */
function kthDeviationBisect(s: ArrayLike<number>, n: number, c: number, k: number, out: Float64Array): void {
  const right = lowerBoundOf(s, n, c);
  const lenA = right, lenB = n - right, m = k + 1;
  // A(j) = c − s[right − 1 − j], B(j) = s[right + j] − c.
  let lo = Math.max(0, m - lenB), hi = Math.min(m, lenA);
  while (lo < hi) {
    const i = (lo + hi) >> 1;
    if (c - s[right - 1 - i] < s[right + (m - i) - 1] - c) lo = i + 1;
    else hi = i;
  }
  const i = lo, j = m - i;
  const lastA = i > 0 ? c - s[right - i] : -Infinity;
  const lastB = j > 0 ? s[right + j - 1] - c : -Infinity;
  const nextA = i < lenA ? c - s[right - 1 - i] : Infinity;
  const nextB = j < lenB ? s[right + j] - c : Infinity;
  out[0] = m <= n ? Math.max(lastA, lastB) : NaN;
  out[1] = m + 1 <= n ? Math.min(nextA, nextB) : m <= n ? Infinity : NaN;
}

const DEV = new Float64Array(2);

/**
 * clipScale of ascending `s[0..n)`. `bisect` (a SortedWindow's values: NaN-free) takes the
 * O(log n) searches; without it, the scans of the exported functions, whatever `s` holds.
 */
function clipScaleOf(s: ArrayLike<number>, n: number, bisect: boolean): { center: number; sigma: number } {
  const center = medianOfSorted(s, n);
  const h = n >> 1;
  const dev = bisect && Number.isFinite(center) ? kthDeviationBisect : kthDeviation;
  let medDev: number;
  if (n % 2 === 1) { dev(s, n, center, h, DEV); medDev = DEV[0]; }
  else { dev(s, n, center, h - 1, DEV); medDev = (DEV[0] + DEV[1]) / 2; }
  let sumAd = 0;
  for (let i = 0; i < n; i++) sumAd += Math.abs(s[i] - center);
  const sigma = Math.max(MAD_TO_SIGMA * medDev, MEAN_AD_TO_SIGMA * (sumAd / n));
  return { center, sigma: sigma > 0 ? sigma : 0 };
}

/** clipScale over values already in ascending order (same result, no sorting). */
export function clipScaleSorted(s: ArrayLike<number>): { center: number; sigma: number } {
  return clipScaleOf(s, s.length, false);
}

/** clippedScale of ascending `s[0..n)`: the kept values are one contiguous run. */
function clippedScaleOf(s: ArrayLike<number>, n: number, k: number, bisect: boolean): { center: number; sigma: number; kept: number } | null {
  const r = clipScaleOf(s, n, bisect);
  if (!(r.sigma > 0)) return null;
  const limit = k * r.sigma;
  const c = r.center;
  let first: number, kept: number, sum = 0;
  if (bisect) {
    // |s[i] − c| ≤ limit holds on one contiguous run of ascending, NaN-free s (s[i] − c is
    // monotone in i, rounding included): find its ends by bisection on that very test.
    let lo = 0, hi = n;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (s[mid] - c < -limit) lo = mid + 1; else hi = mid; }
    first = lo;
    hi = n;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (s[mid] - c <= limit) lo = mid + 1; else hi = mid; }
    kept = lo - first;
    if (kept < 2) return null;
    for (let i = first; i < lo; i++) sum += s[i];
  } else {
    kept = 0;
    first = -1;
    for (let i = 0; i < n; i++) {
      if (Math.abs(s[i] - c) <= limit) { if (first < 0) first = i; sum += s[i]; kept++; }
    }
    if (kept < 2) return null;
  }
  const end = first + kept;
  const mean = sum / kept;
  let ss = 0;
  for (let i = first; i < end; i++) ss += (s[i] - mean) * (s[i] - mean);
  const sd = Math.sqrt(ss / (kept - 1));
  return sd > 0 ? { center: mean, sigma: sd, kept } : null;
}

/** clippedScale over values already in ascending order: the kept values are one contiguous run. */
export function clippedScaleSorted(s: ArrayLike<number>, k: number): { center: number; sigma: number; kept: number } | null {
  return clippedScaleOf(s, s.length, k, false);
}
