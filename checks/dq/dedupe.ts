/**
 * Dedupe and ordering (seed 002 DQ: "重複/逆順: timestamp 一意性担保。重複は最新受信で上書き";
 * data-source layer: "キー (symbol,timeframe,ts_utc) で一意化。重複は latest_wins").
 */
import type { CanonicalBar } from '../../core/market-data.ts';
import { canonicalInstant, canonicalTs } from './time.ts';

/** The dedupe key. Two spellings of one instant (`…00Z`, `…00.000Z`) are one key. */
export function barKey(bar: Pick<CanonicalBar, 'symbol' | 'timeframe' | 'ts_utc'>): string {
  return `${bar.symbol}\u0000${bar.timeframe}\u0000${canonicalTs(bar.ts_utc) ?? bar.ts_utc}`;
}

/** `metadata.ingest_seq` when it is a finite number, else null. */
export function ingestSeq(bar: CanonicalBar): number | null {
  const s = bar.metadata?.ingest_seq;
  return typeof s === 'number' && Number.isFinite(s) ? s : null;
}

/**
 * Whether the version at input position `i` wins over the one at `j` (same key). "Latest" is
 * ranked by (`metadata.ingest_seq`, input position): a higher ingest_seq wins; on a tie, or when
 * either bar has no ingest_seq, the one received later (later in the input) wins — except that a
 * bar with an ingest_seq beats one without (a sequenced delivery is newer than an unsequenced one
 * it would otherwise tie with: unsequenced ranks as −∞).
 */
function beats(a: CanonicalBar, i: number, b: CanonicalBar, j: number): boolean {
  const sa = ingestSeq(a) ?? -Infinity, sb = ingestSeq(b) ?? -Infinity;
  return sa !== sb ? sa > sb : i > j;
}

/**
 * Keeps one bar per (symbol, timeframe, ts_utc): the latest version. Returns the winners in
 * the input order of their first version, and the dropped (superseded) versions in input order.
 * Idempotent: `dedupeBars(dedupeBars(x).bars).bars` equals `dedupeBars(x).bars`.
 */
export function dedupeBars(bars: readonly CanonicalBar[]): { bars: CanonicalBar[]; dropped: CanonicalBar[] } {
  const { winners, dropped } = dedupeBy(bars, barKey);
  return { bars: winners.map((i) => bars[i]), dropped };
}

/**
 * dedupeBars with the key of bar i given by `keyOf(bars[i], i)` (called in input order, once
 * per bar): the winners' indices in the input order of their key's first version, and the
 * dropped versions in input order.
 */
export function dedupeBy(bars: readonly CanonicalBar[], keyOf: (b: CanonicalBar, i: number) => string): { winners: number[]; dropped: CanonicalBar[] } {
  const best = new Map<string, number>();
  const order: string[] = [];
  bars.forEach((b, i) => {
    const k = keyOf(b, i);
    const cur = best.get(k);
    if (cur === undefined) { best.set(k, i); order.push(k); }
    else if (beats(b, i, bars[cur], cur)) best.set(k, i);
  });
  const winners = order.map((k) => best.get(k)!);
  if (winners.length === bars.length) return { winners, dropped: [] };
  const won = new Set(winners);
  return { winners, dropped: bars.filter((_, i) => !won.has(i)) };
}

/** sortBars of bars whose instants are known (`ms[i]`, finite, of canonical ts text): the same order. */
export function sortByInstant<T>(bars: readonly T[], ms: readonly number[]): T[] {
  let sorted = true;
  for (let k = 1; k < bars.length && sorted; k++) sorted = ms[k - 1] < ms[k];
  if (sorted) return bars.slice();
  return bars
    .map((b, i) => i)
    .sort((x, y) => (ms[x] !== ms[y] ? (ms[x] < ms[y] ? -1 : 1) : x - y))
    .map((i) => bars[i]);
}

/** Ascending by instant (unparsable ts last, by text); stable. A new array. */
export function sortBars(bars: readonly CanonicalBar[]): CanonicalBar[] {
  // The instant of the canonical text (Date.parse of it is the instant itself).
  const ms = (b: CanonicalBar) => canonicalInstant(b.ts_utc)?.ms ?? Infinity;
  const keyed = bars.map((b, i) => ({ b, i, t: ms(b) }));
  const cmp = (x: (typeof keyed)[number], y: (typeof keyed)[number]) =>
    x.t !== y.t ? (x.t < y.t ? -1 : 1) : x.t === Infinity && x.b.ts_utc !== y.b.ts_utc ? (x.b.ts_utc < y.b.ts_utc ? -1 : 1) : x.i - y.i;
  let sorted = true;
  for (let k = 1; k < keyed.length && sorted; k++) sorted = cmp(keyed[k - 1], keyed[k]) < 0;
  return (sorted ? keyed : keyed.sort(cmp)).map((x) => x.b);
}
