/**
 * Huber M-estimate of y = alpha + beta·x by iteratively reweighted least squares (IRLS).
 *
 * The scale is fixed once from the warm-start residuals, s = 1.4826·median(|r|) (the normal-
 * consistent MAD about zero; an intercept fit centres residuals near zero), and the threshold is
 * k = kFactor·s. With a fixed scale the Huber loss is convex, so IRLS from a warm start (the
 * previous bar's fit, already close) converges in ~10–15 iterations to 1e−12; `maxIter` bounds it.
 * Each iteration is one pass: residuals, weights and the weighted moments together, on data
 * centred at the window means so that the moments do not cancel.
 */
import { selectMedian } from './median.ts';

export const MAD_TO_SIGMA = 1.4826;

export class HuberSolver {
  alpha = 0;
  beta = 0;
  iterations = 0;
  private readonly abs: Float64Array;

  constructor(capacity: number) {
    this.abs = new Float64Array(capacity);
  }

  /**
   * Fits over x[0..n), y[0..n) starting from (alpha0, beta0). Returns false (result unusable, keep
   * OLS) when the residual scale is zero or the weighted x has no spread.
   */
  fit(x: Float64Array, y: Float64Array, n: number, alpha0: number, beta0: number, kFactor: number, maxIter: number, tol: number): boolean {
    const abs = this.abs;
    let mx = 0, my = 0;
    for (let i = 0; i < n; i++) { mx += x[i]; my += y[i]; }
    mx /= n;
    my /= n;
    let a = alpha0, b = beta0;
    for (let i = 0; i < n; i++) abs[i] = Math.abs(y[i] - (a + b * x[i]));
    const scale = MAD_TO_SIGMA * selectMedian(abs, n);
    if (!(scale > 0)) return false;
    const k = kFactor * scale;

    let iter = 0;
    while (iter < maxIter) {
      iter++;
      // In centred coordinates y − my = c + b·(x − mx), with c = a + b·mx − my.
      const c = a + b * mx - my;
      let sw = 0, swx = 0, swy = 0, swxx = 0, swxy = 0;
      for (let i = 0; i < n; i++) {
        const dx = x[i] - mx, dy = y[i] - my;
        const ar = Math.abs(dy - (c + b * dx));
        const w = ar <= k ? 1 : k / ar;
        sw += w;
        swx += w * dx;
        swy += w * dy;
        swxx += w * dx * dx;
        swxy += w * dx * dy;
      }
      const wx = swx / sw, wy = swy / sw;
      const sxx = swxx - swx * wx;
      if (!(sxx > 0)) return false;
      const nb = (swxy - swx * wy) / sxx;
      const na = my + wy - nb * (mx + wx);
      const done = Math.abs(nb - b) <= tol * Math.max(1, Math.abs(nb)) && Math.abs(na - a) <= tol * Math.max(1, Math.abs(na));
      a = na;
      b = nb;
      if (done) break;
    }
    this.alpha = a;
    this.beta = b;
    this.iterations = iter;
    return true;
  }
}
