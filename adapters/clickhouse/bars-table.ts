/**
 * Canonical bars in the DWH (seed 004 §9, seed 002 storage rules): one MergeTree table,
 * `canonical_bars`, whose ClickHouse partition is exactly one Orrery partition
 * (timeframe × symbol × month), ordered by (symbol, timeframe, ts), with a TTL from
 * `data_retention.yaml` (`canonical_months`).
 *
 * A partition is replaced atomically: the rows go to a staging table of the same structure, then
 * `ALTER TABLE … REPLACE PARTITION … FROM staging` swaps them in one step (an empty list is an
 * `ALTER TABLE … DROP PARTITION`, atomic too). A reader sees the old month or the new one, never
 * a mix; a failed insert leaves the old month as it was. Staging tables are kept across writes
 * (leased to one write at a time, emptied in the background after it): a write is two
 * statements, the insert and the swap (see `replacePartitionJson`).
 *
 * Bars are checked and written as JSONEachRow in one pass (`prepareBars`: a bar of another
 * partition, a duplicate ts or a non-finite price is refused before anything is sent), and the
 * text their data version hashes (`canonicalBarsText`) is made while ClickHouse inserts.
 *
 * The generic part (`TableSpec`, `ensureTable`, `replacePartition`) serves any partitioned table
 * stored the same way (features, labels).
 */
import { randomBytes } from 'node:crypto';
import { DwhErrorIds, sqlIdentifier, sqlString, type Dwh } from '../../core/dwh.ts';
import { ErrorIds, OrreryError } from '../../core/errors.ts';
import { canonicalUtcMs } from '../../core/utc-text.ts';
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

/** Staging tables are `<table>__stage_<random>`; `ensureTable` drops ones left behind. */
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
 * policy), changes the TTL. Also drops staging tables older than a day (left by a crash) and
 * empty ones idle for ten minutes (left by processes that ended without `releaseStagingTables`).
 */
export async function ensureTable(dwh: Dwh, spec: TableSpec): Promise<void> {
  const name = sqlIdentifier(spec.name);
  // The definition may change below: staging tables made before are not used again.
  generations.set(name, (generations.get(name) ?? 0) + 1);
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
  // Staging tables left by a crash (a day old), or left empty by a process that has ended (ten
  // minutes idle). Dropping one that a live process still holds is harmless: its next write
  // finds it missing and makes another (see replacePartitionJson).
  const stale = await dwh.query<{ name: string }>(
    `SELECT name FROM system.tables WHERE ${inDb} AND startsWith(name, {prefix:String})
       AND (metadata_modification_time < now() - INTERVAL 1 DAY
            OR (ifNull(total_rows, 0) = 0 AND metadata_modification_time < now() - INTERVAL 10 MINUTE))`,
    db ? { db, prefix: `${table}${STAGE_INFIX}` } : { prefix: `${table}${STAGE_INFIX}` },
  );
  for (const t of stale) await dwh.command(`DROP TABLE IF EXISTS ${db ? `${db}.` : ''}${sqlIdentifier(t.name)} SYNC`);
}

// --- staging tables --------------------------------------------------------------------------------

/**
 * How long-lived staging tables are kept honest (see `replacePartitionJson`). Mutable for tests.
 * - `verifyMs`: a staging table is used only if its table's definition (`SHOW CREATE`) was seen
 *   unchanged since the staging table was made within this many ms; older, it is checked again
 *   first (a TTL changed by another process must not reach parts written through an old copy).
 * - `maxAgeMs`: a staging table older than this is dropped and made anew, so a live one never
 *   reaches the age at which `ensureTable` (of any process) drops it as crash-left.
 * - `maxHeld`: how many swapped partitions a staging table serves before it is dropped. A swap
 *   clones the partition's parts into the table and leaves the staging copy behind. Emptying the
 *   staging table after every write would put a TRUNCATE (its time grows with the parts, ~15 ms
 *   each) between every two inserts, one statement at a time per connection; instead it takes
 *   other partitions until this many have piled up, or the same one comes again, and is then
 *   dropped (without SYNC: ClickHouse removes its files in the background) for a new one.
 */
