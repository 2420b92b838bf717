/**
 * Training of a group's AI1 (return probability) and AI2 (risk score) models from its dataset
 * (seed 002 時系列CV・評価KPI v1):
 *
 * - expanding walk-forward: a model per 30-day step trained only on what came before (purged),
 *   predicting the next step — these out-of-sample predictions are what θ and the backtest use;
 * - purged K-fold CV for the CV metrics and the out-of-fold scores the isotonic calibrator is
 *   fitted on;
 * - the final models on every label known at the cutoff, boosted for the rounds early stopping
 *   chose on a time-ordered validation split.
 *
 * Every model normalises with parameters fitted on its own training rows only.
 */
import { applyNormalizer, fitNormalizer, type NormalizerParams } from '../features/engine/normalizer.ts';
import { classWeights } from '../labels/engine/weights.ts';
import {
  applyIsotonic, averagePrecision, brierScore, expandingWalkForward, expectedCalibrationError, f1Score, fitIsotonic, predictProba,
  purgedKFold, rocAuc, SEED_CV, SEED_WATCHDOG, trainGbdt,
  type DenseMatrix, type GbdtModel, type GbdtParams, type IsotonicCalibrator, type LabelSpan, type Split,
} from './engine/index.ts';
import type { DatasetRow, GroupDataset } from './dataset.ts';

export type Task = 'ai1' | 'ai2';
export const TASKS: readonly Task[] = ['ai1', 'ai2'];

export interface TrainingParams {
  gbdt: GbdtParams;
  cv: { k: number; purgeBars: number; embargoBars: number; minBlockLenBars: number; wfStepDays: number; wfMinTrainDays: number };
  /** Share of a training window (its latest rows) held out for early stopping and calibration. */
  validationShare: number;
  /** AI1 scores bars with |z| ≥ z_entry (where an event can start). */
  zEntry: number;
  /** Risk threshold θ2 for the AI2 F1 and the low-risk band. */
  riskThreshold: number;
  classWeightMaxRatio: number;
}

export const DEFAULT_GBDT: GbdtParams = {
  numRounds: 300, learningRate: 0.05, maxDepth: 5, numLeaves: 24, minDataInLeaf: 20, minSumHessian: 1e-3,
  lambdaL2: 1, maxBins: 63, featureFraction: 0.9, baggingFraction: 1, earlyStoppingRounds: 50, seed: 7,
};

export function defaultTrainingParams(over: Partial<TrainingParams> = {}): TrainingParams {
  return { gbdt: DEFAULT_GBDT, cv: { ...SEED_CV }, validationShare: 0.2, zEntry: 2, riskThreshold: 0.3, classWeightMaxRatio: 5, ...over };
}

/** A trained, calibrated classifier. */
export interface TaskModel {
  model: GbdtModel;
  calibrator: IsotonicCalibrator;
  bestIteration: number;
  stopReason: string;
  samples: number;
}

export interface OosRow {
  pair: string;
  ts: string;
  close_A: number;
  close_B: number;
  z: number | null;
  beta: number | null;
  /** Calibrated AI1 probability where |z| ≥ z_entry, else null. */
  return_prob: number | null;
  risk_score: number;
  ai1_label: 0 | 1 | null;
  ai2_label: 0 | 1 | null;
}

export type MetricSet = Record<string, number | null>;

export interface TrainedGroup {
  normalizer: NormalizerParams;
  ai1: TaskModel;
  ai2: TaskModel;
  metrics: {
    samples: { ai1: number; ai2: number; bars: number; labels_after_cutoff: number };
    cv: Record<Task, MetricSet & { folds: number }>;
    oos: Record<Task, MetricSet> & { steps: number; from: string | null; to: string | null };
  };
  /** Walk-forward out-of-sample predictions of every bar after the minimum training span. */
  oos: OosRow[];
}

interface Sample { row: DatasetRow; label: 0 | 1; span: LabelSpan }

function samplesOf(ds: GroupDataset, task: Task, zEntry: number): Sample[] {
  const out: Sample[] = [];
  for (const row of ds.rows) {
    const l = row[task];
    if (!l || (task === 'ai1' && !(row.z !== null && Math.abs(row.z) >= zEntry))) continue;
    out.push({ row, label: l.label, span: { t: row.t, lastBarLooked: Math.max(l.last, row.t) } });
  }
  return out;
}

/** Rows as a float32-ready dense matrix of normalised features (NaN = missing). */
export function featureMatrix(rows: readonly DatasetRow[], names: readonly string[], normalizer: NormalizerParams): DenseMatrix {
  const cols = names.length;
  const values = new Float64Array(rows.length * cols);
  rows.forEach((r, i) => {
    const norm = applyNormalizer(normalizer, Object.fromEntries(names.map((n, j) => [n, r.x[j]])));
    for (let j = 0; j < cols; j++) values[i * cols + j] = norm[names[j]] ?? Number.NaN;
  });
  return { values, rows: rows.length, cols };
}

export function fitRowsNormalizer(rows: readonly DatasetRow[], names: readonly string[]): NormalizerParams {
  return fitNormalizer(rows.map((r) => Object.fromEntries(names.map((n, j) => [n, r.x[j]]))), names);
}

