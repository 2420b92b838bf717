/**
 * θ1/θ2 search (seed 002 閾値最適化 v1 段階的探索): a coarse grid (step 0.02) over the closed
 * search range, then TPE refinement of 50〜100 trials with early stop after 15 trials without
 * improvement. Every trial is returned — failed ones included (ログ: 失敗試行含む全試行) — with the
 * feasible top-1 and the Pareto set (Sharpe high, MaxDD low) of the feasible trials.
 *
 * The search is a generator that yields the θ it wants evaluated; `optimizeTheta` and
 * `optimizeThetaAsync` drive it with a sync or async evaluator, so both give identical results
 * for the same seed. θ values live on an integer lattice (multiples of `resolution`, default
 * 0.001): grid points are exact (0.74 is 740/1000, not 0.6 + 7·0.02) and repeated θ hit the cache.
 */
import { mulberry32 } from '../../../core/random.ts';
import { describeError } from '../../../core/errors.ts';
import { invalid, THETA_INVALID } from './errors.ts';
import { checkEvaluation, thetaScore, type ThetaEvaluation, type ThetaScore, type ThetaViolation } from './score.ts';
import { SEED_THETA, type Theta, type ThetaRange, type ThetaScoreOptions, type ThetaSearchOptions } from './settings.ts';
import { goodCount, tpeCandidates } from './tpe.ts';

export type ThetaPhase = 'grid' | 'tpe';

export interface ThetaTrial {
  /** Position in `trials` (evaluation order). */
  index: number;
  phase: ThetaPhase;
  theta1: number;
  theta2: number;
  status: 'ok' | 'failed';
  /** null when the evaluation failed (threw or returned something unscorable). */
  score: number | null;
  terms: ThetaScore['terms'] | null;
  feasible: boolean;
  violations: ThetaViolation[];
  fpWarning: boolean;
  evaluation: ThetaEvaluation | null;
  error: { errorId: string; message: string } | null;
  /** Index of the trial whose evaluation was reused (same θ), or null when evaluated now. */
  cachedFrom: number | null;
  /** This trial became the incumbent (feasible first, then score). */
  improved: boolean;
}

export interface ThetaOptimizeOptions {
  range?: ThetaRange;
  score?: Partial<ThetaScoreOptions>;
  search?: Partial<ThetaSearchOptions>;
}

export interface ThetaOptimization {
  /** 'optimal': `best` is the feasible trial with the highest score; 'no_feasible': nothing met the hard constraints. */
  outcome: 'optimal' | 'no_feasible';
  best: ThetaTrial | null;
  /** Why there is no best (null when there is). */
  reason: string | null;
  /** Feasible trials not dominated on (Sharpe ↑, MaxDD ↓), Sharpe descending. */
  pareto: ThetaTrial[];
  trials: ThetaTrial[];
  /** How TPE ended: early stop (patience exhausted past tpeMinTrials) or the tpeMaxTrials budget. */
  stop: 'early_stop' | 'max_trials';
  counts: { grid: number; tpe: number; evaluations: number; cached: number; failed: number; feasible: number };
  seed: number;
  settings: { range: ThetaRange; score: ThetaScoreOptions; search: ThetaSearchOptions };
}

export interface EvaluateContext {
  phase: ThetaPhase;
  /** Index the trial will have in `trials`. */
  trial: number;
}

export type ThetaEvaluator = (theta1: number, theta2: number, ctx: EvaluateContext) => ThetaEvaluation;
export type AsyncThetaEvaluator = (theta1: number, theta2: number, ctx: EvaluateContext) => ThetaEvaluation | Promise<ThetaEvaluation>;

/** What the driver sends back for a requested θ. */
type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };
interface Request extends Theta { ctx: EvaluateContext }

const isInt = (x: number) => Number.isInteger(x);

/** Integer lattice of `resolution` = 1/scale: θ = ticks/scale is the double nearest the decimal. */
function lattice(resolution: number): { scale: number; ticks: (x: number, what: string) => number } {
  const scale = Math.round(1 / resolution);
  if (!(resolution > 0 && resolution <= 1) || Math.abs(scale * resolution - 1) > 1e-9) {
    invalid(`resolution must be 1/N for an integer N (0.001, 0.0025, …), got ${resolution}.`, { resolution });
  }
  return {
    scale,
    ticks: (x, what) => {
      const t = Math.round(x * scale);
      if (!Number.isFinite(x) || Math.abs(t - x * scale) > 1e-6) invalid(`${what} = ${x} is not a multiple of the resolution ${resolution}.`, { [what]: x, resolution });
      return t;
    },
  };
}