export const STAGING = { verifyMs: 1_000, maxAgeMs: 3_600_000, maxHeld: 16 };

type Stage = {
  name: string;
  /** The table's definition (SHOW CREATE, name stripped) the staging table was made as. */
  definition: string;
  generation: number;
  createdAt: number;
  verifiedAt: number;
  /** idle: free; busy: leased to one write; checking: its definition checked in the background (then idle). */
  state: 'idle' | 'busy' | 'checking' | 'retired';
  /** Partitions (SQL literals) already swapped out of it whose rows it still holds; nothing else is in it. */
  held: Set<string>;
  ready?: Promise<void>;
};

/** Staging tables per DWH connection and table. */
const pools = new WeakMap<Dwh, Map<string, Stage[]>>();
/** Drops of retired staging tables still under way, per DWH connection. */
const dropping = new WeakMap<Dwh, Set<Promise<void>>>();
/** Bumped by `ensureTable` (which may change the definition): older staging tables are not used again. */
const generations = new Map<string, number>();

function poolOf(dwh: Dwh, table: string): Stage[] {
  let byTable = pools.get(dwh);
  if (!byTable) pools.set(dwh, (byTable = new Map()));
  let pool = byTable.get(table);
  if (!pool) byTable.set(table, (pool = []));
  return pool;
}

/** The part of a `SHOW CREATE TABLE` statement after the table's name. */
function definitionOf(statement: string): string {
  const i = statement.indexOf('(');
  return i < 0 ? statement : statement.slice(i);
}

async function showDefinition(dwh: Dwh, table: string): Promise<string> {
  const [row] = await dwh.query<{ statement: string }>(`SHOW CREATE TABLE ${table}`);
  return definitionOf(row?.statement ?? '');
}

/** Takes a staging table out of use and drops it in the background. */
function retire(dwh: Dwh, table: string, stage: Stage): void {
  stage.state = 'retired';
  const pool = poolOf(dwh, table);
  const i = pool.indexOf(stage);
  if (i >= 0) pool.splice(i, 1);
  // Best effort: one left behind (connection gone) is dropped by a later ensureTable, a day on.
  let pending = dropping.get(dwh);
  if (!pending) dropping.set(dwh, (pending = new Set()));
  const drop: Promise<void> = dwh.command(`DROP TABLE IF EXISTS ${stage.name}`).catch(() => {}).finally(() => pending.delete(drop));
  pending.add(drop);
}

/**
 * Whether `stage` can take rows of `partition` as it is: it holds no rows of that partition, and
 * none at all when the write reads the staged rows back (`empty`).
 */
function usableFor(stage: Stage, partition: string, empty: boolean): boolean {
  return empty ? stage.held.size === 0 : !stage.held.has(partition);
}

/** An idle staging table that needs no query before use, leased; null when there is none. */
function takeStage(dwh: Dwh, table: string, now: number, partition: string, empty: boolean): Stage | null {
  const pool = poolOf(dwh, table);
  const generation = generations.get(table) ?? 0;
  for (const stage of [...pool]) {
    if (stage.state !== 'idle') continue;
    if (stage.generation !== generation || now - stage.createdAt > STAGING.maxAgeMs) { retire(dwh, table, stage); continue; }
    if (now - stage.verifiedAt > STAGING.verifyMs || !usableFor(stage, partition, empty)) continue;
    stage.state = 'busy';
    return stage;
  }
  return null;
}

/**
 * Leases a staging table for rows of `partition`: an idle one (checked against the table first
 * when due; dropped instead when it holds rows in the way), else a new one.
 */
