/**
 * The entry rule of one bar, as the backtest engine applies it (`assets/backtests/engine/simulate.ts`,
 * the FLAT branch of the bar loop; seed 002 AI1 方向 and θ1/θ2):
 *
 *   returnProb > θ1  AND  riskScore < θ2  AND  z finite and ≠ 0  (AND β finite and ≠ 0 when given)
 *   → an entry whose direction is fixed by the sign of z:
 *       z > 0 → sell A / buy B  = short the spread → `enter_short`
 *       z < 0 → buy A / sell B  = long the spread  → `enter_long`
 *
 * `returnProb` is null where AI1 does not score the bar (|z| < z_entry), and a null or NaN never
 * passes a comparison — exactly like the engine's NaN columns. The engine keeps this rule inline in
 * its allocation-free loop, so it is restated here once; `test/serving/signal.test.ts` holds the two
 * to the same answers by running `simulate` on the same inputs.
 *
 * Stateless: position-dependent exits (|z| ≤ z_exit, risk stop, max bars) belong to whoever holds
 * the position.
 */
import type { Theta } from '../assets/published_models/engine/index.ts';

export const SIGNALS = ['enter_long', 'enter_short', 'none'] as const;
export type EntrySignal = (typeof SIGNALS)[number];

/** Why a bar did or did not signal. */
export type SignalReason =
  /** All conditions held. */
  | 'entry'
  /** AI1 did not score the bar (|z| < z_entry, or z missing). */
  | 'not_scored'
  /** returnProb ≤ θ1. */
  | 'below_theta1'
  /** returnProb > θ1 but riskScore ≥ θ2 (or missing): AI2 vetoed the entry (やらない勇気). */
  | 'risk_veto'
  /** z or β is zero or not finite: no direction / no size. */
  | 'no_direction';

export interface SignalInput {
  returnProb: number | null;
  riskScore: number | null;
  z: number | null;
  /** Hedge ratio, when the caller knows it; the engine needs it finite and non-zero to size. */
  beta?: number | null;
}

export function entrySignal(x: SignalInput, theta: Theta): { signal: EntrySignal; reason: SignalReason } {
  const rp = x.returnProb ?? Number.NaN;
  if (!(rp > theta.theta1)) return { signal: 'none', reason: x.returnProb === null || Number.isNaN(x.returnProb) ? 'not_scored' : 'below_theta1' };
  const rs = x.riskScore ?? Number.NaN;
  if (!(rs < theta.theta2)) return { signal: 'none', reason: 'risk_veto' };
  const z = x.z ?? Number.NaN;
  const beta = x.beta === undefined ? 1 : (x.beta ?? Number.NaN);
  if (z === 0 || !Number.isFinite(z) || beta === 0 || !Number.isFinite(beta)) return { signal: 'none', reason: 'no_direction' };
  return { signal: z > 0 ? 'enter_short' : 'enter_long', reason: 'entry' };
}
