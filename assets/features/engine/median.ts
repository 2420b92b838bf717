/**
 * Exact rolling medians over the last `window` values.
 *
 * RollingMedian. A fully sorted window (binary-search insert/delete plus a block move) costs two
 * unpredictable binary searches and a ~w/3-element move per push; two heaps cost ~15 unpredictable
 * compares whenever a value crosses the median. Only the ranks next to the median matter, so this
 * keeps a sorted *band* of the window values in [lo, hi] around the median and a mere count of the
 * values below it (the rest are above):
 *  - a push updates the count branch-free and takes one branch, "inside the band?", which most
 *    values fail; a value inside is placed by a short scan-and-shift from the band's nearer end
 *    (the band floats in a buffer twice the window, so either end can move) — no binary search;
 *  - when the median's ranks leave the band, the band slides: one branch-free pass over the ring
 *    collects the values in a range beyond its edge, sized from the band's own spacing to hold
 *    ~1.5× the ranks needed, and those few are sorted and appended (only if the guess holds too
 *    few: collect everything beyond the edge and quickselect). The far side is then trimmed by
 *    moving the band's end, as is a band grown too wide.
 * The median is always the exact order statistic, so the band layout never affects results (a
 * restored median rebuilds its band and answers the same).
 *
 * RollingMedianPivot: a window that only needs "is the median above or below p?" answers it from a
 * count of the values below p, O(1) per push; see the class.
 */

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

