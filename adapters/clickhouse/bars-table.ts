/**
 * Canonical bars in the DWH (seed 004 §9, seed 002 storage rules): one MergeTree table,
 * `canonical_bars`, whose ClickHouse partition is exactly one Orrery partition
 * (timeframe × symbol × month), ordered by (symbol, timeframe, ts), with a TTL from
 * `data_retention.yaml` (`canonical_months`).
 *
 * A partition is replaced atomically: the rows go to a staging table of the same structure, then
 * `ALTER TABLE … REPLACE PARTITION … FROM staging` swaps them in one step (an empty list is an
 * `ALTER TABLE … DROP PARTITION`, atomic too). A reader sees the old month or the new one, never
 * a mix; a failed insert leaves the old month as it was.
 *
 * The generic part (`TableSpec`, `ensureTable`, `replacePartition`) serves any partitioned table
 * stored the same way (features, labels).
 */
import { randomBytes } from 'node:crypto';
import { DwhErrorIds, sqlIdentifier, sqlString, type Dwh } from '../../core/dwh.ts';
import { ErrorIds, OrreryError } from '../../core/errors.ts';
import type { CanonicalBar, QualityFlag } from '../../core/market-data.ts';

// --- generic: partitioned MergeTree tables ------------------------------------------------------

export type TableSpec = {
  name: string;
  /** `[name, ClickHouse type]` in table order. */
  columns: ReadonlyArray<readonly [string, string]>;
  /** PARTITION BY expression; one value of it is what `replacePartition` swaps. */
  partitionBy: string;
  orderBy: string;
  /** TTL clause without the keyword, e.g. `toDateTime(ts) + INTERVAL 36 MONTH DELETE`. */
  ttl?: string;
  settings?: Record<string, string | number>;
};

/** Staging tables are `<table>__stage_<random>`; `ensureTable` drops ones left by a crash. */
const STAGE_INFIX = '__stage_';

export function createTableSql(spec: TableSpec, ifNotExists = true): string {
  const cols = spec.columns.map(([n, t]) => `    ${sqlIdentifier(n)} ${t}`).join(',\n');
  const settings = Object.entries(spec.settings ?? {}).map(([k, v]) => `${sqlIdentifier(k)} = ${typeof v === 'number' ? v : sqlString(v)}`);
  return [
    `CREATE TABLE ${ifNotExists ? 'IF NOT EXISTS ' : ''}${sqlIdentifier(spec.name)}\n(\n${cols}\n)`,
    'ENGINE = MergeTree',
    `PARTITION BY ${spec.partitionBy}`,
    `ORDER BY ${spec.orderBy}`,
    ...(spec.ttl ? [`TTL ${spec.ttl}`] : []),
    ...(settings.length ? [`SETTINGS ${settings.join(', ')}`] : []),
  ].join('\n');
}

/** The TTL part of an engine description, as ClickHouse prints it (`toIntervalMonth(36)` …). */
function ttlOf(engine: string): string | undefined {
  const m = /\bTTL\s+([\s\S]*?)(?:\s+SETTINGS\s|$)/.exec(engine.replace(/\s+/g, ' ').trim());
  return m ? m[1].trim() : undefined;
}

/**
 * Creates the table if it is missing; if it exists with another TTL (retention changed in the
 * policy), changes the TTL. Also drops staging tables older than a day (left by a crash).
 */
export async function ensureTable(dwh: Dwh, spec: TableSpec): Promise<void> {
  const name = sqlIdentifier(spec.name);
  const [db, table] = name.includes('.') ? name.split('.') : ['', name];
  const inDb = db ? 'database = {db:String}' : 'database = currentDatabase()';
  await dwh.command(createTableSql(spec));
  const [current] = await dwh.query<{ engine_full: string }>(
    `SELECT engine_full FROM system.tables WHERE ${inDb} AND name = {table:String}`,
    db ? { db, table } : { table },
  );
  if (current) {
    // Compare as the server prints it: format our own CREATE through the same formatter.
    let wanted: string | undefined;
    try {
      const [formatted] = await dwh.query<{ f: string }>('SELECT formatQuery({sql:String}) AS f', { sql: createTableSql(spec) });
      wanted = ttlOf(formatted.f);
    } catch {
      wanted = undefined; // a server without formatQuery: keep the TTL it has
    }
    const have = ttlOf(current.engine_full);
    if (spec.ttl && wanted !== undefined && wanted !== have) await dwh.command(`ALTER TABLE ${name} MODIFY TTL ${spec.ttl}`);
    if (!spec.ttl && have !== undefined) await dwh.command(`ALTER TABLE ${name} REMOVE TTL`);
  }
  const stale = await dwh.query<{ name: string }>(
    `SELECT name FROM system.tables WHERE ${inDb} AND startsWith(name, {prefix:String})
       AND metadata_modification_time < now() - INTERVAL 1 DAY`,
    db ? { db, prefix: `${table}${STAGE_INFIX}` } : { prefix: `${table}${STAGE_INFIX}` },
  );
  for (const t of stale) await dwh.command(`DROP TABLE IF EXISTS ${db ? `${db}.` : ''}${sqlIdentifier(t.name)} SYNC`);
}

