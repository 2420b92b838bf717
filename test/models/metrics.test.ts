/** Metrics against brute-force and hand-worked values. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  averagePrecision, brierScore, expectedCalibrationError, f1Score, logLoss, rocAuc,
} from '../../assets/models/engine/index.ts';

/** AUC by counting every positive–negative pair (weighted), ties as one half. */
function pairwiseAuc(labels: number[], scores: number[], weights: number[]): number {
  let correct = 0;
  let pairs = 0;
  for (let i = 0; i < labels.length; i++) {
    for (let j = 0; j < labels.length; j++) {
      if (labels[i] !== 1 || labels[j] !== 0) continue;
      const w = weights[i] * weights[j];
      pairs += w;
      correct += scores[i] > scores[j] ? w : scores[i] === scores[j] ? w / 2 : 0;
    }
  }
  return pairs > 0 ? correct / pairs : NaN;
}

const rows = fc.array(
  fc.record({
    label: fc.constantFrom(0, 1),
    score: fc.oneof(fc.integer({ min: 0, max: 5 }).map((v) => v / 5), fc.double({ min: 0, max: 1, noNaN: true })),
    weight: fc.integer({ min: 1, max: 4 }),
  }),
  { minLength: 1, maxLength: 40 },
);

const columns = (r: Array<{ label: number; score: number; weight: number }>) => ({
  labels: r.map((x) => x.label), scores: r.map((x) => x.score), weights: r.map((x) => x.weight),
});

/** The rows with each repeated `weight` times: integer weights must act like repetition. */
const repeated = (r: Array<{ label: number; score: number; weight: number }>) => columns(r.flatMap((x) => Array(x.weight).fill({ ...x, weight: 1 })));

describe('rocAuc', () => {
  it('equals the pairwise count, with ties and weights', () => {
    fc.assert(
      fc.property(rows, (r) => {
        const { labels, scores, weights } = columns(r);
        const expected = pairwiseAuc(labels, scores, weights);
        const auc = rocAuc(labels, scores, weights);
        if (Number.isNaN(expected)) expect(auc).toBeNaN();
        else expect(auc).toBeCloseTo(expected, 12);
        const unweighted = pairwiseAuc(labels, scores, labels.map(() => 1));
        if (!Number.isNaN(unweighted)) expect(rocAuc(labels, scores)).toBeCloseTo(unweighted, 12);
      }),
      { numRuns: 300 },
    );
  });

  it('is 1 for a perfect ranking, 0 reversed, 0.5 all tied, NaN with one class', () => {
    expect(rocAuc([0, 0, 1, 1, 1], [0.1, 0.2, 0.3, 0.8, 0.9])).toBe(1);
    expect(rocAuc([1, 1, 0, 0], [0.1, 0.2, 0.3, 0.8])).toBe(0);
    expect(rocAuc([1, 0, 1, 0], [0.5, 0.5, 0.5, 0.5])).toBe(0.5);
    expect(rocAuc([1, 1], [0.2, 0.4])).toBeNaN();
  });
});

describe('hand-worked metrics', () => {
  it('brierScore', () => {
    // (0.1² + 0.2² + 0.4² + 0.5²) / 4
    expect(brierScore([1, 0, 1, 0], [0.9, 0.2, 0.6, 0.5])).toBeCloseTo(0.115, 12);
    // Weights 3, 1: (3·0.01 + 0.04) / 4
    expect(brierScore([1, 0], [0.9, 0.2], [3, 1])).toBeCloseTo(0.0175, 12);
  });

  it('averagePrecision', () => {
    // Thresholds high to low: P@R = 1@1/3, 2/3@2/3, 3/5@1 → (1 + 2/3 + 3/5) / 3.
    expect(averagePrecision([1, 0, 1, 0, 1], [0.9, 0.8, 0.7, 0.6, 0.2])).toBeCloseTo((1 + 2 / 3 + 3 / 5) / 3, 12);
    // scikit-learn's documented example.
    expect(averagePrecision([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])).toBeCloseTo(0.8333333333333333, 12);
    // A tie of one positive and one negative at the top is one threshold: precision 1/2 there.
    expect(averagePrecision([1, 0, 0], [0.9, 0.9, 0.1])).toBe(0.5);
    expect(averagePrecision([0, 0], [0.3, 0.4])).toBeNaN();
  });

  it('expectedCalibrationError (10 equal-width bins)', () => {
    // Bins 0, 1, 8: one row each, |y − p| = 0.05, 0.85, 0.15; bin 9: mean y 0.5, mean p 0.925.
    const ece = expectedCalibrationError([0, 1, 1, 1, 0], [0.05, 0.15, 0.85, 0.95, 0.9]);
    expect(ece).toBeCloseTo((0.05 + 0.85 + 0.15) / 5 + (2 / 5) * 0.425, 12);
    // p = 1 belongs to the last bin, with 0.95: perfectly calibrated there on average.
    expect(expectedCalibrationError([1, 1], [1, 0.95])).toBeCloseTo(0.025, 12);
    expect(expectedCalibrationError([0, 1, 0, 1], [0.25, 0.25, 0.75, 0.75], { bins: 2 })).toBeCloseTo(0.25, 12);
  });

  it('f1Score at a threshold: weighted, macro, binary', () => {
    // Predictions (score >= 0.5): 1 0 1 0 1 → tp 2, fn 1, fp 1, tn 1.
    const labels = [1, 1, 0, 0, 1];
    const scores = [0.9, 0.4, 0.6, 0.1, 0.5];
    expect(f1Score(labels, scores, 0.5, { average: 'binary' })).toBeCloseTo(2 / 3, 12);
    expect(f1Score(labels, scores, 0.5, { average: 'macro' })).toBeCloseTo((2 / 3 + 1 / 2) / 2, 12);
    // Support-weighted: (3 · 2/3 + 2 · 1/2) / 5.
    expect(f1Score(labels, scores, 0.5)).toBeCloseTo(0.6, 12);
    expect(f1Score([1, 0], [0.2, 0.1], 0.5, { average: 'binary' })).toBe(0);
  });

  it('logLoss', () => {
    expect(logLoss([1, 0], [0.8, 0.3])).toBeCloseTo(-(Math.log(0.8) + Math.log(0.7)) / 2, 12);
    expect(Number.isFinite(logLoss([1, 0], [0, 1]))).toBe(true); // clipped, not infinite
  });
});

describe('weights', () => {
  it('integer weights equal repeated rows for every metric', () => {
    fc.assert(
      fc.property(rows, (r) => {
        const w = columns(r);
        const rep = repeated(r);
        const same = (a: number, b: number) => (Number.isNaN(b) ? expect(a).toBeNaN() : expect(a).toBeCloseTo(b, 10));
        same(rocAuc(w.labels, w.scores, w.weights), rocAuc(rep.labels, rep.scores));
        same(averagePrecision(w.labels, w.scores, w.weights), averagePrecision(rep.labels, rep.scores));
        same(brierScore(w.labels, w.scores, w.weights), brierScore(rep.labels, rep.scores));
        same(logLoss(w.labels, w.scores, w.weights), logLoss(rep.labels, rep.scores));
        same(expectedCalibrationError(w.labels, w.scores, { weights: w.weights }), expectedCalibrationError(rep.labels, rep.scores));
        same(f1Score(w.labels, w.scores, 0.5, { weights: w.weights }), f1Score(rep.labels, rep.scores, 0.5));
      }),
      { numRuns: 200 },
    );
  });
});
