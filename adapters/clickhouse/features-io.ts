/**
 * Pair features in the DWH, beside the bars: table `pair_features`, one ClickHouse partition per
 * Orrery partition `(toYYYYMM(ts), pair, timeframe)`, one column per engine output, replaced
 * atomically (stage, check, swap) like the bars. The feature schema a partition was computed with
 * is stored once per hash in the object store (`feature_schemas/<hash>.json`).
 */
import { createHash } from 'node:crypto';
import type { IOManager, IOContext } from '../../core/definitions/io.ts';
import { requireDwh, sqlString, type Dwh } from '../../core/dwh.ts';
import { ErrorIds, OrreryError } from '../../core/errors.ts';
import type { FeatureRow, PairFeatures } from '../../assets/features/asset.ts';
import { canonicalJson, OUTPUT_NAMES } from '../../assets/features/engine/index.ts';
import { ensureTable, replacePartition, type TableSpec } from './bars-table.ts';

export const FEATURES_TABLE = 'pair_features';

export function featuresTableSpec(opts: { retentionMonths: number }): TableSpec {
  return {
    name: FEATURES_TABLE,
    columns: [
      ['ts', "DateTime64(3, 'UTC')"],
      ['pair', 'LowCardinality(String)'],
      ['timeframe', 'LowCardinality(String)'],
      ['close_A', 'Float64'],
      ['close_B', 'Float64'],
      ['robust', 'UInt8'],
      ...OUTPUT_NAMES.map((n) => [n, 'Nullable(Float64)'] as const),
      ['schema_hash', 'LowCardinality(String)'],
    ],
    partitionBy: '(toYYYYMM(ts), pair, timeframe)',
    orderBy: '(pair, timeframe, ts)',
    ttl: `toDateTime(ts) + INTERVAL ${opts.retentionMonths} MONTH DELETE`,
    settings: { ttl_only_drop_parts: 1 },
  };
}

export async function ensureFeaturesTable(dwh: Dwh, opts: { retentionMonths: number }): Promise<void> {
  await ensureTable(dwh, featuresTableSpec(opts));
}

function parseKey(key: string): { timeframe: string; pair: string; month: string } {
  const [timeframe, pair, month, ...rest] = key.split('|');
  if (rest.length || !timeframe || !/^[A-Za-z0-9_.\-]+$/.test(pair ?? '') || !/^\d{4}-(0[1-9]|1[0-2])$/.test(month ?? '')) {
    throw new OrreryError(ErrorIds.PARTITION_INVALID, `'${key}' is not a pair partition key; use TIMEFRAME|PAIR|YYYY-MM, e.g. 1h|XAUUSD_XAGUSD|2024-03.`, { partitionKey: key });
  }
  return { timeframe, pair, month };
}

export function clickhouseFeaturesIO(): IOManager<PairFeatures> {
  const uri = (ctx: IOContext) => `clickhouse://${FEATURES_TABLE}/${ctx.partitionKey}`;
  return {
    uri,
    async write(ctx, value) {
      const p = parseKey(ctx.partitionKey);
      const schemaText = canonicalJson(value.schema);
      await ctx.resources.objectStore.put(`feature_schemas/${value.schema_hash}.json`, schemaText);
      const rows = value.rows.map((r) => {
        if (!r.ts_utc.startsWith(p.month)) throw new OrreryError(ErrorIds.STORAGE_WRITE, `Feature row ${r.ts_utc} is outside partition ${ctx.partitionKey}; nothing was replaced.`, { partitionKey: ctx.partitionKey });
        const row: Record<string, unknown> = { ts: r.ts_utc.slice(0, 23).replace('T', ' '), pair: p.pair, timeframe: p.timeframe, close_A: r.close_A, close_B: r.close_B, robust: r.robust ? 1 : 0, schema_hash: value.schema_hash };
        for (const n of OUTPUT_NAMES) row[n] = r[n];
        return row;
      });
      await replacePartition(requireDwh(ctx.resources), { table: FEATURES_TABLE, partition: `(${Number(p.month.replace('-', ''))}, ${sqlString(p.pair)}, ${sqlString(p.timeframe)})`, rows });
      const dataVersion = createHash('sha256').update(value.schema_hash).update(JSON.stringify(value.rows)).digest('hex');
      return { uri: uri(ctx), dataVersion, metadata: { table: FEATURES_TABLE } };
    },
    async read(ctx) {
      const p = parseKey(ctx.partitionKey);
      const rows = await requireDwh(ctx.resources).query<Record<string, unknown> & { ts_ms: string; schema_hash: string }>(
        `SELECT toUnixTimestamp64Milli(ts) AS ts_ms, * EXCEPT (ts, pair, timeframe) FROM ${FEATURES_TABLE}
          WHERE pair = {pair:String} AND timeframe = {timeframe:String} AND toYYYYMM(ts) = {yyyymm:UInt32} ORDER BY ts`,
        { pair: p.pair, timeframe: p.timeframe, yyyymm: Number(p.month.replace('-', '')) },
      );
      if (rows.length === 0) throw new OrreryError(ErrorIds.STORAGE_READ, `No features stored for ${ctx.partitionKey}; materialize features for it.`, { partitionKey: ctx.partitionKey });
      const hash = rows[0].schema_hash;
      const schema = JSON.parse(Buffer.from(await ctx.resources.objectStore.get(`feature_schemas/${hash}.json`)).toString('utf8'));
      return {
        schema,
        schema_hash: hash,
        rows: rows.map((r) => {
          const row = { ts_utc: new Date(Number(r.ts_ms)).toISOString(), close_A: r.close_A as number, close_B: r.close_B as number, robust: Number(r.robust) === 1 } as FeatureRow;
          for (const n of OUTPUT_NAMES) row[n] = r[n] === null ? null : Number(r[n]);
          return row;
        }),
      };
    },
    async adopt() {
      throw new OrreryError(ErrorIds.STEP_PROTOCOL, 'features are computed in-process; it has no container output to adopt.', {});
    },
  };
}
