/**
 * Streaming building blocks of the feature engine: fixed-window sums, moments and covariances
 * over a ring buffer, EMAs and Wilder averages. Every `push` is O(1) amortised and allocates
 * nothing.
 *
 * Drift control: running sums that add the new value and subtract the evicted one accumulate
 * rounding error forever. Two measures keep them within ~1e-14 of an exact recomputation:
 *  - values are summed relative to a shift (the newest value at the last exact pass), so a
 *    variance never comes from the difference of two huge sums (prices ~1e4, spreads ~1);
 *  - every `window` pushes the sums are recomputed exactly from the buffer (amortised O(1)).
 * Both depend only on the pushed values, so a restored snapshot replays bit-for-bit.
 */

/** Standard deviations below this fraction of |mean| are rounding noise: the series is flat. */
export const FLAT_RELATIVE = 1e-12;

/** True when a window's spread of values is indistinguishable from a constant. */
export function isFlat(variance: number, mean: number): boolean {
  const noise = FLAT_RELATIVE * mean; // compare squares: no sqrt on the hot path
  return !(variance > noise * noise);
}

/** EMA weight for a half-life of h bars: alpha = 1 − 2^(−1/h); h → 0 gives alpha = 1 (identity). */
export function alphaFromHalfLife(halfLife: number): number {
  return 1 - Math.pow(2, -1 / halfLife);
}

/** EMA weight for a span of n bars (pandas `ewm(span=n)`): alpha = 2/(n+1). */
export function alphaFromSpan(span: number): number {
  return 2 / (span + 1);
}

export interface RingState {
  buf: number[];
  head: number;
  n: number;
  sinceExact: number;
}

function ringState(buf: Float64Array, head: number, n: number, sinceExact: number): RingState {
  return { buf: Array.from(buf), head, n, sinceExact };
}

function loadRing(target: Float64Array, s: RingState): void {
  if (s.buf.length !== target.length) throw new RangeError(`snapshot window ${s.buf.length} does not match ${target.length}`);
  target.set(s.buf);
}

/** Sum of the last `window` values (used for Σe² of the MAD ratio). */
export class RollingSum {
  private readonly buf: Float64Array;
  private head = 0;
  private n = 0;
  private sinceExact = 0;
  private total = 0;

  constructor(readonly window: number) {
    this.buf = new Float64Array(window);
  }

  get count(): number { return this.n; }
  get full(): boolean { return this.n === this.window; }
  get sum(): number { return this.total; }

  push(x: number): void {
    if (this.n === this.window) this.total -= this.buf[this.head];
    else this.n++;
    this.buf[this.head] = x;
    this.total += x;
    this.head = this.head + 1 === this.window ? 0 : this.head + 1;
    if (++this.sinceExact === this.window) this.resum();
  }

  private resum(): void {
    let s = 0;
    for (let i = 0; i < this.n; i++) s += this.buf[i];
    this.total = s;
    this.sinceExact = 0;
  }

  snapshot(): RingState & { total: number } {
    return { ...ringState(this.buf, this.head, this.n, this.sinceExact), total: this.total };
  }

  restore(s: RingState & { total: number }): void {
    loadRing(this.buf, s);
    this.head = s.head; this.n = s.n; this.sinceExact = s.sinceExact; this.total = s.total;
  }
}

/** Mean and population variance of the last `window` values. */
export class RollingStats {
  private readonly buf: Float64Array;
  private head = 0;
  private n = 0;
  private sinceExact = 0;
  private shift = 0;
  private sum = 0; // Σ(x − shift)
  private sumSq = 0; // Σ(x − shift)²

  constructor(readonly window: number) {
    this.buf = new Float64Array(window);
  }

  get count(): number { return this.n; }
  get full(): boolean { return this.n === this.window; }

  push(x: number): void {
    if (this.n === 0) this.shift = x;
    if (this.n === this.window) {
      const old = this.buf[this.head] - this.shift;
      this.sum -= old;
      this.sumSq -= old * old;
    } else this.n++;
    const d = x - this.shift;
    this.buf[this.head] = x;
    this.sum += d;
    this.sumSq += d * d;
    this.head = this.head + 1 === this.window ? 0 : this.head + 1;
    if (++this.sinceExact === this.window) this.resum(x);
  }

  mean(): number {
    return this.shift + this.sum / this.n;
  }

  /** Population variance (ddof 0), never negative. */
  variance(): number {
    const v = (this.sumSq - this.sum * (this.sum / this.n)) / this.n;
    return v > 0 ? v : 0;
  }

