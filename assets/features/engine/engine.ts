/**
 * The streaming pair-feature engine (seed 002 特徴量仕様 v1): one synchronized bar of each leg in,
 * one row of features out, every rolling statistic updated incrementally. The same class serves
 * batch materialization (loop over history) and the live server (one call per closed bar); its
 * whole state snapshots to JSON and a restored engine continues bit-for-bit.
 *
 * β. The raw β is the rolling OLS of P_A on P_B (with intercept) over `betaWindow` bars. Each bar
 * first scores the previous raw fit on the new prices, e_t = P_A − (α_{t−1} + β_{t−1}·P_B), and keeps
 * e_t in a `madRatioWindow` ring. The MAD ratio
 *     ratio = sqrt(mean(e²)) / (1.4826 · median(|e|))
 * is ≈ 1 for Gaussian residuals (RMS and MAD estimate the same σ) and grows with heavy tails,
 * which inflate the RMS but barely move the median. Both parts are incremental (a running Σe², and
 * a count of |e| below a pivot that settles "ratio > threshold" without the median on almost every
 * bar; see madRatioAbove), unlike a refit-based ratio. Above `madRatioThreshold` the bar's fit
 * is a Huber IRLS over the same window, warm-started from the previous raw fit. The raw β is then
 * smoothed by an EMA (half-life `betaHalfLife`); that smoothed β is "β" everywhere else.
 *
 * Spread S = P_A − β·P_B (the intercept stays in S; z removes the level).
 * ATR of the spread: S is a close-only series, so its true range is |S_t − S_{t−1}|.
 * z: a spread whose 180-bar σ is below 1e−12 of max(|μ_S|, P_A) (rounding noise) is flat: z = 0.
 * Warm-up: an output is null until all of its windows are full (see `warmupBars`), never NaN.
 *
 * Implementation: one fused hot path. Each rolling statistic is the same algorithm as its building
 * block in rolling.ts (RollingPairStats, RollingStats, RollingSum, RollingTrend, Ema, WilderAverage:
 * same shifts, same exact re-summation every `window` pushes, same running sums in the same order,
 * so the same snapshot layout), but written out inline over the engine's own Float64Array rings and
 * number fields, and with one difference in arithmetic: where the blocks divide by a window length
 * (means, variances, slopes, the Wilder step), the engine multiplies by its reciprocal, computed
 * once — a bar had dozens of divisions, each several multiplications' time. Results differ from the
 * blocks' only in the last bits (the reference test holds them to 1e−9 of a from-scratch batch
 * computation). A bar then costs no allocation and no call per statistic:
 * V8 inlines only so much, and a double that crosses a call it does not inline is boxed on the heap
 * (hence also the typed-array arguments of the median calls and of the rare re-summations). The
 * three ATR medians are RollingMedian objects (median.ts: their slow paths are real code); the MAD
 * ratio's |e| window is a RollingMedianPivot. Field groups below are named after the statistic; a
 * ring's `…Head` is the next slot to write (the oldest value once full), `…N` the values held,
 * `…Since` the pushes since its last exact re-summation.
 */
import {
  type FeatureConfig, type OutputName, ENGINE_VERSION, OUTPUT_NAMES, resolveFeatureConfig, warmupBars,
} from './config.ts';
import { HuberSolver, MAD_TO_SIGMA } from './huber.ts';
import { RollingMedian, RollingMedianPivot, type RollingMedianState } from './median.ts';
import {
  type EmaState, type RingState, type RollingPairState, type RollingStatsState, type RollingTrendState, type WilderState,
  alphaFromHalfLife, alphaFromSpan, FLAT_RELATIVE,
} from './rolling.ts';

/** The fields of a bar the engine reads; a CanonicalBar fits. Timestamps are ignored on purpose. */
export interface PairBar {
  high: number;
  low: number;
  close: number;
}

/** One bar's output: null until the output's windows are warm, then always finite. */
export type FeatureRow = { [K in OutputName]: number | null } & {
  /** True when this bar's β came from the Huber fit. */
  robust: boolean;
};

/** Ratio of an ATR to its rolling median when the median is 0 but the ATR is not (finite stand-in for ∞). */
export const RATIO_CAP = 1e6;

export interface FeatureEngineSnapshot {
  kind: 'orrery.feature-engine';
  engineVersion: string;
  config: FeatureConfig;
  state: FeatureEngineState;
}

/** Every running statistic of the engine, as plain JSON data. */
export interface FeatureEngineState {
  bars: number;
  prevCloseA: number;
  prevCloseB: number;
  hasFit: boolean;
  rawAlpha: number;
  rawBeta: number;
  robust: boolean;
  hasPrevSpread: boolean;
  prevSpread: number;
  hasPrevZ: boolean;
  prevZ: number;
  spreads: number;
  fit: RollingPairState;
  residSq: RingState & { total: number };
  residAbs: RollingMedianState;
  betaEma: EmaState;
  betaStats: RollingStatsState;
  spreadStats: RollingStatsState;
  zEma: EmaState;
  atrSpread: WilderState;
  atrSpreadMedian: RollingMedianState;
  halfLife: RollingPairState;
  returns: RollingPairState;
  rhoStats: RollingStatsState;
  atrA: WilderState;
  atrB: WilderState;
  atrAMedian: RollingMedianState;
  atrBMedian: RollingMedianState;
  emaFast: EmaState;
  emaSlow: EmaState;
  spreadTrend: RollingTrendState;
  zTrend: RollingTrendState;
  rsiGain: WilderState;
  rsiLoss: WilderState;
}

/** Validates a bar (small enough for V8 to inline on the hot path; the messages live in badBar). */
function checkBar(bar: PairBar, leg: string): void {
  if (!(bar.close > 0 && bar.close < Infinity && Number.isFinite(bar.high) && Number.isFinite(bar.low))) badBar(bar, leg);
}

function badBar(bar: PairBar, leg: string): never {
  if (!(bar.close > 0) || !Number.isFinite(bar.close)) throw new RangeError(`leg ${leg}: close must be a finite positive price, got ${bar.close}`);
  throw new RangeError(`leg ${leg}: high/low must be finite, got ${bar.high}/${bar.low}`);
}

/** rolling.ts `isFlat`, repeated here small enough that V8 always inlines it. */
function isFlat(variance: number, mean: number): boolean {
  const noise = FLAT_RELATIVE * mean;
  return !(variance > noise * noise);
}

/** OHLC true range: max(high − low, |high − prev close|, |low − prev close|). */
function trueRange(high: number, low: number, prevClose: number): number {
  return Math.max(high - low, Math.abs(high - prevClose), Math.abs(low - prevClose));
}

function ratioToMedian(value: number, median: number): number {
  if (median > 0) return value / median;
  return value > 0 ? RATIO_CAP : 1;
}

/** Wilder averages (WilderAverage) live in [value, count, seedSum] triples. */
const W_VALUE = 0, W_COUNT = 1, W_SEED = 2;

