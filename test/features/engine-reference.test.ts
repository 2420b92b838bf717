/**
 * The streaming engine against a plain batch reference that recomputes every window from
 * scratch on every bar (two-pass moments, sort-based medians): O(n·w), obviously right, slow.
 * Recursive quantities (EMAs, Wilder averages, the warm-started Huber fit) are recursive in the
 * spec itself, so the reference runs them as plain loops over the batch arrays.
 */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_FEATURE_CONFIG, FeatureEngine, OUTPUT_NAMES, robustWarmupBar, syntheticPair, warmupBars,
  type FeatureConfig, type FeatureRow, type OutputName, type PairBar, type SyntheticKind,
} from '../../assets/features/engine/index.ts';

type Series = (number | null)[];

// ---- from-scratch window helpers -------------------------------------------------------------

function flat(variance: number, mean: number): boolean {
  return !(variance > (1e-12 * mean) ** 2);
}

function mean(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Population variance, two-pass. */
function variance(xs: readonly number[]): number {
  const m = mean(xs);
  let s = 0;
  for (const x of xs) s += (x - m) * (x - m);
  return s / xs.length;
}

function median(xs: readonly number[]): number {
  const s = Float64Array.from(xs).sort();
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) * 0.5;
}

/** OLS of y on x with intercept, two-pass; null when x is flat. */
function ols(x: readonly number[], y: readonly number[]): { alpha: number; beta: number } | null {
  const mx = mean(x), my = mean(y);
  let sxx = 0, sxy = 0;
  for (let i = 0; i < x.length; i++) {
    sxx += (x[i] - mx) ** 2;
    sxy += (x[i] - mx) * (y[i] - my);
  }
  if (flat(sxx / x.length, mx)) return null;
  const beta = sxy / sxx;
  return { alpha: my - beta * mx, beta };
}

