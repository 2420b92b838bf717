import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../core/random.ts';
import { fitParzen, goodCount, parzenLogPdf, sampleParzen, tpeCandidates, type Bounds } from '../../assets/theta/engine/index.ts';

const BOX: Bounds = [[0.6, 0.85], [0.2, 0.45]];

/** Midpoint-rule integral of exp(logpdf) over the box. */
function integrate(logPdf: (x: number[]) => number, n = 400): number {
  const [[a0, a1], [b0, b1]] = BOX;
  const ha = (a1 - a0) / n, hb = (b1 - b0) / n;
  let s = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) s += Math.exp(logPdf([a0 + (i + 0.5) * ha, b0 + (j + 0.5) * hb]));
  return s * ha * hb;
}

describe('Parzen estimator (TPE densities)', () => {
  it('is a density on the box: truncated kernels integrate to 1, even with points on the edges', () => {
    for (const pts of [[[0.7, 0.3]], [[0.6, 0.2], [0.85, 0.45], [0.61, 0.44]], [[0.72, 0.31], [0.73, 0.33], [0.74, 0.32], [0.8, 0.25]], []]) {
      const p = fitParzen(pts, BOX);
      expect(integrate((x) => parzenLogPdf(p, x))).toBeCloseTo(1, 3);
    }
  });

  it('samples stay inside the bounds and concentrate on the kernels', () => {
    const p = fitParzen([[0.6, 0.2], [0.61, 0.21], [0.6, 0.22]], BOX);
    const rand = mulberry32(5);
    const xs = Array.from({ length: 4000 }, () => sampleParzen(p, rand));
    expect(xs.every(([a, b]) => a >= 0.6 && a <= 0.85 && b >= 0.2 && b <= 0.45)).toBe(true);
    // 3 of 4 mixture components sit in the corner; the uniform prior puts only ~2 % there.
    const corner = xs.filter(([a, b]) => a < 0.65 && b < 0.25).length / xs.length;
    expect(corner).toBeGreaterThan(0.6);
  });

  it('splits ⌈γ·√n⌉ trials into the good set (≥ 1, capped)', () => {
    expect(goodCount(196, 0.25, 25)).toBe(4);
    expect(goodCount(1, 0.25, 25)).toBe(1);
    expect(goodCount(10_000, 0.25, 25)).toBe(25);
    expect(goodCount(10_000, 0.25, 10)).toBe(10);
  });

  it('candidates near good points score a higher l/g than those near bad points', () => {
    const good = [[0.7, 0.3], [0.71, 0.31]];
    const bad = [[0.8, 0.4], [0.81, 0.41], [0.62, 0.22], [0.83, 0.25]];
    const { candidates } = tpeCandidates(good, bad, BOX, 200, mulberry32(1));
    const near = (c: { x: number[] }, p: number[]) => Math.hypot(c.x[0] - p[0], c.x[1] - p[1]) < 0.02;
    const nearGood = candidates.filter((c) => near(c, [0.705, 0.305]));
    const nearBad = candidates.filter((c) => near(c, [0.805, 0.405]));
    expect(nearGood.length).toBeGreaterThan(0);
    const best = candidates.reduce((a, b) => (b.acquisition > a.acquisition ? b : a));
    expect(near(best, [0.705, 0.305])).toBe(true);
    for (const b of nearBad) expect(b.acquisition).toBeLessThan(Math.min(...nearGood.map((g) => g.acquisition)));
  });
});
