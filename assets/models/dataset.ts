/**
 * The training material of one pair group up to a cutoff: every synchronized bar of the group's
 * pairs with its raw features, prices and labels, on one time axis. Labels a model trained at the
 * cutoff could not have known yet (their last bar looked at is at or after the cutoff) are dropped,
 * so no future leaks into a model through its labels.
 */
import type { FeatureRow } from '../features/asset.ts';
import type { LabelRow } from '../labels/asset.ts';

export interface DatasetRow {
  pair: string;
  ts: string;
  /** Index of `ts` on the group's time axis (the union of its pairs' bar times). */
  t: number;
  close_A: number;
  close_B: number;
  z: number | null;
  beta: number | null;
  /** Raw feature values in `featureNames` order (null while a window warms up). */
  x: (number | null)[];
  /** AI1 event starting here: its label, and the time index of the last bar the label read. */
  ai1: { label: 0 | 1; last: number } | null;
  ai2: { label: 0 | 1; last: number } | null;
}

export interface GroupDataset {
  group: string;
  timeframe: string;
  /** Exclusive end of the data the model may see (ISO UTC). */
  cutoff: string;
  pairs: string[];
  featureNames: string[];
  schemaHash: string;
  /** Bar times of the axis, ascending; `DatasetRow.t` indexes this. */
  times: string[];
  /** Sorted by (t, pair). */
  rows: DatasetRow[];
  /** Labels dropped because they were resolved only after the cutoff. */
  labelsAfterCutoff: number;
}

/** The model's inputs: z (the signal itself) and the manifest's features. */
export function modelFeatureNames(schemaNames: readonly string[]): string[] {
  return ['z', ...schemaNames.filter((n) => n !== 'z')];
}

export interface PairMaterial {
  pair: string;
  features: FeatureRow[];
  labels: LabelRow[];
}

export function buildGroupDataset(o: { group: string; timeframe: string; cutoff: Date; schemaNames: readonly string[]; schemaHash: string; pairs: PairMaterial[] }): GroupDataset {
  const cutoff = o.cutoff.toISOString();
  const featureNames = modelFeatureNames(o.schemaNames);
  const cut = (ts: string) => Date.parse(ts) < o.cutoff.getTime();
  const times = [...new Set(o.pairs.flatMap((p) => p.features.filter((r) => cut(r.ts_utc)).map((r) => r.ts_utc)))].sort();
  const index = new Map(times.map((ts, i) => [ts, i]));
  const rows: DatasetRow[] = [];
  let dropped = 0;
  for (const p of o.pairs) {
    const labels = new Map(p.labels.map((l) => [l.ts_utc, l]));
    for (const f of p.features) {
      const t = index.get(f.ts_utc);
      if (t === undefined) continue;
      const l = labels.get(f.ts_utc);
      const known = (label: 0 | 1 | null | undefined, lastTs: string | null | undefined) => {
        if (label === null || label === undefined || !lastTs) return null;
        const last = index.get(lastTs);
        if (last === undefined) { dropped++; return null; }
        return { label, last };
      };
      rows.push({
        pair: p.pair, ts: f.ts_utc, t,
        close_A: f.close_A, close_B: f.close_B, z: f.z, beta: f.beta,
        x: featureNames.map((n) => (f as Record<string, number | null | boolean | string>)[n] as number | null ?? null),
        ai1: known(l?.ai1_label, l?.ai1_last_ts),
        ai2: known(l?.ai2_label, l?.ai2_last_ts),
      });
    }
  }
  rows.sort((a, b) => a.t - b.t || (a.pair < b.pair ? -1 : a.pair > b.pair ? 1 : 0));
  return { group: o.group, timeframe: o.timeframe, cutoff, pairs: o.pairs.map((p) => p.pair), featureNames, schemaHash: o.schemaHash, times, rows, labelsAfterCutoff: dropped };
}