function checkSearch(s: ThetaSearchOptions): void {
  const bad = (m: string) => invalid(`θ search: ${m}.`, { search: s });
  if (!(isInt(s.tpeMinTrials) && s.tpeMinTrials >= 0)) bad(`tpeMinTrials must be an integer ≥ 0 (got ${s.tpeMinTrials})`);
  if (!(isInt(s.tpeMaxTrials) && s.tpeMaxTrials >= s.tpeMinTrials)) bad(`tpeMaxTrials must be an integer ≥ tpeMinTrials (got ${s.tpeMaxTrials})`);
  if (!(isInt(s.earlyStopPatience) && s.earlyStopPatience >= 1)) bad(`earlyStopPatience must be an integer ≥ 1 (got ${s.earlyStopPatience})`);
  if (!(s.gamma > 0 && s.gamma <= 1)) bad(`gamma must be in (0, 1] (got ${s.gamma})`);
  if (!(isInt(s.maxGood) && s.maxGood >= 1)) bad(`maxGood must be an integer ≥ 1 (got ${s.maxGood})`);
  if (!(isInt(s.candidates) && s.candidates >= 1)) bad(`candidates must be an integer ≥ 1 (got ${s.candidates})`);
  if (!(s.minImprovement >= 0)) bad(`minImprovement must be ≥ 0 (got ${s.minImprovement})`);
  if (!isInt(s.seed)) bad(`seed must be an integer (got ${s.seed})`);
  if (!(s.gridStep > 0)) bad(`gridStep must be > 0 (got ${s.gridStep})`);
}

/** Grid ticks of one axis: lo, lo+step, … ≤ hi, plus hi itself (the range is closed; 0.85 is off the 0.02 lattice from 0.60). */
function axis(lo: number, hi: number, step: number): number[] {
  const out: number[] = [];
  for (let t = lo; t <= hi; t += step) out.push(t);
  if (out[out.length - 1] !== hi) out.push(hi);
  return out;
}

/** Feasible beats infeasible beats failed; then score. */
function rank(t: ThetaTrial): number {
  return t.status === 'failed' ? 0 : t.feasible ? 2 : 1;
}

function better(a: ThetaTrial, b: ThetaTrial | null, margin: number): boolean {
  if (a.status === 'failed') return false;
  if (b === null) return true;
  if (rank(a) !== rank(b)) return rank(a) > rank(b);
  return (a.score as number) > (b.score as number) + margin;
}

/** b dominates a on (Sharpe ↑, MaxDD ↓). */
export function dominates(b: Pick<ThetaEvaluation, 'sharpe' | 'maxDD'>, a: Pick<ThetaEvaluation, 'sharpe' | 'maxDD'>): boolean {
  return b.sharpe >= a.sharpe && b.maxDD <= a.maxDD && (b.sharpe > a.sharpe || b.maxDD < a.maxDD);
}

/** Non-dominated subset (O(n²); a search has a few hundred trials), Sharpe descending then MaxDD ascending. */
export function paretoFront<T extends { evaluation: Pick<ThetaEvaluation, 'sharpe' | 'maxDD'> | null }>(items: readonly T[]): T[] {
  const withEv = items.filter((t) => t.evaluation !== null);
  const front = withEv.filter((a) => !withEv.some((b) => b !== a && dominates(b.evaluation!, a.evaluation!)));
  return front.sort((x, y) => y.evaluation!.sharpe - x.evaluation!.sharpe || x.evaluation!.maxDD - y.evaluation!.maxDD);
}

