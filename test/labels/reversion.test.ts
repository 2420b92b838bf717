/** AI1 (mean-reversion) labels on hand-worked series. */
import { describe, expect, it } from 'vitest';
import { LABEL_INVALID, labelReversion, meanAbsDeltaZ, type LabelConfig } from '../../assets/labels/engine/index.ts';

/** Small horizon and speed window so the series stay readable; entry 2.0, exit 0.5, θ_speed 0.12 as seeded. */
const CFG: Partial<LabelConfig> = { horizonBars: 4, speedLookbackBars: 2 };
/** Δz that never trips the speed rule, so the z path alone decides. */
const calm = (n: number) => new Array<number>(n).fill(0);
const run = (z: Array<number | null>, cfg: Partial<LabelConfig> = CFG, dz: Array<number | null> = calm(z.length)) => labelReversion(z, dz, cfg);

describe('AI1 entry and exit', () => {
  it('labels 1 when |z| reaches the exit band within M bars', () => {
    const r = run([0, 0, 2.1, 1.5, 0.4, 0]);
    expect(r.labels).toEqual([{ t: 2, direction: 'short_spread', label: 1, lastBarLooked: 4, exitBar: 4, closedBy: 'exit' }]);
    expect(r.excluded).toEqual([]);
    expect(r.censored).toEqual([]);
  });

  it('takes the entry and exit thresholds inclusively and reads the sign of z for the direction', () => {
    const r = run([0, 0, -2.0, -1.0, -0.5]);
    expect(r.labels).toEqual([{ t: 2, direction: 'long_spread', label: 1, lastBarLooked: 4, exitBar: 4, closedBy: 'exit' }]);
  });

  it('opens nothing just below the entry threshold', () => {
    expect(run([0, 0, 1.99, -1.99, 0]).labels).toEqual([]);
  });

  it('labels 0 on timeout at t+M and never uses an exit after t+M', () => {
    // t=2, window 3..6 stays above 0.5; the exit at bar 7 is past t+M.
    const r = run([0, 0, 2.5, 1, 1, 1, 1, 0.2]);
    expect(r.labels).toEqual([{ t: 2, direction: 'short_spread', label: 0, lastBarLooked: 6, exitBar: null, closedBy: 'timeout' }]);
  });

  it('still exits at exactly t+M', () => {
    const r = run([0, 0, 2.5, 1, 1, 1, 0.5]);
    expect(r.labels[0]).toMatchObject({ label: 1, lastBarLooked: 6, closedBy: 'exit' });
  });

  it('uses the seed horizon M = 48 by default', () => {
    const z = [0, 0, 0, 0, 0, 0, 2.5, ...new Array<number>(60).fill(1)];
    const r = labelReversion(z, calm(z.length));
    expect(r.labels).toEqual([{ t: 6, direction: 'short_spread', label: 0, lastBarLooked: 54, exitBar: null, closedBy: 'timeout' }]);
  });
});

describe('AI1 censoring at the end of the series', () => {
  it('emits no label when the data ends before t+M without an exit', () => {
    const r = run([0, 0, 2.5, 1, 1]); // t+M = 6 > last bar 4
    expect(r.labels).toEqual([]);
    expect(r.censored).toEqual([{ t: 2, direction: 'short_spread' }]);
  });

  it('does label an event that exits before the data ends, even if t+M is past the end', () => {
    const r = run([0, 0, 2.5, 0.3]);
    expect(r.labels).toEqual([{ t: 2, direction: 'short_spread', label: 1, lastBarLooked: 3, exitBar: 3, closedBy: 'exit' }]);
    expect(r.censored).toEqual([]);
  });

  it('labels a timeout that ends exactly on the last bar', () => {
    const r = run([0, 0, 2.5, 1, 1, 1, 1]);
    expect(r.labels).toEqual([{ t: 2, direction: 'short_spread', label: 0, lastBarLooked: 6, exitBar: null, closedBy: 'timeout' }]);
    expect(r.censored).toEqual([]);
  });
});

describe('AI1 re-entry suppression', () => {
  it('suppresses same-direction candidates while the event is open, then allows one after the exit', () => {
    const r = run([0, 0, 2.5, 3, 2.2, 0.1, 2.4, 0.0]);
    expect(r.labels).toEqual([
      { t: 2, direction: 'short_spread', label: 1, lastBarLooked: 5, exitBar: 5, closedBy: 'exit' },
      { t: 6, direction: 'short_spread', label: 1, lastBarLooked: 7, exitBar: 7, closedBy: 'exit' },
    ]);
    expect(r.excluded).toEqual([]);
  });

  it('keeps bar t+M inside the timed-out event: a new same-direction event starts at t+M+1 at the earliest', () => {
    const r = run([0, 0, 2.5, 2.5, 2.5, 2.5, 2.5, 2.5, 0.0]);
    expect(r.labels).toEqual([
      { t: 2, direction: 'short_spread', label: 0, lastBarLooked: 6, exitBar: null, closedBy: 'timeout' },
      { t: 7, direction: 'short_spread', label: 1, lastBarLooked: 8, exitBar: 8, closedBy: 'exit' },
    ]);
  });
});

