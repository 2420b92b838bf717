/** Isotonic calibration: monotone, equal to an independent isotonic formula, identity on monotone data. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MODEL_INVALID, applyIsotonic, fitIsotonic, isotonicFromJSON, isotonicToJSON, isotonicValue,
} from '../../assets/models/engine/index.ts';

/**
 * Isotonic regression by the min–max formula (no pooling): at the i-th distinct x, the fit is
 * max over j ≤ i of min over k ≥ i of the weighted mean of y over distinct x's j..k.
 */
function minMaxIsotonic(x: number[], y: number[], w: number[]): Map<number, number> {
  const xs = [...new Set(x)].sort((a, b) => a - b);
  const sumWY = xs.map((v) => x.reduce((s, xi, i) => s + (xi === v ? w[i] * y[i] : 0), 0));
  const sumW = xs.map((v) => x.reduce((s, xi, i) => s + (xi === v ? w[i] : 0), 0));
  const fit = new Map<number, number>();
  xs.forEach((v, i) => {
    let best = -Infinity;
    for (let j = 0; j <= i; j++) {
      let lowest = Infinity;
      for (let k = i; k < xs.length; k++) {
        let num = 0;
        let den = 0;
        for (let m = j; m <= k; m++) {
          num += sumWY[m];
          den += sumW[m];
        }
        lowest = Math.min(lowest, num / den);
      }
      best = Math.max(best, lowest);
    }
    fit.set(v, best);
  });
  return fit;
}

const sample = fc.array(
  fc.record({
    x: fc.integer({ min: 0, max: 8 }).map((v) => v / 4), // few distinct values: ties
    y: fc.oneof(fc.constantFrom(0, 1), fc.double({ min: 0, max: 1, noNaN: true })),
    w: fc.oneof(fc.constant(1), fc.double({ min: 0.1, max: 5, noNaN: true })),
  }),
  { minLength: 1, maxLength: 14 },
);

describe('fitIsotonic', () => {
  it('is non-decreasing everywhere and stays within the range of y', () => {
    fc.assert(
      fc.property(sample, fc.array(fc.double({ min: -1, max: 3, noNaN: true }), { maxLength: 30 }), (points, queries) => {
        const cal = fitIsotonic(points.map((p) => p.x), points.map((p) => p.y), points.map((p) => p.w));
        const sorted = [...queries, ...cal.x].sort((a, b) => a - b);
        const out = applyIsotonic(cal, sorted);
        for (let i = 1; i < out.length; i++) expect(out[i]).toBeGreaterThanOrEqual(out[i - 1]);
        const ys = points.map((p) => p.y);
        for (const v of out) {
          expect(v).toBeGreaterThanOrEqual(Math.min(...ys) - 1e-12);
          expect(v).toBeLessThanOrEqual(Math.max(...ys) + 1e-12);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('equals the min–max isotonic formula at every fitted score', () => {
    fc.assert(
      fc.property(sample, (points) => {
        const x = points.map((p) => p.x);
        const y = points.map((p) => p.y);
        const w = points.map((p) => p.w);
        const cal = fitIsotonic(x, y, w);
        for (const [xi, expected] of minMaxIsotonic(x, y, w)) expect(isotonicValue(cal, xi)).toBeCloseTo(expected, 10);
      }),
      { numRuns: 300 },
    );
  });

  it('returns already-monotone data unchanged', () => {
    fc.assert(
      // SameValueZero: 0 and -0 are one score (a tie the fit pools), so they must not both appear here.
      fc.property(fc.uniqueArray(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: 1, maxLength: 20, comparator: 'SameValueZero' }), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 20, maxLength: 20 }), (xs, ys) => {
        const x = [...xs].sort((a, b) => a - b);
        const y = ys.slice(0, x.length).sort((a, b) => a - b);
        const cal = fitIsotonic(x, y);
        expect(Array.from(applyIsotonic(cal, x))).toEqual(y);
      }),
      { numRuns: 200 },
    );
  });

  it('interpolates linearly between block means and clips outside the fitted range', () => {
    // y at x = 1, 2 violates order and pools to 0.5.
    const cal = fitIsotonic([0, 1, 2, 3], [0, 1, 0, 1]);
    expect(cal).toEqual({ kind: 'isotonic', x: [0, 1, 2, 3], y: [0, 0.5, 0.5, 1] });
    expect(Array.from(applyIsotonic(cal, [-1, 0.5, 1.5, 2.5, 9, NaN]))).toEqual([0, 0.25, 0.5, 0.75, 1, NaN]);
    // Weights pull the pooled mean: (3·1 + 1·0) / 4.
    expect(fitIsotonic([1, 2], [1, 0], [3, 1]).y).toEqual([0.75, 0.75]);
  });

  it('round-trips through JSON and rejects a non-monotone calibrator', () => {
    const cal = fitIsotonic([0.1, 0.4, 0.35, 0.8, 0.9], [0, 1, 0, 1, 1]);
    expect(isotonicFromJSON(isotonicToJSON(cal))).toEqual(cal);
    expect(() => isotonicFromJSON({ kind: 'isotonic', x: [0, 1], y: [1, 0] })).toThrow(expect.objectContaining({ errorId: MODEL_INVALID }));
    expect(() => fitIsotonic([0, NaN], [0, 1])).toThrow(expect.objectContaining({ errorId: MODEL_INVALID }));
  });
});
