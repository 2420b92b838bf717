/** Property tests: horizon bounds, no overlap, determinism, and agreement with brute-force references. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  RISK_TRIGGERS, labelReversion, labelRisk, pairDrawdown, resolveConfig,
  type Direction, type LabelConfig, type ReversionResult, type RiskInputs, type RiskTrigger,
} from '../../assets/labels/engine/index.ts';

type S = Array<number | null>;
const isNum = (v: number | null | undefined): v is number => typeof v === 'number' && Number.isFinite(v);

// ---- generators -------------------------------------------------------------------------------

/** Values on and around the thresholds, plain random values, and gaps. */
const zPoint = fc.oneof(
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 3, arbitrary: fc.constantFrom(-5, -3, -2, -1.5, -1, -0.5, -0.2, 0, 0.3, 0.5, 1, 1.5, 2, 2.5, 3, 5) },
  { weight: 3, arbitrary: fc.double({ min: -5, max: 5, noNaN: true }) },
);
/** A clipped random walk, closer to a real z path (long excursions, slow reversion). */
const zWalk = fc.array(fc.double({ min: -0.8, max: 0.8, noNaN: true }), { maxLength: 150, size: 'max' }).map((steps) => {
  let z = 0;
  return steps.map((d) => (z = Math.max(-5, Math.min(5, z + d))));
});
const zSeries = fc.oneof(fc.array(zPoint, { maxLength: 150, size: 'max' }), zWalk);

const deltaOf = (z: S): S => z.map((v, i) => (i > 0 && isNum(v) && isNum(z[i - 1]) ? v - (z[i - 1] as number) : null));
const smallDelta = fc.oneof({ weight: 1, arbitrary: fc.constant(null) }, { weight: 8, arbitrary: fc.double({ min: -0.3, max: 0.3, noNaN: true }) });

/** z with either its own Δz or an unrelated small Δz series (so the speed rule both passes and fails). */
const ai1Input = zSeries.chain((z) =>
  fc.oneof(fc.constant(deltaOf(z)), fc.array(smallDelta, { minLength: z.length, maxLength: z.length })).map((dz) => ({ z, dz })));

const ai1Config: fc.Arbitrary<Partial<LabelConfig>> = fc.record({
  horizonBars: fc.integer({ min: 1, max: 12 }),
  speedLookbackBars: fc.integer({ min: 1, max: 4 }),
  thetaSpeed: fc.constantFrom(0.12, 0.2, 1),
  band: fc.constantFrom({ zEntry: 2, zExit: 0.5 }, { zEntry: 1, zExit: 0 }, { zEntry: 3, zExit: 1.5 }),
}).map(({ band, ...rest }) => ({ ...rest, ...band }));

// ---- AI1 brute-force reference ----------------------------------------------------------------

/**
 * Jumps from one event start straight to the bar after its outcome, instead of the engine's
 * bar-by-bar state machine.
 */
function refReversion(z: S, dz: S, cfg: Partial<LabelConfig>): ReversionResult {
  const { zEntry, zExit, horizonBars: M, speedLookbackBars: K, thetaSpeed } = resolveConfig(cfg);
  const dir = (v: number): Direction => (v > 0 ? 'short_spread' : 'long_spread');
  const out: ReversionResult = { labels: [], excluded: [], censored: [] };
  let t = 0;
  scan: while (t < z.length) {
    const zt = z[t];
    if (!isNum(zt) || Math.abs(zt) < zEntry) { t++; continue; }
    const direction = dir(zt);
    const window = t >= K ? dz.slice(t - K, t) : null;
    const speed = window && window.every(isNum) ? (window as number[]).reduce((a, d) => a + Math.abs(d), 0) / K : null;
    if (speed === null || speed > thetaSpeed) {
      out.excluded.push({ t, direction, reason: speed === null ? 'speed_history_missing' : 'speed', meanAbsDeltaZ: speed });
      t++;
      continue;
    }
    for (let s = t + 1; s <= t + M; s++) {
      if (s >= z.length) { out.censored.push({ t, direction }); break scan; }
      const v = z[s];
      if (isNum(v) && Math.abs(v) <= zExit) {
        out.labels.push({ t, direction, label: 1, lastBarLooked: s, exitBar: s, closedBy: 'exit' });
        t = s + 1;
        continue scan;
      }
      if (isNum(v) && Math.abs(v) >= zEntry && dir(v) !== direction) {
        out.labels.push({ t, direction, label: 0, lastBarLooked: s, exitBar: null, closedBy: 'reversal' });
        t = s; // the reversal bar is itself examined as a new candidate
        continue scan;
      }
    }
    out.labels.push({ t, direction, label: 0, lastBarLooked: t + M, exitBar: null, closedBy: 'timeout' });
    t = t + M + 1;
  }
  return out;
}

