import { z } from 'zod';
import { defineAsset, input, type AssetDefinition } from '../../core/definitions/asset.ts';
import type { AssetCheck } from '../../core/definitions/checks.ts';
import type { IOManager } from '../../core/definitions/io.ts';
import type { JsonObject } from '../../core/event-log/port.ts';
import type { CanonicalBar } from '../../core/market-data.ts';
import { dimensions, identity, lookup, timeWindow, type PartitionMapping } from '../../core/partitions/mappings.ts';
import { legsOf, type PipelinePartitions } from '../canonical_bars/partitions.ts';
import type { Policies } from '../policies/index.ts';
import { FeatureEngine, OUTPUT_NAMES, featureSchema, resolveFeatureConfig, schemaHash, warmupBars, type FeatureSchema, type OutputName } from './engine/index.ts';

/** One synchronized bar of a pair with every engine output (null while its window warms up). */
export type FeatureRow = { ts_utc: string; close_A: number; close_B: number; robust: boolean } & Record<OutputName, number | null>;

export interface PairFeatures {
  /** The feature manifest's selection (active + experimental) and how it was computed. */
  schema: FeatureSchema;
  schema_hash: string;
  rows: FeatureRow[];
}

/** Months of bars read before the partition's month, so every window (and the β EMA) is warm when it starts. */
export function warmupMonths(policies: Policies): number {
  const c = resolveFeatureConfig();
  // The longest window chain, or ten half-lives of the β EMA (its seed then weighs < 0.1 %).
  const need = Math.max(...Object.values(warmupBars(c)), 10 * c.betaHalfLife);
  const barsPerMonth = Math.min(...policies.pipeline.timeframe_allowed.map((tf) => ({ '15m': 2112, '1h': 528, '4h': 132, daily: 22 })[tf] ?? 22));
  return Math.ceil(need / barsPerMonth);
}

/** The manifest's computed features: active and experimental, never deprecated. */
export function manifestNames(policies: Policies): OutputName[] {
  const { active, experimental } = policies.features.features;
  return [...active, ...experimental].map((f) => f.name as OutputName);
}

/** Inner join of the two legs on bar time (seed: bars where A and B disagree are excluded). */
export function synchronize(a: readonly CanonicalBar[], b: readonly CanonicalBar[]): Array<[CanonicalBar, CanonicalBar]> {
  const byTs = new Map(b.map((x) => [x.ts_utc, x]));
  const out: Array<[CanonicalBar, CanonicalBar]> = [];
  for (const x of a) {
    const y = byTs.get(x.ts_utc);
    if (y) out.push([x, y]);
  }
  return out.sort((p, q) => (p[0].ts_utc < q[0].ts_utc ? -1 : 1));
}

const noLeaks: AssetCheck<PairFeatures> = {
  name: 'features_finite_after_warmup',
  description: 'Every selected feature is finite once its window is warm (no NaN/Infinity leaks, no null after a value).',
  severity: 'ERROR',
  evaluate(value) {
    const bad: string[] = [];
    for (const name of value.schema.names as OutputName[]) {
      let seen = false;
      for (const r of value.rows) {
        const v = r[name];
        if (v === null) { if (seen) { bad.push(`${name} null at ${r.ts_utc}`); break; } continue; }
        seen = true;
        if (!Number.isFinite(v)) { bad.push(`${name}=${v} at ${r.ts_utc}`); break; }
      }
    }
    return { passed: bad.length === 0, metadata: { problems: bad.slice(0, 20) } };
  },
};

const zClipped: AssetCheck<PairFeatures> = {
  name: 'z_within_clip',
  description: 'z stays within ±z_clip (seed: ±5σ).',
  severity: 'ERROR',
  evaluate(value) {
    const clip = value.schema.config.zClip;
    const over = value.rows.filter((r) => r.z !== null && Math.abs(r.z) > clip + 1e-12).length;
    return { passed: over === 0, metadata: { over_clip: over, clip } };
  },
};

/**
 * The seed's spread feature set for one pair, timeframe and month (seed 002 特徴量仕様 v1), from
 * the two legs' canonical bars. The month's own bars come through an identity-like mapping — a
 * quarantined leg month excludes this partition — and the warm-up months through a fan-in
 * mapping that leaves quarantined months out, so only clean bars ever enter the engine.
 */
export function pairFeaturesAsset(policies: Policies, partitions: PipelinePartitions, bars: AssetDefinition<CanonicalBar[], any, any>, io?: IOManager<PairFeatures>) {
  const legs = legsOf(policies);
  const legMapping = (month: PartitionMapping): PartitionMapping =>
    dimensions({ timeframe: identity(), symbol: { from: 'pair', mapping: lookup('legs', (pair) => legs(pair)) }, month: { from: 'month', mapping: month } });
  const months = warmupMonths(policies);
  const names = manifestNames(policies);
  const config = resolveFeatureConfig();
  const schema = featureSchema(config, names);
  const hash = schemaHash(schema);

  return defineAsset({
    key: 'features',
    description: `The seed's spread features (β, z and ${names.length} features of the manifest) of one pair × timeframe × month, streamed bar by bar from ${months} warm-up month(s).`,
    group: 'features',
    kinds: ['clickhouse', 'features'],
    partitions: partitions.pairBars,
    codeVersion: `1-${hash.slice(0, 12)}`,
    ins: {
      month: input(bars, { mapping: legMapping(identity()) }),
      warmup: input(bars, { mapping: { ...legMapping(timeWindow({ startOffset: -months, endOffset: -1 })), fanIn: true } }),
    },
    config: z.strictObject({}),
    checks: [noLeaks, zClipped],
    io,
    async compute(ctx, ins) {
      const [symA, symB] = legs(ctx.dimensions.pair);
      const loaded = [...(await ins.warmup.loadAll()), ...(await ins.month.loadAll())];
      const leg = (symbol: string) => loaded.filter((p) => p.partitionKey.split('|')[1] === symbol).flatMap((p) => p.value);
      const pairs = synchronize(leg(symA), leg(symB));
      const engine = new FeatureEngine(config);
      const from = ctx.window!.start.getTime();
      const rows: FeatureRow[] = [];
      let robust = 0;
      for (let i = 0; i < pairs.length; i++) {
        const [a, b] = pairs[i];
        const out = engine.update(a, b);
        if (Date.parse(a.ts_utc) < from) continue;
        const row = { ts_utc: a.ts_utc, close_A: a.close, close_B: b.close, robust: out.robust } as FeatureRow;
        for (const n of OUTPUT_NAMES) row[n] = out[n];
        if (out.robust) robust++;
        rows.push(row);
        if (i % 2000 === 0) ctx.progress(i, pairs.length, 'streaming features');
      }
      const warm = rows.find((r) => names.every((n) => r[n] !== null));
      const betas = rows.map((r) => r.beta).filter((b): b is number => b !== null);
      return {
        value: { schema, schema_hash: hash, rows },
        metadata: {
          rows: rows.length,
          warmup_bars_read: pairs.length - rows.length,
          first_warm_ts: warm?.ts_utc ?? null,
          robust_share: rows.length ? robust / rows.length : 0,
          beta_last: betas[betas.length - 1] ?? null,
          schema_hash: hash,
          feature_schema: schema as unknown as JsonObject,
        },
      };
    },
  });
}
