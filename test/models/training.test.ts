/** The group training pipeline: walk-forward OOS without look-ahead, learnt signal, determinism, and the dataset's cutoff. */
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../core/random.ts';
import { buildGroupDataset, type DatasetRow, type GroupDataset } from '../../assets/models/dataset.ts';
import { defaultTrainingParams, trainGroupModels, type TrainingParams } from '../../assets/models/training.ts';
import type { FeatureRow } from '../../assets/features/asset.ts';
import type { LabelRow } from '../../assets/labels/asset.ts';

const HOUR = 3_600_000;
const T0 = Date.UTC(2025, 0, 1);

/** Hourly bars; AI1 events (|z| ≥ 2) revert when f1 > 0, AI2 risk when f2 is high — plus noise. */
function dataset(n: number, seed: number): GroupDataset {
  const rnd = mulberry32(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
  const times: string[] = [];
  const rows: DatasetRow[] = [];
  for (let t = 0; t < n; t++) {
    const ts = new Date(T0 + t * HOUR).toISOString();
    times.push(ts);
    const z = 2.5 * Math.sin(t / 7) + 0.3 * gauss();
    const f1 = gauss(), f2 = gauss(), f3 = gauss();
    const revert = f1 + 0.5 * gauss() > 0 ? 1 : 0;
    const risk = f2 + 0.5 * gauss() > 0.6 ? 1 : 0;
    rows.push({
      pair: 'A_B', ts, t, close_A: 100 + z, close_B: 50, z, beta: 2,
      x: [z, f1, f2, t % 5 === 0 ? null : f3],
      ai1: Math.abs(z) >= 2 && t + 12 < n ? { label: revert as 0 | 1, last: t + 12 } : null,
      ai2: t + 6 < n ? { label: risk as 0 | 1, last: t + 6 } : null,
    });
  }
  return { group: 'g', timeframe: '1h', cutoff: new Date(T0 + n * HOUR).toISOString(), pairs: ['A_B'], featureNames: ['z', 'f1', 'f2', 'f3'], schemaHash: 'h', times, rows, labelsAfterCutoff: 0 };
}

const params: TrainingParams = defaultTrainingParams({
  gbdt: { numRounds: 30, learningRate: 0.2, maxDepth: 3, minDataInLeaf: 10, minSumHessian: 1e-3, lambdaL2: 1, maxBins: 32, earlyStoppingRounds: 10, seed: 3 },
  // 24 bars a day: 30 days of minimum training (720 bars), steps of 10 days.
  cv: { k: 5, purgeBars: 24, embargoBars: 24, minBlockLenBars: 240, wfStepDays: 10, wfMinTrainDays: 30 },
});

describe('trainGroupModels', () => {
  const ds = dataset(2400, 11);
  const trained = trainGroupModels(ds, params);

  it('predicts out of sample only after the minimum training span, each bar once, in time order', () => {
    expect(trained.oos.length).toBeGreaterThan(1000);
    expect(Date.parse(trained.oos[0].ts)).toBeGreaterThanOrEqual(T0 + 720 * HOUR);
    const ts = trained.oos.map((r) => r.ts);
    expect(new Set(ts).size).toBe(ts.length);
    expect([...ts].sort()).toEqual(ts);
    // AI1 is scored exactly where an event can start.
    for (const r of trained.oos) expect(r.return_prob !== null).toBe(Math.abs(r.z!) >= 2);
  });

  it('learns the signal out of sample and reports the seed\'s metrics', () => {
    expect(trained.metrics.oos.ai1.auc!).toBeGreaterThan(0.75);
    expect(trained.metrics.oos.ai2.auc!).toBeGreaterThan(0.75);
    expect(trained.metrics.cv.ai1.folds).toBe(5);
    for (const k of ['auc', 'brier', 'pr_auc', 'ece']) expect(trained.metrics.oos.ai1[k]).toEqual(expect.any(Number));
    for (const k of ['f1_weighted', 'pr_auc', 'recall_low_risk']) expect(trained.metrics.cv.ai2[k]).toEqual(expect.any(Number));
  });

  it('never lets a label resolved at or after a step (minus the purge) into that step\'s models', () => {
    const cut = 720;
    // Flip every label a first-step model must not see: its predictions cannot change.
    const flipped: GroupDataset = {
      ...ds,
      rows: ds.rows.map((r) => ({
        ...r,
        ai1: r.ai1 && r.ai1.last >= cut - params.cv.purgeBars ? { ...r.ai1, label: (1 - r.ai1.label) as 0 | 1 } : r.ai1,
        ai2: r.ai2 && r.ai2.last >= cut - params.cv.purgeBars ? { ...r.ai2, label: (1 - r.ai2.label) as 0 | 1 } : r.ai2,
      })),
    };
    const other = trainGroupModels(flipped, params);
    const firstStep = (xs: typeof trained.oos) => xs.filter((r) => Date.parse(r.ts) < T0 + (cut + 240) * HOUR);
    expect(firstStep(other.oos).length).toBeGreaterThan(100);
    expect(firstStep(other.oos).map((r) => [r.return_prob, r.risk_score])).toEqual(firstStep(trained.oos).map((r) => [r.return_prob, r.risk_score]));
    // …while later steps, which may see those labels, do change: the flip is not a no-op.
    const later = (xs: typeof trained.oos) => xs.filter((r) => Date.parse(r.ts) >= T0 + (cut + 480) * HOUR).map((r) => r.risk_score);
    expect(later(other.oos)).not.toEqual(later(trained.oos));
  });

  it('is deterministic for a seed', () => {
    const again = trainGroupModels(ds, params);
    expect(again.oos).toEqual(trained.oos);
    expect(again.metrics).toEqual(trained.metrics);
  });
});

describe('buildGroupDataset', () => {
  const feature = (ts: string, z: number): FeatureRow => ({ ts_utc: ts, close_A: 10, close_B: 5, robust: false, z, beta: 2 } as unknown as FeatureRow);
  const label = (ts: string, last: string | null): LabelRow => ({
    ts_utc: ts, z: 2.5, ai1_direction: 'short_spread', ai1_label: last ? 1 : null, ai1_closed_by: 'exit', ai1_last_ts: last, ai1_excluded: null, ai2_label: last ? 0 : null, ai2_last_ts: last, ai2_triggers: null,
  });
  const ts = (h: number) => new Date(T0 + h * HOUR).toISOString();

  it('keeps bars before the cutoff and drops labels resolved at or after it', () => {
    const ds = buildGroupDataset({
      group: 'g', timeframe: '1h', cutoff: new Date(T0 + 10 * HOUR), schemaNames: [], schemaHash: 'h',
      pairs: [{ pair: 'A_B', features: Array.from({ length: 12 }, (_, h) => feature(ts(h), 2.5)), labels: [label(ts(1), ts(5)), label(ts(8), ts(11)), label(ts(9), ts(10))] }],
    });
    expect(ds.rows.map((r) => r.t)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(ds.rows[1].ai1).toEqual({ label: 1, last: 5 });
    expect(ds.rows[8].ai1).toBeNull();
    expect(ds.rows[9].ai2).toBeNull();
    expect(ds.labelsAfterCutoff).toBe(4);
    expect(ds.featureNames).toEqual(['z']);
  });
});