// Slots of the per-bar output buffer (NaN = not warm yet), in OUTPUT_NAMES order.
const BETA = 0, SPREAD = 1, Z = 2, DELTA_Z = 3, Z_EMA = 4, ATR_SPREAD = 5, VOL_RATIO_SPREAD = 6, HALF_LIFE = 7,
  RHO = 8, CORR_STABILITY = 9, BETA_STABILITY = 10, ATR_A = 11, ATR_B = 12, ATR_RATIO_A = 13, ATR_RATIO_B = 14,
  EMA_GAP = 15, SLOPE_SPREAD = 16, RSI = 17, ABS_DELTA_S = 18, ABS_DELTA_Z = 19, SLOPE_Z = 20;

/** Sum of the outputs (three running sums: short dependency chains): NaN when any output is NaN. */
function outputSum(o: Float64Array): number {
  let a = 0, b = 0, c = 0, i = 0;
  for (; i + 2 < o.length; i += 3) {
    a += o[i];
    b += o[i + 1];
    c += o[i + 2];
  }
  for (; i < o.length; i++) a += o[i];
  return a + b + c;
}

/** A row with null wherever the output buffer holds NaN (same keys, same order as a warm row). */
function warmingRow(o: Float64Array, robust: boolean): FeatureRow {
  const v: (number | null)[] = Array.from(o, (x) => (x === x ? x : null));
  return {
    beta: v[BETA], spread: v[SPREAD], z: v[Z], delta_z: v[DELTA_Z], z_ema: v[Z_EMA],
    atr_spread: v[ATR_SPREAD], vol_ratio_spread: v[VOL_RATIO_SPREAD], half_life: v[HALF_LIFE],
    rho_rolling: v[RHO], corr_stability: v[CORR_STABILITY], beta_stability: v[BETA_STABILITY],
    atr_A: v[ATR_A], atr_B: v[ATR_B], atr_ratio_A: v[ATR_RATIO_A], atr_ratio_B: v[ATR_RATIO_B],
    ema_gap_spread: v[EMA_GAP], slope_spread: v[SLOPE_SPREAD], rsi_spread: v[RSI],
    abs_delta_S: v[ABS_DELTA_S], abs_delta_z: v[ABS_DELTA_Z], slope_z: v[SLOPE_Z], robust,
  };
}

// ---- exact re-summations (every `window` pushes; the same loops as rolling.ts) -----------------
// The shift is the newest value, read here from its ring slot: a double argument (of a call V8
// does not inline) would be boxed on the heap, and V8 may box it on every bar, not only on the
// rare one that makes the call.

/** Σd, Σd² of d = buf[i] − buf[newest] over buf[0..n), into out[0], out[1] (RollingStats.resum). */
function statsSums(buf: Float64Array, n: number, newest: number, out: Float64Array): void {
  const shift = buf[newest];
  let s = 0, ss = 0;
  for (let i = 0; i < n; i++) {
    const d = buf[i] - shift;
    s += d;
    ss += d * d;
  }
  out[0] = s;
  out[1] = ss;
}

/** Σdx, Σdy, Σdx², Σdy², Σdx·dy about the newest pair over [0..n), into out[0..5) (RollingPairStats.resum). */
function pairSums(xs: Float64Array, ys: Float64Array, n: number, newest: number, out: Float64Array): void {
  const cx = xs[newest], cy = ys[newest];
  let sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
  for (let i = 0; i < n; i++) {
    const dx = xs[i] - cx, dy = ys[i] - cy;
    sx += dx; sy += dy; sxx += dx * dx; syy += dy * dy; sxy += dx * dy;
  }
  out[0] = sx; out[1] = sy; out[2] = sxx; out[3] = syy; out[4] = sxy;
}

/** Σd, Σj·d of d = y_j − buf[newest], j = position oldest-first, into out[0], out[1] (RollingTrend.resum). */
function trendSums(buf: Float64Array, n: number, head: number, newest: number, out: Float64Array): void {
  const w = buf.length, shift = buf[newest];
  let s = 0, sj = 0;
  for (let j = 0, i = n === w ? head : 0; j < n; j++, i = i + 1 === w ? 0 : i + 1) {
    const d = buf[i] - shift;
    s += d;
    sj += j * d;
  }
  out[0] = s;
  out[1] = sj;
}

/** 12 / (n·(n² − 1)): the reciprocal of n·Σ(j − mean j)², the denominator of a trend slope over n positions. */
function trendScale(n: number): number {
  return 12 / (n * (n * n - 1));
}

// ---- snapshot helpers ----------------------------------------------------------------------------

function loadRing(target: Float64Array, buf: number[]): void {
  if (buf.length !== target.length) throw new RangeError(`snapshot window ${buf.length} does not match ${target.length}`);
  target.set(buf);
}

function wilderState(w: Float64Array): WilderState {
  return { value: w[W_VALUE], count: w[W_COUNT], seedSum: w[W_SEED] };
}

function loadWilder(w: Float64Array, s: WilderState): void {
  w[W_VALUE] = s.value; w[W_COUNT] = s.count; w[W_SEED] = s.seedSum;
}

export class FeatureEngine {
  readonly config: Readonly<FeatureConfig>;
  private bars = 0;
  private prevCloseA = 0;
  private prevCloseB = 0;
  // Raw (unsmoothed) fit of the previous bar: scores the next residual, warm-starts Huber.
  private hasFit = false;
  private rawAlpha = 0;
  private rawBeta = 0;
  private robust = false;
  private hasPrevSpread = false;
  private prevSpread = 0;
  private hasPrevZ = false;
  private prevZ = 0;
  private spreads = 0;
  private readonly emaGapWarm: number;
  private readonly allWarmBar: number; // from this bar on every output is written on every bar
  private readonly out = new Float64Array(OUTPUT_NAMES.length);
  private readonly sums = new Float64Array(5); // re-summation results
  // Median results (ATR A, ATR B, ATR of the spread). Values cross the RollingMedian calls in typed
  // arrays: V8 does not always inline them, and a double crossing a call it does not inline is boxed.
  private readonly medians = new Float64Array(3);
  private readonly huber: HuberSolver;

  // Config, unpacked for the hot path.
  private readonly betaWindow: number;
  private readonly madWindow: number;
  private readonly madThreshold: number;
  private readonly betaStabWindow: number;
  private readonly betaStabEps: number;
  private readonly zWindow: number;
  private readonly zClip: number;
  private readonly atrPeriod: number;
  private readonly hlWindow: number;
  private readonly hlMin: number;
  private readonly hlMax: number;
  private readonly rhoWindow: number;
  private readonly corrStabWindow: number;
  private readonly slopeWindow: number;
  private readonly rsiPeriod: number;
  // Reciprocals of the windows: a division costs several multiplications' time, and a bar has dozens.
  private readonly invBetaWindow: number;
  private readonly invBetaStab: number;
  private readonly invZ: number;
  private readonly invAtr: number;
  private readonly invHl: number;
  private readonly invRho: number;
  private readonly invCorrStab: number;
  private readonly invRsi: number;
  private readonly slopeMid: number; // trend slope over slopeWindow = (Σj·d − slopeMid·Σd) · slopeScale
  private readonly slopeScale: number;
  private readonly betaAlpha: number; // EMA weights and their complements (Ema: alpha·x + (1 − alpha)·prev)
  private readonly betaKeep: number;
  private readonly zAlpha: number;
  private readonly zKeep: number;
  private readonly fastAlpha: number;
  private readonly fastKeep: number;
  private readonly slowAlpha: number;
  private readonly slowKeep: number;