/**
 * Trains one task on `train` (time-ordered): its latest `validationShare` stops the boosting early
 * and calibrates; with `refit`, the model is then boosted again on all rows for the chosen rounds.
 */
function trainTask(train: Sample[], names: string[], normalizer: NormalizerParams, p: TrainingParams, refit: boolean): TaskModel {
  const nValid = Math.max(1, Math.floor(train.length * p.validationShare));
  const fit = train.slice(0, train.length - nValid);
  const valid = train.slice(train.length - nValid);
  const weights = classWeights(fit.map((s) => s.label), p.classWeightMaxRatio);
  const data = (xs: Sample[]) => ({
    features: featureMatrix(xs.map((s) => s.row), names, normalizer),
    labels: xs.map((s) => s.label),
    weights: xs.map((s) => weights[s.label]),
  });
  const validData = data(valid);
  const first = trainGbdt(data(fit), p.gbdt, { validation: validData, featureNames: names, watchdog: SEED_WATCHDOG });
  const raw = predictProba(first.model, validData.features);
  const calibrator = fitIsotonic(raw, validData.labels);
  if (!refit || first.stopReason === 'variance_collapse') {
    return { model: first.model, calibrator, bestIteration: first.bestIteration, stopReason: first.stopReason, samples: train.length };
  }
  const all = trainGbdt(data(train), { ...p.gbdt, numRounds: Math.max(1, first.bestIteration) }, { featureNames: names });
  return { model: all.model, calibrator, bestIteration: first.bestIteration, stopReason: first.stopReason, samples: train.length };
}

export function scoreRows(m: TaskModel, rows: readonly DatasetRow[], names: readonly string[], normalizer: NormalizerParams): Float64Array {
  if (rows.length === 0) return new Float64Array(0);
  return applyIsotonic(m.calibrator, predictProba(m.model, featureMatrix(rows, names, normalizer)));
}

function classificationMetrics(task: Task, labels: number[], probs: ArrayLike<number>, riskThreshold: number): MetricSet {
  const n = labels.length;
  const both = n > 0 && labels.some((y) => y === 1) && labels.some((y) => y === 0);
  const m: MetricSet = { n };
  m.positive_rate = n ? labels.reduce((a, b) => a + b, 0) / n : null;
  m.pr_auc = both ? averagePrecision(labels, probs) : null;
  if (task === 'ai1') {
    m.auc = both ? rocAuc(labels, probs) : null;
    m.brier = n ? brierScore(labels, probs) : null;
    m.ece = n ? expectedCalibrationError(labels, probs) : null;
  } else {
    m.f1_weighted = n ? f1Score(labels, probs, riskThreshold, { average: 'weighted' }) : null;
    // Recall of the low-risk band: of the bars that stayed calm, the share scored below θ2.
    let calm = 0, calmLow = 0;
    for (let i = 0; i < n; i++) if (labels[i] === 0) { calm++; if (probs[i] < riskThreshold) calmLow++; }
    m.recall_low_risk = calm ? calmLow / calm : null;
    m.auc = both ? rocAuc(labels, probs) : null;
  }
  return m;
}

/** Days → bars on the dataset's own time axis (bars per calendar day as the data has them). */
function barsForDays(ds: GroupDataset, days: number): number {
  if (ds.times.length < 2) return days;
  const spanDays = (Date.parse(ds.times[ds.times.length - 1]) - Date.parse(ds.times[0])) / 86_400_000;
  return Math.max(1, Math.round((days * ds.times.length) / Math.max(spanDays, 1)));
}

