/**
 * GBDT training speed and quality against XGBoost: 1,000,000 synthetic training rows × 22
 * features (a known nonlinear signal with interactions, noise features, missing values; seeded)
 * plus 200,000 held-out rows. The same float32 data goes to bench/gbdt_xgboost.py as raw binary
 * (numpy.fromfile), which trains XGBoost `tree_method="hist"` with matched settings: depth 6,
 * 100 rounds, learning rate 0.1, 255 bins, λ = 1, min_child_weight = minSumHessian = 1, no row or
 * column subsampling, and one thread (our trainer is single-threaded).
 * value = our training seconds (wall clock, trainGbdt including its binning), baseline = XGBoost's
 * (xgb.train including its quantile sketch; DMatrix construction excluded, as is our data
 * generation), ratio = baseline / value. `baseline_default_threads` is XGBoost with all cores.
 * AUCs of both on the held-out rows come from the same rocAuc. Goal: ratio ≥ 0.5 (ours within 2×
 * of XGBoost) and |auc_diff| ≤ 0.01.
 *
 * Needs Debian's XGBoost: `apt-get install python3-xgboost` (as root); it runs /usr/bin/python3
 * because the default python3 may be a pyenv shim without it.
 * GBDT_BENCH_TRAIN_ROWS overrides the training rows (for quick profiling runs).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mulberry32 } from '../core/random.ts';
import { predictProba, rocAuc, trainGbdt, type GbdtModel, type GbdtParams } from '../assets/models/engine/index.ts';
import type { BenchResult } from './run.ts';
import { timed } from './timing.ts';

export const PYTHON = '/usr/bin/python3';
export const GBDT_BENCH_COLS = 22;

export interface GbdtBenchData {
  /** Row-major float32 features, NaN = missing. */
  values: Float32Array;
  labels: Uint8Array;
  rows: number;
  cols: number;
}

/**
 * `rows` seeded rows of 22 features: x0–x7 uniform in [−1, 1], x8–x11 standard normal, x12 an
 * integer 0–9, x13 an integer 0–3, x14–x21 pure noise (4 uniform, 4 normal). Log-odds
 * 1.0·x0 − 0.8·x1 + 1.6·[x2 > 0.2]·x3 + 0.9·sin(3·x4) + 0.8·x5·x6 + 0.4·x8 + 0.3·(x9² − 1)
 * + 0.6·[x12 ∈ {2, 7}] − 0.3·x13 + 0.5·[x10 > 1]·[x11 < 0] + 0.2: thresholds, interactions and
 * curvature. Missing: x1 in 10% of rows, x5 in 5%, x9 in 15% (missing x9 adds +0.4 to the
 * log-odds: informative missingness), x15 in 20%, x20 in 30%.
 */