  // β fit: pairs (P_B, P_A) over betaWindow, moments about (fitCx, fitCy).
  private readonly fitX: Float64Array;
  private readonly fitY: Float64Array;
  private fitHead = 0; private fitN = 0; private fitSince = 0;
  private fitCx = 0; private fitCy = 0;
  private fitSx = 0; private fitSy = 0; private fitSxx = 0; private fitSyy = 0; private fitSxy = 0;
  // MAD ratio: Σe² of the one-step residuals over madRatioWindow, and the |e| whose median it needs.
  private readonly rsqBuf: Float64Array;
  private rsqHead = 0; private rsqN = 0; private rsqSince = 0; private rsqTotal = 0;
  private readonly residAbs: RollingMedianPivot;
  // Smoothed β and its stability (mean, variance over betaStabilityWindow).
  private betaEmaValue = 0; private betaEmaSeeded = false;
  private readonly bsBuf: Float64Array;
  private bsHead = 0; private bsN = 0; private bsSince = 0; private bsShift = 0; private bsSum = 0; private bsSumSq = 0;
  // Spread mean/variance over zWindow (z, and σ_S of slope_spread).
  private readonly ssBuf: Float64Array;
  private ssHead = 0; private ssN = 0; private ssSince = 0; private ssShift = 0; private ssSum = 0; private ssSumSq = 0;
  private zEmaValue = 0; private zEmaSeeded = false;
  // Wilder averages as [value, count, seedSum]: ATR of the spread and of each leg, RSI gain/loss.
  private readonly atrSpread = new Float64Array(3);
  private readonly atrA = new Float64Array(3);
  private readonly atrB = new Float64Array(3);
  private readonly rsiGain = new Float64Array(3);
  private readonly rsiLoss = new Float64Array(3);
  private readonly atrSpreadMedian: RollingMedian;
  private readonly atrAMedian: RollingMedian;
  private readonly atrBMedian: RollingMedian;
  // Half-life: pairs (S_{t−1}, ΔS_t) over halfLifeWindow.
  private readonly hlX: Float64Array;
  private readonly hlY: Float64Array;
  private hlHead = 0; private hlN = 0; private hlSince = 0;
  private hlCx = 0; private hlCy = 0;
  private hlSx = 0; private hlSy = 0; private hlSxx = 0; private hlSyy = 0; private hlSxy = 0;
  // ρ: log-return pairs (r_B, r_A) over rhoWindow, and the variance of ρ over corrStabilityWindow.
  private readonly retX: Float64Array;
  private readonly retY: Float64Array;
  private retHead = 0; private retN = 0; private retSince = 0;
  private retCx = 0; private retCy = 0;
  private retSx = 0; private retSy = 0; private retSxx = 0; private retSyy = 0; private retSxy = 0;
  private readonly rhoBuf: Float64Array;
  private rhoHead = 0; private rhoN = 0; private rhoSince = 0; private rhoShift = 0; private rhoSum = 0; private rhoSumSq = 0;
  private emaFastValue = 0; private emaFastSeeded = false;
  private emaSlowValue = 0; private emaSlowSeeded = false;
  // Trend slopes of the spread and of z over slopeWindow: Σ(y − shift) and Σj·(y − shift).
  private readonly stBuf: Float64Array;
  private stHead = 0; private stN = 0; private stSince = 0; private stShift = 0; private stSum = 0; private stSumJ = 0;
  private readonly ztBuf: Float64Array;
  private ztHead = 0; private ztN = 0; private ztSince = 0; private ztShift = 0; private ztSum = 0; private ztSumJ = 0;

  constructor(config: Partial<FeatureConfig> = {}) {
    const c = (this.config = Object.freeze(resolveFeatureConfig(config)));
    this.emaGapWarm = Math.ceil(Math.max(c.emaFastSpan, c.emaSlowSpan));
    let allWarm = 0;
    for (const bar of Object.values(warmupBars(c))) if (bar > allWarm) allWarm = bar;
    this.allWarmBar = allWarm;
    this.huber = new HuberSolver(c.betaWindow);

    this.betaWindow = c.betaWindow;
    this.madWindow = c.madRatioWindow;
    this.madThreshold = c.madRatioThreshold;
    this.betaStabWindow = c.betaStabilityWindow;
    this.betaStabEps = c.betaStabilityEps;
    this.zWindow = c.zWindow;
    this.zClip = c.zClip;
    this.atrPeriod = c.atrPeriod;
    this.hlWindow = c.halfLifeWindow;
    this.hlMin = c.halfLifeMin;
    this.hlMax = c.halfLifeMax;
    this.rhoWindow = c.rhoWindow;
    this.corrStabWindow = c.corrStabilityWindow;
    this.slopeWindow = c.slopeWindow;
    this.rsiPeriod = c.rsiPeriod;
    this.invBetaWindow = 1 / c.betaWindow;
    this.invBetaStab = 1 / c.betaStabilityWindow;
    this.invZ = 1 / c.zWindow;
    this.invAtr = 1 / c.atrPeriod;
    this.invHl = 1 / c.halfLifeWindow;
    this.invRho = 1 / c.rhoWindow;
    this.invCorrStab = 1 / c.corrStabilityWindow;
    this.invRsi = 1 / c.rsiPeriod;
    this.slopeMid = 0.5 * (c.slopeWindow - 1);
    this.slopeScale = trendScale(c.slopeWindow);
    this.betaAlpha = alphaFromHalfLife(c.betaHalfLife);
    this.betaKeep = 1 - this.betaAlpha;
    this.zAlpha = alphaFromHalfLife(c.zEmaHalfLife);
    this.zKeep = 1 - this.zAlpha;
    this.fastAlpha = alphaFromSpan(c.emaFastSpan);
    this.fastKeep = 1 - this.fastAlpha;
    this.slowAlpha = alphaFromSpan(c.emaSlowSpan);
    this.slowKeep = 1 - this.slowAlpha;

    this.fitX = new Float64Array(c.betaWindow);
    this.fitY = new Float64Array(c.betaWindow);
    this.rsqBuf = new Float64Array(c.madRatioWindow);
    this.residAbs = new RollingMedianPivot(c.madRatioWindow);
    this.bsBuf = new Float64Array(c.betaStabilityWindow);
    this.ssBuf = new Float64Array(c.zWindow);
    this.atrSpreadMedian = new RollingMedian(c.atrMedianWindow);
    this.atrAMedian = new RollingMedian(c.atrMedianWindow);
    this.atrBMedian = new RollingMedian(c.atrMedianWindow);
    this.hlX = new Float64Array(c.halfLifeWindow);
    this.hlY = new Float64Array(c.halfLifeWindow);
    this.retX = new Float64Array(c.rhoWindow);
    this.retY = new Float64Array(c.rhoWindow);
    this.rhoBuf = new Float64Array(c.corrStabilityWindow);
    this.stBuf = new Float64Array(c.slopeWindow);
    this.ztBuf = new Float64Array(c.slopeWindow);
  }