/**
 * Replaces one partition of `table` with `rows`, atomically. `partition` is the partition value
 * as a SQL literal (`(202403, 'XAUUSD', '1h')`); every row must fall in it (checked in the
 * staging table before the swap: `DATA_STORAGE_ROWINVALID`). `[]` empties the partition.
 */
export async function replacePartition<T>(dwh: Dwh, opts: { table: string; partition: string; rows: T[] }): Promise<void> {
  const table = sqlIdentifier(opts.table);
  if (opts.rows.length === 0) {
    await dwh.command(`ALTER TABLE ${table} DROP PARTITION ${opts.partition}`);
    return;
  }
  const stage = `${table}${STAGE_INFIX}${randomBytes(6).toString('hex')}`;
  await dwh.command(`CREATE TABLE ${stage} AS ${table}`);
  try {
    await dwh.insert(stage, opts.rows);
    const [check] = await dwh.query<{ n: string; outside: string }>(
      `SELECT count() AS n, countIf(_partition_value != ${opts.partition}) AS outside FROM ${stage}`,
    );
    if (Number(check.outside) > 0 || Number(check.n) !== opts.rows.length) {
      throw new OrreryError(
        DwhErrorIds.ROWS_INVALID,
        `${check.outside} of ${opts.rows.length} rows for ${table} partition ${opts.partition} belong to another partition (or rows were lost: ${check.n} staged). Write each partition's own rows only; nothing was replaced.`,
        { table, partition: opts.partition, rows: opts.rows.length, staged: Number(check.n), outside: Number(check.outside) },
      );
    }
    await dwh.command(`ALTER TABLE ${table} REPLACE PARTITION ${opts.partition} FROM ${stage}`);
  } finally {
    await dwh.command(`DROP TABLE IF EXISTS ${stage} SYNC`).catch(() => {});
  }
}

// --- canonical bars ------------------------------------------------------------------------------

export const BARS_TABLE = 'canonical_bars';

/** Longest retention `barsTableSpec` accepts (see there). */
export const MAX_RETENTION_MONTHS = 600;

/** One Orrery partition of canonical bars (`TIMEFRAME|SYMBOL|YYYY-MM`). */
export type BarsPartition = { timeframe: string; symbol: string; month: string };

export function barsTableSpec(opts: { retentionMonths: number; graceDays?: number }): TableSpec {
  const { retentionMonths, graceDays = 0 } = opts;
  // The TTL is computed on DateTime, which ends in 2106: past that it wraps to 1970 and every
  // row would expire at once. 600 months keeps bars up to 2056 safely clear of it.
  if (!Number.isInteger(retentionMonths) || retentionMonths < 1 || retentionMonths > MAX_RETENTION_MONTHS || !Number.isInteger(graceDays) || graceDays < 0 || graceDays > 366) {
    throw new OrreryError(
      ErrorIds.CONFIG_INVALID,
      `Retention of canonical bars must be a whole number of months from 1 to ${MAX_RETENTION_MONTHS} (got ${retentionMonths}) and grace a whole number of days from 0 to 366 (got ${graceDays}). Fix canonical_months / grace_days in data_retention.yaml.`,
      { retentionMonths, graceDays },
    );
  }
  return {
    name: BARS_TABLE,
    columns: [
      ['ts', "DateTime64(3, 'UTC')"],
      ['symbol', 'LowCardinality(String)'],
      ['timeframe', 'LowCardinality(String)'],
      ['open', 'Float64'],
      ['high', 'Float64'],
      ['low', 'Float64'],
      ['close', 'Float64'],
      ['volume', 'Nullable(Float64)'],
      ['quality_flag', 'LowCardinality(String)'],
      ['source_id', 'LowCardinality(String)'],
      ['ingest_run_id', 'String'],
      ['metadata', 'String'],
    ],
    // One ClickHouse partition = one Orrery partition, so replacing XAUUSD's March leaves
    // every other symbol's March alone.
    partitionBy: '(toYYYYMM(ts), symbol, timeframe)',
    orderBy: '(symbol, timeframe, ts)',
    ttl: `toDateTime(ts) + INTERVAL ${retentionMonths} MONTH${graceDays ? ` + INTERVAL ${graceDays} DAY` : ''} DELETE`,
    // Expire whole parts only: a month goes at once, never row by row.
    settings: { ttl_only_drop_parts: 1 },
  };
}