async function acquireStage(dwh: Dwh, table: string, partition: string, empty: boolean): Promise<Stage> {
  for (;;) {
    const now = Date.now();
    const fresh = takeStage(dwh, table, now, partition, empty);
    if (fresh) return fresh;
    const pool = poolOf(dwh, table);
    const blocking = pool.find((s) => s.state === 'idle' && !usableFor(s, partition, empty));
    if (blocking) { retire(dwh, table, blocking); continue; }
    const due = pool.find((s) => s.state === 'idle');
    if (due) {
      due.state = 'busy';
      try {
        if ((await showDefinition(dwh, table)) === due.definition) {
          due.verifiedAt = now;
          return due;
        }
      } catch (e) {
        due.state = 'idle';
        throw e;
      }
      retire(dwh, table, due);
      continue;
    }
    // A staging table being checked in the background is free again in a moment: wait for it
    // rather than make another (writes running at once still get one each).
    const checking = pool.find((s) => s.state === 'checking');
    if (checking) {
      await checking.ready;
      continue;
    }
    // A new one. The definition is read first: if the table changes in between, the staging
    // table no longer matches it and is retired at its first check.
    const definition = await showDefinition(dwh, table);
    const stage: Stage = { name: `${table}${STAGE_INFIX}${randomBytes(6).toString('hex')}`, definition, generation: generations.get(table) ?? 0, createdAt: now, verifiedAt: now, state: 'busy', held: new Set() };
    await dwh.command(`CREATE TABLE ${stage.name} AS ${table}`);
    poolOf(dwh, table).push(stage);
    return stage;
  }
}

/**
 * Returns a leased staging table. After a swap of `swapped` it keeps that partition's rows (see
 * `STAGING.maxHeld`) and is free for other partitions, checked against the table again in the
 * background when due; after a failed write, or once it holds `maxHeld` partitions, it is dropped.
 */
function releaseStage(dwh: Dwh, table: string, stage: Stage, swapped: string | undefined): void {
  if (stage.state === 'retired') return;
  const generation = generations.get(table) ?? 0;
  if (stage.generation !== generation || swapped === undefined || stage.held.size + 1 >= STAGING.maxHeld) { retire(dwh, table, stage); return; }
  stage.held.add(swapped);
  if (Date.now() - stage.verifiedAt <= STAGING.verifyMs / 2) { stage.state = 'idle'; return; }
  stage.state = 'checking';
  stage.ready = (async () => {
    try {
      const at = Date.now();
      if ((await showDefinition(dwh, table)) !== stage.definition) throw new Error('definition changed');
      stage.verifiedAt = at;
      if (stage.state === 'checking') stage.state = 'idle';
    } catch {
      retire(dwh, table, stage);
    } finally {
      stage.ready = undefined;
    }
  })();
}

/**
 * Waits for the background checks of `dwh`'s staging tables, then drops the idle ones (all
 * tables, or `table`'s). For a graceful shutdown and for tests; writes afterwards make new ones.
 */
export async function releaseStagingTables(dwh: Dwh, table?: string): Promise<void> {
  const byTable = pools.get(dwh);
  if (!byTable) return;
  for (const [name, pool] of byTable) {
    if (table !== undefined && name !== sqlIdentifier(table)) continue;
    await Promise.all(pool.map((s) => s.ready));
    for (const stage of [...pool]) if (stage.state === 'idle') retire(dwh, name, stage);
  }
  await Promise.all(dropping.get(dwh) ?? []);
}

/** Settings of every staging insert: synchronous, all rows or an error (whatever the server's profile says). */
const STAGE_INSERT_SETTINGS = 'async_insert = 0, insert_deduplicate = 0, input_format_allow_errors_num = 0, input_format_allow_errors_ratio = 0, input_format_parallel_parsing = 0';

function isMissingTable(e: unknown): boolean {
  return e instanceof OrreryError && (e.details as { clickhouseCode?: unknown } | undefined)?.clickhouseCode === 60;
}