  /** Bars consumed so far. */
  get barCount(): number {
    return this.bars;
  }

  /** Consumes the next synchronized bar of leg A and leg B and returns that bar's features. */
  update(barA: PairBar, barB: PairBar): FeatureRow {
    const o = this.step(barA, barB);
    // From allWarmBar on every output is finite on every bar, so no per-field null checks: one sum
    // is NaN if any output is (possible only with absurd, overflowing prices), and then warmingRow
    // maps it to null as always. This keeps update small enough for V8 to inline into the caller.
    const total = outputSum(o);
    if (this.bars <= this.allWarmBar || total !== total) return warmingRow(o, this.robust);
    return {
      beta: o[BETA], spread: o[SPREAD], z: o[Z], delta_z: o[DELTA_Z], z_ema: o[Z_EMA],
      atr_spread: o[ATR_SPREAD], vol_ratio_spread: o[VOL_RATIO_SPREAD], half_life: o[HALF_LIFE],
      rho_rolling: o[RHO], corr_stability: o[CORR_STABILITY], beta_stability: o[BETA_STABILITY],
      atr_A: o[ATR_A], atr_B: o[ATR_B], atr_ratio_A: o[ATR_RATIO_A], atr_ratio_B: o[ATR_RATIO_B],
      ema_gap_spread: o[EMA_GAP], slope_spread: o[SLOPE_SPREAD], rsi_spread: o[RSI],
      abs_delta_S: o[ABS_DELTA_S], abs_delta_z: o[ABS_DELTA_Z], slope_z: o[SLOPE_Z], robust: this.robust,
    };
  }

  /**
   * Allocation-free variant for columnar batch materialization: returns the engine's own buffer
   * (valid until the next call), one slot per OUTPUT_NAMES entry, NaN where `update` gives null.
   * The robust flag of the bar is `lastRobust`.
   */
  updateValues(barA: PairBar, barB: PairBar): Float64Array {
    return this.step(barA, barB);
  }

  /** Whether the last bar's β came from the Huber fit. */
  get lastRobust(): boolean {
    return this.robust;
  }

  private step(barA: PairBar, barB: PairBar): Float64Array {
    checkBar(barA, 'A');
    checkBar(barB, 'B');
    if (this.bars <= this.allWarmBar) this.out.fill(NaN); // later every slot is overwritten anyway
    if (this.bars > 0) this.legFeatures(barA, barB);
    this.prevCloseA = barA.close;
    this.prevCloseB = barB.close;
    this.bars++;
    // Bars, not prices, cross these calls: a double argument V8 does not inline gets boxed.
    this.robust = this.updateRawBeta(barA, barB);
    if (this.hasFit) this.spreadFeatures(barA, barB);
    return this.out;
  }

  /** Log-return correlation and OHLC ATRs: they need only the previous closes. */
  private legFeatures(barA: PairBar, barB: PairBar): void {
    const o = this.out;
    const pA = barA.close, pB = barB.close, prevA = this.prevCloseA, prevB = this.prevCloseB;

    // ρ: pairs (r_B, r_A) over rhoWindow (RollingPairStats.push, then .correlation).
    const rx = Math.log(pB / prevB), ry = Math.log(pA / prevA);
    const rw = this.rhoWindow, rh = this.retHead, xs = this.retX, ys = this.retY;
    if (this.retN === 0) { this.retCx = rx; this.retCy = ry; }
    const cx = this.retCx, cy = this.retCy;
    let sx = this.retSx, sy = this.retSy, sxx = this.retSxx, syy = this.retSyy, sxy = this.retSxy;
    if (this.retN === rw) {
      const ox = xs[rh] - cx, oy = ys[rh] - cy;
      sx -= ox; sy -= oy; sxx -= ox * ox; syy -= oy * oy; sxy -= ox * oy;
    } else this.retN++;
    const dx = rx - cx, dy = ry - cy;
    xs[rh] = rx;
    ys[rh] = ry;
    this.retSx = sx + dx; this.retSy = sy + dy; this.retSxx = sxx + dx * dx; this.retSyy = syy + dy * dy; this.retSxy = sxy + dx * dy;
    this.retHead = rh + 1 === rw ? 0 : rh + 1;
    if (++this.retSince === rw) this.resumReturns(rh);
    if (this.retN === rw) {
      const rho = (o[RHO] = this.rho());
      // Variance of ρ over corrStabilityWindow (RollingStats.push, then .variance).
      const cw = this.corrStabWindow, ch = this.rhoHead, buf = this.rhoBuf;
      if (this.rhoN === 0) this.rhoShift = rho;
      const shift = this.rhoShift;
      let sum = this.rhoSum, sumSq = this.rhoSumSq;
      if (this.rhoN === cw) {
        const old = buf[ch] - shift;
        sum -= old;
        sumSq -= old * old;
      } else this.rhoN++;
      const d = rho - shift;
      buf[ch] = rho;
      this.rhoSum = sum += d;
      this.rhoSumSq = sumSq += d * d;
      this.rhoHead = ch + 1 === cw ? 0 : ch + 1;
      if (++this.rhoSince === cw) {
        statsSums(buf, this.rhoN, ch, this.sums);
        this.rhoShift = rho; this.rhoSum = sum = this.sums[0]; this.rhoSumSq = sumSq = this.sums[1]; this.rhoSince = 0;
      }
      if (this.rhoN === cw) {
        const ic = this.invCorrStab, v = (sumSq - sum * (sum * ic)) * ic;
        o[CORR_STABILITY] = v > 0 ? v : 0;
      }
    }

    // Wilder ATRs of the legs, then each one's ratio to its rolling median.
    const p = this.atrPeriod, atrA = this.atrA, atrB = this.atrB;
    const trA = trueRange(barA.high, barA.low, prevA), trB = trueRange(barB.high, barB.low, prevB);
    if (atrA[W_COUNT] < p) {
      atrA[W_SEED] += trA;
      atrB[W_SEED] += trB;
      if (++atrA[W_COUNT] === p) atrA[W_VALUE] = atrA[W_SEED] / p;
      if (++atrB[W_COUNT] === p) atrB[W_VALUE] = atrB[W_SEED] / p;
    } else {
      const ip = this.invAtr;
      atrA[W_VALUE] = ((p - 1) * atrA[W_VALUE] + trA) * ip;
      atrB[W_VALUE] = ((p - 1) * atrB[W_VALUE] + trB) * ip;
    }
    if (atrA[W_COUNT] >= p) {
      const a = (o[ATR_A] = atrA[W_VALUE]), b = (o[ATR_B] = atrB[W_VALUE]);
      const medA = this.atrAMedian, medB = this.atrBMedian, m = this.medians;
      medA.pushFrom(atrA, W_VALUE);
      medB.pushFrom(atrB, W_VALUE);
      if (medA.full) {
        medA.medianTo(m, 0);
        medB.medianTo(m, 1);
        o[ATR_RATIO_A] = ratioToMedian(a, m[0]);
        o[ATR_RATIO_B] = ratioToMedian(b, m[1]);
      }
    }
  }

