// Reference: the row preparation and canonical text of adapters/clickhouse/bars-table.ts (canonicalJson, normalizeBar(s), toRows) as of commit 5b2be95, before the ingest speed-up; test/checks/equivalence.test.ts holds the optimised code to it. Do not edit.
import { DwhErrorIds } from '../../../core/dwh.ts';
import { OrreryError } from '../../../core/errors.ts';
import type { CanonicalBar } from '../../../core/market-data.ts';

export type BarsPartition = { timeframe: string; symbol: string; month: string };

export function formatBarsPartition(p: BarsPartition): string {
  return `${p.timeframe}|${p.symbol}|${p.month}`;
}

/** JSON with object keys sorted at every level: equal values give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
    }
    return v;
  });
}

/**
 * A bar as it is stored and read back: the canonical fields only, in canonical order, `ts_utc`
 * in `toISOString()` form, `volume` null when absent, `metadata` only when present.
 */
export function normalizeBar(b: CanonicalBar): CanonicalBar {
  const out: CanonicalBar = {
    ts_utc: new Date(b.ts_utc).toISOString(),
    symbol: b.symbol,
    timeframe: b.timeframe,
    open: b.open,
    high: b.high,
    low: b.low,
    close: b.close,
    volume: b.volume ?? null,
    quality_flag: b.quality_flag,
    source_id: b.source_id,
    ingest_run_id: b.ingest_run_id,
  };
  if (b.metadata !== undefined) out.metadata = JSON.parse(canonicalJson(b.metadata)) as Record<string, unknown>;
  return out;
}

/** Bars of one partition in stored form, ascending by time. */
export function normalizeBars(bars: CanonicalBar[]): CanonicalBar[] {
  return bars.map(normalizeBar).sort((a, b) => (a.ts_utc < b.ts_utc ? -1 : a.ts_utc > b.ts_utc ? 1 : 0));
}

type BarRow = {
  ts: string;
  symbol: string;
  timeframe: string;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number | null;
  quality_flag: string;
  source_id: string;
  ingest_run_id: string;
  metadata: string;
};

function invalid(p: BarsPartition, i: number, why: string, bar: unknown): OrreryError {
  return new OrreryError(
    DwhErrorIds.ROWS_INVALID,
    `Bar #${i} cannot be stored in partition ${formatBarsPartition(p)}: ${why}. Give each partition only its own bars, with finite prices; nothing was replaced.`,
    { partitionKey: formatBarsPartition(p), index: i, bar },
  );
}

/** Checks the bars belong to `p` and are well-typed where ClickHouse would silently coerce. */
export function toRows(p: BarsPartition, bars: CanonicalBar[]): BarRow[] {
  const seen = new Set<number>();
  return bars.map((b, i) => {
    const t = Date.parse(b.ts_utc);
    if (!Number.isFinite(t)) throw invalid(p, i, `ts_utc '${b.ts_utc}' is not a timestamp`, b);
    const iso = new Date(t).toISOString();
    if (b.symbol !== p.symbol || b.timeframe !== p.timeframe || iso.slice(0, 7) !== p.month) {
      throw invalid(p, i, `it is ${b.timeframe}|${b.symbol}|${iso.slice(0, 7)}`, b);
    }
    if (seen.has(t)) throw invalid(p, i, `a second bar at ${iso}`, b);
    seen.add(t);
    // JSON would turn NaN into null, and ClickHouse null into 0: refuse instead.
    for (const f of ['open', 'high', 'low', 'close'] as const) {
      if (typeof b[f] === 'number' && !Number.isFinite(b[f])) throw invalid(p, i, `${f} is ${b[f]}`, b);
    }
    if (typeof b.volume === 'number' && !Number.isFinite(b.volume)) throw invalid(p, i, `volume is ${b.volume}`, b);
    return {
      ts: iso.slice(0, 23).replace('T', ' '),
      symbol: b.symbol,
      timeframe: b.timeframe,
      open: b.open,
      high: b.high,
      low: b.low,
      close: b.close,
      volume: b.volume ?? null,
      quality_flag: b.quality_flag,
      source_id: b.source_id,
      ingest_run_id: b.ingest_run_id,
      metadata: b.metadata === undefined ? '' : canonicalJson(b.metadata),
    };
  });
}

