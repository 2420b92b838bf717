/**
 * Leak-free splits of a time-ordered labelled sample (seed 002 時系列CV v1, seed 004 §7):
 *
 * - Purged grouped time-series K-fold: the bars are cut into K contiguous blocks (at least
 *   `minBlockLenBars` each); each block is validated once. A training sample is dropped (purged)
 *   when its label span [t, lastBarLooked] comes within `purgeBars` of the validation block, and
 *   the `embargoBars` after the block are never trained on (their features overlap the block's).
 * - Expanding walk-forward: train on everything before a cut (at least `minTrainBars`), validate
 *   on the next `stepBars`, then move the cut by `stepBars`. Training labels whose span reaches
 *   into the validation window (minus the purge) are dropped.
 *
 * All lengths are bars (the seed: 「すべての長さはバー数」); callers convert days per timeframe.
 */
import { OrreryError } from '../../../core/errors.ts';
import { MODEL_INVALID } from './errors.ts';

/** A labelled sample's time span in bar indices: its own bar and the last bar its label read. */
export interface LabelSpan {
  t: number;
  lastBarLooked: number;
}

export interface Split {
  /** Indices into the samples array. */
  train: number[];
  valid: number[];
  /** Bar range of the validation block, inclusive. */
  validBars: [number, number];
  /** Training samples dropped because their label span came too close to the block. */
  purged: number;
}

export interface PurgedKFoldOptions {
  k: number;
  purgeBars: number;
  embargoBars: number;
  minBlockLenBars: number;
}

export const SEED_CV = { k: 5, purgeBars: 24, embargoBars: 24, minBlockLenBars: 240, wfStepDays: 30, wfMinTrainDays: 360 } as const;

function checkSpans(samples: readonly LabelSpan[]): number {
  let bars = 0;
  for (const s of samples) {
    if (!Number.isInteger(s.t) || !Number.isInteger(s.lastBarLooked) || s.lastBarLooked < s.t || s.t < 0) {
      throw new OrreryError(MODEL_INVALID, `A label span must satisfy 0 ≤ t ≤ lastBarLooked (got t=${s.t}, lastBarLooked=${s.lastBarLooked}).`, { sample: s });
    }
    bars = Math.max(bars, s.lastBarLooked + 1, s.t + 1);
  }
  return bars;
}

/** True when [a0, a1] and [b0, b1] come within `gap` bars of each other (or overlap). */
const near = (a0: number, a1: number, b0: number, b1: number, gap: number) => a0 <= b1 + gap && b0 <= a1 + gap;

export function purgedKFold(samples: readonly LabelSpan[], o: PurgedKFoldOptions = SEED_CV): Split[] {
  const bars = checkSpans(samples);
  if (!(Number.isInteger(o.k) && o.k >= 2)) throw new OrreryError(MODEL_INVALID, `k must be an integer ≥ 2 (got ${o.k}).`, { k: o.k });
  const k = Math.min(o.k, Math.floor(bars / o.minBlockLenBars));
  if (k < 2) {
    throw new OrreryError(MODEL_INVALID, `${bars} bars cannot hold 2 validation blocks of ${o.minBlockLenBars} bars; label more history or lower min_block_len_bars.`, { bars, minBlockLenBars: o.minBlockLenBars });
  }
  const splits: Split[] = [];
  for (let f = 0; f < k; f++) {
    const b0 = Math.floor((f * bars) / k);
    const b1 = Math.floor(((f + 1) * bars) / k) - 1;
    const train: number[] = [];
    const valid: number[] = [];
    let purged = 0;
    samples.forEach((s, i) => {
      if (s.t >= b0 && s.t <= b1) valid.push(i);
      else if (near(s.t, s.lastBarLooked, b0, b1, o.purgeBars) || (s.t > b1 && s.t <= b1 + o.embargoBars)) purged++;
      else train.push(i);
    });
    splits.push({ train, valid, validBars: [b0, b1], purged });
  }
  return splits;
}

export interface WalkForwardOptions {
  minTrainBars: number;
  stepBars: number;
  purgeBars: number;
}

export function expandingWalkForward(samples: readonly LabelSpan[], o: WalkForwardOptions): Split[] {
  const bars = checkSpans(samples);
  if (!(o.stepBars >= 1 && o.minTrainBars >= 1)) throw new OrreryError(MODEL_INVALID, 'stepBars and minTrainBars must be ≥ 1.', { ...o });
  const splits: Split[] = [];
  for (let cut = o.minTrainBars; cut < bars; cut += o.stepBars) {
    const v0 = cut;
    const v1 = Math.min(bars, cut + o.stepBars) - 1;
    const train: number[] = [];
    const valid: number[] = [];
    let purged = 0;
    samples.forEach((s, i) => {
      if (s.t >= v0 && s.t <= v1) valid.push(i);
      else if (s.t < v0) {
        if (s.lastBarLooked >= v0 - o.purgeBars) purged++;
        else train.push(i);
      }
    });
    splits.push({ train, valid, validBars: [v0, v1], purged });
  }
  return splits;
}

/** Bars of `days` business days on a timeframe with `barsPerBusinessDay` bars a day. */
export function daysToBars(days: number, barsPerBusinessDay: number): number {
  return Math.round(days * barsPerBusinessDay);
}
