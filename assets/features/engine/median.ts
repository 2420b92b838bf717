/**
 * Exact rolling median over the last `window` values.
 *
 * A fully sorted window (binary-search insert/delete plus a block move) costs two unpredictable
 * binary searches and a ~w/3-element move per bar. Only the ranks next to the median matter,
 * so this keeps a sorted *band* of the values in [lo, hi] around the median and mere counts of the
 * values below it (the rest are above). Most pushes touch only the count; values inside the band
 * move at most a band's width. When the median's ranks leave the band, the band slides: one pass
 * over the ring collects the values beyond it and a quickselect picks the few that are needed —
 * O(w), no sort. The median is always the exact order statistic, so the band layout never affects
 * results (a restored median rebuilds its band and answers the same).
 */

/** First index in sorted[0..n) whose value is ≥ x. */
function lowerBound(sorted: Float64Array, n: number, x: number): number {
  let lo = 0, hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Median of sorted[0..n) (mean of the two middle values for even n). */
export function sortedMedian(sorted: ArrayLike<number>, n: number): number {
  const h = n >> 1;
  return n & 1 ? sorted[h] : (sorted[h - 1] + sorted[h]) * 0.5;
}

/** Reorders a[0..n) so that a[k] is its k-th smallest, with a[0..k) ≤ a[k] ≤ a[k+1..n) (Hoare quickselect). */
function selectKth(a: Float64Array, n: number, k: number): void {
  let lo = 0, hi = n - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >> 1];
    let i = lo, j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i]; a[i] = a[j]; a[j] = t;
        i++; j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return;
  }
}

/** Median of a[0..n) in O(n) by quickselect (reorders a); equals sortedMedian of the sorted values. */
export function selectMedian(a: Float64Array, n: number): number {
  const h = n >> 1;
  selectKth(a, n, h);
  if (n & 1) return a[h];
  let below = a[0]; // the other middle value is the largest of a[0..h)
  for (let i = 1; i < h; i++) if (a[i] > below) below = a[i];
  return (below + a[h]) * 0.5;
}

/** Insertion sort of a[from..to) — the ranges sorted here are a band's width at most. */
function sortRange(a: Float64Array, from: number, to: number): void {
  for (let i = from + 1; i < to; i++) {
    const v = a[i];
    let j = i;
    for (; j > from && a[j - 1] > v; j--) a[j] = a[j - 1];
    a[j] = v;
  }
}

export interface RollingMedianState {
  ring: number[];
  head: number;
  n: number;
}

export class RollingMedian {
  private readonly ring: Float64Array; // arrival order: tells which value leaves
  private readonly band: Float64Array; // sorted window values v with lo ≤ v ≤ hi
  private readonly scratch: Float64Array;
  private head = 0;
  private n = 0;
  private lo = -Infinity; // no band yet: everything goes in until the first rebuild
  private hi = Infinity;
  private bandN = 0;
  private below = 0; // window values < lo
  private bandLimit: number;
  private slideCount = 0;

  /** `halfWidth`: ranks kept on each side of the median (tests shrink it to force slides). */
  constructor(readonly window: number, private readonly halfWidth = 16) {
    this.ring = new Float64Array(window);
    this.band = new Float64Array(window);
    this.scratch = new Float64Array(window);
    this.bandLimit = 4 * halfWidth + 2;
  }

  get count(): number { return this.n; }
  get full(): boolean { return this.n === this.window; }
  /** Band slides and rebuilds so far (a performance counter; results never depend on it). */
  get rebuilds(): number { return this.slideCount; }

  /** Adds x, evicting the oldest value once full. x must not be NaN. */
  push(x: number): void {
    if (this.n === this.window) this.remove(this.ring[this.head]);
    else this.n++;
    this.add(x);
    this.ring[this.head] = x;
    this.head = this.head + 1 === this.window ? 0 : this.head + 1;
  }

  private add(x: number): void {
    if (x < this.lo) this.below++;
    else if (x <= this.hi) {
      const b = this.band;
      const j = lowerBound(b, this.bandN, x);
      for (let k = this.bandN; k > j; k--) b[k] = b[k - 1];
      b[j] = x;
      this.bandN++;
    }
  }

  private remove(x: number): void {
    if (x < this.lo) this.below--;
    else if (x <= this.hi) {
      const b = this.band;
      const last = --this.bandN;
      for (let k = lowerBound(b, last + 1, x); k < last; k++) b[k] = b[k + 1];
    }
  }

  /** Exact median of the values in the window (n ≥ 1). */
  median(): number {
    const n = this.n, h = n >> 1, k1 = n & 1 ? h : h - 1;
    const m = this.halfWidth;
    if (this.bandN === 0 || this.bandN > this.bandLimit) this.rebuild();
    // Drifts tend to continue: reach 2m ranks ahead, keep m/2 behind.
    else if (h >= this.below + this.bandN) this.slideUp(Math.min(n - 1, h + 2 * m), k1 - (m >> 1));
    else if (k1 < this.below) this.slideDown(Math.max(0, k1 - 2 * m), h + (m >> 1));
    const b = this.band, o = this.below;
    return n & 1 ? b[h - o] : (b[k1 - o] + b[h - o]) * 0.5;
  }

