/**
 * The rolling-median building blocks behind the engine's fast path: RollingMedian's typed-array
 * entry points (pushFrom/medianTo) and its default band, RollingMedianPivot's O(1) certificates,
 * and the engine's MAD-ratio gate, which decides "ratio > threshold" from a pivot count instead
 * of the median and must decide exactly as the ratio itself would.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FeatureEngine, MAD_TO_SIGMA, RollingMedian, RollingMedianPivot, robustWarmupBar, resolveFeatureConfig, sortedMedian, syntheticPair,
  type FeatureConfig, type SyntheticKind,
} from '../../assets/features/engine/index.ts';

function windowMedian(path: readonly number[], i: number, w: number): number {
  const win = Float64Array.from(path.slice(Math.max(0, i - w + 1), i + 1)).sort();
  return sortedMedian(win, win.length) + 0; // + 0: −0 and +0 are the same median
}

const paths = fc.oneof(
  fc.array(fc.integer({ min: -3, max: 3 }), { minLength: 1, maxLength: 500, size: 'max' }), // many ties
  fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 500, size: 'max' }),
  // Trending and oscillating paths make the band slide both ways (and its guessed ranges miss).
  fc.array(fc.double({ min: -1, max: 1.2, noNaN: true }), { minLength: 1, maxLength: 500, size: 'max' }).map((steps) => {
    let acc = 0;
    return steps.map((d) => (acc += d));
  }),
  fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 500, size: 'max' }).map((xs) => xs.map((x, i) => Math.sin(i / 9) * 100 + x / 100)),
);

describe('RollingMedian (default band width)', () => {
  it('push/median and pushFrom/medianTo both give the sort-based median, on any path', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 200 }), paths, (w, path) => {
      const a = new RollingMedian(w), b = new RollingMedian(w);
      const src = new Float64Array(1), dst = new Float64Array(2);
      path.forEach((x, i) => {
        a.push(x);
        src[0] = x;
        b.pushFrom(src, 0);
        b.medianTo(dst, 1);
        const want = windowMedian(path, i, w);
        expect(a.median() + 0).toBe(want);
        expect(dst[1] + 0).toBe(want);
      });
    }), { numRuns: 200 });
  });

  it('a median asked only now and then (the band drifts between asks) is still exact', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 200 }), paths, fc.integer({ min: 1, max: 40 }), (w, path, every) => {
      const m = new RollingMedian(w);
      path.forEach((x, i) => {
        m.push(x);
        if (i % every === 0 || i === path.length - 1) expect(m.median() + 0).toBe(windowMedian(path, i, w));
      });
    }), { numRuns: 200 });
  });
});

describe('RollingMedianPivot', () => {
  it('its certificates never contradict the exact median, and median() is exact', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 60 }), paths, fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: 1, maxLength: 8 }), (w, path, offsets) => {
      const m = new RollingMedianPivot(w);
      path.forEach((x, i) => {
        m.push(x);
        const want = windowMedian(path, i, w);
        if (i % 7 === 0) m.setPivot(Math.abs(want + offsets[i % offsets.length])); // pivots near and far from the median
        const p = m.pivot;
        if (m.medianAtLeastPivot()) expect(want >= p).toBe(true);
        if (m.medianAtMostPivot()) expect(want <= p).toBe(true);
        if (i % 11 === 0) expect(m.median() + 0).toBe(want);
      });
    }), { numRuns: 200 });
  });

  it('without a pivot it certifies nothing, and a snapshot restores the window (not the pivot)', () => {
    const m = new RollingMedianPivot(5);
    [3, 1, 4, 1, 5, 9, 2].forEach((x) => m.push(x));
    expect(m.medianAtLeastPivot()).toBe(false);
    expect(m.medianAtMostPivot()).toBe(false);
    m.setPivot(4); // window 4 1 5 9 2, median 4: two values below the pivot
    expect(m.medianAtLeastPivot()).toBe(true);
    expect(m.medianAtMostPivot()).toBe(false);
    m.setPivot(4.5); // three below: the median is ≤ 4.5
    expect(m.medianAtLeastPivot()).toBe(false);
    expect(m.medianAtMostPivot()).toBe(true);
    const copy = new RollingMedianPivot(5);
    copy.restore(JSON.parse(JSON.stringify(m.snapshot())));
    expect(Number.isNaN(copy.pivot)).toBe(true);
    expect(copy.median()).toBe(m.median());
  });
});

describe('the engine decides "MAD ratio > threshold" exactly as the ratio itself would', () => {
  // The ratio of bar t, recomputed from the |e| ring and Σe² saved in the snapshot after bar t.
  function madRatio(e: FeatureEngine): number {
    const { residSq, residAbs } = e.snapshot().state;
    const meanSq = Math.max(0, residSq.total / residSq.n);
    const abs = Float64Array.from(residAbs.ring.slice(0, residAbs.n)).sort();
    const mad = MAD_TO_SIGMA * sortedMedian(abs, abs.length);
    return mad > 0 ? Math.sqrt(meanSq) / mad : meanSq > 0 ? Infinity : 1;
  }

  for (const kind of ['cointegrated', 'outliers', 'random-walk'] as SyntheticKind[]) {
    it(`${kind}: thresholds near and far from the typical ratio`, () => {
      const config: Partial<FeatureConfig> = { betaWindow: 40, madRatioWindow: 30 };
      const warm = robustWarmupBar(resolveFeatureConfig(config));
      const { a, b } = syntheticPair({ n: 1_500, seed: 9, kind });
      for (const madRatioThreshold of [1.02, 1.1, 1.25, 1.5, 2, 4]) {
        const e = new FeatureEngine({ ...config, madRatioThreshold });
        let robust = 0;
        a.forEach((bar, i) => {
          const row = e.update(bar, b[i]);
          if (i < warm) return;
          expect(row.robust).toBe(madRatio(e) > madRatioThreshold);
          if (row.robust) robust++;
        });
        if (madRatioThreshold === 1.02) expect(robust).toBeGreaterThan(0); // both answers occur
      }
    });
  }
});