export function trainGroupModels(ds: GroupDataset, p: TrainingParams, progress: (done: number, total: number, message: string) => void = () => {}): TrainedGroup {
  const names = ds.featureNames;
  const samples = { ai1: samplesOf(ds, 'ai1', p.zEntry), ai2: samplesOf(ds, 'ai2', p.zEntry) };
  const spans = (task: Task) => samples[task].map((s) => s.span);
  const minTrainBars = barsForDays(ds, p.cv.wfMinTrainDays);
  const stepBars = barsForDays(ds, p.cv.wfStepDays);
  const wf = { ai1: expandingWalkForward(spans('ai1'), { minTrainBars, stepBars, purgeBars: p.cv.purgeBars }), ai2: expandingWalkForward(spans('ai2'), { minTrainBars, stepBars, purgeBars: p.cv.purgeBars }) };
  const cv = { ai1: purgedKFold(spans('ai1'), p.cv), ai2: purgedKFold(spans('ai2'), p.cv) };
  const steps = Math.max(0, Math.ceil((ds.times.length - minTrainBars) / stepBars));
  const total = steps + cv.ai1.length + cv.ai2.length + 1;
  let done = 0;
  const tick = (message: string) => progress(++done, total, message);

  // Walk-forward: each step's models predict every bar of the next step.
  const byStart = (splits: Split[]) => new Map(splits.map((s) => [s.validBars[0], s]));
  const wfAt = { ai1: byStart(wf.ai1), ai2: byStart(wf.ai2) };
  const oos: OosRow[] = [];
  const oosScores: Record<Task, { labels: number[]; probs: number[] }> = { ai1: { labels: [], probs: [] }, ai2: { labels: [], probs: [] } };
  let rowCursor = 0;
  for (let cut = minTrainBars; cut < ds.times.length; cut += stepBars) {
    const end = Math.min(ds.times.length, cut + stepBars);
    while (rowCursor < ds.rows.length && ds.rows[rowCursor].t < cut) rowCursor++;
    const stepRows: DatasetRow[] = [];
    for (let i = rowCursor; i < ds.rows.length && ds.rows[i].t < end; i++) stepRows.push(ds.rows[i]);
    const models: Partial<Record<Task, { m: TaskModel; normalizer: NormalizerParams }>> = {};
    for (const task of TASKS) {
      const split = wfAt[task].get(cut);
      const train = split ? split.train.map((i) => samples[task][i]) : samples[task].filter((s) => s.span.lastBarLooked < cut - p.cv.purgeBars);
      if (train.length < 50 || new Set(train.map((s) => s.label)).size < 2) continue;
      const normalizer = fitRowsNormalizer(train.map((s) => s.row), names);
      models[task] = { m: trainTask(train, names, normalizer, p, false), normalizer };
    }
    if (models.ai1 && models.ai2) {
      const candidates = stepRows.filter((r) => r.z !== null && Math.abs(r.z) >= p.zEntry);
      const ai1 = scoreRows(models.ai1.m, candidates, names, models.ai1.normalizer);
      const ai2 = scoreRows(models.ai2.m, stepRows, names, models.ai2.normalizer);
      const prob = new Map(candidates.map((r, i) => [r, ai1[i]]));
      stepRows.forEach((r, i) => {
        const returnProb = prob.get(r) ?? null;
        oos.push({ pair: r.pair, ts: r.ts, close_A: r.close_A, close_B: r.close_B, z: r.z, beta: r.beta, return_prob: returnProb, risk_score: ai2[i], ai1_label: r.ai1?.label ?? null, ai2_label: r.ai2?.label ?? null });
        if (returnProb !== null && r.ai1) { oosScores.ai1.labels.push(r.ai1.label); oosScores.ai1.probs.push(returnProb); }
        if (r.ai2) { oosScores.ai2.labels.push(r.ai2.label); oosScores.ai2.probs.push(ai2[i]); }
      });
    }
    tick(`walk-forward step ${ds.times[cut].slice(0, 10)}`);
  }

  // Purged K-fold: CV metrics and the out-of-fold raw scores the final calibrators are fitted on.
  const cvMetrics = {} as TrainedGroup['metrics']['cv'];
  const oof = {} as Record<Task, { scores: number[]; labels: number[] }>;
  for (const task of TASKS) {
    const labels: number[] = [], probs: number[] = [], raw: number[] = [];
    for (const split of cv[task]) {
      const train = split.train.map((i) => samples[task][i]);
      const valid = split.valid.map((i) => samples[task][i]);
      if (train.length >= 50 && valid.length && new Set(train.map((s) => s.label)).size === 2) {
        const normalizer = fitRowsNormalizer(train.map((s) => s.row), names);
        const m = trainTask(train, names, normalizer, p, false);
        const scores = predictProba(m.model, featureMatrix(valid.map((s) => s.row), names, normalizer));
        const calibrated = applyIsotonic(m.calibrator, scores);
        valid.forEach((s, i) => { labels.push(s.label); probs.push(calibrated[i]); raw.push(scores[i]); });
      }
      tick(`${task} fold ${split.validBars.join('–')}`);
    }
    cvMetrics[task] = { ...classificationMetrics(task, labels, probs, p.riskThreshold), folds: cv[task].length };
    oof[task] = { scores: raw, labels };
  }

  // Final models on every known label; calibrated on the out-of-fold scores when CV produced them.
  const normalizer = fitRowsNormalizer(ds.rows, names);
  const final = {} as Record<Task, TaskModel>;
  for (const task of TASKS) {
    const m = trainTask(samples[task], names, normalizer, p, true);
    if (oof[task].labels.length >= 20 && new Set(oof[task].labels).size === 2) m.calibrator = fitIsotonic(oof[task].scores, oof[task].labels);
    final[task] = m;
  }
  tick('final models');

  return {
    normalizer,
    ai1: final.ai1,
    ai2: final.ai2,
    metrics: {
      samples: { ai1: samples.ai1.length, ai2: samples.ai2.length, bars: ds.rows.length, labels_after_cutoff: ds.labelsAfterCutoff },
      cv: cvMetrics,
      oos: {
        ai1: classificationMetrics('ai1', oosScores.ai1.labels, oosScores.ai1.probs, p.riskThreshold),
        ai2: classificationMetrics('ai2', oosScores.ai2.labels, oosScores.ai2.probs, p.riskThreshold),
        steps,
        from: oos[0]?.ts ?? null,
        to: oos.at(-1)?.ts ?? null,
      },
    },
    oos,
  };
}
