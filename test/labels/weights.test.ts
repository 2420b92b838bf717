/** Class weights and the purge helper. */
import { describe, expect, it } from 'vitest';
import { classWeights, overlaps, purgeOverlapping } from '../../assets/labels/engine/index.ts';

const labels = (zeros: number, ones: number) => [...new Array<0>(zeros).fill(0), ...new Array<1>(ones).fill(1)];

describe('classWeights', () => {
  it('is inverse frequency N/(2·n_c) when the ratio is within the cap', () => {
    const w = classWeights(labels(3, 1)); // N=4: 4/6 and 4/2, ratio 3
    expect(w[0]).toBeCloseTo(2 / 3, 12);
    expect(w[1]).toBe(2);
  });

  it('gives 1:1 for a balanced set', () => {
    expect(classWeights(labels(5, 5))).toEqual({ 0: 1, 1: 1 });
  });

  it('caps max/min at 5 by scaling the larger weight down', () => {
    const w = classWeights(labels(10, 1)); // raw 0.55 and 5.5, ratio 10
    expect(w[0]).toBeCloseTo(0.55, 12);
    expect(w[1]).toBeCloseTo(2.75, 12);
    expect(w[1] / w[0]).toBeCloseTo(5, 12);
  });

  it('caps symmetrically when class 0 is the rare one', () => {
    const w = classWeights(labels(1, 19)); // raw 10 and 20/38, ratio 19
    expect(w[1]).toBeCloseTo(20 / 38, 12);
    expect(w[0] / w[1]).toBeCloseTo(5, 12);
  });

  it('leaves a ratio of exactly 5 alone and honours another cap', () => {
    const w = classWeights(labels(5, 1)); // 0.6 and 3
    expect(w[0]).toBeCloseTo(0.6, 12);
    expect(w[1]).toBeCloseTo(3, 12);
    const w2 = classWeights(labels(5, 1), 2);
    expect(w2[1]).toBeCloseTo(1.2, 12);
  });

  it('returns 1 and 1 for a single-class or empty set', () => {
    expect(classWeights(labels(7, 0))).toEqual({ 0: 1, 1: 1 });
    expect(classWeights(labels(0, 3))).toEqual({ 0: 1, 1: 1 });
    expect(classWeights([])).toEqual({ 0: 1, 1: 1 });
  });

  it('rejects labels other than 0 and 1 and a cap below 1', () => {
    expect(() => classWeights([0, 2 as 1])).toThrow(/0 or 1/);
    expect(() => classWeights([0, 1], 0.5)).toThrow(/maxRatio/);
  });
});

describe('overlaps / purgeOverlapping', () => {
  const l = { t: 10, lastBarLooked: 20 };

  it('treats both spans as closed bar ranges', () => {
    expect(overlaps(l, [20, 30])).toBe(true);
    expect(overlaps(l, [0, 10])).toBe(true);
    expect(overlaps(l, [12, 14])).toBe(true);
    expect(overlaps(l, [21, 30])).toBe(false);
    expect(overlaps(l, [0, 9])).toBe(false);
  });

  it('drops training labels that looked into the test range, widened by the embargo', () => {
    const train = [{ t: 0, lastBarLooked: 48 }, { t: 40, lastBarLooked: 60 }, { t: 101, lastBarLooked: 120 }, { t: 105, lastBarLooked: 110 }];
    expect(purgeOverlapping(train, [50, 100])).toEqual([train[0], train[2], train[3]]);
    expect(purgeOverlapping(train, [50, 100], 2)).toEqual([train[3]]);
  });
});
