/**
 * Property tests (fast-check) of the feature engine and its building blocks. Engine properties
 * run with short windows so that every output is warm after ~60 bars.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  alphaFromHalfLife, applyNormalizer, Ema, FeatureEngine, fitNormalizer, OUTPUT_NAMES, RollingMedian, RollingPairStats,
  resolveFeatureConfig, RollingStats, RollingTrend, selectMedian, sortedMedian, syntheticPair, warmupBars,
  type FeatureConfig, type FeatureRow, type PairBar,
} from '../../assets/features/engine/index.ts';

const SHORT: Partial<FeatureConfig> = {
  betaWindow: 20, madRatioWindow: 15, zWindow: 16, atrPeriod: 4, atrMedianWindow: 9, halfLifeWindow: 12,
  rhoWindow: 10, corrStabilityWindow: 8, betaStabilityWindow: 10, slopeWindow: 5, rsiPeriod: 4,
  betaHalfLife: 6, zEmaHalfLife: 3, emaFastSpan: 3, emaSlowSpan: 6,
};
const LAST_WARM = Math.max(...Object.values(warmupBars(resolveFeatureConfig(SHORT))));

/** Bars from a log-price path: each step a bounded relative move, wicks ≥ 0. */
const legArb = (n: number) =>
  fc.array(fc.tuple(fc.double({ min: -0.2, max: 0.2, noNaN: true }), fc.double({ min: 0, max: 0.05, noNaN: true })), { minLength: n, maxLength: n });

function toBars(steps: [number, number][], start: number): PairBar[] {
  let p = start;
  return steps.map(([r, wick]) => {
    const prev = p;
    p = p * Math.exp(r);
    return { high: Math.max(prev, p) * (1 + wick), low: Math.min(prev, p) * (1 - wick), close: p };
  });
}

function run(a: readonly PairBar[], b: readonly PairBar[], config: Partial<FeatureConfig> = SHORT): FeatureRow[] {
  const e = new FeatureEngine(config);
  return a.map((bar, i) => e.update(bar, b[i]));
}

function allFiniteOrNull(rows: readonly FeatureRow[]): boolean {
  return rows.every((r) => OUTPUT_NAMES.every((k) => r[k] === null || Number.isFinite(r[k])));
}

const pairArb = (n: number) => fc.tuple(legArb(n), legArb(n), fc.double({ min: 0.01, max: 1e4, noNaN: true }), fc.double({ min: 0.01, max: 1e4, noNaN: true }))
  .map(([sa, sb, pa, pb]) => ({ a: toBars(sa, pa), b: toBars(sb, pb) }));