  /** Sorts the whole window and keeps the ranks within `halfWidth` of the median. */
  private rebuild(): void {
    const n = this.n;
    this.slideCount++;
    const s = this.scratch.subarray(0, n);
    s.set(this.ring.subarray(0, n));
    s.sort();
    const h = n >> 1, k1 = n & 1 ? h : h - 1;
    let a = Math.max(0, k1 - this.halfWidth), z = Math.min(n - 1, h + this.halfWidth);
    const lo = s[a], hi = s[z];
    // The band holds every copy of its end values, so a value equal to lo or hi is in the band.
    while (a > 0 && s[a - 1] === lo) a--;
    while (z < n - 1 && s[z + 1] === hi) z++;
    this.band.set(s.subarray(a, z + 1));
    this.bandN = z - a + 1;
    this.below = a;
    this.lo = lo;
    this.hi = hi;
    this.bandLimit = this.limitFor(this.bandN);
  }

  // Ties can make a legitimately wide band; only rebuild for size once it doubles.
  private limitFor(bandN: number): number {
    return Math.max(4 * this.halfWidth + 2, 2 * bandN);
  }

  /**
   * The median rose above the band: append the smallest values above hi up to rank `top` (plus
   * every other copy of the new hi), then drop band ranks below `keepFrom` into the count.
   */
  private slideUp(top: number, keepFrom: number): void {
    this.slideCount++;
    const need = top - (this.below + this.bandN) + 1;
    const c = this.scratch, ring = this.ring, hi = this.hi;
    let k = 0;
    for (let i = 0; i < this.n; i++) if (ring[i] > hi) c[k++] = ring[i];
    if (k > need) selectKth(c, k, need - 1);
    sortRange(c, 0, need);
    const newHi = c[need - 1];
    const b = this.band;
    let end = this.bandN;
    for (let j = 0; j < need; j++) b[end++] = c[j];
    for (let j = need; j < k; j++) if (c[j] === newHi) b[end++] = newHi;
    this.bandN = end;
    this.hi = newHi;
    this.trimBelow(keepFrom);
    this.bandLimit = this.limitFor(this.bandN);
  }

  /** Mirror image: prepend the largest values below lo down to rank `bottom`, drop ranks above `keepTo`. */
  private slideDown(bottom: number, keepTo: number): void {
    this.slideCount++;
    const need = this.below - bottom;
    const c = this.scratch, ring = this.ring, lo = this.lo;
    let k = 0;
    for (let i = 0; i < this.n; i++) if (ring[i] < lo) c[k++] = ring[i];
    const first = k - need; // c[first..k) will hold the `need` largest
    if (first > 0) selectKth(c, k, first);
    sortRange(c, first, k);
    const newLo = c[first];
    let copies = 0;
    for (let j = 0; j < first; j++) if (c[j] === newLo) copies++;
    const add = need + copies;
    const b = this.band;
    b.copyWithin(add, 0, this.bandN);
    for (let j = 0; j < copies; j++) b[j] = newLo;
    for (let j = first; j < k; j++) b[copies + j - first] = c[j];
    this.bandN += add;
    this.below -= add;
    this.lo = newLo;
    this.trimAbove(keepTo);
    this.bandLimit = this.limitFor(this.bandN);
  }

  /** Moves band entries of rank < `rank` into the below-count, never splitting equal values. */
  private trimBelow(rank: number): void {
    let cut = rank - this.below;
    if (cut <= 0) return;
    const b = this.band;
    while (cut > 0 && b[cut] === b[cut - 1]) cut--;
    if (cut === 0) return;
    b.copyWithin(0, cut, this.bandN);
    this.bandN -= cut;
    this.below += cut;
    this.lo = b[0];
  }

  /** Drops band entries of rank > `rank` (they become "above"), never splitting equal values. */
  private trimAbove(rank: number): void {
    let keep = rank - this.below + 1;
    if (keep >= this.bandN) return;
    const b = this.band;
    while (keep < this.bandN && b[keep] === b[keep - 1]) keep++;
    this.bandN = keep;
    this.hi = b[keep - 1];
  }

  snapshot(): RollingMedianState {
    return { ring: Array.from(this.ring), head: this.head, n: this.n };
  }

  restore(s: RollingMedianState): void {
    if (s.ring.length !== this.window) throw new RangeError(`snapshot window ${s.ring.length} does not match ${this.window}`);
    this.ring.set(s.ring);
    this.head = s.head;
    this.n = s.n;
    this.lo = -Infinity;
    this.hi = Infinity;
    this.below = 0;
    this.bandN = 0;
    if (this.n > 0) this.rebuild();
  }
}