  private resum(newest: number): void {
    const c = newest;
    let s = 0, ss = 0;
    for (let i = 0; i < this.n; i++) {
      const d = this.buf[i] - c;
      s += d;
      ss += d * d;
    }
    this.shift = c; this.sum = s; this.sumSq = ss; this.sinceExact = 0;
  }

  snapshot(): RollingStatsState {
    return { ...ringState(this.buf, this.head, this.n, this.sinceExact), shift: this.shift, sum: this.sum, sumSq: this.sumSq };
  }

  restore(s: RollingStatsState): void {
    loadRing(this.buf, s);
    this.head = s.head; this.n = s.n; this.sinceExact = s.sinceExact;
    this.shift = s.shift; this.sum = s.sum; this.sumSq = s.sumSq;
  }
}

export interface RollingStatsState extends RingState {
  shift: number;
  sum: number;
  sumSq: number;
}

/**
 * Moments of the last `window` (x, y) pairs: OLS of y on x with intercept, covariance and
 * correlation. The raw pairs stay readable (`xs`, `ys`, in ring order) for the Huber refit.
 */
export class RollingPairStats {
  readonly xs: Float64Array;
  readonly ys: Float64Array;
  private head = 0;
  private n = 0;
  private sinceExact = 0;
  private cx = 0;
  private cy = 0;
  private sx = 0; // Σ(x − cx)
  private sy = 0;
  private sxx = 0;
  private syy = 0;
  private sxy = 0;

  constructor(readonly window: number) {
    this.xs = new Float64Array(window);
    this.ys = new Float64Array(window);
  }

  get count(): number { return this.n; }
  get full(): boolean { return this.n === this.window; }

  push(x: number, y: number): void {
    if (this.n === 0) { this.cx = x; this.cy = y; }
    if (this.n === this.window) {
      const ox = this.xs[this.head] - this.cx, oy = this.ys[this.head] - this.cy;
      this.sx -= ox; this.sy -= oy;
      this.sxx -= ox * ox; this.syy -= oy * oy; this.sxy -= ox * oy;
    } else this.n++;
    const dx = x - this.cx, dy = y - this.cy;
    this.xs[this.head] = x;
    this.ys[this.head] = y;
    this.sx += dx; this.sy += dy;
    this.sxx += dx * dx; this.syy += dy * dy; this.sxy += dx * dy;
    this.head = this.head + 1 === this.window ? 0 : this.head + 1;
    if (++this.sinceExact === this.window) this.resum(x, y);
  }

  meanX(): number { return this.cx + this.sx / this.n; }
  meanY(): number { return this.cy + this.sy / this.n; }

  /** Population variance of x. */
  varX(): number {
    const v = (this.sxx - this.sx * (this.sx / this.n)) / this.n;
    return v > 0 ? v : 0;
  }

  varY(): number {
    const v = (this.syy - this.sy * (this.sy / this.n)) / this.n;
    return v > 0 ? v : 0;
  }

  /** Population covariance. */
  cov(): number {
    return (this.sxy - this.sx * (this.sy / this.n)) / this.n;
  }

  /** OLS slope of y on x; the caller checks `isFlat(varX(), meanX())` first. */
  slope(): number {
    return this.cov() / this.varX();
  }

  /** Pearson correlation clamped to [−1, 1]; 0 when either side is flat. */
  correlation(): number {
    const n = this.n, mx = this.sx / n, my = this.sy / n;
    const vx = (this.sxx - this.sx * mx) / n, vy = (this.syy - this.sy * my) / n;
    if (isFlat(vx, this.cx + mx) || isFlat(vy, this.cy + my)) return 0;
    const r = (this.sxy - this.sx * my) / n / Math.sqrt(vx * vy);
    return r > 1 ? 1 : r < -1 ? -1 : r;
  }

  private resum(x: number, y: number): void {
    let sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
    for (let i = 0; i < this.n; i++) {
      const dx = this.xs[i] - x, dy = this.ys[i] - y;
      sx += dx; sy += dy; sxx += dx * dx; syy += dy * dy; sxy += dx * dy;
    }
    this.cx = x; this.cy = y;
    this.sx = sx; this.sy = sy; this.sxx = sxx; this.syy = syy; this.sxy = sxy;
    this.sinceExact = 0;
  }

  snapshot(): RollingPairState {
    return {
      xs: Array.from(this.xs), ys: Array.from(this.ys), head: this.head, n: this.n, sinceExact: this.sinceExact,
      cx: this.cx, cy: this.cy, sums: [this.sx, this.sy, this.sxx, this.syy, this.sxy],
    };
  }