  /** Pearson correlation of the full return window, clamped to [−1, 1]; 0 when either side is flat. */
  private rho(): number {
    const inv = this.invRho, sx = this.retSx, sy = this.retSy, mx = sx * inv, my = sy * inv;
    const vx = (this.retSxx - sx * mx) * inv, vy = (this.retSyy - sy * my) * inv;
    if (isFlat(vx, this.retCx + mx) || isFlat(vy, this.retCy + my)) return 0;
    const r = ((this.retSxy - sx * my) * inv) / Math.sqrt(vx * vy);
    return r > 1 ? 1 : r < -1 ? -1 : r;
  }

  /** Scores the previous fit, refits over the window (OLS or Huber); returns whether Huber was used. */
  private updateRawBeta(barA: PairBar, barB: PairBar): boolean {
    const pA = barA.close, pB = barB.close;
    if (this.hasFit) {
      // One-step residual: Σe² (RollingSum.push) and the median of |e|.
      const e = pA - (this.rawAlpha + this.rawBeta * pB), e2 = e * e;
      const mw = this.madWindow, mh = this.rsqHead, buf = this.rsqBuf;
      let total = this.rsqTotal;
      if (this.rsqN === mw) total -= buf[mh];
      else this.rsqN++;
      buf[mh] = e2;
      this.rsqTotal = total + e2;
      this.rsqHead = mh + 1 === mw ? 0 : mh + 1;
      if (++this.rsqSince === mw) {
        let s = 0;
        for (let i = 0; i < this.rsqN; i++) s += buf[i];
        this.rsqTotal = s;
        this.rsqSince = 0;
      }
      this.residAbs.push(Math.abs(e));
    }

    // The fit window: pairs (P_B, P_A) (RollingPairStats.push).
    const w = this.betaWindow, fh = this.fitHead, xs = this.fitX, ys = this.fitY;
    if (this.fitN === 0) { this.fitCx = pB; this.fitCy = pA; }
    const cx = this.fitCx, cy = this.fitCy;
    let sx = this.fitSx, sy = this.fitSy, sxx = this.fitSxx, syy = this.fitSyy, sxy = this.fitSxy;
    if (this.fitN === w) {
      const ox = xs[fh] - cx, oy = ys[fh] - cy;
      sx -= ox; sy -= oy; sxx -= ox * ox; syy -= oy * oy; sxy -= ox * oy;
    } else this.fitN++;
    const dx = pB - cx, dy = pA - cy;
    xs[fh] = pB;
    ys[fh] = pA;
    this.fitSx = sx + dx; this.fitSy = sy + dy; this.fitSxx = sxx + dx * dx; this.fitSyy = syy + dy * dy; this.fitSxy = sxy + dx * dy;
    this.fitHead = fh + 1 === w ? 0 : fh + 1;
    if (++this.fitSince === w) this.resumFit(fh);
    if (this.fitN !== w) return false;

    const iw = this.invBetaWindow, dmx = this.fitSx * iw, dmy = this.fitSy * iw;
    const mx = this.fitCx + dmx, my = this.fitCy + dmy;
    let varX = (this.fitSxx - this.fitSx * dmx) * iw;
    if (!(varX > 0)) varX = 0;
    if (isFlat(varX, mx)) {
      // P_B constant over the window: any β fits; keep the last one (0 before any).
      this.rawAlpha = my - this.rawBeta * mx;
      this.hasFit = true;
      return false;
    }
    let robust = false;
    if (this.residAbs.full && this.madRatioAbove()) {
      const c = this.config;
      robust = this.huber.fit(xs, ys, w, this.rawAlpha, this.rawBeta, c.huberK, c.huberMaxIter, c.huberTol);
    }
    if (robust) {
      this.rawAlpha = this.huber.alpha;
      this.rawBeta = this.huber.beta;
    } else {
      const b = ((this.fitSxy - this.fitSx * dmy) * iw) / varX;
      this.rawBeta = b;
      this.rawAlpha = my - b * mx;
    }
    this.hasFit = true;
    return robust;
  }

  /**
   * Whether the MAD ratio sqrt(mean e²) / (1.4826 · median |e|) — +∞ when the median is 0 but some
   * residual is not — exceeds the threshold. Only this decision is used, and the ratio falls as
   * the median rises (each rounding step is monotone), so a pivot p between the median and the
   * critical median usually settles it without the median: with the ratio at p ≤ threshold, a
   * median ≥ p is not above it; with the ratio at p > threshold, a median ≤ p is. Otherwise the
   * exact median decides, and the pivot moves to the geometric mean of the median and the
   * critical median (where the ratio equals the threshold), leaving room both ways.
   */
  private madRatioAbove(): boolean {
    const threshold = this.madThreshold, resid = this.residAbs;
    const meanSq = Math.max(0, this.rsqTotal / this.rsqN), rms = Math.sqrt(meanSq);
    const p = resid.pivot;
    if (p > 0) {
      const atPivot = rms / (MAD_TO_SIGMA * p);
      if (atPivot <= threshold ? resid.medianAtLeastPivot() : resid.medianAtMostPivot()) return atPivot > threshold;
    }
    const median = resid.median();
    const mad = MAD_TO_SIGMA * median;
    const ratio = mad > 0 ? rms / mad : meanSq > 0 ? Infinity : 1;
    resid.setPivot(Math.sqrt(median * (rms / (MAD_TO_SIGMA * threshold))));
    return ratio > threshold;
  }