/** Insertion sort of a[from..to) — the ranges sorted here hold a few dozen values at most. */
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
  // The band: the window values v with lo ≤ v ≤ hi, sorted, in buf[start..end). The buffer has
  // room for a whole window on either side of a centred band; `moveBand` re-centres when an end
  // runs out of room.
  private readonly buf: Float64Array;
  private readonly scratch: Float64Array;
  private readonly one = new Float64Array(1); // push/median go through pushFrom/medianTo
  private head = 0;
  private n = 0;
  private start: number;
  private end: number;
  private lo = -Infinity; // no band yet: everything goes in until the first trim
  private hi = Infinity;
  private below = 0; // window values < lo (the rest, beyond the band, are > hi)
  private bandLimit: number;
  private slideCount = 0;

  /** `halfWidth`: ranks kept on each side of the median (tests shrink it to force slides). */
  constructor(readonly window: number, private readonly halfWidth = 8) {
    this.ring = new Float64Array(window);
    this.buf = new Float64Array(2 * window + 2);
    this.scratch = new Float64Array(window);
    this.start = this.end = window + 1;
    this.bandLimit = this.limitFor(0);
  }

  get count(): number { return this.n; }
  get full(): boolean { return this.n === this.window; }
  /** Band slides and rebuilds so far (a performance counter; results never depend on it). */
  get rebuilds(): number { return this.slideCount; }

  /** Adds x, evicting the oldest value once full. x must not be NaN. */
  push(x: number): void {
    this.one[0] = x;
    this.pushFrom(this.one, 0);
  }

  /** Exact median of the values in the window (n ≥ 1). */
  median(): number {
    this.medianTo(this.one, 0);
    return this.one[0];
  }

  /**
   * `push(src[i])`. The work is here, behind typed-array arguments: V8 does not always inline a
   * call, and a double that crosses a call it does not inline is boxed on the heap.
   * Which side of the band a value falls on is data, not a pattern a branch predictor can learn,
   * so the below-count moves by compare results used as numbers (+(a < b) compiles to a flag, not
   * a jump), and each value takes one branch, "inside the band?" (the minority). The band's slow
   * paths take the ring slot, not the value, for the same reason as above.
   */
  pushFrom(src: Float64Array, i: number): void {
    const x = src[i], slot = this.head, ring = this.ring, lo = this.lo, hi = this.hi;
    if (this.n === this.window) {
      const old = ring[slot];
      this.below -= +(old < lo);
      if (+(old >= lo) & +(old <= hi)) this.bandDelete(slot);
    } else this.n++;
    ring[slot] = x;
    this.below += +(x < lo);
    if (+(x >= lo) & +(x <= hi)) this.bandInsert(slot);
    this.head = slot + 1 === this.window ? 0 : slot + 1;
  }

  /** `dst[i] = median()` (see pushFrom). */
  medianTo(dst: Float64Array, i: number): void {
    const n = this.n, h = n >> 1, k1 = n & 1 ? h : h - 1;
    const bandN = this.end - this.start;
    if (k1 < this.below || h >= this.below + bandN || bandN > this.bandLimit) this.adjust(k1, h);
    const b = this.buf, base = this.start - this.below; // window rank r sits at buf[base + r]
    dst[i] = n & 1 ? b[base + h] : (b[base + k1] + b[base + h]) * 0.5;
  }

  /** Brings the middle ranks k1..h into the band (or trims an oversized band around them). */
  private adjust(k1: number, h: number): void {
    const m = this.halfWidth, bandN = this.end - this.start;
    if (bandN === 0) {
      // An empty band can have the two middle ranks on either side of it: start afresh.
      this.rebuild();
      return;
    }
    // Drifts tend to continue: reach at least 2m ranks ahead, keep m/2 behind.
    if (h >= this.below + bandN) {
      this.slideUp(Math.min(this.n - 1, h + 2 * m) - (this.below + bandN) + 1);
      this.trimBelow(k1 - (m >> 1));
    } else if (k1 < this.below) {
      this.slideDown(this.below - Math.max(0, k1 - 2 * m));
      this.trimAbove(h + (m >> 1));
    } else {
      this.trimBelow(k1 - m);
      this.trimAbove(h + m);
    }
    this.bandLimit = this.limitFor(this.end - this.start);
  }

  // Ties can make a legitimately wide band; only trim for size once it has grown by 2m more.
  private limitFor(bandN: number): number {
    return Math.max(4 * this.halfWidth + 2, bandN + 2 * this.halfWidth);
  }

  /** Inserts ring[slot] (lo ≤ x ≤ hi) into the band, shifting the half of the band on its side outwards. */
  private bandInsert(slot: number): void {
    const b = this.buf, x = this.ring[slot];
    let s = this.start, e = this.end;
    if (s === e) { // empty band: start afresh in the middle
      s = this.window + 1;
      b[s] = x;
      this.start = s;
      this.end = s + 1;
      return;
    }
    if (x >= b[(s + e) >> 1]) {
      if (e === b.length) { this.moveBand(this.centred(1, 0)); s = this.start; e = this.end; }
      let j = e;
      for (; j > s && b[j - 1] > x; j--) b[j] = b[j - 1];
      b[j] = x;
      this.end = e + 1;
    } else {
      if (s === 0) { this.moveBand(this.centred(0, 1)); s = this.start; e = this.end; }
      let j = s - 1;
      for (; j + 1 < e && b[j + 1] < x; j++) b[j] = b[j + 1];
      b[j] = x;
      this.start = s - 1;
    }
  }

  /** Deletes one copy of ring[slot] (which is in the band), closing the gap from the band's nearer end. */
  private bandDelete(slot: number): void {
    const b = this.buf, x = this.ring[slot], s = this.start, e = this.end;
    if (x >= b[(s + e) >> 1]) { // a copy of x sits at or above the middle: scan down from the top
      let j = e - 1, carry = b[j];
      for (; carry !== x; j--) {
        const next = b[j - 1];
        b[j - 1] = carry;
        carry = next;
      }
      this.end = e - 1;
    } else {
      let j = s, carry = b[j];
      for (; carry !== x; j++) {
        const next = b[j + 1];
        b[j + 1] = carry;
        carry = next;
      }
      this.start = s + 1;
    }
  }

  /** Start of a centred band that leaves at least `above` free slots above it and `under` below. */
  private centred(above: number, under: number): number {
    const bandN = this.end - this.start;
    return under + ((this.buf.length - bandN - above - under) >> 1);
  }

  private moveBand(to: number): void {
    const bandN = this.end - this.start;
    this.buf.copyWithin(to, this.start, this.end);
    this.start = to;
    this.end = to + bandN;
  }

  /** Sorts the whole window and keeps the ranks within `halfWidth` of the median (restore, empty band). */
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
    const bandN = z - a + 1;
    this.start = (this.buf.length - bandN) >> 1;
    this.end = this.start + bandN;
    this.buf.set(s.subarray(a, z + 1), this.start);
    this.below = a;
    this.lo = lo;
    this.hi = hi;
    this.bandLimit = this.limitFor(bandN);
  }

  /**
   * The median rose above the band: appends at least the `need` smallest values above hi (and
   * every copy of the new hi). One pass over the ring collects the values in (hi, g], with g
   * guessed from the band's spacing to hold ~1.5·need of them; the few collected are sorted and
   * all appended. Only if the guess holds too few: collect everything above hi and quickselect.
   */
  private slideUp(need: number): void {
    this.slideCount++;
    const c = this.scratch, ring = this.ring, n = this.n, hi = this.hi;
    const bandN = this.end - this.start, span = hi - this.buf[this.start];
    let k = 0;
    if (bandN > 1 && span > 0) {
      const g = hi + span * ((1.5 * need + 2) / (bandN - 1));
      for (let i = 0; i < n; i++) { // branch-free compaction: always store, advance when kept
        const v = ring[i];
        c[k] = v;
        k += +(v > hi) & +(v <= g);
      }
      if (k >= need) sortRange(c, 0, k);
      else k = 0;
    }
    if (k === 0) {
      for (let i = 0; i < n; i++) {
        const v = ring[i];
        c[k] = v;
        k += +(v > hi);
      }
      if (k > need) selectKth(c, k, need - 1);
      sortRange(c, 0, need);
      const newHi = c[need - 1];
      let end = need;
      for (let j = need; j < k; j++) if (c[j] === newHi) c[end++] = newHi;
      k = end;
    }
    if (this.end + k > this.buf.length) this.moveBand(this.centred(k, 0));
    const b = this.buf, end = this.end;
    for (let j = 0; j < k; j++) b[end + j] = c[j];
    this.end = end + k;
    this.hi = c[k - 1];
  }

  /** Mirror image: prepends at least the `need` largest values below lo (and every copy of the new lo). */
  private slideDown(need: number): void {
    this.slideCount++;
    const c = this.scratch, ring = this.ring, n = this.n, lo = this.lo;
    const bandN = this.end - this.start, span = this.buf[this.end - 1] - lo;
    let k = 0;
    if (bandN > 1 && span > 0) {
      const g = lo - span * ((1.5 * need + 2) / (bandN - 1));
      for (let i = 0; i < n; i++) {
        const v = ring[i];
        c[k] = v;
        k += +(v < lo) & +(v >= g);
      }
      if (k >= need) sortRange(c, 0, k);
      else k = 0;
    }
    if (k === 0) {
      for (let i = 0; i < n; i++) {
        const v = ring[i];
        c[k] = v;
        k += +(v < lo);
      }
      const first = k - need; // c[first..k) will hold the `need` largest
      if (first > 0) selectKth(c, k, first);
      sortRange(c, first, k);
      const newLo = c[first];
      let copies = 0;
      for (let j = 0; j < first; j++) if (c[j] === newLo) copies++;
      for (let j = 0; j < need; j++) c[copies + j] = c[first + j]; // copies ≤ first: moves down, in order
      for (let j = 0; j < copies; j++) c[j] = newLo;
      k = copies + need;
    }
    if (this.start < k) this.moveBand(this.centred(0, k));
    const b = this.buf, start = this.start - k;
    for (let j = 0; j < k; j++) b[start + j] = c[j];
    this.start = start;
    this.below -= k;
    this.lo = c[0];
  }

  /** Moves band entries of rank < `rank` into the below-count, never splitting equal values. */
  private trimBelow(rank: number): void {
    let cut = rank - this.below;
    if (cut <= 0) return;
    const b = this.buf, s = this.start;
    while (cut > 0 && b[s + cut] === b[s + cut - 1]) cut--;
    if (cut === 0) return;
    this.start = s + cut;
    this.below += cut;
    this.lo = b[s + cut];
  }

  /** Drops band entries of rank > `rank` (they become "above"), never splitting equal values. */
  private trimAbove(rank: number): void {
    const s = this.start, bandN = this.end - s;
    let keep = rank - this.below + 1;
    if (keep >= bandN) return;
    const b = this.buf;
    while (keep < bandN && b[s + keep] === b[s + keep - 1]) keep++;
    this.end = s + keep;
    this.hi = b[s + keep - 1];
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
    this.start = this.end = this.window + 1;
    this.bandLimit = this.limitFor(0);
    if (this.n > 0) this.rebuild();
  }
}

