/**
 * Variance watchdog (seed 004 §7.1): when the EMA of the prediction standard deviation falls
 * below `minStdRatio` (0.1) of the target's standard deviation, the model has collapsed to a
 * near-constant output — training stops with `early_stop_reason = variance_collapse`. Checked
 * only after `warmupRounds`, since a booster starts from a constant on purpose.
 */
export interface WatchdogOptions {
  minStdRatio: number;
  /** Half-life, in rounds, of the EMA of the prediction std. */
  emaHalfLife: number;
  warmupRounds: number;
}

export const SEED_WATCHDOG: WatchdogOptions = { minStdRatio: 0.1, emaHalfLife: 5, warmupRounds: 20 };

export function std(xs: ArrayLike<number>): number {
  const n = xs.length;
  if (n === 0) return 0;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += xs[i];
  mean /= n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (xs[i] - mean) ** 2;
  return Math.sqrt(ss / n);
}

export class VarianceWatchdog {
  private ema: number | null = null;
  private rounds = 0;
  private readonly alpha: number;
  readonly targetStd: number;
  /** std_ratio after each observed round (what the seed records). */
  readonly history: number[] = [];

  constructor(targets: ArrayLike<number>, readonly options: WatchdogOptions = SEED_WATCHDOG) {
    this.targetStd = std(targets);
    this.alpha = 1 - 2 ** (-1 / options.emaHalfLife);
  }

  /** Records one round's predictions; true when training should stop (variance collapse). */
  observe(predictions: ArrayLike<number>): boolean {
    const s = std(predictions);
    this.ema = this.ema === null ? s : this.ema + this.alpha * (s - this.ema);
    this.rounds++;
    // A constant target has nothing to collapse from.
    const ratio = this.targetStd > 0 ? this.ema / this.targetStd : Infinity;
    this.history.push(ratio);
    return this.rounds > this.options.warmupRounds && ratio < this.options.minStdRatio;
  }
}