describe('feature engine properties', () => {
  it('RSI stays in [0, 100], z in [−zClip, zClip], and nothing is NaN/Infinity, on arbitrary paths', () => {
    fc.assert(fc.property(pairArb(LAST_WARM + 40), ({ a, b }) => {
      const rows = run(a, b);
      expect(allFiniteOrNull(rows)).toBe(true);
      for (const r of rows) {
        if (r.rsi_spread !== null) expect(r.rsi_spread >= 0 && r.rsi_spread <= 100).toBe(true);
        if (r.z !== null) expect(Math.abs(r.z)).toBeLessThanOrEqual(5);
        if (r.half_life !== null) expect(r.half_life >= 1 && r.half_life <= 240).toBe(true);
        if (r.rho_rolling !== null) expect(Math.abs(r.rho_rolling)).toBeLessThanOrEqual(1);
      }
      // With the short windows everything is warm by the end.
      for (const k of OUTPUT_NAMES) expect(rows[rows.length - 1][k]).not.toBeNull();
    }), { numRuns: 60 });
  });

  it('an EMA with half-life → 0 is the identity', () => {
    fc.assert(fc.property(fc.double({ min: 0, max: 1e-3, noNaN: true }), fc.array(fc.double({ min: -1e9, max: 1e9, noNaN: true }), { minLength: 1, maxLength: 50 }), (h, xs) => {
      const e = new Ema(alphaFromHalfLife(h));
      const out = xs.map((x) => e.update(x));
      expect(out.every((v, i) => v === xs[i])).toBe(true); // === : −0 and +0 count as equal
    }));
  });

  it('a constant spread gives z = 0 and no NaN/Infinity (flat legs, and an exact linear pair)', () => {
    fc.assert(fc.property(fc.double({ min: 0.01, max: 1e5, noNaN: true }), fc.double({ min: 0.01, max: 1e5, noNaN: true }), (pa, pb) => {
      const bar = (p: number): PairBar => ({ high: p, low: p, close: p });
      const n = LAST_WARM + 20;
      const rows = run(Array.from({ length: n }, () => bar(pa)), Array.from({ length: n }, () => bar(pb)));
      expect(allFiniteOrNull(rows)).toBe(true);
      const last = rows[n - 1];
      expect(last).toMatchObject({ z: 0, delta_z: 0, rsi_spread: 50, half_life: 240, rho_rolling: 0, atr_A: 0, atr_ratio_A: 1, vol_ratio_spread: 1, slope_spread: 0 });
    }));
    fc.assert(fc.property(fc.integer({ min: 1, max: 1e6 }), fc.double({ min: 0.1, max: 10, noNaN: true }), fc.double({ min: 0, max: 100, noNaN: true }), (seed, k, c) => {
      const { b } = syntheticPair({ n: LAST_WARM + 30, seed, kind: 'random-walk' });
      const a = b.map((x) => ({ high: c + k * x.high, low: c + k * x.low, close: c + k * x.close }));
      const rows = run(a, b);
      expect(allFiniteOrNull(rows)).toBe(true);
      // S = P_A − β·P_B = c up to rounding: σ_S is rounding noise, so z is exactly 0.
      for (const r of rows) if (r.z !== null) expect(r.z).toBe(0);
    }), { numRuns: 40 });
  });

  it('β of P_A = k·P_B + small noise ≈ k', () => {
    fc.assert(fc.property(fc.double({ min: 0.2, max: 5, noNaN: true }), fc.integer({ min: 1, max: 1_000_000 }), (k, seed) => {
      const { b } = syntheticPair({ n: 400, seed, kind: 'random-walk' });
      let s = seed;
      const noise = () => ((s = (s * 16807) % 2147483647) / 2147483647 - 0.5) * 1e-4; // ±0.005 % of the price
      const a = b.map((x) => ({ high: k * x.high, low: k * x.low, close: k * x.close * (1 + noise()) }));
      const rows = run(a, b, { betaWindow: 120, betaHalfLife: 4 });
      expect(Math.abs((rows[399].beta as number) - k)).toBeLessThan(1e-2 * k);
    }), { numRuns: 40 });
  });

  it('snapshot → JSON → restore at a random bar continues bit-for-bit', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 399 }), fc.integer({ min: 1, max: 1e6 }), fc.constantFrom('random-walk', 'cointegrated', 'outliers'), (cut, seed, kind) => {
      const { a, b } = syntheticPair({ n: 400, seed, kind: kind as 'outliers' });
      const config = { ...SHORT, madRatioThreshold: 1.5 }; // Huber switches in too
      const whole = run(a, b, config);
      const first = new FeatureEngine(config);
      const head = a.slice(0, cut).map((bar, i) => first.update(bar, b[i]));
      const resumed = FeatureEngine.restore(JSON.parse(JSON.stringify(first.snapshot())));
      const tail = a.slice(cut).map((bar, i) => resumed.update(bar, b[cut + i]));
      expect([...head, ...tail]).toEqual(whole); // toEqual: Object.is on numbers, so bit-for-bit
    }), { numRuns: 25 });
  });

  it('the snapshot is plain JSON data (round-trips unchanged)', () => {
    const { a, b } = syntheticPair({ n: 500, seed: 2, kind: 'outliers' });
    const e = new FeatureEngine(SHORT);
    a.forEach((bar, i) => e.update(bar, b[i]));
    const snap = e.snapshot();
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap);
  });

  it('windows count bars, not time: timestamps and timeframe do not change any value', () => {
    fc.assert(fc.property(pairArb(LAST_WARM + 10), fc.integer({ min: 1, max: 1e6 }), fc.constantFrom('15m', '1h', '4h', 'daily'), ({ a, b }, shiftMin, tf) => {
      const stamp = (bars: PairBar[], step: number, offset: number) => bars.map((x, i) => ({
        ...x, ts_utc: new Date(Date.UTC(2024, 0, 1) + (offset + i * step) * 60_000).toISOString(), timeframe: tf, symbol: 'X',
      }));
      const plain = run(a, b);
      const step = { '15m': 15, '1h': 60, '4h': 240, daily: 1440 }[tf];
      expect(run(stamp(a, step, shiftMin), stamp(b, step, shiftMin))).toEqual(plain);
      // Irregular gaps between bars do not matter either.
      expect(run(stamp(a, step * 7, 0), stamp(b, step * 7, 0))).toEqual(plain);
    }), { numRuns: 20 });
  });
});