  restore(s: RollingPairState): void {
    loadRing(this.xs, { ...s, buf: s.xs });
    loadRing(this.ys, { ...s, buf: s.ys });
    this.head = s.head; this.n = s.n; this.sinceExact = s.sinceExact; this.cx = s.cx; this.cy = s.cy;
    [this.sx, this.sy, this.sxx, this.syy, this.sxy] = s.sums;
  }
}

export interface RollingPairState {
  xs: number[];
  ys: number[];
  head: number;
  n: number;
  sinceExact: number;
  cx: number;
  cy: number;
  sums: number[];
}

/**
 * OLS slope of the last `window` values against their position (0 = oldest), kept as Σ(y−c) and
 * Σj·(y−c): sliding the window lowers every position by one, which subtracts Σ(y−c) once.
 */
export class RollingTrend {
  private readonly buf: Float64Array;
  private head = 0;
  private n = 0;
  private sinceExact = 0;
  private shift = 0;
  private sum = 0; // Σ(y − shift)
  private sumJ = 0; // Σ j·(y − shift), j = position in the window

  constructor(readonly window: number) {
    this.buf = new Float64Array(window);
  }

  get count(): number { return this.n; }
  get full(): boolean { return this.n === this.window; }

  push(y: number): void {
    if (this.n === 0) this.shift = y;
    const d = y - this.shift;
    if (this.n === this.window) {
      const old = this.buf[this.head] - this.shift;
      this.sumJ += (this.n - 1) * d - (this.sum - old);
      this.sum += d - old;
    } else {
      this.sumJ += this.n * d;
      this.sum += d;
      this.n++;
    }
    this.buf[this.head] = y;
    this.head = this.head + 1 === this.window ? 0 : this.head + 1;
    if (++this.sinceExact === this.window) this.resum(y);
  }

  /** Slope per bar (needs n ≥ 2). */
  slope(): number {
    const n = this.n;
    return (this.sumJ - 0.5 * (n - 1) * this.sum) / ((n * (n * n - 1)) / 12);
  }

  private resum(newest: number): void {
    let s = 0, sj = 0;
    // Oldest value sits at head once full, at 0 before.
    const start = this.n === this.window ? this.head : 0;
    for (let j = 0, i = start; j < this.n; j++, i = i + 1 === this.window ? 0 : i + 1) {
      const d = this.buf[i] - newest;
      s += d;
      sj += j * d;
    }
    this.shift = newest; this.sum = s; this.sumJ = sj; this.sinceExact = 0;
  }

  snapshot(): RollingTrendState {
    return { ...ringState(this.buf, this.head, this.n, this.sinceExact), shift: this.shift, sum: this.sum, sumJ: this.sumJ };
  }

  restore(s: RollingTrendState): void {
    loadRing(this.buf, s);
    this.head = s.head; this.n = s.n; this.sinceExact = s.sinceExact;
    this.shift = s.shift; this.sum = s.sum; this.sumJ = s.sumJ;
  }
}

export interface RollingTrendState extends RingState {
  shift: number;
  sum: number;
  sumJ: number;
}

/**
 * Exponential moving average seeded with its first input. Written as alpha·x + (1−alpha)·prev
 * so that alpha = 1 reproduces the input exactly.
 */
export class Ema {
  value = 0;
  seeded = false;

  constructor(readonly alpha: number) {}

  update(x: number): number {
    this.value = this.seeded ? this.alpha * x + (1 - this.alpha) * this.value : x;
    this.seeded = true;
    return this.value;
  }

  snapshot(): EmaState { return { value: this.value, seeded: this.seeded }; }
  restore(s: EmaState): void { this.value = s.value; this.seeded = s.seeded; }
}

export interface EmaState {
  value: number;
  seeded: boolean;
}

/** Wilder's smoothing: the first value is the mean of the first `period` inputs, then (p−1)/p decay. */
export class WilderAverage {
  value = 0;
  count = 0;
  private seedSum = 0;

  constructor(readonly period: number) {}

  get ready(): boolean { return this.count >= this.period; }

  push(x: number): void {
    if (this.count < this.period) {
      this.seedSum += x;
      if (++this.count === this.period) this.value = this.seedSum / this.period;
    } else this.value = ((this.period - 1) * this.value + x) / this.period;
  }

  snapshot(): WilderState { return { value: this.value, count: this.count, seedSum: this.seedSum }; }
  restore(s: WilderState): void { this.value = s.value; this.count = s.count; this.seedSum = s.seedSum; }
}

export interface WilderState {
  value: number;
  count: number;
  seedSum: number;
}
