/**
 * Tree-structured Parzen Estimator (Bergstra et al. 2011, the sampler Optuna's TPE is built on),
 * written for a small bounded box:
 *
 * - the observed trials, ranked best first, are split into the ⌈γ·√n⌉ "good" ones and the "bad" rest;
 * - each group becomes a Parzen density: an equal-weight mixture of one product of Gaussian kernels
 *   per observation (truncated to the bounds, so no mass leaks outside the box) plus one uniform
 *   prior component over the box (keeps g(x) > 0 and lets l(x) explore);
 * - candidates are drawn from l(x) and the one with the largest l(x)/g(x) is proposed.
 *
 * Kernels are joint over the dimensions (Optuna's `multivariate=True`), so an interaction between
 * θ1 and θ2 — e.g. a diagonal ridge or an infeasible corner — is followed rather than averaged away.
 */

export type Bounds = ReadonlyArray<readonly [number, number]>;

export interface Parzen {
  /** One row per kernel component (observation), one column per dimension. */
  means: number[][];
  /** Kernel bandwidth per dimension (shared by all components of this density). */
  bandwidths: number[];
  bounds: Bounds;
}

const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

/** erf by Abramowitz–Stegun 7.1.26 (|error| < 1.5e-7): only normalises the truncated kernels. */
function erf(x: number): number {
  const s = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a);
  return s * y;
}

const phi = (z: number) => 0.5 * (1 + erf(z / Math.SQRT2));

function logSumExp(xs: number[]): number {
  let m = -Infinity;
  for (const x of xs) if (x > m) m = x;
  if (m === -Infinity) return -Infinity;
  let s = 0;
  for (const x of xs) s += Math.exp(x - m);
  return m + Math.log(s);
}

/**
 * Scott's rule per dimension, 1.06·sd·n^(−1/5), kept within [width/100, width]: narrow enough to
 * refine between coarse grid points once the good trials cluster, never a spike on one point.
 */
function bandwidth(values: number[], lo: number, hi: number): number {
  const width = hi - lo;
  const n = values.length;
  if (n < 2) return width / 10;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
  return Math.min(width, Math.max(width / 100, 1.06 * sd * n ** -0.2));
}

export function fitParzen(points: ReadonlyArray<readonly number[]>, bounds: Bounds): Parzen {
  const means = points.map((p) => [...p]);
  const bandwidths = bounds.map(([lo, hi], d) => bandwidth(means.map((m) => m[d]), lo, hi));
  return { means, bandwidths, bounds };
}

/** log density of the mixture (kernels + uniform prior, equal weights) at x. */
export function parzenLogPdf(p: Parzen, x: readonly number[]): number {
  const k = p.means.length + 1;
  const terms: number[] = [];
  let logPrior = 0;
  for (const [lo, hi] of p.bounds) logPrior -= Math.log(hi - lo);
  terms.push(logPrior);
  for (const m of p.means) {
    let lp = 0;
    for (let d = 0; d < p.bounds.length; d++) {
      const [lo, hi] = p.bounds[d];
      const h = p.bandwidths[d];
      const z = (x[d] - m[d]) / h;
      const mass = Math.max(1e-300, phi((hi - m[d]) / h) - phi((lo - m[d]) / h));
      lp += -0.5 * z * z - LOG_SQRT_2PI - Math.log(h) - Math.log(mass);
    }
    terms.push(lp);
  }
  return logSumExp(terms) - Math.log(k);
}

function gaussian(rand: () => number): number {
  // Box–Muller; 1 − u keeps the log argument in (0, 1].
  const u1 = 1 - rand();
  const u2 = rand();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/** One draw from the mixture; truncated kernels by rejection (each kernel's mean is inside the box, so ≥ ~half its mass is). */
export function sampleParzen(p: Parzen, rand: () => number): number[] {
  const c = Math.floor(rand() * (p.means.length + 1));
  if (c >= p.means.length) return p.bounds.map(([lo, hi]) => lo + rand() * (hi - lo));
  const m = p.means[c];
  return p.bounds.map(([lo, hi], d) => {
    for (let attempt = 0; attempt < 64; attempt++) {
      const x = m[d] + p.bandwidths[d] * gaussian(rand);
      if (x >= lo && x <= hi) return x;
    }
    return Math.min(hi, Math.max(lo, m[d]));
  });
}

/**
 * Size of the good set: ⌈γ·√n⌉ (the original TPE / hyperopt rule, γ = 0.25), at least 1, at most
 * maxGood. Not Optuna's ⌈0.1·n⌉: the refinement starts from ~200 grid trials, and a good set of
 * 20 grid points spread over the bump makes l/g favour wherever bad points are sparse (the box
 * edges) rather than the peak; 4 good points out of 200 keep it on the peak.
 */
export function goodCount(n: number, gamma: number, maxGood: number): number {
  return Math.max(1, Math.min(maxGood, Math.ceil(gamma * Math.sqrt(n))));
}

export interface TpeProposal {
  /** Candidates in draw order with their acquisition value log l(x) − log g(x). */
  candidates: Array<{ x: number[]; acquisition: number }>;
}

/**
 * Draws `count` candidates from l (fitted on `good`) and scores each by log l − log g (g fitted on
 * `bad`). `snap` maps a raw draw onto the evaluable lattice before scoring, so the score is the
 * score of the point that will actually be evaluated.
 */
export function tpeCandidates(
  good: ReadonlyArray<readonly number[]>, bad: ReadonlyArray<readonly number[]>, bounds: Bounds,
  count: number, rand: () => number, snap: (x: number[]) => number[] = (x) => x,
): TpeProposal {
  const l = fitParzen(good, bounds);
  const g = fitParzen(bad, bounds);
  const candidates: TpeProposal['candidates'] = [];
  for (let i = 0; i < count; i++) {
    const x = snap(sampleParzen(l, rand));
    candidates.push({ x, acquisition: parzenLogPdf(l, x) - parzenLogPdf(g, x) });
  }
  return { candidates };
}