/** A rejected staging insert, reported as `dwh.insert` reports one (`DATA_STORAGE_INSERT`). */
function insertError(e: unknown, stage: string, rows: number): unknown {
  if (!(e instanceof OrreryError) || e.errorId !== DwhErrorIds.QUERY) return e;
  const cause = e.cause instanceof Error ? e.cause.message.trim() : e.message;
  const text = (cause.length > 600 ? `${cause.slice(0, 600)}…` : cause).replace(/[.\s]+$/, '');
  const { sql: _sql, ...details } = (e.details ?? {}) as Record<string, unknown>;
  return new OrreryError(
    DwhErrorIds.INSERT,
    `ClickHouse rejected the rows for table ${stage}: ${text}. Make every row's fields match the table's columns and types; nothing of this insert was stored.`,
    { ...details, table: stage, rows },
    { cause: e },
  );
}

/**
 * Replaces one partition of `table` with the rows of `body` (JSONEachRow text, `rows` lines),
 * atomically: the rows go to a staging table of the same definition, then
 * `ALTER TABLE … REPLACE PARTITION … FROM staging` swaps them in one step.
 *
 * Staging tables live across writes: each is leased to one write at a time (so two writes of
 * the same partition never share one), never given rows of a partition whose earlier rows it
 * still holds (`STAGING.maxHeld`), and named
 * `<table>__stage_<random>` per connection (so processes never share one either). Before reuse a
 * staging table is checked against the table's definition when its last check is older than
 * `STAGING.verifyMs`; `ensureTable` retires them at once. A staging table that has vanished
 * (dropped by another process's `ensureTable`) is replaced and the write retried once.
 *
 * Unless `rowsInPartition` (the caller has checked every row against `partition`, as `toRows`
 * does), the staging table is queried first: rows of another partition are refused before the
 * swap (`DATA_STORAGE_ROWINVALID`). A failed insert changes nothing in `table`.
 */
async function replacePartitionJson(dwh: Dwh, opts: PartitionJson, retry = true): Promise<void> {
  await stagePartitionJson(dwh, opts, retry).swap();
}

type PartitionJson = { table: string; partition: string; body: string; rows: number; rowsInPartition: boolean };

/** A replace in two halves: exactly one of `swap` (the partition becomes the staged rows) or `discard` is called. */
interface StagedReplace {
  swap(): Promise<void>;
  discard(): Promise<void>;
}

/**
 * `replacePartitionJson` in two halves: the rows go to a staging table at once (nothing a reader
 * sees changes), `swap` replaces the partition with them, `discard` drops them. Whatever the
 * caller does in between overlaps the insert.
 */
function stagePartitionJson(dwh: Dwh, opts: PartitionJson, retry = true): StagedReplace {
  const table = opts.table;
  const empty = !opts.rowsInPartition;
  const fill = async (stage: Stage, sent: Promise<void>): Promise<Stage> => {
    try {
      await sent;
    } catch (e) {
      throw insertError(e, stage.name, opts.rows);
    }
    if (!opts.rowsInPartition) {
      const [check] = await dwh.query<{ n: string; outside: string }>(
        `SELECT count() AS n, countIf(_partition_value != ${opts.partition}) AS outside FROM ${stage.name}`,
      );
      if (Number(check.outside) > 0 || Number(check.n) !== opts.rows) {
        throw new OrreryError(
          DwhErrorIds.ROWS_INVALID,
          `${check.outside} of ${opts.rows} rows for ${table} partition ${opts.partition} belong to another partition (or rows were lost: ${check.n} staged). Write each partition's own rows only; nothing was replaced.`,
          { table, partition: opts.partition, rows: opts.rows, staged: Number(check.n), outside: Number(check.outside) },
        );
      }
    }
    return stage;
  };
  const insert = (stage: Stage) => dwh.command(`INSERT INTO ${stage.name} SETTINGS ${STAGE_INSERT_SETTINGS} FORMAT JSONEachRow\n${opts.body}`);
  // On the common path the insert is sent before this returns: the caller's work overlaps it.
  const taken = takeStage(dwh, table, Date.now(), opts.partition, empty);
  const leased = taken ? Promise.resolve(taken) : acquireStage(dwh, table, opts.partition, empty);
  const filled = taken ? fill(taken, insert(taken)) : leased.then((stage) => fill(stage, insert(stage)));
  filled.catch(() => {}); // seen by swap or discard
  leased.catch(() => {});
  let settled = false;
  return {
    async swap() {
      if (settled) throw new Error('a staged replace is swapped or discarded once');
      settled = true;
      const stage = await leased;
      let swapped: string | undefined;
      try {
        await filled;
        await dwh.command(`ALTER TABLE ${table} REPLACE PARTITION ${opts.partition} FROM ${stage.name}`);
        swapped = opts.partition;
      } catch (e) {
        if (retry && isMissingTable(e) && String((e as Error).message).includes(stage.name)) {
          // Dropped by someone else (another process's crash cleanup): so may its idle siblings be.
          retire(dwh, table, stage);
          for (const other of [...poolOf(dwh, table)]) if (other.state === 'idle') retire(dwh, table, other);
          return replacePartitionJson(dwh, opts, false);
        }
        throw e;
      } finally {
        releaseStage(dwh, table, stage, swapped);
      }
    },
    async discard() {
      if (settled) return;
      settled = true;
      let stage: Stage;
      try {
        stage = await leased;
      } catch {
        return; // nothing was leased, nothing to drop
      }
      await filled.catch(() => {});
      releaseStage(dwh, table, stage, undefined); // a staging table given up on is dropped
    },
  };
}

