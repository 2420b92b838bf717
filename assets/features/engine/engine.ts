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
 * which inflate the RMS but barely move the median. Both parts are incremental (a running Σe² and
 * an order-statistics median), unlike a refit-based ratio. Above `madRatioThreshold` the bar's fit
 * is a Huber IRLS over the same window, warm-started from the previous raw fit. The raw β is then
 * smoothed by an EMA (half-life `betaHalfLife`); that smoothed β is "β" everywhere else.
 *
 * Spread S = P_A − β·P_B (the intercept stays in S; z removes the level).
 * ATR of the spread: S is a close-only series, so its true range is |S_t − S_{t−1}|.
 * z: a spread whose 180-bar σ is below 1e−12 of max(|μ_S|, P_A) (rounding noise) is flat: z = 0.
 * Warm-up: an output is null until all of its windows are full (see `warmupBars`), never NaN.
 */
import {
  type FeatureConfig, type OutputName, ENGINE_VERSION, OUTPUT_NAMES, resolveFeatureConfig, warmupBars,
} from './config.ts';
import { HuberSolver, MAD_TO_SIGMA } from './huber.ts';
import { type RollingMedianState, RollingMedian } from './median.ts';
import {
  type EmaState, type RingState, type RollingPairState, type RollingStatsState, type RollingTrendState, type WilderState,
  alphaFromHalfLife, alphaFromSpan, Ema, isFlat, RollingPairStats, RollingStats, RollingSum, RollingTrend, WilderAverage,
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

function checkBar(bar: PairBar, leg: string): void {
  if (!(bar.close > 0) || !Number.isFinite(bar.close)) throw new RangeError(`leg ${leg}: close must be a finite positive price, got ${bar.close}`);
  if (!Number.isFinite(bar.high) || !Number.isFinite(bar.low)) throw new RangeError(`leg ${leg}: high/low must be finite, got ${bar.high}/${bar.low}`);
}

/** OHLC true range: max(high − low, |high − prev close|, |low − prev close|). */
function trueRange(bar: PairBar, prevClose: number): number {
  return Math.max(bar.high - bar.low, Math.abs(bar.high - prevClose), Math.abs(bar.low - prevClose));
}

function ratioToMedian(value: number, median: number): number {
  if (median > 0) return value / median;
  return value > 0 ? RATIO_CAP : 1;
}

// Slots of the per-bar output buffer (NaN = not warm yet), in OUTPUT_NAMES order.
const BETA = 0, SPREAD = 1, Z = 2, DELTA_Z = 3, Z_EMA = 4, ATR_SPREAD = 5, VOL_RATIO_SPREAD = 6, HALF_LIFE = 7,
  RHO = 8, CORR_STABILITY = 9, BETA_STABILITY = 10, ATR_A = 11, ATR_B = 12, ATR_RATIO_A = 13, ATR_RATIO_B = 14,
  EMA_GAP = 15, SLOPE_SPREAD = 16, RSI = 17, ABS_DELTA_S = 18, ABS_DELTA_Z = 19, SLOPE_Z = 20;

function orNull(v: number): number | null {
  return v === v ? v : null; // NaN marks "not warm"
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

  private readonly fit: RollingPairStats; // (P_B, P_A)
  private readonly residSq: RollingSum;
  private readonly residAbs: RollingMedian;
  private readonly huber: HuberSolver;
  private readonly betaEma: Ema;
  private readonly betaStats: RollingStats;
  private readonly spreadStats: RollingStats;
  private readonly zEma: Ema;
  private readonly atrSpread: WilderAverage;
  private readonly atrSpreadMedian: RollingMedian;
  private readonly halfLife: RollingPairStats; // (S_{t−1}, ΔS_t)
  private readonly returns: RollingPairStats; // (r_B, r_A)
  private readonly rhoStats: RollingStats;
  private readonly atrA: WilderAverage;
  private readonly atrB: WilderAverage;
  private readonly atrAMedian: RollingMedian;
  private readonly atrBMedian: RollingMedian;
  private readonly emaFast: Ema;
  private readonly emaSlow: Ema;
  private readonly spreadTrend: RollingTrend;
  private readonly zTrend: RollingTrend;
  private readonly rsiGain: WilderAverage;
  private readonly rsiLoss: WilderAverage;

  constructor(config: Partial<FeatureConfig> = {}) {
    const c = (this.config = Object.freeze(resolveFeatureConfig(config)));
    this.emaGapWarm = Math.ceil(Math.max(c.emaFastSpan, c.emaSlowSpan));
    this.allWarmBar = Math.max(...Object.values(warmupBars(c)));
    this.fit = new RollingPairStats(c.betaWindow);
    this.residSq = new RollingSum(c.madRatioWindow);
    this.residAbs = new RollingMedian(c.madRatioWindow);
    this.huber = new HuberSolver(c.betaWindow);
    this.betaEma = new Ema(alphaFromHalfLife(c.betaHalfLife));
    this.betaStats = new RollingStats(c.betaStabilityWindow);
    this.spreadStats = new RollingStats(c.zWindow);
    this.zEma = new Ema(alphaFromHalfLife(c.zEmaHalfLife));
    this.atrSpread = new WilderAverage(c.atrPeriod);
    this.atrSpreadMedian = new RollingMedian(c.atrMedianWindow);
    this.halfLife = new RollingPairStats(c.halfLifeWindow);
    this.returns = new RollingPairStats(c.rhoWindow);
    this.rhoStats = new RollingStats(c.corrStabilityWindow);
    this.atrA = new WilderAverage(c.atrPeriod);
    this.atrB = new WilderAverage(c.atrPeriod);
    this.atrAMedian = new RollingMedian(c.atrMedianWindow);
    this.atrBMedian = new RollingMedian(c.atrMedianWindow);
    this.emaFast = new Ema(alphaFromSpan(c.emaFastSpan));
    this.emaSlow = new Ema(alphaFromSpan(c.emaSlowSpan));
    this.spreadTrend = new RollingTrend(c.slopeWindow);
    this.zTrend = new RollingTrend(c.slopeWindow);
    this.rsiGain = new WilderAverage(c.rsiPeriod);
    this.rsiLoss = new WilderAverage(c.rsiPeriod);
  }

  /** Bars consumed so far. */
  get barCount(): number {
    return this.bars;
  }

  /** Consumes the next synchronized bar of leg A and leg B and returns that bar's features. */
  update(barA: PairBar, barB: PairBar): FeatureRow {
    const o = this.step(barA, barB);
    return {
      beta: orNull(o[BETA]), spread: orNull(o[SPREAD]), z: orNull(o[Z]), delta_z: orNull(o[DELTA_Z]), z_ema: orNull(o[Z_EMA]),
      atr_spread: orNull(o[ATR_SPREAD]), vol_ratio_spread: orNull(o[VOL_RATIO_SPREAD]), half_life: orNull(o[HALF_LIFE]),
      rho_rolling: orNull(o[RHO]), corr_stability: orNull(o[CORR_STABILITY]), beta_stability: orNull(o[BETA_STABILITY]),
      atr_A: orNull(o[ATR_A]), atr_B: orNull(o[ATR_B]), atr_ratio_A: orNull(o[ATR_RATIO_A]), atr_ratio_B: orNull(o[ATR_RATIO_B]),
      ema_gap_spread: orNull(o[EMA_GAP]), slope_spread: orNull(o[SLOPE_SPREAD]), rsi_spread: orNull(o[RSI]),
      abs_delta_S: orNull(o[ABS_DELTA_S]), abs_delta_z: orNull(o[ABS_DELTA_Z]), slope_z: orNull(o[SLOPE_Z]), robust: this.robust,
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
    const returns = this.returns;
    returns.push(Math.log(barB.close / this.prevCloseB), Math.log(barA.close / this.prevCloseA));
    if (returns.full) {
      const rho = (o[RHO] = returns.correlation());
      this.rhoStats.push(rho);
      if (this.rhoStats.full) o[CORR_STABILITY] = this.rhoStats.variance();
    }
    this.atrA.push(trueRange(barA, this.prevCloseA));
    this.atrB.push(trueRange(barB, this.prevCloseB));
    if (this.atrA.ready) {
      const atrA = (o[ATR_A] = this.atrA.value), atrB = (o[ATR_B] = this.atrB.value);
      this.atrAMedian.push(atrA);
      this.atrBMedian.push(atrB);
      if (this.atrAMedian.full) {
        o[ATR_RATIO_A] = ratioToMedian(atrA, this.atrAMedian.median());
        o[ATR_RATIO_B] = ratioToMedian(atrB, this.atrBMedian.median());
      }
    }
  }

  /** Scores the previous fit, refits over the window (OLS or Huber); returns whether Huber was used. */
  private updateRawBeta(barA: PairBar, barB: PairBar): boolean {
    const c = this.config, pA = barA.close, pB = barB.close;
    if (this.hasFit) {
      const e = pA - (this.rawAlpha + this.rawBeta * pB);
      this.residSq.push(e * e);
      this.residAbs.push(Math.abs(e));
    }
    const fit = this.fit;
    fit.push(pB, pA);
    if (!fit.full) return false;
    const mx = fit.meanX(), my = fit.meanY();
    if (isFlat(fit.varX(), mx)) {
      // P_B constant over the window: any β fits; keep the last one (0 before any).
      this.rawAlpha = my - this.rawBeta * mx;
      this.hasFit = true;
      return false;
    }
    let robust = false;
    if (this.residAbs.full && this.madRatio() > c.madRatioThreshold) {
      robust = this.huber.fit(fit.xs, fit.ys, fit.count, this.rawAlpha, this.rawBeta, c.huberK, c.huberMaxIter, c.huberTol);
    }
    if (robust) {
      this.rawAlpha = this.huber.alpha;
      this.rawBeta = this.huber.beta;
    } else {
      const b = fit.slope();
      this.rawBeta = b;
      this.rawAlpha = my - b * mx;
    }
    this.hasFit = true;
    return robust;
  }

  /** sqrt(mean e²) / (1.4826 · median |e|); +∞ when the median is 0 but some residual is not. */
  private madRatio(): number {
    const meanSq = Math.max(0, this.residSq.sum / this.residSq.count);
    const mad = MAD_TO_SIGMA * this.residAbs.median();
    if (mad > 0) return Math.sqrt(meanSq) / mad;
    return meanSq > 0 ? Infinity : 1;
  }

  /** Smoothed β, the spread and everything derived from it. */
  private spreadFeatures(barA: PairBar, barB: PairBar): void {
    const c = this.config, o = this.out, pA = barA.close, pB = barB.close;
    const beta = (o[BETA] = this.betaEma.update(this.rawBeta));
    const spread = (o[SPREAD] = pA - beta * pB);
    const betaStats = this.betaStats;
    betaStats.push(beta);
    if (betaStats.full) o[BETA_STABILITY] = Math.sqrt(betaStats.variance()) / (Math.abs(betaStats.mean()) + c.betaStabilityEps);

    if (this.hasPrevSpread) this.spreadChangeFeatures();
    this.hasPrevSpread = true;
    this.prevSpread = spread;

    const fast = this.emaFast.update(spread), slow = this.emaSlow.update(spread);
    if (++this.spreads >= this.emaGapWarm) o[EMA_GAP] = fast - slow;
    const trend = this.spreadTrend;
    trend.push(spread);
    const stats = this.spreadStats;
    stats.push(spread);
    if (!stats.full) return;

    const mu = stats.mean(), variance = stats.variance();
    // S is a difference of prices, so its rounding noise scales with P_A, not with S itself.
    const flat = isFlat(variance, Math.max(Math.abs(mu), pA));
    const sigma = Math.sqrt(variance);
    let z = 0; // a flat spread has z = 0, never NaN
    if (!flat) {
      z = (spread - mu) / sigma;
      z = z > c.zClip ? c.zClip : z < -c.zClip ? -c.zClip : z;
    }
    o[Z] = z;
    if (trend.full) o[SLOPE_SPREAD] = flat ? 0 : trend.slope() / sigma;
    o[Z_EMA] = this.zEma.update(z);
    if (this.hasPrevZ) {
      const dz = (o[DELTA_Z] = z - this.prevZ);
      o[ABS_DELTA_Z] = Math.abs(dz);
    }
    this.hasPrevZ = true;
    this.prevZ = z;
    this.zTrend.push(z);
    if (this.zTrend.full) o[SLOPE_Z] = this.zTrend.slope();
  }

  /** Features of the spread's one-bar change dS = S_t − S_{t−1} (S_t is already in the output buffer). */
  private spreadChangeFeatures(): void {
    const c = this.config, o = this.out;
    const spread = o[SPREAD], dS = spread - this.prevSpread;
    const absDS = (o[ABS_DELTA_S] = Math.abs(dS));
    const atr = this.atrSpread;
    atr.push(absDS); // close-only series: true range = |ΔS|
    if (atr.ready) {
      o[ATR_SPREAD] = atr.value;
      this.atrSpreadMedian.push(atr.value);
      if (this.atrSpreadMedian.full) o[VOL_RATIO_SPREAD] = ratioToMedian(atr.value, this.atrSpreadMedian.median());
    }
    this.rsiGain.push(dS > 0 ? dS : 0);
    this.rsiLoss.push(dS < 0 ? -dS : 0);
    if (this.rsiGain.ready) {
      const gain = this.rsiGain.value, loss = this.rsiLoss.value;
      o[RSI] = loss > 0 ? 100 - 100 / (1 + gain / loss) : gain > 0 ? 100 : 50;
    }
    const hl = this.halfLife;
    hl.push(this.prevSpread, dS); // (S_{t−1}, ΔS_t)
    if (hl.full) {
      // ΔS = a + b·S_{t−1}: κ = −b is the mean-reversion speed.
      const kappa = isFlat(hl.varX(), hl.meanX()) ? 0 : -hl.slope();
      o[HALF_LIFE] = kappa === 0 ? c.halfLifeMax : Math.min(c.halfLifeMax, Math.max(c.halfLifeMin, Math.LN2 / Math.abs(kappa)));
    }
  }

  /** The whole state as JSON-safe data (finite numbers, arrays, booleans). */
  snapshot(): FeatureEngineSnapshot {
    return {
      kind: 'orrery.feature-engine',
      engineVersion: ENGINE_VERSION,
      config: { ...this.config },
      state: {
        bars: this.bars, prevCloseA: this.prevCloseA, prevCloseB: this.prevCloseB,
        hasFit: this.hasFit, rawAlpha: this.rawAlpha, rawBeta: this.rawBeta, robust: this.robust,
        hasPrevSpread: this.hasPrevSpread, prevSpread: this.prevSpread, hasPrevZ: this.hasPrevZ, prevZ: this.prevZ, spreads: this.spreads,
        fit: this.fit.snapshot(), residSq: this.residSq.snapshot(), residAbs: this.residAbs.snapshot(),
        betaEma: this.betaEma.snapshot(), betaStats: this.betaStats.snapshot(), spreadStats: this.spreadStats.snapshot(),
        zEma: this.zEma.snapshot(), atrSpread: this.atrSpread.snapshot(), atrSpreadMedian: this.atrSpreadMedian.snapshot(),
        halfLife: this.halfLife.snapshot(), returns: this.returns.snapshot(), rhoStats: this.rhoStats.snapshot(),
        atrA: this.atrA.snapshot(), atrB: this.atrB.snapshot(), atrAMedian: this.atrAMedian.snapshot(), atrBMedian: this.atrBMedian.snapshot(),
        emaFast: this.emaFast.snapshot(), emaSlow: this.emaSlow.snapshot(), spreadTrend: this.spreadTrend.snapshot(),
        zTrend: this.zTrend.snapshot(), rsiGain: this.rsiGain.snapshot(), rsiLoss: this.rsiLoss.snapshot(),
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
    e.fit.restore(s.fit); e.residSq.restore(s.residSq); e.residAbs.restore(s.residAbs);
    e.betaEma.restore(s.betaEma); e.betaStats.restore(s.betaStats); e.spreadStats.restore(s.spreadStats);
    e.zEma.restore(s.zEma); e.atrSpread.restore(s.atrSpread); e.atrSpreadMedian.restore(s.atrSpreadMedian);
    e.halfLife.restore(s.halfLife); e.returns.restore(s.returns); e.rhoStats.restore(s.rhoStats);
    e.atrA.restore(s.atrA); e.atrB.restore(s.atrB); e.atrAMedian.restore(s.atrAMedian); e.atrBMedian.restore(s.atrBMedian);
    e.emaFast.restore(s.emaFast); e.emaSlow.restore(s.emaSlow); e.spreadTrend.restore(s.spreadTrend);
    e.zTrend.restore(s.zTrend); e.rsiGain.restore(s.rsiGain); e.rsiLoss.restore(s.rsiLoss);
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