function settle(o: ThetaOptimizeOptions): { range: ThetaRange; score: ThetaScoreOptions; search: ThetaSearchOptions } {
  const range = o.range ?? SEED_THETA.range;
  const score = { ...SEED_THETA.score, ...o.score };
  const search = { ...SEED_THETA.search, ...o.search };
  checkSearch(search);
  for (const k of ['theta1', 'theta2'] as const) {
    const r = range[k];
    if (!Array.isArray(r) || r.length !== 2 || !(Number.isFinite(r[0]) && Number.isFinite(r[1]) && r[0] < r[1])) {
      invalid(`range.${k} must be [low, high] with low < high (got ${JSON.stringify(r)}).`, { range });
    }
  }
  return { range, score, search };
}

function* search(o: ThetaOptimizeOptions): Generator<Request, ThetaOptimization, Outcome> {
  const { range, score, search: s } = settle(o);
  const { scale, ticks } = lattice(s.resolution);
  const step = ticks(s.gridStep, 'gridStep');
  const lo1 = ticks(range.theta1[0], 'theta1 low'), hi1 = ticks(range.theta1[1], 'theta1 high');
  const lo2 = ticks(range.theta2[0], 'theta2 low'), hi2 = ticks(range.theta2[1], 'theta2 high');
  if (step < 1) invalid(`gridStep must be at least one resolution step (got ${s.gridStep}).`, { gridStep: s.gridStep });

  const trials: ThetaTrial[] = [];
  const seen = new Map<string, number>(); // "t1,t2" ticks → index of the trial that evaluated it
  let incumbent: ThetaTrial | null = null;

  // One trial at lattice point (a, b): from the cache, or by asking the driver.
  function* trial(a: number, b: number, phase: ThetaPhase): Generator<Request, ThetaTrial, Outcome> {
    const index = trials.length;
    const theta1 = a / scale, theta2 = b / scale;
    const key = `${a},${b}`;
    const hit = seen.get(key);
    let t: ThetaTrial;
    if (hit !== undefined) {
      t = { ...trials[hit], index, phase, cachedFrom: hit, improved: false };
    } else {
      const out: Outcome = yield { theta1, theta2, ctx: { phase, trial: index } };
      t = { index, phase, theta1, theta2, status: 'failed', score: null, terms: null, feasible: false, violations: [], fpWarning: false, evaluation: null, error: null, cachedFrom: null, improved: false };
      try {
        if (!out.ok) throw out.error;
        checkEvaluation(out.value);
        const sc = thetaScore(out.value, score);
        t = { ...t, status: 'ok', score: sc.score, terms: sc.terms, feasible: sc.feasible, violations: sc.violations, fpWarning: sc.fpWarning, evaluation: out.value };
      } catch (e) {
        const d = describeError(e, THETA_INVALID);
        t.error = { errorId: d.errorId, message: d.message };
      }
      seen.set(key, index);
    }
    if (better(t, incumbent, phase === 'tpe' ? s.minImprovement : 0)) {
      t.improved = true;
      incumbent = t;
    }
    trials.push(t);
    return t;
  }

  // Phase 1: coarse grid, θ1 outer, θ2 inner.
  const g1 = axis(lo1, hi1, step), g2 = axis(lo2, hi2, step);
  for (const a of g1) for (const b of g2) yield* trial(a, b, 'grid');
  const gridCount = trials.length;

  // Phase 2: TPE over the same box, observations = every distinct θ evaluated so far.
  const rand = mulberry32(s.seed);
  const bounds = [[range.theta1[0], range.theta1[1]], [range.theta2[0], range.theta2[1]]] as const;
  const snap = (x: number[]) => [
    Math.min(hi1, Math.max(lo1, Math.round(x[0] * scale))) / scale,
    Math.min(hi2, Math.max(lo2, Math.round(x[1] * scale))) / scale,
  ];
  let tpe = 0, since = 0;
  let stop: ThetaOptimization['stop'] = 'max_trials';
  while (tpe < s.tpeMaxTrials) {
    if (tpe >= s.tpeMinTrials && since >= s.earlyStopPatience) {
      stop = 'early_stop';
      break;
    }
    // Best first; ties keep evaluation order so the split is deterministic.
    const observed = trials.filter((t) => t.cachedFrom === null)
      .sort((x, y) => rank(y) - rank(x) || (y.score ?? 0) - (x.score ?? 0) || x.index - y.index);
    const nGood = goodCount(observed.length, s.gamma, s.maxGood);
    const pt = (t: ThetaTrial) => [t.theta1, t.theta2];
    const { candidates } = tpeCandidates(observed.slice(0, nGood).map(pt), observed.slice(nGood).map(pt), bounds, s.candidates, rand, snap);
    // Highest l/g among points not evaluated yet; only when every candidate is a repeat, take the repeat (a cache hit).
    const key = (x: number[]) => `${Math.round(x[0] * scale)},${Math.round(x[1] * scale)}`;
    let pick = candidates[0];
    let fresh = !seen.has(key(pick.x));
    for (const c of candidates.slice(1)) {
      const f = !seen.has(key(c.x));
      if ((f && !fresh) || (f === fresh && c.acquisition > pick.acquisition)) {
        pick = c;
        fresh = f;
      }
    }
    const t = yield* trial(Math.round(pick.x[0] * scale), Math.round(pick.x[1] * scale), 'tpe');
    tpe++;
    since = t.improved ? 0 : since + 1;
  }

  const feasible = trials.filter((t) => t.status === 'ok' && t.feasible && t.cachedFrom === null);
  let best: ThetaTrial | null = null;
  for (const t of feasible) if (best === null || (t.score as number) > (best.score as number)) best = t;
  const failed = trials.filter((t) => t.status === 'failed' && t.cachedFrom === null).length;
  let reason: string | null = null;
  if (best === null) {
    const ok = trials.filter((t) => t.status === 'ok' && t.cachedFrom === null);
    const dd = ok.filter((t) => t.violations.includes('max_dd')).length;
    const tr = ok.filter((t) => t.violations.includes('trades_per_year')).length;
    const distinct = trials.length - trials.filter((t) => t.cachedFrom !== null).length;
    const firstError = trials.find((t) => t.error)?.error;
    reason = `no feasible θ: none of ${distinct} evaluated θ met MaxDD ≤ ${score.maxDd} and trades/yr ≥ ${score.tradesPerYearMin}`
      + ` (MaxDD violated ${dd}×, trades/yr violated ${tr}×, failed ${failed}×${firstError ? `; first failure: ${firstError.errorId} ${firstError.message}` : ''}).`;
  }
  const cached = trials.filter((t) => t.cachedFrom !== null).length;
  return {
    outcome: best ? 'optimal' : 'no_feasible',
    best,
    reason,
    pareto: paretoFront(feasible),
    trials,
    stop,
    counts: { grid: gridCount, tpe, evaluations: trials.length - cached, cached, failed, feasible: feasible.length },
    seed: s.seed,
    settings: { range, score, search: s },
  };
}