function correlation(x: readonly number[], y: readonly number[]): number {
  const mx = mean(x), my = mean(y);
  let sxx = 0, syy = 0, sxy = 0;
  for (let i = 0; i < x.length; i++) {
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
    sxy += (x[i] - mx) * (y[i] - my);
  }
  if (flat(sxx / x.length, mx) || flat(syy / y.length, my)) return 0;
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

/** Slope of ys against 0..n-1. */
function trendSlope(ys: readonly number[]): number {
  const idx = ys.map((_, i) => i);
  const mx = mean(idx), my = mean(ys);
  let sxx = 0, sxy = 0;
  for (let i = 0; i < ys.length; i++) {
    sxx += (i - mx) ** 2;
    sxy += (i - mx) * (ys[i] - my);
  }
  return sxy / sxx;
}

/** Huber IRLS, scale fixed from the warm-start residuals. */
function huber(x: readonly number[], y: readonly number[], a0: number, b0: number, c: FeatureConfig): { alpha: number; beta: number } | null {
  let a = a0, b = b0;
  let r = y.map((yi, i) => yi - (a + b * x[i]));
  const scale = 1.4826 * median(r.map(Math.abs));
  if (!(scale > 0)) return null;
  const k = c.huberK * scale;
  for (let iter = 0; iter < c.huberMaxIter; iter++) {
    const w = r.map((ri) => (Math.abs(ri) <= k ? 1 : k / Math.abs(ri)));
    const sw = w.reduce((s, wi) => s + wi, 0);
    const mx = w.reduce((s, wi, i) => s + wi * x[i], 0) / sw;
    const my = w.reduce((s, wi, i) => s + wi * y[i], 0) / sw;
    let sxx = 0, sxy = 0;
    for (let i = 0; i < x.length; i++) {
      sxx += w[i] * (x[i] - mx) ** 2;
      sxy += w[i] * (x[i] - mx) * (y[i] - my);
    }
    if (!(sxx > 0)) return null;
    const nb = sxy / sxx, na = my - nb * mx;
    const done = Math.abs(nb - b) <= c.huberTol * Math.max(1, Math.abs(nb)) && Math.abs(na - a) <= c.huberTol * Math.max(1, Math.abs(na));
    a = na; b = nb;
    r = y.map((yi, i) => yi - (a + b * x[i]));
    if (done) break;
  }
  return { alpha: a, beta: b };
}

/** Wilder average over a series with leading nulls: first value = mean of the first n inputs. */
function wilder(xs: Series, n: number): Series {
  const out: Series = xs.map(() => null);
  const seen: number[] = [];
  let v = 0;
  xs.forEach((x, t) => {
    if (x === null) return;
    if (seen.length < n) {
      seen.push(x);
      if (seen.length === n) out[t] = v = seen.reduce((s, q) => s + q, 0) / n;
    } else out[t] = v = ((n - 1) * v + x) / n;
  });
  return out;
}

function ema(xs: Series, alpha: number): Series {
  let v: number | null = null;
  return xs.map((x) => (x === null ? null : (v = v === null ? x : alpha * x + (1 - alpha) * v)));
}

/** The last `w` non-null values ending at t, or null when fewer exist. */
function lastW(xs: Series, t: number, w: number): number[] | null {
  const out: number[] = [];
  for (let i = t; i >= 0 && out.length < w; i--) {
    const v = xs[i];
    if (v === null) break;
    out.push(v);
  }
  return out.length === w ? out.reverse() : null;
}

function ratioToMedian(v: number, m: number): number {
  return m > 0 ? v / m : v > 0 ? 1e6 : 1;
}

// ---- the reference ---------------------------------------------------------------------------

function reference(A: readonly PairBar[], B: readonly PairBar[], c: FeatureConfig): { cols: Record<OutputName, Series>; robust: boolean[] } {
  const n = A.length;
  const pa = A.map((x) => x.close), pb = B.map((x) => x.close);
  const nulls = (): Series => Array.from({ length: n }, () => null);
  const cols = Object.fromEntries(OUTPUT_NAMES.map((k) => [k, nulls()])) as Record<OutputName, Series>;

  // Legs.
  const rA = nulls(), rB = nulls(), trA = nulls(), trB = nulls();
  const tr = (x: PairBar, pc: number) => Math.max(x.high - x.low, Math.abs(x.high - pc), Math.abs(x.low - pc));
  for (let t = 1; t < n; t++) {
    rA[t] = Math.log(pa[t] / pa[t - 1]);
    rB[t] = Math.log(pb[t] / pb[t - 1]);
    trA[t] = tr(A[t], pa[t - 1]);
    trB[t] = tr(B[t], pb[t - 1]);
  }
  for (let t = 0; t < n; t++) {
    const xa = lastW(rA, t, c.rhoWindow), xb = lastW(rB, t, c.rhoWindow);
    if (xa && xb) cols.rho_rolling[t] = correlation(xb, xa);
    const rhos = lastW(cols.rho_rolling, t, c.corrStabilityWindow);
    if (rhos) cols.corr_stability[t] = variance(rhos);
  }
  cols.atr_A = wilder(trA, c.atrPeriod);
  cols.atr_B = wilder(trB, c.atrPeriod);
  for (let t = 0; t < n; t++) {
    for (const [atr, ratio] of [[cols.atr_A, cols.atr_ratio_A], [cols.atr_B, cols.atr_ratio_B]]) {
      const w = lastW(atr, t, c.atrMedianWindow);
      if (w) ratio[t] = ratioToMedian(w[w.length - 1], median(w));
    }
  }

  // Raw β: residual of the previous fit, MAD ratio, OLS or Huber.
  const robust = Array.from({ length: n }, () => false);
  const rawBeta = nulls();
  const resid: number[] = [];
  let fit: { alpha: number; beta: number } | null = null;
  for (let t = 0; t < n; t++) {
    if (fit) resid.push(pa[t] - (fit.alpha + fit.beta * pb[t]));
    if (t < c.betaWindow - 1) continue;
    const x = pb.slice(t - c.betaWindow + 1, t + 1), y = pa.slice(t - c.betaWindow + 1, t + 1);
    const o = ols(x, y);
    if (!o) {
      const b: number = fit ? fit.beta : 0;
      fit = { alpha: mean(y) - b * mean(x), beta: b };
    } else {
      let next = o;
      if (resid.length >= c.madRatioWindow) {
        const e = resid.slice(-c.madRatioWindow);
        const mad = 1.4826 * median(e.map(Math.abs));
        const rms = Math.sqrt(mean(e.map((q) => q * q)));
        const ratio = mad > 0 ? rms / mad : rms > 0 ? Infinity : 1;
        if (ratio > c.madRatioThreshold && fit) {
          const h = huber(x, y, fit.alpha, fit.beta, c);
          if (h) { next = h; robust[t] = true; }
        }
      }
      fit = next;
    }
    rawBeta[t] = fit.beta;
  }

  // Smoothed β and the spread.
  const beta = ema(rawBeta, 1 - 2 ** (-1 / c.betaHalfLife));
  const S: Series = beta.map((b, t) => (b === null ? null : pa[t] - b * pb[t]));
  cols.beta = beta;
  cols.spread = S;
  const dS: Series = S.map((s, t) => (s === null || t === 0 || S[t - 1] === null ? null : s - (S[t - 1] as number)));
  cols.abs_delta_S = dS.map((d) => (d === null ? null : Math.abs(d)));
  cols.atr_spread = wilder(cols.abs_delta_S, c.atrPeriod);
  const gain = wilder(dS.map((d) => (d === null ? null : Math.max(d, 0))), c.rsiPeriod);
  const loss = wilder(dS.map((d) => (d === null ? null : Math.max(-d, 0))), c.rsiPeriod);
  const fast = ema(S, 2 / (c.emaFastSpan + 1)), slow = ema(S, 2 / (c.emaSlowSpan + 1));
  const emaWarm = Math.ceil(Math.max(c.emaFastSpan, c.emaSlowSpan));
  for (let t = 0; t < n; t++) {
    const g = gain[t], l = loss[t];
    if (g !== null && l !== null) cols.rsi_spread[t] = l > 0 ? 100 - 100 / (1 + g / l) : g > 0 ? 100 : 50;
    if (lastW(S, t, emaWarm)) cols.ema_gap_spread[t] = (fast[t] as number) - (slow[t] as number);
    const atrs = lastW(cols.atr_spread, t, c.atrMedianWindow);
    if (atrs) cols.vol_ratio_spread[t] = ratioToMedian(atrs[atrs.length - 1], median(atrs));
    const betas = lastW(beta, t, c.betaStabilityWindow);
    if (betas) cols.beta_stability[t] = Math.sqrt(variance(betas)) / (Math.abs(mean(betas)) + c.betaStabilityEps);
    const dw = lastW(dS, t, c.halfLifeWindow);
    if (dw) {
      const prev = (S.slice(t - c.halfLifeWindow, t) as number[]);
      const o = ols(prev, dw);
      const kappa = o ? -o.beta : 0;
      cols.half_life[t] = kappa === 0 ? c.halfLifeMax : Math.min(c.halfLifeMax, Math.max(c.halfLifeMin, Math.LN2 / Math.abs(kappa)));
    }
    const sw = lastW(S, t, c.zWindow);
    if (sw) {
      const mu = mean(sw), v = variance(sw), isFlat = flat(v, Math.max(Math.abs(mu), pa[t]));
      cols.z[t] = isFlat ? 0 : Math.max(-c.zClip, Math.min(c.zClip, ((S[t] as number) - mu) / Math.sqrt(v)));
      const tw = lastW(S, t, c.slopeWindow);
      if (tw) cols.slope_spread[t] = isFlat ? 0 : trendSlope(tw) / Math.sqrt(v);
    }
  }
  cols.z_ema = ema(cols.z, 1 - 2 ** (-1 / c.zEmaHalfLife));
  for (let t = 1; t < n; t++) {
    const z = cols.z[t], zp = cols.z[t - 1];
    if (z !== null && zp !== null) {
      cols.delta_z[t] = z - zp;
      cols.abs_delta_z[t] = Math.abs(z - zp);
    }
    const zw = lastW(cols.z, t, c.slopeWindow);
    if (zw) cols.slope_z[t] = trendSlope(zw);
  }
  return { cols, robust };
}

// ---- comparisons -----------------------------------------------------------------------------

function stream(a: readonly PairBar[], b: readonly PairBar[], config: Partial<FeatureConfig> = {}): FeatureRow[] {
  const e = new FeatureEngine(config);
  return a.map((bar, i) => e.update(bar, b[i]));
}

/** Every output on every bar: same nullness, |a − b| ≤ 1e−9·max(1, |b|). Returns the worst relative error. */
function expectMatches(rows: readonly FeatureRow[], ref: ReturnType<typeof reference>): number {
  let worst = 0;
  for (const name of OUTPUT_NAMES) {
    const col = ref.cols[name];
    for (let t = 0; t < rows.length; t++) {
      const got = rows[t][name], want = col[t];
      if (want === null || got === null) {
        if (got !== want) expect.fail(`${name} at bar ${t}: engine ${got}, reference ${want}`);
        continue;
      }
      if (!Number.isFinite(got)) expect.fail(`${name} at bar ${t}: not finite (${got})`);
      const err = Math.abs(got - want) / Math.max(1, Math.abs(want));
      if (!(err <= 1e-9)) expect.fail(`${name} at bar ${t}: engine ${got}, reference ${want} (rel err ${err})`);
      worst = Math.max(worst, err);
    }
  }
  expect(rows.map((r) => r.robust)).toEqual(ref.robust);
  return worst;
}

const N = 5_000;

describe('streaming engine = batch reference (1e-9 relative, every output, every bar)', () => {
  for (const kind of ['random-walk', 'cointegrated', 'outliers'] as SyntheticKind[]) {
    it(`${kind}, ${N} bars`, () => {
      const { a, b } = syntheticPair({ n: N, seed: 11, kind });
      const rows = stream(a, b);
      const ref = reference(a, b, { ...DEFAULT_FEATURE_CONFIG });
      const worst = expectMatches(rows, ref);
      expect(worst).toBeLessThan(1e-9);
      // Everything is warm well before the end.
      for (const name of OUTPUT_NAMES) expect(rows[N - 1][name]).not.toBeNull();
    });
  }

  it('the outlier series switches to Huber in its spiky regimes and back to OLS in the clean ones', () => {
    const { a, b } = syntheticPair({ n: N, seed: 11, kind: 'outliers' });
    const rows = stream(a, b);
    const share = (from: number, to: number) => rows.slice(from, to).filter((r) => r.robust).length / (to - from);
    expect(rows.slice(0, robustWarmupBar(DEFAULT_FEATURE_CONFIG)).some((r) => r.robust)).toBe(false);
    expect(share(1_300, 2_000)).toBeGreaterThan(0.9); // spikes on bars 1000–1999
    expect(share(2_400, 3_000)).toBeLessThan(0.1); // clean again
    expect(share(3_300, 4_000)).toBeGreaterThan(0.9);
    // The robust fit shrugs off the spikes: β stays closer to the true 1.5 than with OLS only.
    const olsOnly = stream(a, b, { madRatioThreshold: 1e9 });
    const betaError = (rs: FeatureRow[]) => rs.slice(1_300, 2_000).reduce((s, r) => s + Math.abs((r.beta as number) - 1.5), 0) / 700;
    expect(olsOnly.some((r) => r.robust)).toBe(false);
    expect(betaError(rows)).toBeLessThan(0.8 * betaError(olsOnly));
  });

  it('matches with non-default windows too (short windows, odd sizes)', () => {
    const config: Partial<FeatureConfig> = {
      betaWindow: 31, madRatioWindow: 25, zWindow: 27, atrPeriod: 5, atrMedianWindow: 19, halfLifeWindow: 23,
      rhoWindow: 17, corrStabilityWindow: 13, betaStabilityWindow: 11, slopeWindow: 7, rsiPeriod: 6,
      betaHalfLife: 9, zEmaHalfLife: 3, emaFastSpan: 5, emaSlowSpan: 9,
    };
    const { a, b } = syntheticPair({ n: 3_000, seed: 5, kind: 'outliers' });
    const rows = stream(a, b, config);
    expectMatches(rows, reference(a, b, { ...DEFAULT_FEATURE_CONFIG, ...config }));
    expect(rows.some((r) => r.robust)).toBe(true);
  });

  it('each output turns non-null exactly at its documented warm-up bar and never goes back', () => {
    const { a, b } = syntheticPair({ n: 800, seed: 3, kind: 'cointegrated' });
    const rows = stream(a, b);
    const warm = warmupBars(DEFAULT_FEATURE_CONFIG);
    for (const name of OUTPUT_NAMES) {
      const first = rows.findIndex((r) => r[name] !== null);
      expect({ name, first }).toEqual({ name, first: warm[name] });
      expect(rows.slice(first).every((r) => Number.isFinite(r[name]))).toBe(true);
    }
  });
});