export function gbdtBenchData(rows: number, seed: number): GbdtBenchData {
  const cols = GBDT_BENCH_COLS;
  const random = mulberry32(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const values = new Float32Array(rows * cols);
  const labels = new Uint8Array(rows);
  const x = new Float64Array(cols);
  for (let i = 0; i < rows; i++) {
    for (let f = 0; f < 8; f++) x[f] = 2 * random() - 1;
    for (let f = 8; f < 12; f++) x[f] = normal();
    x[12] = Math.floor(10 * random());
    x[13] = Math.floor(4 * random());
    for (let f = 14; f < 18; f++) x[f] = 2 * random() - 1;
    for (let f = 18; f < 22; f++) x[f] = normal();
    const missing9 = random() < 0.15;
    const z = 1.0 * x[0] - 0.8 * x[1] + 1.6 * (x[2] > 0.2 ? x[3] : 0) + 0.9 * Math.sin(3 * x[4]) + 0.8 * x[5] * x[6]
      + 0.4 * x[8] + (missing9 ? 0.4 : 0.3 * (x[9] * x[9] - 1)) + (x[12] === 2 || x[12] === 7 ? 0.6 : 0) - 0.3 * x[13]
      + (x[10] > 1 && x[11] < 0 ? 0.5 : 0) + 0.2;
    labels[i] = random() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
    if (random() < 0.1) x[1] = NaN;
    if (random() < 0.05) x[5] = NaN;
    if (missing9) x[9] = NaN;
    if (random() < 0.2) x[15] = NaN;
    if (random() < 0.3) x[20] = NaN;
    values.set(x, i * cols);
  }
  return { values, labels, rows, cols };
}

/** Throws with the install hint when /usr/bin/python3 cannot import xgboost. */
export function checkXgboost(): void {
  const probe = spawnSync(PYTHON, ['-c', 'import xgboost'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    throw new Error(`XGBoost is needed to compare against, and ${PYTHON} cannot import it (${(probe.stderr || String(probe.error)).trim().split('\n').pop()}).\n`
      + 'Install it as root: apt-get update && apt-get install python3-xgboost');
  }
}

/** Settings shared by both trainers; ours gets them as GbdtParams via `ourParams`. */
export interface MatchedParams {
  rounds: number;
  maxDepth: number;
  learningRate: number;
  maxBins: number;
  lambda: number;
  minChildWeight: number;
}

/** Our trainer with the XGBoost-matched settings: leaf-wise up to 2^depth leaves is a full depth-wise tree. */
export function ourParams(m: MatchedParams, seed = 1): GbdtParams {
  return {
    numRounds: m.rounds, learningRate: m.learningRate, maxDepth: m.maxDepth, numLeaves: 2 ** m.maxDepth,
    minDataInLeaf: 1, minSumHessian: m.minChildWeight, lambdaL2: m.lambda, maxBins: m.maxBins,
    featureFraction: 1, baggingFraction: 1, minGainToSplit: 0, seed,
  };
}

export interface XgboostRun {
  nthread: number;
  train_s: number;
  train_cpu_s: number;
  /** Held-out probabilities (empty without test rows). */
  probs: Float64Array;
}

/**
 * Trains XGBoost on data rows [0, trainRows) once per entry of `threads` (0 = its default, all
 * cores) and predicts rows [trainRows, rows). Writes the data once, as raw float32 / uint8.
 */
export function runXgboost(data: GbdtBenchData, trainRows: number, m: MatchedParams, threads: number[]): { version: string; runs: XgboostRun[] } {
  const dir = mkdtempSync(join(tmpdir(), 'orrery-gbdt-xgb-'));
  try {
    const x = join(dir, 'x.f32');
    const y = join(dir, 'y.u8');
    writeFileSync(x, new Uint8Array(data.values.buffer, data.values.byteOffset, data.values.byteLength));
    writeFileSync(y, data.labels);
    const spec = {
      x, y, cols: data.cols, train_rows: trainRows,
      params: { rounds: m.rounds, max_depth: m.maxDepth, eta: m.learningRate, max_bin: m.maxBins, lambda: m.lambda, min_child_weight: m.minChildWeight },
      runs: threads.map((nthread, k) => ({ nthread, pred: join(dir, `pred${k}.f64`) })),
    };
    const specPath = join(dir, 'spec.json');
    writeFileSync(specPath, JSON.stringify(spec));
    const py = spawnSync(PYTHON, [join(import.meta.dirname, 'gbdt_xgboost.py'), specPath], { encoding: 'utf8', maxBuffer: 1 << 20 });
    if (py.status !== 0) throw new Error(`gbdt_xgboost.py failed (${py.status ?? py.signal}):\n${py.stderr}`);
    const report = JSON.parse(py.stdout.trim().split('\n').pop() as string) as { xgboost: string; runs: Omit<XgboostRun, 'probs'>[] };
    const testRows = data.rows - trainRows;
    const runs = report.runs.map((r, k) => {
      const bytes = testRows > 0 ? readFileSync(spec.runs[k].pred) : Buffer.alloc(0);
      const probs = new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      if (probs.length !== testRows) throw new Error(`gbdt_xgboost.py wrote ${probs.length} predictions for ${testRows} test rows`);
      return { ...r, probs };
    });
    return { version: report.xgboost, runs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Rows [from, to) of the data as a dense matrix (no copy). */
export function rowsOf(data: GbdtBenchData, from: number, to: number) {
  return {
    features: { values: data.values.subarray(from * data.cols, to * data.cols), rows: to - from, cols: data.cols },
    labels: data.labels.subarray(from, to),
  };
}

const TRAIN_ROWS = Number(process.env.GBDT_BENCH_TRAIN_ROWS ?? 1_000_000);
const TEST_ROWS = 200_000;
const MATCHED: MatchedParams = { rounds: 100, maxDepth: 6, learningRate: 0.1, maxBins: 255, lambda: 1, minChildWeight: 1 };

export async function run(): Promise<BenchResult> {
  checkXgboost();
  const data = gbdtBenchData(TRAIN_ROWS + TEST_ROWS, 2024);
  const train = rowsOf(data, 0, TRAIN_ROWS);
  const test = rowsOf(data, TRAIN_ROWS, data.rows);

  let model!: GbdtModel;
  const time = timed(() => { model = trainGbdt(train, ourParams(MATCHED)).model; });
  const wallS = time.wallMs / 1000;
  const auc = rocAuc(test.labels, predictProba(model, test.features));

  const xgb = runXgboost(data, TRAIN_ROWS, MATCHED, [1, 0]);
  const [single, all] = xgb.runs;
  const aucXgb = rocAuc(test.labels, single.probs);
  const round = (v: number, digits: number) => Number(v.toFixed(digits));
  return {
    value: round(wallS, 2),
    unit: 's (training wall clock, one thread)',
    baseline: round(single.train_s, 2),
    ratio: round(single.train_s / wallS, 3),
    auc: round(auc, 5),
    auc_xgboost: round(aucXgb, 5),
    auc_diff: round(auc - aucXgb, 5),
    cpu_s: round(time.cpuMs / 1000, 2),
    baseline_cpu_s: round(single.train_cpu_s, 2),
    baseline_default_threads: round(all.train_s, 2),
    ratio_default_threads: round(all.train_s / wallS, 3),
    auc_xgboost_default_threads: round(rocAuc(test.labels, all.probs), 5),
    train_rows: TRAIN_ROWS,
    test_rows: TEST_ROWS,
    features: GBDT_BENCH_COLS,
    trees: model.trees.length,
    settings: `depth ${MATCHED.maxDepth}, ${MATCHED.rounds} rounds, lr ${MATCHED.learningRate}, ${MATCHED.maxBins} bins, lambda ${MATCHED.lambda}, min_child_weight ${MATCHED.minChildWeight}, no subsampling`,
    xgboost_version: xgb.version,
    goal: 'ratio ≥ 0.5 (ours within 2× of XGBoost nthread=1) and |auc_diff| ≤ 0.01',
  };
}
