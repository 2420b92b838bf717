/**
 * Quality parity with XGBoost: on data with a known signal, our GBDT and XGBoost `hist`, trained
 * with the same depth, rounds, learning rate, bins, λ and min_child_weight, rank held-out rows
 * equally well (AUC within 0.01). XGBoost runs in /usr/bin/python3 (bench/gbdt_xgboost.py, the
 * bench's baseline); without it these tests fail — install it with `apt-get install python3-xgboost`.
 */
import { describe, expect, it } from 'vitest';
import { checkXgboost, gbdtBenchData, ourParams, rowsOf, runXgboost, type GbdtBenchData, type MatchedParams } from '../../bench/gbdt.bench.ts';
import { predictProba, rocAuc, trainGbdt } from '../../assets/models/engine/index.ts';
import { syntheticData } from './synthetic.ts';

function aucs(data: GbdtBenchData, trainRows: number, matched: MatchedParams): { ours: number; xgboost: number } {
  checkXgboost();
  const test = rowsOf(data, trainRows, data.rows);
  const { model } = trainGbdt(rowsOf(data, 0, trainRows), ourParams(matched));
  const ours = rocAuc(test.labels, predictProba(model, test.features));
  const [single] = runXgboost(data, trainRows, matched, [1]).runs;
  return { ours, xgboost: rocAuc(test.labels, single.probs) };
}

describe('AUC parity with XGBoost (tree_method="hist", same settings)', () => {
  it('22 features: nonlinear signal with interactions, noise features, informative missing values', () => {
    const data = gbdtBenchData(30_000, 42);
    const matched: MatchedParams = { rounds: 60, maxDepth: 4, learningRate: 0.1, maxBins: 255, lambda: 1, minChildWeight: 1 };
    const { ours, xgboost } = aucs(data, 20_000, matched);
    // Both learn the signal (the constant prior has AUC 0.5), and equally well.
    expect(xgboost).toBeGreaterThan(0.72);
    expect(ours).toBeGreaterThan(0.72);
    expect(Math.abs(ours - xgboost)).toBeLessThan(0.01);
  });

  it('the engine tests\' synthetic data: a threshold and its interaction, missing values, coarse bins', () => {
    const train = syntheticData(20_000, 5);
    const test = syntheticData(10_000, 6);
    const cols = train.features.cols;
    const values = new Float32Array((train.features.rows + test.features.rows) * cols);
    values.set(train.features.values);
    values.set(test.features.values, train.features.values.length);
    const labels = new Uint8Array(train.labels.length + test.labels.length);
    labels.set(train.labels);
    labels.set(test.labels, train.labels.length);
    const data: GbdtBenchData = { values, labels, rows: labels.length, cols };
    const matched: MatchedParams = { rounds: 80, maxDepth: 3, learningRate: 0.1, maxBins: 63, lambda: 1, minChildWeight: 1 };
    const { ours, xgboost } = aucs(data, train.labels.length, matched);
    expect(xgboost).toBeGreaterThan(0.85);
    expect(ours).toBeGreaterThan(0.85);
    expect(Math.abs(ours - xgboost)).toBeLessThan(0.01);
  });
});