describe('AI1 properties', () => {
  it('agrees with the brute-force reference', () => {
    fc.assert(fc.property(ai1Input, ai1Config, ({ z, dz }, cfg) => {
      expect(labelReversion(z, dz, cfg)).toEqual(refReversion(z, dz, cfg));
    }), { numRuns: 300 });
  });

  it('never looks past t+M or past the data, and always looks past t', () => {
    fc.assert(fc.property(ai1Input, ai1Config, ({ z, dz }, cfg) => {
      const M = resolveConfig(cfg).horizonBars;
      for (const l of labelReversion(z, dz, cfg).labels) {
        expect(l.lastBarLooked).toBeGreaterThan(l.t);
        expect(l.lastBarLooked).toBeLessThanOrEqual(Math.min(l.t + M, z.length - 1));
        expect(l.label === 1).toBe(l.closedBy === 'exit');
        expect(l.exitBar).toBe(l.label === 1 ? l.lastBarLooked : null);
      }
    }));
  });

  it('no two events of the same direction overlap (censored ones run to the last bar)', () => {
    fc.assert(fc.property(ai1Input, ai1Config, ({ z, dz }, cfg) => {
      const r = labelReversion(z, dz, cfg);
      const spans = [
        ...r.labels.map((l) => ({ direction: l.direction, from: l.t, to: l.lastBarLooked })),
        ...r.censored.map((c) => ({ direction: c.direction, from: c.t, to: z.length - 1 })),
      ];
      for (const [i, a] of spans.entries()) {
        for (const b of spans.slice(i + 1)) {
          if (a.direction === b.direction) expect(a.to < b.from || b.to < a.from).toBe(true);
        }
      }
      expect(r.censored.length).toBeLessThanOrEqual(1);
    }));
  });

  it('is deterministic and leaves its inputs alone', () => {
    fc.assert(fc.property(ai1Input, ai1Config, ({ z, dz }, cfg) => {
      const first = labelReversion(Object.freeze([...z]), Object.freeze([...dz]), cfg);
      expect(labelReversion(z, dz, cfg)).toEqual(first);
    }));
  });
});

// ---- AI2 ----------------------------------------------------------------------------------------

const value = (min: number, max: number) =>
  fc.oneof({ weight: 1, arbitrary: fc.constant(null) }, { weight: 10, arbitrary: fc.double({ min, max, noNaN: true }) });
const col = (n: number, min: number, max: number) => fc.array(value(min, max), { minLength: n, maxLength: n });
const ai2Input: fc.Arbitrary<RiskInputs> = fc.integer({ min: 0, max: 80 }).chain((n) => fc.record({
  corrStability: col(n, 0, 0.03),
  volRatio: col(n, 0.5, 2),
  deltaZ: col(n, -0.4, 0.4),
  rA: col(n, -0.03, 0.03),
  rB: col(n, -0.03, 0.03),
  beta: col(n, 0.5, 1.5),
  barsPerBusinessDay: fc.integer({ min: 1, max: 3 }),
}));
const ai2Config: fc.Arbitrary<Partial<LabelConfig>> = fc.record({
  riskHorizonBars: fc.integer({ min: 1, max: 10 }),
  ddWindowBusinessDays: fc.integer({ min: 1, max: 5 }),
});

/** Per-bar triggers by direct definition: EMA by its recursion, drawdown by rescanning the window. */
function refTriggers(x: RiskInputs, cfg: Partial<LabelConfig>): Set<RiskTrigger>[] {
  const c = resolveConfig(cfg);
  const alpha = 1 - Math.pow(2, -1 / c.speedEmaHalfLife);
  const W = c.ddWindowBusinessDays * x.barsPerBusinessDay;
  const logE: number[] = [];
  let ema: number | null = null;
  return x.corrStability.map((_, u) => {
    const fired = new Set<RiskTrigger>();
    const cs = x.corrStability[u], vr = x.volRatio[u], d = x.deltaZ[u];
    if (isNum(cs) && cs > c.thetaCorrVar) fired.add('corr_instability');
    if (isNum(vr) && vr > c.thetaVol) fired.add('vol_spike');
    if (isNum(d)) {
      ema = ema === null ? Math.abs(d) : alpha * Math.abs(d) + (1 - alpha) * ema;
      if (ema > c.thetaSpeed) fired.add('speed');
    }
    const a = x.rA[u], b = x.rB[u], h = x.beta[u];
    const seen = isNum(a) && isNum(b) && isNum(h);
    logE.push((logE[u - 1] ?? 0) + (seen ? a - h * b : 0));
    const peak = Math.max(...logE.slice(Math.max(0, u - W + 1)));
    if (seen && 1 - Math.exp(logE[u] - peak) > c.thetaDd) fired.add('drawdown');
    return fired;
  });
}

describe('AI2 properties', () => {
  it('agrees with a brute-force scan of t+1 … t+H', () => {
    fc.assert(fc.property(ai2Input, ai2Config, (x, cfg) => {
      const H = cfg.riskHorizonBars!;
      const perBar = refTriggers(x, cfg);
      const cols = [x.corrStability, x.volRatio, x.deltaZ, x.rA, x.rB, x.beta];
      const want = [];
      for (let t = 0; t + H <= perBar.length - 1; t++) {
        if (cols.some((s) => !isNum(s[t]))) continue;
        const hits = perBar.slice(t + 1, t + H + 1);
        const firstAt = hits.findIndex((f) => f.size > 0);
        const triggers = RISK_TRIGGERS.filter((k) => hits.some((f) => f.has(k)));
        want.push({ t, label: triggers.length ? 1 : 0, lastBarLooked: t + H, triggers, firstTriggerBar: firstAt < 0 ? null : t + 1 + firstAt });
      }
      expect(labelRisk(x, cfg)).toEqual(want);
    }), { numRuns: 200 });
  });

  it('never looks past t+H or past the data, and is deterministic', () => {
    fc.assert(fc.property(ai2Input, ai2Config, (x, cfg) => {
      const labels = labelRisk(x, cfg);
      for (const l of labels) {
        expect(l.lastBarLooked).toBe(l.t + cfg.riskHorizonBars!);
        expect(l.lastBarLooked).toBeLessThanOrEqual(x.rA.length - 1);
        expect(l.label).toBe(l.triggers.length > 0 ? 1 : 0);
      }
      expect(labelRisk(x, cfg)).toEqual(labels);
    }));
  });

  it('drawdown stays in [0, 1)', () => {
    fc.assert(fc.property(ai2Input, fc.integer({ min: 1, max: 20 }), (x, w) => {
      for (const d of pairDrawdown(x.rA, x.rB, x.beta, w)) if (d !== null) expect(d >= 0 && d < 1).toBe(true);
    }));
  });
});