/**
 * A rolling window that compares its median with a pivot p in O(1): it counts the values below p
 * (two compares per push), and the count alone says "median ≥ p" (at most k1 values below p, so
 * both middle values are ≥ p) or "median ≤ p" (more than h below, so both are < p; their mean
 * rounds to ≤ p). That is all a threshold test on a monotone function of the median needs, as long
 * as p sits between the median and the threshold's critical value. Otherwise `median()` gives the
 * exact value in O(w) (quickselect on a copy) and the caller moves the pivot. The state worth
 * saving is the window alone, in RollingMedian's snapshot format.
 */
export class RollingMedianPivot {
  private readonly ring: Float64Array;
  private readonly scratch: Float64Array;
  private head = 0;
  private n = 0;
  private p = NaN; // NaN: no pivot (every compare is false, so the count stays 0)
  private belowP = 0; // window values < p

  constructor(readonly window: number) {
    this.ring = new Float64Array(window);
    this.scratch = new Float64Array(window);
  }

  get count(): number { return this.n; }
  get full(): boolean { return this.n === this.window; }
  /** The pivot (NaN when none is set). */
  get pivot(): number { return this.p; }

  /** Adds x, evicting the oldest value once full. x must not be NaN. */
  push(x: number): void {
    const slot = this.head, ring = this.ring, p = this.p;
    if (this.n === this.window) this.belowP -= +(ring[slot] < p);
    else this.n++;
    ring[slot] = x;
    this.belowP += +(x < p);
    this.head = slot + 1 === this.window ? 0 : slot + 1;
  }

