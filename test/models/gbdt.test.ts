/** GBDT trainer: learns a known signal, early stopping, determinism, missing values, float32 splits, JSON. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { binColumns } from '../../assets/models/engine/binning.ts';
import {
  MODEL_INVALID, featureImportance, logLoss, modelFromJSON, modelToJSON, predictProba, predictRaw, rocAuc, trainGbdt,
  type GbdtModel, type GbdtParams, type SplitNode,
} from '../../assets/models/engine/index.ts';
import { SYNTHETIC_FEATURES, syntheticData } from './synthetic.ts';

const PARAMS: GbdtParams = {
  numRounds: 300, learningRate: 0.1, maxDepth: 4, minDataInLeaf: 20, minSumHessian: 1e-3,
  lambdaL2: 1, maxBins: 63, featureFraction: 0.8, baggingFraction: 0.8, seed: 7,
};

// Time-ordered thirds: train, then validation (early stopping), then test.
const train = syntheticData(4000, 1);
const valid = syntheticData(1000, 2);
const test = syntheticData(2000, 3);
const fitted = trainGbdt(train, PARAMS, { validation: valid, featureNames: SYNTHETIC_FEATURES });

describe('trainGbdt on a known signal', () => {
  it('ranks held-out rows well and beats the constant prior', () => {
    const probs = predictProba(fitted.model, test.features);
    const auc = rocAuc(test.labels, probs);
    expect(auc).toBeGreaterThan(0.85);
    const prior = new Float64Array(test.labels.length).fill(1 / (1 + Math.exp(-fitted.model.baseScore)));
    expect(rocAuc(test.labels, prior)).toBe(0.5);
    expect(logLoss(test.labels, probs)).toBeLessThan(logLoss(test.labels, prior) - 0.1);
    // The signal lives in x0 and x1; x3–x5 are noise.
    const gain = featureImportance(fitted.model, 'gain');
    expect(gain[0]).toBeGreaterThan(Math.max(gain[3], gain[4], gain[5]));
    expect(gain[1]).toBeGreaterThan(Math.max(gain[3], gain[4], gain[5]));
  });

  it('stops early and keeps the best validation round', () => {
    const { bestIteration, history, stopReason, model } = fitted;
    const validLoss = history.valid!;
    expect(stopReason).toBe('early_stopping');
    expect(validLoss.length).toBe(bestIteration + 50);
    expect(model.trees.length).toBe(bestIteration);
    const best = validLoss[bestIteration - 1];
    for (const later of validLoss.slice(bestIteration)) expect(best).toBeLessThanOrEqual(later);
    expect(best).toBe(Math.min(...validLoss));
    // The kept model reproduces the recorded validation loss exactly (same float32 arithmetic).
    expect(logLoss(valid.labels, predictProba(model, valid.features))).toBe(best);
    // Training loss keeps falling after the best validation round: stopping was about overfitting.
    expect(history.train[history.train.length - 1]).toBeLessThan(history.train[bestIteration - 1]);
  });

  it('is deterministic for a seed, and the seed matters', () => {
    const small = { features: { ...train.features, values: train.features.values.subarray(0, 1500 * 6), rows: 1500 }, labels: train.labels.subarray(0, 1500) };
    const params = { ...PARAMS, numRounds: 20 };
    const a = modelToJSON(trainGbdt(small, params).model);
    const b = modelToJSON(trainGbdt(small, params).model);
    const c = modelToJSON(trainGbdt(small, { ...params, seed: 8 }).model);
    expect(a).toBe(b);
    expect(c).not.toBe(a);
  });

  it('counts every row in the row-array and dense inputs alike', () => {
    const rows = Array.from({ length: 300 }, (_, i) => Array.from(train.features.values.subarray(i * 6, i * 6 + 6)));
    const params = { ...PARAMS, numRounds: 5, minDataInLeaf: 5 };
    const fromRows = trainGbdt({ features: rows, labels: train.labels.subarray(0, 300) }, params).model;
    const fromDense = trainGbdt({ features: { values: train.features.values.subarray(0, 1800), rows: 300, cols: 6 }, labels: train.labels.subarray(0, 300) }, params).model;
    expect(modelToJSON(fromRows)).toBe(modelToJSON(fromDense));
  });
});

describe('splits', () => {
  it('learns where missing values go', () => {
    // Missing x0 means class 1; present x0 is class 1 only when x0 > 0.
    const rows: number[][] = [];
    const labels: number[] = [];
    for (let i = 0; i < 600; i++) {
      const x0 = i % 3 === 0 ? NaN : ((i * 7919) % 1000) / 500 - 1;
      rows.push([x0, (i % 10) / 10]);
      labels.push(Number.isNaN(x0) || x0 > 0 ? 1 : 0);
    }
    const { model } = trainGbdt({ features: rows, labels }, { ...PARAMS, numRounds: 30, featureFraction: 1, baggingFraction: 1 });
    const [missing, low, high] = predictProba(model, [[NaN, 0.5], [-0.5, 0.5], [0.5, 0.5]]);
    expect(missing).toBeGreaterThan(0.9);
    expect(low).toBeLessThan(0.1);
    expect(high).toBeGreaterThan(0.9);
    // x1 was never missing: a NaN there follows some side and still predicts.
    expect(Number.isFinite(predictProba(model, [[0.5, NaN]])[0])).toBe(true);
  });

  it('sends missing values to the side they resemble (one stump)', () => {
    // Missing rows behave like low x0 in one case and like high x0 in the other.
    for (const missingLabel of [1, 0]) {
      const rows: number[][] = [];
      const labels: number[] = [];
      for (let i = 0; i < 300; i++) {
        const x0 = i % 4 === 0 ? NaN : ((i * 7919) % 1000) / 500 - 1;
        rows.push([x0]);
        labels.push(Number.isNaN(x0) ? missingLabel : x0 <= 0 ? 1 : 0);
      }
      const stumpParams = { ...PARAMS, numRounds: 1, maxDepth: 1, featureFraction: 1, baggingFraction: 1 };
      const { model } = trainGbdt({ features: rows, labels }, stumpParams);
      const root = model.trees[0][0] as SplitNode;
      expect(root.defaultLeft).toBe(missingLabel === 1);
      const [missing, low, high] = predictRaw(model, [[NaN], [-0.5], [0.5]]);
      expect(missing).toBe(missingLabel === 1 ? low : high);
    }
  });

  it('uses float32 thresholds with x <= threshold, comparing float32 features', () => {
    for (const tree of fitted.model.trees) {
      for (const node of tree) if (node.kind === 'split') expect(Math.fround(node.threshold)).toBe(node.threshold);
    }
    const threshold = Math.fround(0.3);
    const stump: GbdtModel = {
      format: 'orrery-gbdt', version: 1, featureNames: ['x'], baseScore: 0,
      trees: [[
        { kind: 'split', feature: 0, threshold, defaultLeft: true, left: 1, right: 2, gain: 1 },
        { kind: 'leaf', value: -1 },
        { kind: 'leaf', value: 1 },
      ]],
    };
    const nextUp = new Float32Array([threshold]);
    new Uint32Array(nextUp.buffer)[0] += 1;
    // Above the threshold in float64 but equal to it in float32: left, as in the ONNX runtime.
    const roundsDown = threshold * (1 + 1e-12);
    expect(roundsDown > threshold && Math.fround(roundsDown) === threshold).toBe(true);
    expect(Array.from(predictRaw(stump, [[threshold], [roundsDown], [nextUp[0]], [NaN], [-1e30], [1e30]]))).toEqual([-1, -1, 1, -1, -1, 1]);
  });

  it('binning: float32 bounds, at most maxBins bins, one bin per distinct value when they fit', () => {
    const value = fc.oneof(fc.constant(NaN), fc.integer({ min: -20, max: 20 }).map((v) => v / 7), fc.double({ min: -1e6, max: 1e6, noNaN: true }));
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 80 }), fc.integer({ min: 2, max: 12 }), (column, maxBins) => {
        const values = Float64Array.from(column);
        const binned = binColumns({ values, rows: values.length, cols: 1 }, Float32Array.from(values), maxBins);
        const bounds = binned.upperBounds[0];
        expect(binned.numBins[0]).toBeLessThanOrEqual(maxBins);
        const present = [...new Set(Array.from(Float32Array.from(column.filter((v) => !Number.isNaN(v)))))];
        for (let i = 0; i < values.length; i++) {
          const bin = binned.bins[i];
          const v = Math.fround(values[i]);
          if (Number.isNaN(v)) {
            expect(bin).toBe(binned.numBins[0]);
            continue;
          }
          // The split rule after bin b is exactly v <= bounds[b].
          expect(v <= bounds[bin]).toBe(true);
          if (bin > 0) expect(v > bounds[bin - 1]).toBe(true);
        }
        for (const b of bounds.subarray(0, -1)) expect(Math.fround(b)).toBe(b);
        if (present.length <= maxBins) {
          const binOfValue = new Map<number, number>();
          for (let i = 0; i < values.length; i++) if (!Number.isNaN(values[i])) binOfValue.set(Math.fround(values[i]), binned.bins[i]);
          expect(new Set(binOfValue.values()).size).toBe(present.length);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('weights, inputs and serialisation', () => {
  it('starts from the log-odds of the weighted prior', () => {
    const labels = [1, 0, 0, 0, 1, 0];
    const weights = [3, 1, 1, 1, 3, 1]; // positives 6, negatives 4
    const features = labels.map((_, i) => [i]);
    const { model } = trainGbdt({ features, labels, weights }, { ...PARAMS, numRounds: 1, minDataInLeaf: 1 });
    expect(model.baseScore).toBe(Math.fround(Math.log(6 / 4)));
  });

  it('rejects bad labels, one class, bad params, and a mismatched validation width', () => {
    const features = [[1], [2], [3]];
    const expectInvalid = (fn: () => unknown) => expect(fn).toThrow(expect.objectContaining({ errorId: MODEL_INVALID }));
    expectInvalid(() => trainGbdt({ features, labels: [0, 2, 1] }, PARAMS));
    expectInvalid(() => trainGbdt({ features, labels: [1, 1, 1] }, PARAMS));
    expectInvalid(() => trainGbdt({ features, labels: [0, 1, 1] }, { ...PARAMS, maxBins: 256 }));
    expectInvalid(() => trainGbdt({ features, labels: [0, 1, 1] }, { ...PARAMS, learningRate: 0 }));
    expectInvalid(() => trainGbdt({ features: [[1], [Infinity], [3]], labels: [0, 1, 1] }, PARAMS));
    expectInvalid(() => trainGbdt({ features, labels: [0, 1, 1] }, PARAMS, { validation: { features: [[1, 2]], labels: [1] } }));
    expectInvalid(() => trainGbdt({ features, labels: [0, 1, 1] }, PARAMS, { validation: { features: [[1]], labels: [1], weights: [0] } }));
  });

  it('round-trips through JSON and rejects a malformed tree', () => {
    const json = modelToJSON(fitted.model);
    const restored = modelFromJSON(json);
    expect(restored).toEqual(fitted.model);
    expect(predictRaw(restored, test.features)).toEqual(predictRaw(fitted.model, test.features));

    const cyclic = JSON.parse(json);
    cyclic.trees[0][0].left = 0;
    expect(() => modelFromJSON(cyclic)).toThrow(expect.objectContaining({ errorId: MODEL_INVALID }));
    const notFloat32 = JSON.parse(json);
    notFloat32.baseScore = 0.1;
    expect(() => modelFromJSON(notFloat32)).toThrow(/float32/);
  });
});
