/**
 * AI2 label: will any risk trigger fire in the next H bars? Forward-looking on purpose, so a
 * model fed only data up to t can learn to predict it.
 */
import { invalid, observed, resolveConfig, sameLength, type LabelConfig, type Series } from './config.ts';

export type RiskTrigger =
  /** corr_stability (variance of the 180-bar rolling correlation) > thetaCorrVar. */
  | 'corr_instability'
  /** vol_ratio_spread (ATR now / median ATR over 180 bars) > thetaVol. */
  | 'vol_spike'
  /** EMA(|Δz|) > thetaSpeed. */
  | 'speed'
  /** Drawdown of the hedged pair equity over the recent window > thetaDd. */
  | 'drawdown';

/** Fixed order, so trigger lists compare and print the same way every time. */
export const RISK_TRIGGERS: readonly RiskTrigger[] = ['corr_instability', 'vol_spike', 'speed', 'drawdown'];

export interface RiskInputs {
  /** The corr_stability feature series. */
  corrStability: Series;
  /** The vol_ratio_spread feature series. */
  volRatio: Series;
  /** z[t] − z[t−1]. */
  deltaZ: Series;
  /** Log returns of leg A and leg B, and the hedge ratio, per bar. */
  rA: Series;
  rB: Series;
  beta: Series;
  /** Bars per business day (24 for 1h FX); the drawdown window is ddWindowBusinessDays of these. */
  barsPerBusinessDay: number;
}

export interface RiskLabel {
  t: number;
  /** 1 when some trigger fired at a bar in t+1 … t+H. */
  label: 0 | 1;
  /** Always t+H: the whole window is read even when a trigger fires early. */
  lastBarLooked: number;
  /** Triggers that fired anywhere in t+1 … t+H, in RISK_TRIGGERS order. */
  triggers: RiskTrigger[];
  /** First bar in the window where any trigger fired. */
  firstTriggerBar: number | null;
}

export interface RiskTriggerSeries {
  speedEma: Array<number | null>;
  drawdown: Array<number | null>;
  /** Triggers firing at each bar, in RISK_TRIGGERS order. */
  fired: RiskTrigger[][];
}

/**
 * EMA of |Δz| with alpha = 1 − 2^(−1/halfLife), seeded with the first observed |Δz|.
 * A missing Δz leaves the EMA state untouched and yields null at that bar (nothing observed).
 */
export function speedEma(deltaZ: Series, halfLife: number): Array<number | null> {
  if (!(Number.isFinite(halfLife) && halfLife > 0)) invalid(`halfLife must be a positive number, got ${halfLife}`);
  const alpha = 1 - 2 ** (-1 / halfLife);
  const out: Array<number | null> = [];
  let ema: number | null = null;
  for (const d of deltaZ) {
    if (!observed(d)) { out.push(null); continue; }
    ema = ema === null ? Math.abs(d) : alpha * Math.abs(d) + (1 - alpha) * ema;
    out.push(ema);
  }
  return out;
}

/**
 * dd_u = 1 − E_u / max(E over bars u−W+1 … u), with E_u = exp(cumsum(r_A − β·r_B)).
 * The window is shorter at the start of the series. A bar with a missing return is treated as
 * flat (adds nothing to the cumsum) and has a null drawdown.
 */
export function pairDrawdown(rA: Series, rB: Series, beta: Series, windowBars: number): Array<number | null> {
  const n = sameLength({ rA, rB, beta });
  if (!Number.isInteger(windowBars) || windowBars < 1) invalid(`windowBars must be a positive integer, got ${windowBars}`);
  const logE: number[] = [];
  const out: Array<number | null> = [];
  // Indices of a decreasing run of logE: the front is the window maximum (monotonic deque).
  const deque: number[] = [];
  let head = 0;
  let acc = 0;
  for (let u = 0; u < n; u++) {
    const a = rA[u], b = rB[u], h = beta[u];
    const seen = observed(a) && observed(b) && observed(h);
    if (seen) acc += a - h * b;
    logE.push(acc);
    while (deque.length > head && logE[deque[deque.length - 1]] <= acc) deque.pop();
    deque.push(u);
    while (deque[head] <= u - windowBars) head++;
    // Work in log space: E_u / max E = exp(logE_u − max logE), no overflow on long series.
    out.push(seen ? 1 - Math.exp(acc - logE[deque[head]]) : null);
  }
  return out;
}

/** Which AI2 triggers fire at each bar. A trigger whose input is missing at a bar does not fire there. */
export function riskTriggers(inputs: RiskInputs, config: Partial<LabelConfig> = {}): RiskTriggerSeries {
  const c = resolveConfig(config);
  const { corrStability, volRatio, deltaZ, rA, rB, beta, barsPerBusinessDay } = inputs;
  const n = sameLength({ corrStability, volRatio, deltaZ, rA, rB, beta });
  if (!(Number.isFinite(barsPerBusinessDay) && barsPerBusinessDay > 0)) invalid(`barsPerBusinessDay must be a positive number, got ${barsPerBusinessDay}`);
  // Rounded so fractional sessions (e.g. 6.5 h) still give a whole number of bars.
  const windowBars = Math.max(1, Math.round(c.ddWindowBusinessDays * barsPerBusinessDay));
  const ema = speedEma(deltaZ, c.speedEmaHalfLife);
  const dd = pairDrawdown(rA, rB, beta, windowBars);
  const above = (v: number | null | undefined, theta: number) => observed(v) && v > theta;
  const fired: RiskTrigger[][] = [];
  for (let u = 0; u < n; u++) {
    const at: Record<RiskTrigger, boolean> = {
      corr_instability: above(corrStability[u], c.thetaCorrVar),
      vol_spike: above(volRatio[u], c.thetaVol),
      speed: above(ema[u], c.thetaSpeed),
      drawdown: above(dd[u], c.thetaDd),
    };
    fired.push(RISK_TRIGGERS.filter((k) => at[k]));
  }
  return { speedEma: ema, drawdown: dd, fired };
}

/**
 * AI2 labels: one per bar t whose inputs are all observed at t and whose window t+1 … t+H lies
 * inside the data. H is riskHorizonBars, or horizonBars (M) when that is null.
 */
export function labelRisk(inputs: RiskInputs, config: Partial<LabelConfig> = {}): RiskLabel[] {
  const c = resolveConfig(config);
  const H = c.riskHorizonBars ?? c.horizonBars;
  const { fired } = riskTriggers(inputs, c);
  const n = fired.length;
  // nextFire[k][u]: first bar ≥ u where trigger k fires (Infinity if none), so each label is O(#triggers).
  const nextFire = new Map<RiskTrigger, number[]>();
  for (const k of RISK_TRIGGERS) {
    const next = new Array<number>(n + 1).fill(Infinity);
    for (let u = n - 1; u >= 0; u--) next[u] = fired[u].includes(k) ? u : next[u + 1];
    nextFire.set(k, next);
  }
  const { corrStability, volRatio, deltaZ, rA, rB, beta } = inputs;
  const labels: RiskLabel[] = [];
  for (let t = 0; t + H < n; t++) {
    if (![corrStability, volRatio, deltaZ, rA, rB, beta].every((s) => observed(s[t]))) continue;
    const triggers = RISK_TRIGGERS.filter((k) => nextFire.get(k)![t + 1] <= t + H);
    const first = Math.min(...RISK_TRIGGERS.map((k) => nextFire.get(k)![t + 1]));
    labels.push({ t, label: triggers.length > 0 ? 1 : 0, lastBarLooked: t + H, triggers, firstTriggerBar: first <= t + H ? first : null });
  }
  return labels;
}