/**
 * Replaces one partition of `table` with `rows`, atomically (see `replacePartitionJson`).
 * `partition` is the partition value as a SQL literal (`(202403, 'XAUUSD', '1h')`); every row
 * must fall in it (checked in the staging table before the swap: `DATA_STORAGE_ROWINVALID`).
 * `[]` empties the partition (`ALTER TABLE … DROP PARTITION`, atomic too).
 */
export async function replacePartition<T>(dwh: Dwh, opts: { table: string; partition: string; rows: T[] }): Promise<void> {
  const table = sqlIdentifier(opts.table);
  if (opts.rows.length === 0) {
    await dwh.command(`ALTER TABLE ${table} DROP PARTITION ${opts.partition}`);
    return;
  }
  await replacePartitionJson(dwh, { table, partition: opts.partition, body: opts.rows.map((r) => JSON.stringify(r)).join('\n'), rows: opts.rows.length, rowsInPartition: false });
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

/** What `fastJson` returns for a value it leaves to `JSON.stringify` with the sorting replacer. */
const SLOW: unique symbol = Symbol('slow');
const DIGIT0 = 48, DIGIT9 = 57;

/**
 * `canonicalJson` of plain data — plain objects (no integer-like keys, no `toJSON`), arrays,
 * strings, numbers, booleans, null — written directly; SLOW for anything else (the caller then
 * takes the replacer path, whose result this equals wherever it does not return SLOW).
 * `undefined` where JSON.stringify omits the value (undefined, functions, symbols).
 */
function fastJson(v: unknown, depth: number): string | undefined | typeof SLOW {
  switch (typeof v) {
    case 'string': return JSON.stringify(v);
    case 'number': return Number.isFinite(v) ? String(v) : 'null';
    case 'boolean': return v ? 'true' : 'false';
    case 'undefined': case 'function': case 'symbol': return undefined;
    case 'bigint': return SLOW;
  }
  if (v === null) return 'null';
  if (depth > 32 || typeof (v as { toJSON?: unknown }).toJSON === 'function') return SLOW;
  if (Array.isArray(v)) {
    let out = '[';
    for (let i = 0; i < v.length; i++) {
      const e = fastJson(v[i], depth + 1);
      if (e === SLOW) return SLOW;
      out += (i ? ',' : '') + (e === undefined ? 'null' : e);
    }
    return out + ']';
  }
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return SLOW;
  const o = v as Record<string, unknown>;
  let keys = Object.keys(o);
  let sorted = true;
  for (let i = 0; i < keys.length; i++) {
    const c = keys[i].charCodeAt(0);
    if (c >= DIGIT0 && c <= DIGIT9) return SLOW; // integer-like keys: V8 orders them first
    if (i > 0 && !(keys[i - 1] < keys[i])) sorted = false;
  }
  if (!sorted) keys = keys.sort();
  let out = '{';
  let first = true;
  for (const k of keys) {
    const e = fastJson(o[k], depth + 1);
    if (e === SLOW) return SLOW;
    if (e === undefined) continue;
    out += (first ? '' : ',') + JSON.stringify(k) + ':' + e;
    first = false;
  }
  return out + '}';
}

function replacerJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
    }
    return v;
  });
}

