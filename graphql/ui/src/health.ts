/** Partition health strip: how an asset's partitions split into coloured segments. Pure (no DOM). */

export interface PartitionStats {
  total: number;
  materialized: number;
  failed: number;
  missing: number;
  stale: number;
  quarantined: number;
}

export type Segment = 'fresh' | 'stale' | 'failed' | 'quarantined' | 'missing';

export interface StripSegment {
  kind: Segment;
  count: number;
  /** Offset and width in the caller's units (e.g. px), summing exactly to the strip width. */
  x: number;
  width: number;
}

/** Fixed order, left to right: what is good first, what needs work last. */
export const SEGMENT_ORDER: readonly Segment[] = ['fresh', 'stale', 'failed', 'quarantined', 'missing'];

export const SEGMENT_LABEL: Record<Segment, string> = {
  fresh: 'materialized',
  stale: 'stale',
  failed: 'failed',
  quarantined: 'quarantined',
  missing: 'missing',
};

/**
 * Counts per segment. `stale` overlays the other statuses (the runtime counts a partition once by
 * health and again as stale when it has stale causes), so stale partitions are carved out of the
 * materialized ones rather than added: the segments then sum to the partitions there are.
 */
export function segmentCounts(s: PartitionStats): Record<Segment, number> {
  const n = (v: number) => (Number.isFinite(v) && v > 0 ? Math.floor(v) : 0);
  const materialized = n(s.materialized);
  const stale = Math.min(n(s.stale), materialized);
  return { fresh: materialized - stale, stale, failed: n(s.failed), quarantined: n(s.quarantined), missing: n(s.missing) };
}

/**
 * Segments over `width` units, proportional to the counts. Widths are rounded with the largest
 * remainder method so they add up to `width` exactly (no gap or overflow at the strip's end), and a
 * non-empty status never rounds away to 0 when it can get at least `minWidth` (a single failed
 * partition among a million stays visible).
 */
export function healthStrip(stats: PartitionStats, width: number, minWidth = 1): StripSegment[] {
  const counts = segmentCounts(stats);
  const sum = SEGMENT_ORDER.reduce((a, k) => a + counts[k], 0);
  if (sum === 0 || width <= 0) return [];
  const present = SEGMENT_ORDER.filter((k) => counts[k] > 0);
  const floor = Math.min(minWidth, width / present.length);
  // Reserve the minimum for each present status, share the rest proportionally.
  const spare = width - floor * present.length;
  const exact = present.map((k) => floor + (spare * counts[k]) / sum);
  const unit = Number.isInteger(width) && Number.isInteger(floor) ? 1 : 0;
  let widths: number[];
  if (unit) {
    widths = exact.map(Math.floor);
    let left = width - widths.reduce((a, b) => a + b, 0);
    const order = exact.map((e, i) => [e - Math.floor(e), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    for (let j = 0; left > 0; j = (j + 1) % order.length, left--) widths[order[j][1]]++;
  } else {
    widths = exact;
  }
  let x = 0;
  return present.map((kind, i) => {
    const seg = { kind, count: counts[kind], x, width: widths[i] };
    x += widths[i];
    return seg;
  });
}

/** "120 partitions: 100 materialized, 5 stale, 15 missing" — the strip in words for screen readers. */
export function describeHealth(stats: PartitionStats): string {
  const counts = segmentCounts(stats);
  const parts = SEGMENT_ORDER.filter((k) => counts[k] > 0).map((k) => `${counts[k].toLocaleString('en-US')} ${SEGMENT_LABEL[k]}`);
  const total = Math.max(stats.total, SEGMENT_ORDER.reduce((a, k) => a + counts[k], 0));
  return `${total.toLocaleString('en-US')} partition${total === 1 ? '' : 's'}${parts.length ? `: ${parts.join(', ')}` : ''}`;
}