describe('rolling primitives', () => {
  it('the rolling (and quickselect) median equals the sort-based median, ties and drifts included', () => {
    const values = fc.oneof(
      fc.array(fc.integer({ min: -3, max: 3 }), { minLength: 1, maxLength: 400, size: 'max' }), // many ties
      fc.array(fc.integer({ min: 0, max: 30 }), { minLength: 1, maxLength: 400, size: 'max' }), // some ties
      fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 400, size: 'max' }),
      // A cumulative sum is a trending path with ties: the median keeps leaving its band.
      fc.array(fc.integer({ min: -1, max: 1 }), { minLength: 1, maxLength: 400, size: 'max' }).map((steps) => {
        let acc = 0;
        return steps.map((d) => (acc += d));
      }),
    );
    fc.assert(fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 6 }), values, (w, halfWidth, path) => {
      const m = new RollingMedian(w, halfWidth);
      path.forEach((x, i) => {
        m.push(x);
        const win = Float64Array.from(path.slice(Math.max(0, i - w + 1), i + 1)).sort();
        const want = sortedMedian(win, win.length) + 0; // + 0: −0 and +0 are the same median
        expect(m.median() + 0).toBe(want);
        const shuffled = Float64Array.from(path.slice(Math.max(0, i - w + 1), i + 1));
        expect(selectMedian(shuffled, shuffled.length) + 0).toBe(want); // the quickselect median too
      });
    }), { numRuns: 300 });
  });

  it('the rolling median restored from a snapshot answers like the original', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 30, maxLength: 200, size: 'max' }), fc.nat(), (xs, cutSeed) => {
      const cut = cutSeed % xs.length;
      const whole = new RollingMedian(17, 2), part = new RollingMedian(17, 2);
      const a = xs.map((x) => (whole.push(x), whole.median()));
      xs.slice(0, cut).forEach((x) => part.push(x));
      const copy = new RollingMedian(17, 2);
      copy.restore(JSON.parse(JSON.stringify(part.snapshot())));
      const b = [...xs.slice(0, cut).map((_, i) => a[i]), ...xs.slice(cut).map((x) => (copy.push(x), copy.median()))];
      expect(b).toEqual(a);
    }));
  });

  it('running sums stay within 1e-12 of an exact recomputation over long streams (drift control)', () => {
    fc.assert(fc.property(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.integer({ min: 2, max: 50 }), fc.integer({ min: 1, max: 1e6 }), (level, w, seed) => {
      let s = seed;
      const rnd = () => (s = (s * 16807) % 2147483647) / 2147483647 - 0.5;
      const stats = new RollingStats(w), pair = new RollingPairStats(w), trend = new RollingTrend(w);
      const xs: number[] = [], ys: number[] = [];
      let walk = level;
      for (let i = 0; i < 5_000; i++) {
        walk += rnd();
        const x = walk, y = 3 * walk + rnd();
        xs.push(x); ys.push(y);
        stats.push(x); pair.push(x, y); trend.push(y);
      }
      const wx = xs.slice(-w), wy = ys.slice(-w);
      const mx = wx.reduce((p, q) => p + q, 0) / w, my = wy.reduce((p, q) => p + q, 0) / w;
      const vx = wx.reduce((p, q) => p + (q - mx) ** 2, 0) / w;
      const cxy = wx.reduce((p, q, i) => p + (q - mx) * (wy[i] - my), 0) / w;
      const jm = (w - 1) / 2;
      const slope = wy.reduce((p, q, j) => p + (j - jm) * (q - my), 0) / wy.reduce((p, _, j) => p + (j - jm) ** 2, 0);
      const close = (got: number, want: number, scale: number) => expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-12 * scale);
      close(stats.mean(), mx, Math.max(1, Math.abs(mx)));
      close(stats.variance(), vx, Math.max(1, vx));
      close(pair.cov(), cxy, Math.max(1, Math.abs(cxy)));
      close(pair.slope(), cxy / vx, Math.max(1, Math.abs(cxy / vx)));
      close(trend.slope(), slope, Math.max(1, Math.abs(slope)));
    }), { numRuns: 30 });
  });
});

describe('normaliser properties', () => {
  it('normalised features stay within the clip, whatever the data, and apply never refits', () => {
    const col = fc.array(fc.oneof(fc.double({ min: -1e12, max: 1e12, noNaN: true }), fc.constant(null)), { minLength: 1, maxLength: 300, size: 'medium' });
    fc.assert(fc.property(col, col, col, (train, other, live) => {
      if (train.every((v) => v === null)) return;
      const rows = train.map((v, i) => ({ f: v, g: other[i % other.length] ?? 1 }));
      const params = fitNormalizer(rows, ['f', 'g']);
      const saved = JSON.parse(JSON.stringify(params));
      expect(saved).toEqual(params); // plain JSON, exactly
      for (const v of [...live, ...train]) {
        const out = applyNormalizer(saved, { f: v, g: 0 });
        if (v === null) expect(out.f).toBeNull();
        else expect(Math.abs(out.f as number)).toBeLessThanOrEqual(5);
      }
      // Applying to other data changes nothing in the saved parameters (no refit).
      expect(saved).toEqual(params);
    }), { numRuns: 100 });
  });
});