/** JSON with object keys sorted at every level: equal values give equal text. */
export function canonicalJson(value: unknown): string {
  const fast = value === undefined ? SLOW : fastJson(value, 0);
  return fast === SLOW || fast === undefined ? replacerJson(value) : fast;
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

/** `Date.parse` of text in exactly `toISOString` form (`YYYY-MM-DDTHH:MM:SS.mmmZ`, year ≥ 100); NaN for any other text. */
function isoMs(v: string): number {
  return v.length === 24 ? canonicalUtcMs(v) : NaN;
}

/** JSON of a number (`null` when not finite). */
function num(x: number): string {
  return Number.isFinite(x) ? String(x) : 'null';
}

/** JSON.stringify of strings, remembering the last one (a partition's constant columns). */
class Quoter {
  private last: string | undefined;
  private text = '';
  q(s: string): string {
    if (s !== this.last) { this.text = JSON.stringify(s); this.last = s; }
    return this.text;
  }
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

/** One partition's bars as JSONEachRow lines, checked; with what the canonical text needs. */
type PreparedBars = {
  /** JSONEachRow text: one row per bar (JSON.stringify of the row object, byte for byte). */
  body: string;
  /** Per bar: its canonical `ts_utc` where it is canonical text already (else undefined). */
  iso: (string | undefined)[];
  /** Per bar: canonicalJson(metadata), '' without metadata, undefined where the fast path did not apply. */
  meta: (string | undefined)[];
  /** Per fast-path bar i, at 5i…5i+4: the JSON of open, high, low, close and volume. */
  numbers: string[];
};

/**
 * Checks the bars belong to `p` and are well-typed where ClickHouse would silently coerce, and
 * writes their rows. Refuses (`DATA_STORAGE_ROWINVALID`) before anything is sent.
 */
function prepareBars(p: BarsPartition, bars: CanonicalBar[]): PreparedBars {
  const n = bars.length;
  const seen = new Set<number>();
  const lines = new Array<string>(n);
  const iso = new Array<string | undefined>(n);
  const meta = new Array<string | undefined>(n);
  const numbers = new Array<string>(5 * n);
  const qSymbol = new Quoter(), qTimeframe = new Quoter(), qFlag = new Quoter(), qSource = new Quoter(), qRun = new Quoter();
  for (let i = 0; i < n; i++) {
    const b = bars[i];
    if (b === undefined && !(i in bars)) throw invalid(p, i, 'there is no bar at this index (a hole in the array)', b);
    const text = b.ts_utc;
    let t = typeof text === 'string' ? isoMs(text) : NaN;
    const canonical = t === t;
    if (!canonical) t = Date.parse(text);
    if (!Number.isFinite(t)) throw invalid(p, i, `ts_utc '${b.ts_utc}' is not a timestamp`, b);
    const at = canonical ? text : new Date(t).toISOString();
    if (b.symbol !== p.symbol || b.timeframe !== p.timeframe || !at.startsWith(p.month)) {
      throw invalid(p, i, `it is ${b.timeframe}|${b.symbol}|${at.slice(0, 7)}`, b);
    }
    if (seen.has(t)) throw invalid(p, i, `a second bar at ${at}`, b);
    seen.add(t);
    // JSON would turn NaN into null, and ClickHouse null into 0: refuse instead.
    const { open, high, low, close, volume } = b;
    if (typeof open === 'number' && !Number.isFinite(open)) throw invalid(p, i, `open is ${open}`, b);
    if (typeof high === 'number' && !Number.isFinite(high)) throw invalid(p, i, `high is ${high}`, b);
    if (typeof low === 'number' && !Number.isFinite(low)) throw invalid(p, i, `low is ${low}`, b);
    if (typeof close === 'number' && !Number.isFinite(close)) throw invalid(p, i, `close is ${close}`, b);
    if (typeof volume === 'number' && !Number.isFinite(volume)) throw invalid(p, i, `volume is ${volume}`, b);
    const metadata = b.metadata === undefined ? '' : canonicalJson(b.metadata);
    const ts = canonical ? `${text.slice(0, 10)} ${text.slice(11, 23)}` : at.slice(0, 23).replace('T', ' ');
    const { quality_flag, source_id, ingest_run_id } = b;
    if (
      typeof open === 'number' && typeof high === 'number' && typeof low === 'number' && typeof close === 'number'
      && (volume === null || volume === undefined || typeof volume === 'number')
      && typeof quality_flag === 'string' && typeof source_id === 'string' && typeof ingest_run_id === 'string' && typeof metadata === 'string'
      && canonical
    ) {
      // Finite here: String() is their JSON.
      const o = String(open), h = String(high), l = String(low), c = String(close), v = volume === null || volume === undefined ? 'null' : String(volume);
      lines[i] = `{"ts":"${ts}","symbol":${qSymbol.q(p.symbol)},"timeframe":${qTimeframe.q(p.timeframe)},"open":${o},"high":${h},"low":${l},"close":${c},"volume":${v},"quality_flag":${qFlag.q(quality_flag)},"source_id":${qSource.q(source_id)},"ingest_run_id":${qRun.q(ingest_run_id)},"metadata":${JSON.stringify(metadata)}}`;
      iso[i] = text;
      meta[i] = metadata;
      numbers[5 * i] = o; numbers[5 * i + 1] = h; numbers[5 * i + 2] = l; numbers[5 * i + 3] = c; numbers[5 * i + 4] = v;
    } else {
      const row: BarRow = {
        ts,
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
        metadata,
      };
      lines[i] = JSON.stringify(row);
    }
  }
  return { body: lines.join('\n'), iso, meta, numbers };
}

/**
 * `canonicalJson(normalizeBars(bars))`: the text a partition's data version hashes. Bars in the
 * usual shape (canonical ts text, numeric prices, string fields) are written directly; any other
 * bar goes through normalizeBar, so the text (and any error) is exactly normalizeBars'.
 */
export function canonicalBarsText(bars: CanonicalBar[], prepared?: PreparedBars): string {
  if (!Array.isArray(bars)) return canonicalJson(normalizeBars(bars));
  const n = bars.length;
  for (let i = 0; i < n; i++) {
    const b = bars[i];
    if (b === null || typeof b !== 'object') return canonicalJson(normalizeBars(bars));
  }
  const texts = new Array<string>(n);
  const keys = new Array<string>(n);
  const qRun = new Quoter(), qFlag = new Quoter(), qSource = new Quoter(), qSymbol = new Quoter(), qTimeframe = new Quoter();
  for (let i = 0; i < n; i++) {
    const b = bars[i];
    let at = prepared?.iso[i];
    let metadata = prepared ? prepared.meta[i] : undefined;
    if (!prepared) {
      const text = b.ts_utc;
      if (typeof text === 'string' && !Number.isNaN(isoMs(text))) at = text;
      const { open, high, low, close, volume, quality_flag, source_id, ingest_run_id, symbol, timeframe } = b;
      if (
        at !== undefined && typeof open === 'number' && typeof high === 'number' && typeof low === 'number' && typeof close === 'number'
        && (volume === null || volume === undefined || typeof volume === 'number')
        && typeof quality_flag === 'string' && typeof source_id === 'string' && typeof ingest_run_id === 'string'
      ) {
        const m = b.metadata === undefined ? '' : canonicalJson(b.metadata);
        metadata = typeof m === 'string' ? m : undefined;
      }
      if (typeof symbol !== 'string' || typeof timeframe !== 'string') metadata = undefined;
    }
    if (at === undefined || metadata === undefined) {
      const nb = normalizeBar(b);
      texts[i] = canonicalJson(nb);
      keys[i] = nb.ts_utc;
      continue;
    }
    const nums = prepared?.numbers;
    const o = nums ? nums[5 * i] : num(b.open), h = nums ? nums[5 * i + 1] : num(b.high), l = nums ? nums[5 * i + 2] : num(b.low), c = nums ? nums[5 * i + 3] : num(b.close);
    const v = nums ? nums[5 * i + 4] : b.volume === null || b.volume === undefined ? 'null' : num(b.volume);
    texts[i] = `{"close":${c},"high":${h},"ingest_run_id":${qRun.q(b.ingest_run_id)},"low":${l}${metadata === '' && b.metadata === undefined ? '' : `,"metadata":${metadata}`},"open":${o},"quality_flag":${qFlag.q(b.quality_flag)},"source_id":${qSource.q(b.source_id)},"symbol":${qSymbol.q(b.symbol)},"timeframe":${qTimeframe.q(b.timeframe)},"ts_utc":"${at}","volume":${v}}`;
    keys[i] = at;
  }
  let ascending = true;
  for (let i = 1; i < n && ascending; i++) ascending = keys[i - 1] < keys[i];
  if (ascending) return `[${texts.join(',')}]`;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (keys[a] < keys[b] ? -1 : keys[a] > keys[b] ? 1 : a - b));
  return `[${order.map((i) => texts[i]).join(',')}]`;
}

/** Replaces one partition's bars atomically; `[]` empties it. */
export async function replaceBarsPartition(dwh: Dwh, partition: BarsPartition, bars: CanonicalBar[]): Promise<void> {
  await writeBarsPartition(dwh, partition, bars, () => undefined);
}

/**
 * `replaceBarsPartition`, returning `digest(canonicalBarsText(bars))`, computed while ClickHouse
 * inserts (if `digest` throws, the error is raised once the replace has completed).
 */
export async function writeBarsPartition<T>(dwh: Dwh, partition: BarsPartition, bars: CanonicalBar[], digest: (canonicalText: string) => T): Promise<T> {
  return stageBarsPartition(dwh, partition, bars, digest).commit();
}

/** A write of one partition's bars in two halves (see `stagePartitionJson`): exactly one of `commit` or `discard` is called. */
export interface StagedBars<T> {
  /** Replaces the partition with the staged bars; returns the digest. */
  commit(): Promise<T>;
  discard(): Promise<void>;
}

/**
 * `writeBarsPartition` in two halves: the bars are checked and sent to a staging table now, and
 * `digest(canonicalBarsText(bars))` computed while ClickHouse inserts; `commit` swaps them in (and
 * raises a digest error once the replace has completed), `discard` drops them. Bars that do not
 * fit the partition throw here (`DATA_STORAGE_ROWINVALID`), before anything is sent.
 */
export function stageBarsPartition<T>(dwh: Dwh, partition: BarsPartition, bars: CanonicalBar[], digest: (canonicalText: string) => T): StagedBars<T> {
  const p = parseBarsPartition(formatBarsPartition(partition));
  if (bars.length === 0) {
    return {
      async commit() {
        await replacePartition(dwh, { table: BARS_TABLE, partition: partitionLiteral(p), rows: [] });
        return digest(canonicalBarsText(bars));
      },
      async discard() {},
    };
  }
  const prepared = prepareBars(p, bars);
  const staged = stagePartitionJson(dwh, { table: BARS_TABLE, partition: partitionLiteral(p), body: prepared.body, rows: bars.length, rowsInPartition: true });
  let out: { value: T } | { error: unknown };
  try {
    out = { value: digest(canonicalBarsText(bars, prepared)) };
  } catch (error) {
    out = { error };
  }
  return {
    async commit() {
      await staged.swap();
      if ('error' in out) throw out.error;
      return out.value;
    },
    discard: () => staged.discard(),
  };
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
