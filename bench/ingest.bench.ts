/**
 * Canonical-bar ingest: bars per second through the canonical_bars asset's path — session grid,
 * the seed's DQ rules, quarantine decision, the canonical_bar contract checks, and the atomic
 * partition replace in ClickHouse (chDB) — against a raw chDB insert of the same rows into a
 * table of the same schema, one insert per partition, interleaved partition by partition in the
 * same run after a warm-up. Fetching is excluded (bars are generated up front). Goal: ratio ≥ 0.5.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { codeLocation } from '../assets/index.ts';
import { loadPolicies } from '../assets/policies/index.ts';
import { clickhouseBarsIO } from '../adapters/clickhouse/bars-io.ts';
import { ensureBarsTable, BARS_TABLE } from '../adapters/clickhouse/bars-table.ts';
import { openEmbeddedDwh } from '../adapters/clickhouse/client.ts';
import { MemoryKeyValue } from '../adapters/memory/key-value.ts';
import { FilesystemObjectStore } from '../adapters/object-store/filesystem.ts';
import { syntheticProviderFrom } from '../adapters/providers/from-policies.ts';
import type { AssetResult, StepContext } from '../core/definitions/asset.ts';
import type { Resources } from '../core/definitions/resources.ts';
import type { CanonicalBar, MarketDataProvider } from '../core/market-data.ts';
import { ioOf } from '../core/definitions/io.ts';
import type { BenchResult } from './run.ts';

const MONTHS = ['2025-01', '2025-02', '2025-03', '2025-04', '2025-05', '2025-06', '2025-07', '2025-08', '2025-09', '2025-10', '2025-11', '2025-12'];
const SYMBOLS = ['XAUUSD', 'XAGUSD', 'EURUSD', 'GBPUSD'];

export async function run(): Promise<BenchResult> {
  const policies = loadPolicies(resolve(import.meta.dirname, '..', 'configs'));
  const dir = mkdtempSync(join(tmpdir(), 'orrery-bench-ingest-'));
  const dwh = await openEmbeddedDwh(join(dir, 'dwh'));
  try {
    await ensureBarsTable(dwh, { retentionMonths: 120 });
    await dwh.command(`CREATE TABLE raw_bars AS ${BARS_TABLE}`);
    await dwh.command(`CREATE TABLE warm_bars AS ${BARS_TABLE}`);
    const def = codeLocation(policies, { bars: clickhouseBarsIO() }).assets[0];
    const io = ioOf(def);

    // Every partition's bars, with the month before as DQ context, fetched before timing.
    const source = syntheticProviderFrom(policies, 'synthetic')!;
    const fetched = new Map<string, CanonicalBar[]>();
    for (const symbol of SYMBOLS) {
      fetched.set(symbol, await source.fetchTimeSeries({ symbol, timeframe: '1h', start: new Date('2024-11-01T00:00:00Z'), end: new Date('2026-01-01T00:00:00Z'), ingestRunId: 'bench' }));
    }
    // Served from memory by binary search on the (ascending, canonical) ts text: fetching is not measured.
    const lowerBound = (bars: CanonicalBar[], ts: string) => { let lo = 0, hi = bars.length; while (lo < hi) { const m = (lo + hi) >> 1; if (bars[m].ts_utc < ts) lo = m + 1; else hi = m; } return lo; };
    const cached: MarketDataProvider = Object.assign(Object.create(source), {
      fetchTimeSeries: async (r: { symbol: string; start: Date; end: Date }) => {
        const bars = fetched.get(r.symbol)!;
        return bars.slice(lowerBound(bars, r.start.toISOString()), lowerBound(bars, r.end.toISOString()));
      },
    });
    const resources: Resources = { dwh, provider: cached, objectStore: new FilesystemObjectStore(join(dir, 'objects')), keyValue: new MemoryKeyValue(), clock: { now: () => new Date('2026-01-15T00:00:00Z') } };
    const log = pino({ level: 'silent' });

    const cols = ['ts', 'symbol', 'timeframe', 'open', 'high', 'low', 'close', 'volume', 'quality_flag', 'source_id', 'ingest_run_id', 'metadata'];
    const compute = def.compute as (c: StepContext<{}>, inputs: {}) => Promise<AssetResult<CanonicalBar[]>>;
    /** Ours for one partition: the asset's compute, its checks, and the atomic replace. */
    type Partition = { symbol: string; month: string; key: string };
    const ctxOf = (p: Partition) => {
      const [y, m] = p.month.split('-').map(Number);
      return {
        runId: 'bench', assetKey: def.key, partitionKey: p.key, dimensions: { timeframe: '1h', symbol: p.symbol, month: p.month },
        window: { start: new Date(Date.UTC(y, m - 1, 1)), end: new Date(Date.UTC(y, m, 1)) }, config: {}, seed: 1, log, resources,
        signal: new AbortController().signal, progress: () => undefined, previous: async () => undefined,
      } as StepContext<{}>;
    };
    const ours = async (p: Partition): Promise<CanonicalBar[]> => {
      const ctx = ctxOf(p);
      const result = await compute(ctx, {});
      // As the executor does: staged before the checks (storing overlaps them), committed after.
      const ioCtx = { assetKey: def.key, partitionKey: p.key, resources };
      const staged = io.stage?.(ioCtx, result.value);
      for (const check of def.checks) {
        const outcome = await check.evaluate(result.value as never, ctx);
        if (!outcome.passed && check.severity !== 'WARN') throw new Error(`check ${check.name} failed on ${p.key}`);
      }
      await (staged ? staged.commit() : io.write(ioCtx, result.value));
      return result.value as CanonicalBar[];
    };
    // The baseline's rows: the stored bars as they are (built outside both timings).
    const rawRowsOf = (value: CanonicalBar[]) => value.map((b) => {
      const r = [b.ts_utc.slice(0, 23).replace('T', ' '), b.symbol, b.timeframe, b.open, b.high, b.low, b.close, b.volume, b.quality_flag, b.source_id, b.ingest_run_id, JSON.stringify(b.metadata ?? {})];
      return Object.fromEntries(cols.map((c, i) => [c, r[i]]));
    });

    // Warm-up, untimed, through both paths: for its first 6–8 s after opening the engine is slow
    // (inserts take ~3× as long, with heavy system time), which would fall on whichever ran first.
    const warm = SYMBOLS.map((symbol) => ({ symbol, month: '2024-12', key: `1h|${symbol}|2024-12` }));
    const warmUntil = performance.now() + 8000;
    while (performance.now() < warmUntil) {
      for (const p of warm) await dwh.insert('warm_bars', rawRowsOf(await ours(p)));
    }

    // Measured side by side, partition by partition (alternating which goes first), so both see
    // the same engine state: ours (compute + checks + atomic replace) against a raw insert of
    // the rows ours stored, one insert per partition.
    let bars = 0, oursMs = 0, rawMs = 0;
    const partitions: Partition[] = SYMBOLS.flatMap((symbol) => MONTHS.map((month) => ({ symbol, month, key: `1h|${symbol}|${month}` })));
    for (const [i, p] of partitions.entries()) {
      let stored: CanonicalBar[] = [];
      const timeOurs = async () => { const t = performance.now(); stored = await ours(p); oursMs += performance.now() - t; };
      const timeRaw = async (rows: Record<string, unknown>[]) => { const t = performance.now(); await dwh.insert('raw_bars', rows); rawMs += performance.now() - t; };
      if (i % 2 === 0) {
        await timeOurs();
        await timeRaw(rawRowsOf(stored));
      } else {
        // The raw side needs ours' rows first: computed here untimed (the same result), then timed after.
        const rows = rawRowsOf((await compute(ctxOf(p), {})).value as CanonicalBar[]);
        await timeRaw(rows);
        await timeOurs();
      }
      bars += stored.length;
    }

    const [check] = await dwh.query<{ n: string }>('SELECT count() AS n FROM raw_bars');
    if (Number(check.n) !== bars) throw new Error(`baseline stored ${check.n} rows, ours ${bars}`);
    const value = Math.round(bars / (oursMs / 1000));
    const baseline = Math.round(bars / (rawMs / 1000));
    return { value, unit: 'bars/s', baseline, ratio: Number((value / baseline).toFixed(3)), bars, partitions: partitions.length };
  } finally {
    await dwh.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