/** Creates `canonical_bars` (or updates its TTL) for `retentionMonths` (`canonical_months`). */
export async function ensureBarsTable(dwh: Dwh, opts: { retentionMonths: number; graceDays?: number }): Promise<void> {
  await ensureTable(dwh, barsTableSpec(opts));
}

export function parseBarsPartition(key: string): BarsPartition {
  const [timeframe, symbol, month, ...rest] = key.split('|');
  const p = { timeframe: timeframe ?? '', symbol: symbol ?? '', month: month ?? '' };
  if (rest.length || !/^[A-Za-z0-9]+$/.test(p.timeframe) || !/^[A-Za-z0-9_.\-]+$/.test(p.symbol) || !/^\d{4}-(0[1-9]|1[0-2])$/.test(p.month)) {
    throw new OrreryError(
      ErrorIds.PARTITION_INVALID,
      `'${key}' is not a canonical-bars partition key. Use TIMEFRAME|SYMBOL|YYYY-MM, e.g. 1h|XAUUSD|2024-03.`,
      { partitionKey: key },
    );
  }
  return p;
}

export function formatBarsPartition(p: BarsPartition): string {
  return `${p.timeframe}|${p.symbol}|${p.month}`;
}

/** The partition value as ClickHouse writes it: `(toYYYYMM(ts), symbol, timeframe)`. */
function partitionLiteral(p: BarsPartition): string {
  return `(${Number(p.month.replace('-', ''))}, ${sqlString(p.symbol)}, ${sqlString(p.timeframe)})`;
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
function toRows(p: BarsPartition, bars: CanonicalBar[]): BarRow[] {
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

/** Replaces one partition's bars atomically; `[]` empties it. */
export async function replaceBarsPartition(dwh: Dwh, partition: BarsPartition, bars: CanonicalBar[]): Promise<void> {
  const p = parseBarsPartition(formatBarsPartition(partition));
  await replacePartition(dwh, { table: BARS_TABLE, partition: partitionLiteral(p), rows: toRows(p, bars) });
}

/** The partition's bars ascending by `ts_utc`, exactly as `normalizeBars` would give them. */
export async function readBarsPartition(dwh: Dwh, partition: BarsPartition): Promise<CanonicalBar[]> {
  const p = parseBarsPartition(formatBarsPartition(partition));
  const rows = await dwh.query<Omit<BarRow, 'ts'> & { ts_ms: string }>(
    `SELECT toUnixTimestamp64Milli(ts) AS ts_ms, symbol, timeframe, open, high, low, close, volume,
            quality_flag, source_id, ingest_run_id, metadata
       FROM ${BARS_TABLE}
      WHERE symbol = {symbol:String} AND timeframe = {timeframe:String} AND toYYYYMM(ts) = {yyyymm:UInt32}
      ORDER BY ts`,
    { symbol: p.symbol, timeframe: p.timeframe, yyyymm: Number(p.month.replace('-', '')) },
  );
  return rows.map((r) => {
    const bar: CanonicalBar = {
      ts_utc: new Date(Number(r.ts_ms)).toISOString(),
      symbol: r.symbol,
      timeframe: r.timeframe,
      open: r.open,
      high: r.high,
      low: r.low,
      close: r.close,
      volume: r.volume,
      quality_flag: r.quality_flag as QualityFlag,
      source_id: r.source_id,
      ingest_run_id: r.ingest_run_id,
    };
    if (r.metadata !== '') bar.metadata = JSON.parse(r.metadata) as Record<string, unknown>;
    return bar;
  });
}
