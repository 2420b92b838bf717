import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expandingWalkForward, purgedKFold, SEED_CV, type LabelSpan } from '../../assets/models/engine/index.ts';

/** Random label spans: one per bar t (AI2-like) or sparse events (AI1-like), each reading up to 48 bars ahead. */
const spans = fc
  .tuple(fc.integer({ min: 600, max: 3000 }), fc.double({ min: 0.05, max: 1, noNaN: true }), fc.integer({ min: 1, max: 2 ** 31 }))
  .map(([bars, density, seed]) => {
    let x = seed;
    const rnd = () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const out: LabelSpan[] = [];
    for (let t = 0; t < bars - 48; t++) if (rnd() < density) out.push({ t, lastBarLooked: t + Math.floor(rnd() * 48) });
    // A label at the end, so the history really spans `bars` (sparse draws could leave it too short for 2 blocks).
    out.push({ t: bars - 48, lastBarLooked: bars - 1 });
    return out;
  });

describe('purged grouped K-fold', () => {
  it('no training label reaches within purge of its validation block, nothing trains in the embargo, every sample is validated once', () => {
    fc.assert(fc.property(spans, (samples) => {
      const splits = purgedKFold(samples, SEED_CV);
      const validated = new Map<number, number>();
      for (const s of splits) {
        const [b0, b1] = s.validBars;
        expect(b1 - b0 + 1).toBeGreaterThanOrEqual(SEED_CV.minBlockLenBars);
        for (const i of s.valid) {
          validated.set(i, (validated.get(i) ?? 0) + 1);
          expect(samples[i].t >= b0 && samples[i].t <= b1).toBe(true);
        }
        for (const i of s.train) {
          const { t, lastBarLooked } = samples[i];
          // Independent statement of the rule: the label's span stays clear of [b0 − purge, b1 + purge] and t of the embargo.
          expect(lastBarLooked < b0 - SEED_CV.purgeBars || t > b1 + Math.max(SEED_CV.purgeBars, SEED_CV.embargoBars)).toBe(true);
        }
        expect(s.train.length + s.valid.length + s.purged).toBe(samples.length);
      }
      expect([...validated.values()].every((n) => n === 1)).toBe(true);
      expect(validated.size).toBe(samples.length);
    }), { numRuns: 60 });
  });

  it('purges exactly the labels whose horizon overlaps the block (hand-worked)', () => {
    // 1,200 bars, 5 blocks of 240; block 1 is bars 240–479.
    const samples: LabelSpan[] = [
      { t: 100, lastBarLooked: 148 }, // far before: trains
      { t: 200, lastBarLooked: 216 }, // ends 24 bars before 240 → within purge (216 ≥ 240 − 24): purged
      { t: 200, lastBarLooked: 215 }, // ends 25 bars before: trains
      { t: 250, lastBarLooked: 298 }, // inside the block: validated
      { t: 490, lastBarLooked: 500 }, // in the embargo after 479: purged
      { t: 504, lastBarLooked: 510 }, // 25 bars after: trains
      { t: 1199, lastBarLooked: 1199 },
    ];
    const fold = purgedKFold(samples, SEED_CV)[1];
    expect(fold.validBars).toEqual([240, 479]);
    expect(fold.valid).toEqual([3]);
    expect(fold.train).toEqual([0, 2, 5, 6]);
    expect(fold.purged).toBe(2);
  });

  it('refuses a history too short for two blocks', () => {
    expect(() => purgedKFold([{ t: 0, lastBarLooked: 10 }, { t: 400, lastBarLooked: 420 }], SEED_CV)).toThrow(expect.objectContaining({ errorId: 'ML_MODEL_INVALID' }));
  });
});

describe('expanding walk-forward', () => {
  it('trains only on labels resolved before the window (minus purge); windows step forward and training only grows', () => {
    fc.assert(fc.property(spans, (samples) => {
      const o = { minTrainBars: 300, stepBars: 120, purgeBars: 24 };
      const splits = expandingWalkForward(samples, o);
      let prevCut = -1;
      let prevTrain = -1;
      for (const s of splits) {
        const [v0, v1] = s.validBars;
        expect(v0).toBeGreaterThan(prevCut);
        expect(v0).toBeGreaterThanOrEqual(o.minTrainBars);
        expect(v1 - v0 + 1).toBeLessThanOrEqual(o.stepBars);
        for (const i of s.train) expect(samples[i].lastBarLooked).toBeLessThan(v0 - o.purgeBars);
        for (const i of s.valid) expect(samples[i].t >= v0 && samples[i].t <= v1).toBe(true);
        expect(s.train.length).toBeGreaterThanOrEqual(prevTrain);
        prevCut = v0;
        prevTrain = s.train.length;
      }
    }), { numRuns: 60 });
  });
});
