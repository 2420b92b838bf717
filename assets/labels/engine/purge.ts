/** Anything that read bars t … lastBarLooked to decide its label. */
export interface LabelSpan {
  t: number;
  lastBarLooked: number;
}

/** Whether the bars a label looked at, [t, lastBarLooked], meet the closed bar range [from, to]. */
export function overlaps(label: LabelSpan, [from, to]: readonly [number, number]): boolean {
  return label.t <= to && label.lastBarLooked >= from;
}

/**
 * Training labels that can be kept next to a test range: those whose span misses
 * [from − embargo, to + embargo]. The embargo widens the gap on both sides to absorb
 * feature look-back and serial correlation.
 */
export function purgeOverlapping<L extends LabelSpan>(labels: readonly L[], [from, to]: readonly [number, number], embargoBars = 0): L[] {
  return labels.filter((l) => !overlaps(l, [from - embargoBars, to + embargoBars]));
}
