/**
 * AI1 label: does an extreme pair z-score revert to the exit band within M bars?
 *
 * One left-to-right pass with at most one open event. Because an opposite crossing closes the
 * open event before a new one may start, "at most one open event" also means no two events
 * of the same direction ever overlap.
 */
import { observed, resolveConfig, sameLength, type LabelConfig, type Series } from './config.ts';

/** z > 0: spread rich → short A / long B. z < 0: spread cheap → long A / short B. */
export type Direction = 'short_spread' | 'long_spread';

export interface ReversionLabel {
  /** Event start bar. */
  t: number;
  direction: Direction;
  /** 1 when |z| ≤ zExit was observed in t+1 … t+M before any reversal. */
  label: 0 | 1;
  /** Last bar whose data decided the label: the exit bar, the reversal bar, or t+M. */
  lastBarLooked: number;
  exitBar: number | null;
  closedBy: 'exit' | 'timeout' | 'reversal';
}

export type ExclusionReason =
  /** Mean |Δz| over t−K … t−1 above thetaSpeed: the move is too fast to fade. */
  | 'speed'
  /** Some of t−K … t−1 is before the series or has no Δz, so the speed rule cannot be checked. */
  | 'speed_history_missing';

export interface ExcludedCandidate {
  t: number;
  direction: Direction;
  reason: ExclusionReason;
  /** The mean |Δz| that was compared, null when it could not be computed. */
  meanAbsDeltaZ: number | null;
}

/** An event still open when the series ended: no label, since its outcome is unknown. */
export interface CensoredEvent {
  t: number;
  direction: Direction;
}

export interface ReversionResult {
  labels: ReversionLabel[];
  excluded: ExcludedCandidate[];
  censored: CensoredEvent[];
}

export function directionOf(z: number): Direction {
  return z > 0 ? 'short_spread' : 'long_spread';
}

/**
 * AI1 labels for one pair. `z` and `deltaZ` are per-bar and aligned; null marks warm-up or a
 * missing bar. A null bar inside an open event can neither exit nor reverse it (nothing was
 * observed), but it still counts toward the M-bar horizon.
 */
export function labelReversion(z: Series, deltaZ: Series, config: Partial<LabelConfig> = {}): ReversionResult {
  const c = resolveConfig(config);
  const n = sameLength({ z, deltaZ });
  const M = c.horizonBars;
  const K = c.speedLookbackBars;
  const labels: ReversionLabel[] = [];
  const excluded: ExcludedCandidate[] = [];
  let open: CensoredEvent | null = null; // same shape as a censored event: start bar and direction

  for (let s = 0; s < n; s++) {
    const zs = z[s];
    if (open !== null) {
      if (observed(zs) && Math.abs(zs) <= c.zExit) {
        labels.push(closeEvent(open, s, 'exit'));
        open = null;
        continue; // |z| ≤ zExit < zEntry: not a candidate either
      }
      if (observed(zs) && Math.abs(zs) >= c.zEntry && directionOf(zs) !== open.direction) {
        labels.push(closeEvent(open, s, 'reversal'));
        open = null; // then fall through: this bar may open the opposite event
      } else if (s === open.t + M) {
        labels.push(closeEvent(open, s, 'timeout'));
        open = null;
        continue; // bar t+M still belonged to the old event, so it cannot start a new one
      } else {
        continue; // still open: same-direction candidates are suppressed
      }
    }

    if (!observed(zs) || Math.abs(zs) < c.zEntry) continue;
    const direction = directionOf(zs);
    const speed = meanAbsDeltaZ(deltaZ, s, K);
    if (speed === null) excluded.push({ t: s, direction, reason: 'speed_history_missing', meanAbsDeltaZ: null });
    else if (speed > c.thetaSpeed) excluded.push({ t: s, direction, reason: 'speed', meanAbsDeltaZ: speed });
    else open = { t: s, direction };
  }

  const censored: CensoredEvent[] = open === null ? [] : [open];
  return { labels, excluded, censored };
}

function closeEvent(open: CensoredEvent, s: number, closedBy: ReversionLabel['closedBy']): ReversionLabel {
  const exitBar = closedBy === 'exit' ? s : null;
  return { t: open.t, direction: open.direction, label: exitBar === null ? 0 : 1, lastBarLooked: s, exitBar, closedBy };
}

/** Mean |Δz| over bars t−K … t−1, or null when any of them is missing. */
export function meanAbsDeltaZ(deltaZ: Series, t: number, K: number): number | null {
  if (t - K < 0) return null;
  let sum = 0;
  for (let i = t - K; i < t; i++) {
    const d = deltaZ[i];
    if (!observed(d)) return null;
    sum += Math.abs(d);
  }
  return sum / K;
}