  /** Moves the pivot (O(w) recount); NaN, 0 or a negative value clears it. */
  setPivot(p: number): void {
    this.p = p > 0 ? p : NaN;
    const ring = this.ring, q = this.p;
    let below = 0;
    for (let i = 0; i < this.n; i++) below += +(ring[i] < q);
    this.belowP = below;
  }

  /** True when the median is certainly ≥ the pivot (false says nothing). */
  medianAtLeastPivot(): boolean {
    const n = this.n;
    return this.p > 0 && this.belowP <= (n & 1 ? n >> 1 : (n >> 1) - 1);
  }

  /** True when the median is certainly ≤ the pivot (false says nothing). */
  medianAtMostPivot(): boolean {
    return this.p > 0 && this.belowP > this.n >> 1;
  }

  /** Exact median of the values in the window (n ≥ 1), O(w). */
  median(): number {
    const n = this.n, s = this.scratch;
    for (let i = 0; i < n; i++) s[i] = this.ring[i];
    return selectMedian(s, n);
  }

  snapshot(): RollingMedianState {
    return { ring: Array.from(this.ring), head: this.head, n: this.n };
  }

  restore(s: RollingMedianState): void {
    if (s.ring.length !== this.window) throw new RangeError(`snapshot window ${s.ring.length} does not match ${this.window}`);
    this.ring.set(s.ring);
    this.head = s.head;
    this.n = s.n;
    this.setPivot(NaN);
  }
}