  /** Smoothed β, the spread and everything derived from it. */
  private spreadFeatures(barA: PairBar, barB: PairBar): void {
    const o = this.out, pA = barA.close, pB = barB.close;
    // β = EMA of the raw β; the spread.
    const raw = this.rawBeta;
    const beta = (o[BETA] = this.betaEmaValue = this.betaEmaSeeded ? this.betaAlpha * raw + this.betaKeep * this.betaEmaValue : raw);
    this.betaEmaSeeded = true;
    const spread = (o[SPREAD] = pA - beta * pB);

    // β stability: σ/|μ| of β over betaStabilityWindow (RollingStats).
    {
      const bw = this.betaStabWindow, bh = this.bsHead, buf = this.bsBuf;
      if (this.bsN === 0) this.bsShift = beta;
      const shift = this.bsShift;
      let sum = this.bsSum, sumSq = this.bsSumSq;
      if (this.bsN === bw) {
        const old = buf[bh] - shift;
        sum -= old;
        sumSq -= old * old;
      } else this.bsN++;
      const d = beta - shift;
      buf[bh] = beta;
      this.bsSum = sum += d;
      this.bsSumSq = sumSq += d * d;
      this.bsHead = bh + 1 === bw ? 0 : bh + 1;
      if (++this.bsSince === bw) {
        statsSums(buf, this.bsN, bh, this.sums);
        this.bsShift = beta; this.bsSum = sum = this.sums[0]; this.bsSumSq = sumSq = this.sums[1]; this.bsSince = 0;
      }
      if (this.bsN === bw) {
        const ib = this.invBetaStab, dm = sum * ib, v = (sumSq - sum * dm) * ib;
        o[BETA_STABILITY] = Math.sqrt(v > 0 ? v : 0) / (Math.abs(this.bsShift + dm) + this.betaStabEps);
      }
    }

    if (this.hasPrevSpread) this.spreadChangeFeatures();
    this.hasPrevSpread = true;
    this.prevSpread = spread;

    const fast = (this.emaFastValue = this.emaFastSeeded ? this.fastAlpha * spread + this.fastKeep * this.emaFastValue : spread);
    const slow = (this.emaSlowValue = this.emaSlowSeeded ? this.slowAlpha * spread + this.slowKeep * this.emaSlowValue : spread);
    this.emaFastSeeded = this.emaSlowSeeded = true;
    if (++this.spreads >= this.emaGapWarm) o[EMA_GAP] = fast - slow;

    // Trend of the spread over slopeWindow (RollingTrend.push).
    const tw = this.slopeWindow;
    {
      const th = this.stHead, buf = this.stBuf, n = this.stN;
      if (n === 0) this.stShift = spread;
      const shift = this.stShift, d = spread - shift;
      if (n === tw) {
        const old = buf[th] - shift;
        this.stSumJ += (n - 1) * d - (this.stSum - old);
        this.stSum += d - old;
      } else {
        this.stSumJ += n * d;
        this.stSum += d;
        this.stN = n + 1;
      }
      buf[th] = spread;
      this.stHead = th + 1 === tw ? 0 : th + 1;
      if (++this.stSince === tw) {
        trendSums(buf, this.stN, this.stHead, th, this.sums);
        this.stShift = spread; this.stSum = this.sums[0]; this.stSumJ = this.sums[1]; this.stSince = 0;
      }
    }

    // Mean and variance of the spread over zWindow (RollingStats).
    const zw = this.zWindow, zh = this.ssHead, sbuf = this.ssBuf;
    if (this.ssN === 0) this.ssShift = spread;
    let sum = this.ssSum, sumSq = this.ssSumSq;
    if (this.ssN === zw) {
      const old = sbuf[zh] - this.ssShift;
      sum -= old;
      sumSq -= old * old;
    } else this.ssN++;
    const d = spread - this.ssShift;
    sbuf[zh] = spread;
    this.ssSum = sum += d;
    this.ssSumSq = sumSq += d * d;
    this.ssHead = zh + 1 === zw ? 0 : zh + 1;
    if (++this.ssSince === zw) {
      statsSums(sbuf, this.ssN, zh, this.sums);
      this.ssShift = spread; this.ssSum = sum = this.sums[0]; this.ssSumSq = sumSq = this.sums[1]; this.ssSince = 0;
    }
    if (this.ssN !== zw) return;

    const iz = this.invZ, dmu = sum * iz, mu = this.ssShift + dmu;
    let variance = (sumSq - sum * dmu) * iz;
    if (!(variance > 0)) variance = 0;
    // S is a difference of prices, so its rounding noise scales with P_A, not with S itself.
    const flat = isFlat(variance, Math.max(Math.abs(mu), pA));
    const sigma = Math.sqrt(variance);
    let z = 0; // a flat spread has z = 0, never NaN
    if (!flat) {
      // Math.min/max keep z a float64; a ternary mixing in the (small-integer) clip would make V8
      // box z on the heap.
      const clip = this.zClip;
      z = Math.min(clip, Math.max(-clip, (spread - mu) / sigma));
    }
    o[Z] = z;
    if (this.stN === tw) o[SLOPE_SPREAD] = flat ? 0 : ((this.stSumJ - this.slopeMid * this.stSum) * this.slopeScale) / sigma;
    o[Z_EMA] = this.zEmaValue = this.zEmaSeeded ? this.zAlpha * z + this.zKeep * this.zEmaValue : z;
    this.zEmaSeeded = true;
    if (this.hasPrevZ) {
      const dz = (o[DELTA_Z] = z - this.prevZ);
      o[ABS_DELTA_Z] = Math.abs(dz);
    }
    this.hasPrevZ = true;
    this.prevZ = z;

    // Trend of z over slopeWindow (RollingTrend.push, then .slope).
    const th = this.ztHead, buf = this.ztBuf, n = this.ztN;
    if (n === 0) this.ztShift = z;
    const dzs = z - this.ztShift;
    if (n === tw) {
      const old = buf[th] - this.ztShift;
      this.ztSumJ += (n - 1) * dzs - (this.ztSum - old);
      this.ztSum += dzs - old;
    } else {
      this.ztSumJ += n * dzs;
      this.ztSum += dzs;
      this.ztN = n + 1;
    }
    buf[th] = z;
    this.ztHead = th + 1 === tw ? 0 : th + 1;
    if (++this.ztSince === tw) {
      trendSums(buf, this.ztN, this.ztHead, th, this.sums);
      this.ztShift = z; this.ztSum = this.sums[0]; this.ztSumJ = this.sums[1]; this.ztSince = 0;
    }
    if (this.ztN === tw) o[SLOPE_Z] = (this.ztSumJ - this.slopeMid * this.ztSum) * this.slopeScale;
  }

  /** Features of the spread's one-bar change dS = S_t − S_{t−1} (S_t is already in the output buffer). */
  private spreadChangeFeatures(): void {
    const o = this.out, prev = this.prevSpread;
    const dS = o[SPREAD] - prev;
    const absDS = (o[ABS_DELTA_S] = Math.abs(dS));

    // ATR of the spread: close-only series, so true range = |ΔS|; then its ratio to its median.
    const atr = this.atrSpread, p = this.atrPeriod;
    if (atr[W_COUNT] < p) {
      atr[W_SEED] += absDS;
      if (++atr[W_COUNT] === p) atr[W_VALUE] = atr[W_SEED] / p;
    } else atr[W_VALUE] = ((p - 1) * atr[W_VALUE] + absDS) * this.invAtr;
    if (atr[W_COUNT] >= p) {
      const value = (o[ATR_SPREAD] = atr[W_VALUE]);
      const med = this.atrSpreadMedian, m = this.medians;
      med.pushFrom(atr, W_VALUE);
      if (med.full) {
        med.medianTo(m, 2);
        o[VOL_RATIO_SPREAD] = ratioToMedian(value, m[2]);
      }
    }

    // RSI: Wilder averages of the gains and the losses.
    const gain = this.rsiGain, loss = this.rsiLoss, q = this.rsiPeriod;
    const up = dS > 0 ? dS : 0, down = dS < 0 ? -dS : 0;
    if (gain[W_COUNT] < q) {
      gain[W_SEED] += up;
      loss[W_SEED] += down;
      if (++gain[W_COUNT] === q) gain[W_VALUE] = gain[W_SEED] / q;
      if (++loss[W_COUNT] === q) loss[W_VALUE] = loss[W_SEED] / q;
    } else {
      const iq = this.invRsi;
      gain[W_VALUE] = ((q - 1) * gain[W_VALUE] + up) * iq;
      loss[W_VALUE] = ((q - 1) * loss[W_VALUE] + down) * iq;
    }
    if (gain[W_COUNT] >= q) {
      const g = gain[W_VALUE], l = loss[W_VALUE];
      // 100 − 100/(1 + g/l) with one division: 100·g/(g + l) (g ≤ g + l, so never above 100).
      o[RSI] = l > 0 ? 100 * (g / (g + l)) : g > 0 ? 100 : 50;
    }

    // Half-life: OLS of ΔS_t on S_{t−1} over halfLifeWindow (RollingPairStats).
    const w = this.hlWindow, hh = this.hlHead, xs = this.hlX, ys = this.hlY;
    if (this.hlN === 0) { this.hlCx = prev; this.hlCy = dS; }
    const cx = this.hlCx, cy = this.hlCy;
    let sx = this.hlSx, sy = this.hlSy, sxx = this.hlSxx, syy = this.hlSyy, sxy = this.hlSxy;
    if (this.hlN === w) {
      const ox = xs[hh] - cx, oy = ys[hh] - cy;
      sx -= ox; sy -= oy; sxx -= ox * ox; syy -= oy * oy; sxy -= ox * oy;
    } else this.hlN++;
    const dx = prev - cx, dy = dS - cy;
    xs[hh] = prev;
    ys[hh] = dS;
    this.hlSx = sx + dx; this.hlSy = sy + dy; this.hlSxx = sxx + dx * dx; this.hlSyy = syy + dy * dy; this.hlSxy = sxy + dx * dy;
    this.hlHead = hh + 1 === w ? 0 : hh + 1;
    if (++this.hlSince === w) this.resumHalfLife(hh);
    if (this.hlN === w) {
      // ΔS = a + b·S_{t−1}: κ = −b is the mean-reversion speed.
      sx = this.hlSx;
      const ih = this.invHl, dmx = sx * ih;
      let varX = (this.hlSxx - sx * dmx) * ih;
      if (!(varX > 0)) varX = 0;
      const kappa = isFlat(varX, this.hlCx + dmx) ? 0 : -(((this.hlSxy - sx * (this.hlSy * ih)) * ih) / varX);
      o[HALF_LIFE] = kappa === 0 ? this.hlMax : Math.min(this.hlMax, Math.max(this.hlMin, Math.LN2 / Math.abs(kappa)));
    }
  }

