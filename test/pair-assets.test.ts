/**
 * The features and labels assets end to end on the embedded instance (chDB, PGlite): month
 * partitions warm up from earlier months, match one continuous stream, leave quarantined data
 * out, export as CSV; labels never look past their horizon. Plus a real-data run (the S&P 500
 * daily series of the `vega-datasets` package) through the CSV provider.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openInstance, type Instance } from '../adapters/instance.ts';
import { CsvProvider } from '../adapters/providers/csv.ts';
import { manifestNames, synchronize, type PairFeatures } from '../assets/features/asset.ts';
import { FeatureEngine, OUTPUT_NAMES } from '../assets/features/engine/index.ts';
import type { PairLabels } from '../assets/labels/asset.ts';
import type { CanonicalBar } from '../core/market-data.ts';
import { exportPartition } from '../cli/export.ts';
import { cliSandbox, REPO } from './support/cli.ts';

const OVERLAY = { 'pipeline_policy.yaml': 'timeframe_allowed:\n  value: ["1h"]\nhistory_start:\n  value: "2025-01"\nhistory_lookback_months:\n  value: 4\n' };
const PAIR = 'XAUUSD_XAGUSD';
const key = (month: string) => `1h|${PAIR}|${month}`;

let i: Instance;
beforeAll(async () => {
  const { home, configs } = cliSandbox(OVERLAY);
  i = await openInstance({ home, configsDir: configs, env: 'test' });
  const r = await i.runtime.launch({ selection: '+labels', partitions: { kind: 'all' }, skipUpToDate: true });
  expect(r.failures).toEqual([]);
}, 240_000);
afterAll(async () => i?.close());

const read = async <T>(asset: string, partitionKey: string) => (await i.runtime.graph.get(asset).io!.read({ assetKey: asset, partitionKey, resources: i.resources })) as T;
const readDefault = async <T>(asset: string, partitionKey: string) => {
  const { ioOf } = await import('../core/definitions/io.ts');
  return (await ioOf(i.runtime.graph.get(asset)).read({ assetKey: asset, partitionKey, resources: i.resources })) as T;
};

describe('features', () => {
  it('equals one continuous stream where its warm-up reaches the history start, and stays close after', async () => {
    const months = ['2025-01', '2025-02', '2025-03', '2025-04'];
    const leg = async (symbol: string) => (await Promise.all(months.map((m) => read<CanonicalBar[]>('canonical_bars', `1h|${symbol}|${m}`)))).flat();
    const pairs = synchronize(await leg('XAUUSD'), await leg('XAGUSD'));
    const engine = new FeatureEngine();
    const continuous = new Map(pairs.map(([a, b]) => [a.ts_utc, engine.update(a, b)]));

    const march = await read<PairFeatures>('features', key('2025-03'));
    expect(march.rows.length).toBeGreaterThan(400);
    for (const r of march.rows) for (const n of OUTPUT_NAMES) expect(r[n], `${n} at ${r.ts_utc}`).toBe(continuous.get(r.ts_utc)![n]);

    // April warms up from February only: the β EMA's start has faded to well under 0.1 %.
    const april = await read<PairFeatures>('features', key('2025-04'));
    for (const r of april.rows) {
      const want = continuous.get(r.ts_utc)!;
      expect(Math.abs(r.beta! - want.beta!)).toBeLessThanOrEqual(1e-4 * Math.abs(want.beta!));
      expect(Math.abs(r.z! - want.z!)).toBeLessThanOrEqual(0.01);
    }
  });

  it('is warm from the first bar of a month that has history before it, and carries its schema hash', async () => {
    const march = await read<PairFeatures>('features', key('2025-03'));
    const names = manifestNames(i.policies);
    expect(march.schema.names).toEqual(names);
    for (const n of names) expect(march.rows[0][n], n).not.toBeNull();
    const state = (await i.eventLog.partitionStatesFor('features', [key('2025-03')])).get(key('2025-03'))!;
    expect(state.metadata.schema_hash).toBe(march.schema_hash);
    expect(march.schema_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('exports ts_utc and one column per manifest feature', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (d) => (text += d));
    await exportPartition(i, 'features', key('2025-02'), 'csv', out);
    const lines = text.trim().split('\n');
    expect(lines[0]).toBe(['ts_utc', ...manifestNames(i.policies)].join(','));
    expect(lines.length - 1).toBe((await read<PairFeatures>('features', key('2025-02'))).rows.length);
  });
});

describe('labels', () => {
  it('labels every bar of the month, with AI1 events inside the horizon and capped class weights', async () => {
    const labels = await readDefault<PairLabels>('labels', key('2025-03'));
    const features = await read<PairFeatures>('features', key('2025-03'));
    expect(labels.rows.map((r) => r.ts_utc)).toEqual(features.rows.map((r) => r.ts_utc));
    const hour = 3_600_000;
    for (const r of labels.rows) {
      if (r.ai1_label !== null) {
        expect(Math.abs(r.z!)).toBeGreaterThanOrEqual(labels.config.zEntry);
        expect(r.ai1_direction).toBe(r.z! > 0 ? 'short_spread' : 'long_spread');
      }
      for (const last of [r.ai1_last_ts, r.ai2_last_ts]) if (last) expect(Date.parse(last)).toBeGreaterThan(Date.parse(r.ts_utc));
      // M = 48 bars; over a weekend gap the clock runs further, never the bar count.
      if (r.ai2_last_ts) expect(Date.parse(r.ai2_last_ts) - Date.parse(r.ts_utc)).toBeLessThanOrEqual(48 * hour + 3 * 24 * hour);
    }
    expect(labels.rows.filter((r) => r.ai2_label !== null).length).toBeGreaterThan(400);
    const w = labels.class_weights.ai2;
    expect(Math.max(w[0], w[1]) / Math.min(w[0], w[1])).toBeLessThanOrEqual(5 + 1e-12);
  });
});

describe('features on real prices', () => {
  it('the S&P 500 daily series (vega-datasets) through the CSV provider: finite after warm-up, z within its clip, β stable', async () => {
    // Leg A: the index's closes; leg B: its opens — two real, tightly related series.
    const src = readFileSync(join(REPO, 'node_modules', 'vega-datasets', 'data', 'sp500-2000.csv'), 'utf8').trim().split('\n').slice(1);
    const rows = ['ts_utc,symbol,timeframe,open,high,low,close,volume'];
    for (const line of src) {
      const [date, open, high, low, close] = line.split(',');
      const ts = `${date}T00:00:00.000Z`;
      rows.push(`${ts},SPX,daily,${open},${high},${low},${close},`);
      rows.push(`${ts},SPXOPEN,daily,${open},${high},${low},${open},`);
    }
    const path = join(tmpdir(), `sp500-${process.pid}.csv`);
    writeFileSync(path, `${rows.join('\n')}\n`);
    const provider = new CsvProvider({ path });
    const range = { timeframe: 'daily', start: new Date('2000-01-01T00:00:00Z'), end: new Date('2021-01-01T00:00:00Z'), ingestRunId: 'real' };
    const a = await provider.fetchTimeSeries({ symbol: 'SPX', ...range });
    const b = await provider.fetchTimeSeries({ symbol: 'SPXOPEN', ...range });
    expect(a.length).toBeGreaterThan(5000);
    const engine = new FeatureEngine();
    const out = synchronize(a, b).map(([x, y]) => engine.update(x, y));
    const warm = out.slice(400);
    for (const r of warm) {
      for (const n of OUTPUT_NAMES) expect(r[n] === null || Number.isFinite(r[n]), n).toBe(true);
      for (const n of manifestNames(i.policies)) expect(r[n], n).not.toBeNull();
      expect(Math.abs(r.z!)).toBeLessThanOrEqual(5);
    }
    const betas = warm.map((r) => r.beta!);
    expect(Math.min(...betas)).toBeGreaterThan(0.8);
    expect(Math.max(...betas)).toBeLessThan(1.2);
    expect(warm.filter((r) => r.rsi_spread! < 0 || r.rsi_spread! > 100)).toEqual([]);
  });
});