const isThenable = (v: unknown): v is PromiseLike<unknown> => typeof (v as { then?: unknown } | null)?.then === 'function';

/** Grid + TPE search with a synchronous evaluator. A throwing evaluator makes a failed trial, not a failed search. */
export function optimizeTheta(evaluate: ThetaEvaluator, opts: ThetaOptimizeOptions = {}): ThetaOptimization {
  const gen = search(opts);
  let step = gen.next();
  while (!step.done) {
    const { theta1, theta2, ctx } = step.value;
    let out: Outcome;
    try {
      out = { ok: true, value: evaluate(theta1, theta2, ctx) };
    } catch (error) {
      out = { ok: false, error };
    }
    // A wiring mistake, not a failed trial: every trial would "fail" the same way.
    if (out.ok && isThenable(out.value)) {
      Promise.resolve(out.value).catch(() => {});
      invalid('The evaluator returned a Promise; use optimizeThetaAsync for asynchronous evaluation.');
    }
    step = gen.next(out);
  }
  return step.value;
}

/** Same search, awaiting each evaluation in turn (trials are sequential: TPE needs every previous result). */
export async function optimizeThetaAsync(evaluate: AsyncThetaEvaluator, opts: ThetaOptimizeOptions = {}): Promise<ThetaOptimization> {
  const gen = search(opts);
  let step = gen.next();
  while (!step.done) {
    const { theta1, theta2, ctx } = step.value;
    let out: Outcome;
    try {
      out = { ok: true, value: await evaluate(theta1, theta2, ctx) };
    } catch (error) {
      out = { ok: false, error };
    }
    step = gen.next(out);
  }
  return step.value;
}