  private resumReturns(newest: number): void {
    const s = this.sums;
    pairSums(this.retX, this.retY, this.retN, newest, s);
    this.retCx = this.retX[newest]; this.retCy = this.retY[newest];
    this.retSx = s[0]; this.retSy = s[1]; this.retSxx = s[2]; this.retSyy = s[3]; this.retSxy = s[4];
    this.retSince = 0;
  }

  private resumFit(newest: number): void {
    const s = this.sums;
    pairSums(this.fitX, this.fitY, this.fitN, newest, s);
    this.fitCx = this.fitX[newest]; this.fitCy = this.fitY[newest];
    this.fitSx = s[0]; this.fitSy = s[1]; this.fitSxx = s[2]; this.fitSyy = s[3]; this.fitSxy = s[4];
    this.fitSince = 0;
  }

  private resumHalfLife(newest: number): void {
    const s = this.sums;
    pairSums(this.hlX, this.hlY, this.hlN, newest, s);
    this.hlCx = this.hlX[newest]; this.hlCy = this.hlY[newest];
    this.hlSx = s[0]; this.hlSy = s[1]; this.hlSxx = s[2]; this.hlSyy = s[3]; this.hlSxy = s[4];
    this.hlSince = 0;
  }

  /** The whole state as JSON-safe data (finite numbers, arrays, booleans). */
  snapshot(): FeatureEngineSnapshot {
    const ring = (buf: Float64Array, head: number, n: number, sinceExact: number): RingState => ({ buf: Array.from(buf), head, n, sinceExact });
    const stats = (buf: Float64Array, head: number, n: number, since: number, shift: number, sum: number, sumSq: number): RollingStatsState =>
      ({ ...ring(buf, head, n, since), shift, sum, sumSq });
    const trend = (buf: Float64Array, head: number, n: number, since: number, shift: number, sum: number, sumJ: number): RollingTrendState =>
      ({ ...ring(buf, head, n, since), shift, sum, sumJ });
    const pair = (xs: Float64Array, ys: Float64Array, head: number, n: number, sinceExact: number, cx: number, cy: number, sums: number[]): RollingPairState =>
      ({ xs: Array.from(xs), ys: Array.from(ys), head, n, sinceExact, cx, cy, sums });
    return {
      kind: 'orrery.feature-engine',
      engineVersion: ENGINE_VERSION,
      config: { ...this.config },
      state: {
        bars: this.bars, prevCloseA: this.prevCloseA, prevCloseB: this.prevCloseB,
        hasFit: this.hasFit, rawAlpha: this.rawAlpha, rawBeta: this.rawBeta, robust: this.robust,
        hasPrevSpread: this.hasPrevSpread, prevSpread: this.prevSpread, hasPrevZ: this.hasPrevZ, prevZ: this.prevZ, spreads: this.spreads,
        fit: pair(this.fitX, this.fitY, this.fitHead, this.fitN, this.fitSince, this.fitCx, this.fitCy,
          [this.fitSx, this.fitSy, this.fitSxx, this.fitSyy, this.fitSxy]),
        residSq: { ...ring(this.rsqBuf, this.rsqHead, this.rsqN, this.rsqSince), total: this.rsqTotal },
        residAbs: this.residAbs.snapshot(),
        betaEma: { value: this.betaEmaValue, seeded: this.betaEmaSeeded },
        betaStats: stats(this.bsBuf, this.bsHead, this.bsN, this.bsSince, this.bsShift, this.bsSum, this.bsSumSq),
        spreadStats: stats(this.ssBuf, this.ssHead, this.ssN, this.ssSince, this.ssShift, this.ssSum, this.ssSumSq),
        zEma: { value: this.zEmaValue, seeded: this.zEmaSeeded },
        atrSpread: wilderState(this.atrSpread),
        atrSpreadMedian: this.atrSpreadMedian.snapshot(),
        halfLife: pair(this.hlX, this.hlY, this.hlHead, this.hlN, this.hlSince, this.hlCx, this.hlCy,
          [this.hlSx, this.hlSy, this.hlSxx, this.hlSyy, this.hlSxy]),
        returns: pair(this.retX, this.retY, this.retHead, this.retN, this.retSince, this.retCx, this.retCy,
          [this.retSx, this.retSy, this.retSxx, this.retSyy, this.retSxy]),
        rhoStats: stats(this.rhoBuf, this.rhoHead, this.rhoN, this.rhoSince, this.rhoShift, this.rhoSum, this.rhoSumSq),
        atrA: wilderState(this.atrA),
        atrB: wilderState(this.atrB),
        atrAMedian: this.atrAMedian.snapshot(),
        atrBMedian: this.atrBMedian.snapshot(),
        emaFast: { value: this.emaFastValue, seeded: this.emaFastSeeded },
        emaSlow: { value: this.emaSlowValue, seeded: this.emaSlowSeeded },
        spreadTrend: trend(this.stBuf, this.stHead, this.stN, this.stSince, this.stShift, this.stSum, this.stSumJ),
        zTrend: trend(this.ztBuf, this.ztHead, this.ztN, this.ztSince, this.ztShift, this.ztSum, this.ztSumJ),
        rsiGain: wilderState(this.rsiGain),
        rsiLoss: wilderState(this.rsiLoss),
      },
    };
  }

