import { describe, expect, it } from 'vitest';
import { SEED_WATCHDOG, std, trainGbdt, VarianceWatchdog, type GbdtParams } from '../../assets/models/engine/index.ts';
import { seededRandom, syntheticData } from './synthetic.ts';

const PARAMS: GbdtParams = { numRounds: 120, learningRate: 0.05, maxDepth: 3, minDataInLeaf: 20, minSumHessian: 1e-3, lambdaL2: 1, maxBins: 31, seed: 3 };

describe('variance watchdog (seed 004 §7.1)', () => {
  it('computes std_ratio as EMA(std(predictions)) / std(target) and fires only after warm-up below 0.1', () => {
    const targets = [0, 1, 0, 1]; // std 0.5
    const w = new VarianceWatchdog(targets, { minStdRatio: 0.1, emaHalfLife: 1, warmupRounds: 2 });
    expect(w.targetStd).toBe(0.5);
    expect(w.observe([0.5, 0.5, 0.5, 0.5])).toBe(false); // ratio 0 but inside warm-up
    expect(w.observe([0.5, 0.5, 0.5, 0.5])).toBe(false);
    expect(w.observe([0.5, 0.5, 0.5, 0.5])).toBe(true);
    const healthy = new VarianceWatchdog(targets, { minStdRatio: 0.1, emaHalfLife: 1, warmupRounds: 0 });
    expect(healthy.observe([0.1, 0.9, 0.1, 0.9])).toBe(false);
    expect(healthy.history[0]).toBeCloseTo(std([0.1, 0.9, 0.1, 0.9]) / 0.5, 12);
  });

  it('stops a booster whose predictions stay near-constant (noise labels, tiny learning rate) with variance_collapse', () => {
    const random = seededRandom(11);
    const noise = syntheticData(3000, 5);
    const labels = Uint8Array.from({ length: 3000 }, () => (random() < 0.3 ? 1 : 0));
    const train = { features: { ...noise.features, values: noise.features.values.slice(0, 2000 * 6), rows: 2000 }, labels: labels.slice(0, 2000) };
    const valid = { features: { ...noise.features, values: noise.features.values.slice(2000 * 6), rows: 1000 }, labels: labels.slice(2000) };
    const r = trainGbdt(train, { ...PARAMS, learningRate: 0.002 }, { validation: valid, watchdog: SEED_WATCHDOG });
    expect(r.stopReason).toBe('variance_collapse');
    expect(r.history.stdRatio!.at(-1)!).toBeLessThan(0.1);
    expect(r.history.stdRatio!.length).toBe(SEED_WATCHDOG.warmupRounds + 1);
  });

  it('lets a model with real signal train on', () => {
    const d = syntheticData(3000, 9);
    const train = { features: { ...d.features, values: d.features.values.slice(0, 2000 * 6), rows: 2000 }, labels: d.labels.slice(0, 2000) };
    const valid = { features: { ...d.features, values: d.features.values.slice(2000 * 6), rows: 1000 }, labels: d.labels.slice(2000) };
    const r = trainGbdt(train, PARAMS, { validation: valid, watchdog: SEED_WATCHDOG });
    expect(r.stopReason).not.toBe('variance_collapse');
    expect(Math.min(...r.history.stdRatio!.slice(SEED_WATCHDOG.warmupRounds))).toBeGreaterThan(0.1);
  });
});