describe('AI1 opposite crossing', () => {
  it('closes the open event with label 0 at the reversal bar and opens the opposite event there', () => {
    const r = run([0, 0, 2.5, 1, -2.3, -1, 0.2], { ...CFG, horizonBars: 10 });
    expect(r.labels).toEqual([
      { t: 2, direction: 'short_spread', label: 0, lastBarLooked: 4, exitBar: null, closedBy: 'reversal' },
      { t: 4, direction: 'long_spread', label: 1, lastBarLooked: 6, exitBar: 6, closedBy: 'exit' },
    ]);
  });

  it('closes the open event even when the speed rule excludes the opposite candidate', () => {
    const z = [0, 0, 2.5, 1, -2.3, -2.3, 0.2];
    const dz = [0, 0, 0, -1.5, -3.3, 0, 0]; // mean |Δz| over bars 2..3 = 0.75 at bar 4
    const r = run(z, { ...CFG, horizonBars: 10 }, dz);
    expect(r.labels[0]).toEqual({ t: 2, direction: 'short_spread', label: 0, lastBarLooked: 4, exitBar: null, closedBy: 'reversal' });
    // bar 5: window 3..4 is still fast (2.4) → excluded again; nothing opens before the exit.
    expect(r.excluded).toEqual([
      { t: 4, direction: 'long_spread', reason: 'speed', meanAbsDeltaZ: 0.75 },
      { t: 5, direction: 'long_spread', reason: 'speed', meanAbsDeltaZ: 2.4 },
    ]);
    expect(r.labels).toHaveLength(1);
  });
});

describe('AI1 speed exclusion', () => {
  const z = [0, 0, 0, 2.5, 0]; // candidate at t=3, speed window = bars 1..2

  it('excludes a candidate whose mean |Δz| over t−K … t−1 exceeds θ_speed', () => {
    const r = run(z, CFG, [0, 0.13, -0.13, 0, 0]);
    expect(r.labels).toEqual([]);
    expect(r.excluded).toEqual([{ t: 3, direction: 'short_spread', reason: 'speed', meanAbsDeltaZ: 0.13 }]);
  });

  it('keeps a candidate just under θ_speed', () => {
    const r = run(z, CFG, [0, 0.119, -0.119, 0, 0]);
    expect(r.excluded).toEqual([]);
    expect(r.labels).toHaveLength(1);
  });

  it('keeps a candidate exactly at θ_speed (the rule is "exceeds")', () => {
    const r = run(z, { ...CFG, thetaSpeed: 0.125 }, [0, 0.125, 0.125, 0, 0]); // exact in binary
    expect(r.labels).toHaveLength(1);
  });

  it('ignores Δz at t itself and before t−K', () => {
    const r = run(z, CFG, [9, 0.1, 0.1, 9, 0]);
    expect(r.labels).toHaveLength(1);
  });

  it('lets the next bar be a candidate again after an exclusion', () => {
    const r = run([0, 0, 0, 2.5, 2.5, 2.5, 0], { ...CFG, horizonBars: 10 }, [0, 0.3, 0.3, 0, 0, 0, 0]);
    expect(r.excluded.map((e) => [e.t, e.reason])).toEqual([[3, 'speed'], [4, 'speed']]);
    expect(r.labels).toEqual([{ t: 5, direction: 'short_spread', label: 1, lastBarLooked: 6, exitBar: 6, closedBy: 'exit' }]);
  });

  it('excludes a candidate whose speed window is incomplete (series start or missing Δz)', () => {
    const r = run([2.5, 0, 0, 0, 2.5, 0], CFG, [null, 0, 0, null, 0, 0]);
    expect(r.excluded).toEqual([
      { t: 0, direction: 'short_spread', reason: 'speed_history_missing', meanAbsDeltaZ: null },
      { t: 4, direction: 'short_spread', reason: 'speed_history_missing', meanAbsDeltaZ: null },
    ]);
    expect(r.labels).toEqual([]);
  });

  it('meanAbsDeltaZ averages absolute values over exactly K bars', () => {
    expect(meanAbsDeltaZ([1, -0.2, 0.4, 100], 3, 2)).toBeCloseTo(0.3, 12);
    expect(meanAbsDeltaZ([1, -0.2, 0.4], 1, 2)).toBeNull();
  });
});

describe('AI1 missing values', () => {
  it('starts no event on a null z (warm-up)', () => {
    const r = run([null, null, null, 0, 0, 0], CFG, [null, null, null, null, 0, 0]);
    expect(r).toEqual({ labels: [], excluded: [], censored: [] });
  });

  it('a null bar inside an event neither exits nor reverses it but counts toward M', () => {
    const r = run([0, 0, 2.5, null, null, null, 1, 0]);
    expect(r.labels).toEqual([{ t: 2, direction: 'short_spread', label: 0, lastBarLooked: 6, exitBar: null, closedBy: 'timeout' }]);
  });
});

describe('AI1 input validation', () => {
  it('rejects series of different lengths', () => {
    expect(() => labelReversion([0, 1], [0])).toThrow(expect.objectContaining({ errorId: LABEL_INVALID }));
  });

  it('rejects an exit band that reaches the entry threshold', () => {
    expect(() => labelReversion([], [], { zEntry: 1, zExit: 1 })).toThrow(/zExit/);
    expect(() => labelReversion([], [], { horizonBars: 0 })).toThrow(/horizonBars/);
  });
});