  /** An engine that continues exactly where `snapshot` was taken (same config, same state). */
  static restore(snapshot: FeatureEngineSnapshot): FeatureEngine {
    if (snapshot?.kind !== 'orrery.feature-engine') throw new TypeError('not a feature-engine snapshot');
    if (snapshot.engineVersion !== ENGINE_VERSION) {
      throw new RangeError(`snapshot from engine ${snapshot.engineVersion}, this is ${ENGINE_VERSION}: replay the history instead`);
    }
    const e = new FeatureEngine(snapshot.config);
    const s = snapshot.state;
    e.bars = s.bars; e.prevCloseA = s.prevCloseA; e.prevCloseB = s.prevCloseB;
    e.hasFit = s.hasFit; e.rawAlpha = s.rawAlpha; e.rawBeta = s.rawBeta; e.robust = s.robust;
    e.hasPrevSpread = s.hasPrevSpread; e.prevSpread = s.prevSpread; e.hasPrevZ = s.hasPrevZ; e.prevZ = s.prevZ; e.spreads = s.spreads;

    loadRing(e.fitX, s.fit.xs); loadRing(e.fitY, s.fit.ys);
    e.fitHead = s.fit.head; e.fitN = s.fit.n; e.fitSince = s.fit.sinceExact; e.fitCx = s.fit.cx; e.fitCy = s.fit.cy;
    [e.fitSx, e.fitSy, e.fitSxx, e.fitSyy, e.fitSxy] = s.fit.sums;
    loadRing(e.rsqBuf, s.residSq.buf);
    e.rsqHead = s.residSq.head; e.rsqN = s.residSq.n; e.rsqSince = s.residSq.sinceExact; e.rsqTotal = s.residSq.total;
    e.residAbs.restore(s.residAbs);
    e.betaEmaValue = s.betaEma.value; e.betaEmaSeeded = s.betaEma.seeded;
    loadRing(e.bsBuf, s.betaStats.buf);
    e.bsHead = s.betaStats.head; e.bsN = s.betaStats.n; e.bsSince = s.betaStats.sinceExact;
    e.bsShift = s.betaStats.shift; e.bsSum = s.betaStats.sum; e.bsSumSq = s.betaStats.sumSq;
    loadRing(e.ssBuf, s.spreadStats.buf);
    e.ssHead = s.spreadStats.head; e.ssN = s.spreadStats.n; e.ssSince = s.spreadStats.sinceExact;
    e.ssShift = s.spreadStats.shift; e.ssSum = s.spreadStats.sum; e.ssSumSq = s.spreadStats.sumSq;
    e.zEmaValue = s.zEma.value; e.zEmaSeeded = s.zEma.seeded;
    loadWilder(e.atrSpread, s.atrSpread);
    e.atrSpreadMedian.restore(s.atrSpreadMedian);
    loadRing(e.hlX, s.halfLife.xs); loadRing(e.hlY, s.halfLife.ys);
    e.hlHead = s.halfLife.head; e.hlN = s.halfLife.n; e.hlSince = s.halfLife.sinceExact; e.hlCx = s.halfLife.cx; e.hlCy = s.halfLife.cy;
    [e.hlSx, e.hlSy, e.hlSxx, e.hlSyy, e.hlSxy] = s.halfLife.sums;
    loadRing(e.retX, s.returns.xs); loadRing(e.retY, s.returns.ys);
    e.retHead = s.returns.head; e.retN = s.returns.n; e.retSince = s.returns.sinceExact; e.retCx = s.returns.cx; e.retCy = s.returns.cy;
    [e.retSx, e.retSy, e.retSxx, e.retSyy, e.retSxy] = s.returns.sums;
    loadRing(e.rhoBuf, s.rhoStats.buf);
    e.rhoHead = s.rhoStats.head; e.rhoN = s.rhoStats.n; e.rhoSince = s.rhoStats.sinceExact;
    e.rhoShift = s.rhoStats.shift; e.rhoSum = s.rhoStats.sum; e.rhoSumSq = s.rhoStats.sumSq;
    loadWilder(e.atrA, s.atrA);
    loadWilder(e.atrB, s.atrB);
    e.atrAMedian.restore(s.atrAMedian);
    e.atrBMedian.restore(s.atrBMedian);
    e.emaFastValue = s.emaFast.value; e.emaFastSeeded = s.emaFast.seeded;
    e.emaSlowValue = s.emaSlow.value; e.emaSlowSeeded = s.emaSlow.seeded;
    loadRing(e.stBuf, s.spreadTrend.buf);
    e.stHead = s.spreadTrend.head; e.stN = s.spreadTrend.n; e.stSince = s.spreadTrend.sinceExact;
    e.stShift = s.spreadTrend.shift; e.stSum = s.spreadTrend.sum; e.stSumJ = s.spreadTrend.sumJ;
    loadRing(e.ztBuf, s.zTrend.buf);
    e.ztHead = s.zTrend.head; e.ztN = s.zTrend.n; e.ztSince = s.zTrend.sinceExact;
    e.ztShift = s.zTrend.shift; e.ztSum = s.zTrend.sum; e.ztSumJ = s.zTrend.sumJ;
    loadWilder(e.rsiGain, s.rsiGain);
    loadWilder(e.rsiLoss, s.rsiLoss);
    return e;
  }
}

/** Only the requested outputs of a row, in the requested order (the manifest's active + experimental). */
export type SelectedRow = Record<string, number | null>;

/** Validates a manifest selection against the engine's outputs; throws on unknown or repeated names. */
export function checkSelection(names: readonly string[]): OutputName[] {
  const known = new Set<string>(OUTPUT_NAMES);
  const seen = new Set<string>();
  for (const n of names) {
    if (!known.has(n)) throw new RangeError(`unknown feature "${n}" (known: ${OUTPUT_NAMES.join(', ')})`);
    if (seen.has(n)) throw new RangeError(`feature "${n}" selected twice`);
    seen.add(n);
  }
  return names as OutputName[];
}

export function selectOutputs(row: FeatureRow, names: readonly OutputName[]): SelectedRow {
  const out: SelectedRow = {};
  for (const n of names) out[n] = row[n];
  return out;
}

/** A FeatureEngine that emits only a manifest's selection of outputs. */
export class SelectedFeatureEngine {
  readonly names: readonly OutputName[];

  constructor(names: readonly string[], readonly engine: FeatureEngine = new FeatureEngine()) {
    this.names = Object.freeze(checkSelection(names).slice());
  }

  update(barA: PairBar, barB: PairBar): SelectedRow {
    return selectOutputs(this.engine.update(barA, barB), this.names);
  }

  snapshot(): { names: OutputName[]; engine: FeatureEngineSnapshot } {
    return { names: [...this.names], engine: this.engine.snapshot() };
  }

  static restore(s: { names: readonly string[]; engine: FeatureEngineSnapshot }): SelectedFeatureEngine {
    return new SelectedFeatureEngine(s.names, FeatureEngine.restore(s.engine));
  }
}
