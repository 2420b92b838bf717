/**
 * Plan 1,000,000+ (asset, partition) steps: 7 assets × 20 pairs × 7,300 hourly windows, against
 * a bare loop over the same keys. Goal: under 2 s and under 1 GiB RSS on the 2-core machine.
 */
import { defineAsset, input, type AssetDefinition } from '../core/definitions/asset.ts';
import { AssetGraph } from '../core/graph/asset-graph.ts';
import { MultiPartitions, StaticPartitions } from '../core/partitions/definitions.ts';
import { TimeWindowPartitions } from '../core/partitions/time-window.ts';
import { planRun } from '../core/planning/planner.ts';
import type { BenchResult } from './run.ts';

const PAIRS = 20, HOURS = 7300, ASSETS = 7;

export async function run(): Promise<BenchResult> {
  const pairs = new StaticPartitions(Array.from({ length: PAIRS }, (_, i) => `PAIR${i}A_PAIR${i}B`));
  const hours = new TimeWindowPartitions({ cadence: '1h', start: '2024-01-01', end: new Date(Date.UTC(2024, 0, 1) + HOURS * 3_600_000).toISOString().slice(0, 16) });
  const parts = new MultiPartitions([['pair', pairs], ['hour', hours]]);
  const keys = [...parts.keys()];

  const assets: AssetDefinition<number, any, any>[] = [];
  for (let i = 0; i < ASSETS; i++) {
    const prev = assets[i - 1];
    assets.push(defineAsset<number, any>({ key: `asset_${i}`, partitions: parts, codeVersion: '1', ins: prev ? { up: input(prev) } : {}, compute: () => ({ value: i }) }));
  }
  const graph = new AssetGraph(assets);

  // Baseline: a bare loop producing one step object per (asset, key).
  const t0 = performance.now();
  const bare: Array<{ assetKey: string; partitionKey: string }> = [];
  for (const a of assets) for (const k of keys) bare.push({ assetKey: a.key, partitionKey: k });
  const baselineMs = performance.now() - t0;
  const bareCount = bare.length;
  bare.length = 0;

  const rssBefore = process.memoryUsage().rss;
  let peakRss = rssBefore;
  const sampler = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage().rss); }, 20);
  const t1 = performance.now();
  const plan = planRun(graph, { selection: '*', partitions: { kind: 'all' }, skipUpToDate: true }, new Map());
  const plannerMs = performance.now() - t1;
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  if (plan.steps.length !== bareCount) throw new Error(`planned ${plan.steps.length} steps, expected ${bareCount}`);

  return {
    value: Math.round(plannerMs),
    unit: 'ms',
    baseline: Math.round(baselineMs),
    ratio: Number((plannerMs / baselineMs).toFixed(2)),
    steps: plan.steps.length,
    peak_rss_mb: Math.round(peakRss / 2 ** 20),
    goal: 'value < 2000 ms and peak_rss_mb < 1024',
  };
}
