/**
 * The served entry rule is the backtest engine's: for any return probability (or none), risk score,
 * z, β and θ, `entrySignal` signals exactly when `simulate` (the real engine, on a one-bar series of
 * the shipped XAUUSD_XAGUSD parameters, latency 0) places an entry order, and in the side the engine
 * opens (z > 0 → short the spread, z < 0 → long).
 */
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backtestParamsFromPolicies, simulate } from '../../assets/backtests/engine/index.ts';
import { loadPolicies } from '../../assets/policies/index.ts';
import { entrySignal } from '../../serving/signal.ts';
import { REPO } from '../support/cli.ts';

const policies = loadPolicies(join(REPO, 'configs'));
// A Wednesday noon UTC: inside both legs' sessions, so an entry with a size fills on the bar.
const TS = Date.parse('2025-03-12T12:00:00Z');

function engine(rp: number, rs: number, z: number, beta: number, theta1: number, theta2: number) {
  const params = backtestParamsFromPolicies(policies, 'XAUUSD_XAGUSD', { theta1, theta2, latencyBars: 0 });
  const one = (v: number) => Float64Array.of(v);
  const r = simulate({ ts: one(TS), priceA: one(2000), priceB: one(23), z: one(z), beta: one(beta), returnProb: one(rp), riskScore: one(rs) }, params);
  return { signals: r.counters.entrySignals, side: r.open?.side ?? null };
}

describe('entrySignal', () => {
  it('agrees with the backtest engine on every input', () => {
    const prob = fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constant(Number.NaN), fc.constantFrom(0.45, 0.3));
    let entries = 0, opened = 0;
    fc.assert(fc.property(
      prob, prob, fc.oneof(fc.double({ min: -5, max: 5, noNaN: true }), fc.constant(0)), fc.oneof(fc.double({ min: 0.2, max: 3, noNaN: true }), fc.constant(0)),
      fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }),
      (rp, rs, z, beta, theta1, theta2) => {
        const served = entrySignal({ returnProb: Number.isNaN(rp) ? null : rp, riskScore: rs, z, beta }, { theta1, theta2 });
        const e = engine(rp, rs, z, beta, theta1, theta2);
        expect(served.signal !== 'none', JSON.stringify({ rp, rs, z, beta, theta1, theta2, served })).toBe(e.signals === 1);
        if (served.signal !== 'none') entries++;
        if (e.side) {
          opened++;
          expect(served.signal).toBe(e.side === 'long_spread' ? 'enter_long' : 'enter_short');
        }
      },
    ), { numRuns: 2000, seed: 20250312 });
    // The property saw both outcomes and both sides.
    expect(entries).toBeGreaterThan(50);
    expect(opened).toBeGreaterThan(20);
  });

  it('says why a bar did not signal', () => {
    const theta = { theta1: 0.6, theta2: 0.3 };
    expect(entrySignal({ returnProb: null, riskScore: 0.1, z: 1.2 }, theta)).toEqual({ signal: 'none', reason: 'not_scored' });
    expect(entrySignal({ returnProb: 0.6, riskScore: 0.1, z: 2.2 }, theta)).toEqual({ signal: 'none', reason: 'below_theta1' });
    expect(entrySignal({ returnProb: 0.7, riskScore: 0.3, z: 2.2 }, theta)).toEqual({ signal: 'none', reason: 'risk_veto' });
    expect(entrySignal({ returnProb: 0.7, riskScore: 0.1, z: 2.2, beta: 0 }, theta)).toEqual({ signal: 'none', reason: 'no_direction' });
    expect(entrySignal({ returnProb: 0.7, riskScore: 0.1, z: 2.2 }, theta)).toEqual({ signal: 'enter_short', reason: 'entry' });
    expect(entrySignal({ returnProb: 0.7, riskScore: 0.1, z: -2.2 }, theta)).toEqual({ signal: 'enter_long', reason: 'entry' });
  });
});
