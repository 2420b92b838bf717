import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openInstance, type Instance } from '../adapters/instance.ts';
import type { CanonicalBar } from '../core/market-data.ts';
import { cliSandbox } from './support/cli.ts';

/** October and November 2026, 1h: November is the month in progress when the clock is set inside it. */
const OPEN_MONTH = { 'pipeline_policy.yaml': 'timeframe_allowed:\n  value: ["1h"]\nhistory_start:\n  value: "2026-10"\nhistory_lookback_months:\n  value: 2\n' };
const KEY = '1h|XAUUSD|2026-11';

let instance: Instance | undefined;
afterEach(async () => {
  await instance?.close();
  instance = undefined;
});

async function open(overlay: Record<string, string>, setup?: (configs: string) => void): Promise<Instance> {
  const { home, configs } = cliSandbox(overlay);
  setup?.(configs);
  instance = await openInstance({ home, configsDir: configs, env: 'test', metricsPort: 0 });
  return instance;
}

async function materialize(i: Instance, key: string, config: Record<string, unknown> = {}) {
  const outcome = await i.runtime.launch({ selection: 'canonical_bars', partitions: { kind: 'keys', keys: [key] }, skipUpToDate: false, config: config as never });
  expect(outcome.failures).toEqual([]);
  const state = (await i.eventLog.partitionStatesFor('canonical_bars', [key])).get(key)!;
  return { runId: outcome.runId, metadata: state.metadata as Record<string, any> };
}

const stored = async (i: Instance, key: string) =>
  ((await i.runtime.graph.get('canonical_bars').io!.read({ assetKey: 'canonical_bars', partitionKey: key, resources: i.resources })) as CanonicalBar[]).map(({ ingest_run_id: _, ...b }) => b);

/** One sample of a metric from the Prometheus text format. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m && m[1] === name && want.every((w) => (m[2] ?? '').split(',').includes(w))) return Number(m[3]);
  }
  return undefined;
}

describe('canonical bars: the month in progress, metrics and logs', () => {
  it('extends the open month from its watermark; the result equals a full refetch', async () => {
    const i = await open(OPEN_MONTH);
    i.resources.clock = { now: () => new Date('2026-11-10T12:30:00Z') };
    const first = await materialize(i, KEY);
    expect(first.metadata.fetch).toMatchObject({ mode: 'full', watermark_before: null });
    expect(first.metadata.last_ts).toBe('2026-11-10T11:00:00.000Z'); // the last bar that has closed
    expect(first.metadata.dq.missing_rate).toBe(0);

    i.resources.clock = { now: () => new Date('2026-11-12T12:30:00Z') };
    const second = await materialize(i, KEY);
    expect(second.metadata.fetch).toMatchObject({ mode: 'incremental', watermark_before: '2026-11-10T11:00:00.000Z', from: '2026-11-10T12:00:00.000Z' });
    expect(second.metadata.fetch.fetched).toBe(48); // two days of new bars, nothing fetched twice
    expect(second.metadata.last_ts).toBe('2026-11-12T11:00:00.000Z');
    const incremental = await stored(i, KEY);

    const full = await materialize(i, KEY, { canonical_bars: { refetch: true } });
    expect(full.metadata.fetch.mode).toBe('full');
    expect(await stored(i, KEY)).toEqual(incremental);
    expect(incremental).toHaveLength(second.metadata.rows);
  });

  it('exports the seed metrics on /metrics and writes JSON logs with the ingest run id', async () => {
    const i = await open(OPEN_MONTH);
    i.resources.clock = { now: () => new Date('2026-11-10T12:30:00Z') };
    const { runId, metadata } = await materialize(i, KEY);
    const text = await (await fetch(i.metricsUrl!)).text();
    const series = { symbol: 'XAUUSD', timeframe: '1h' };
    expect(sample(text, 'data_missing_rate', series)).toBe(metadata.dq.missing_rate);
    expect(sample(text, 'data_outlier_rate', series)).toBe(metadata.dq.outlier_rate);
    expect(sample(text, 'data_pipeline_lag_seconds', series)).toBe(1800); // last bar closed at 12:00, stored at 12:30
    expect(sample(text, 'data_ingest_success_rate', { source: 'synthetic' })).toBe(1);
    expect(sample(text, 'data_api_latency_ms_count', { source: 'synthetic' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'pipeline_runs_total', { status: 'success', pipeline: 'materialize' })).toBe(1);
    expect(sample(text, 'step_duration_seconds_count', { asset: 'canonical_bars', outcome: 'success' })).toBe(1);
    expect(text).toMatch(/# TYPE data_retry_total counter/);
    expect(text).toMatch(/# TYPE dq_fail_total counter/);
    expect(await (await fetch(i.metricsUrl!.replace('/metrics', '/other'))).status).toBe(404);
    // The same port answers the liveness probe (the operator's Deployment probes it).
    const health = await fetch(i.metricsUrl!.replace('/metrics', '/healthz'));
    expect([health.status, await health.text()]).toEqual([200, 'ok\n']);

    await i.close();
    instance = undefined;
    // Logs are JSON lines carrying the seed's fields; the last figures stay in metrics.prom.
    const lines = readFileSync(join(i.home, 'orrery.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const ingest = lines.find((l) => l.event === 'ingest');
    expect(ingest).toMatchObject({ ingest_run_id: runId, run_id: runId, symbol: 'XAUUSD', timeframe: '1h', source: 'synthetic', details: { rows: metadata.rows } });
    expect(typeof ingest.time).toBe('number');
    expect(readFileSync(join(i.home, 'metrics.prom'), 'utf8')).toMatch(/data_missing_rate\{symbol="XAUUSD",timeframe="1h"\} 0/);
  });

  it('tests the first bars of a month against the month before (DQ lookback across the boundary)', async () => {
    const i = await open({ 'pipeline_policy.yaml': 'timeframe_allowed:\n  value: ["1h"]\nhistory_start:\n  value: "2026-01"\nhistory_lookback_months:\n  value: 2\n' }, (configs) => {
      const lines = ['ts_utc,symbol,timeframe,open,high,low,close,volume'];
      for (let t = Date.UTC(2026, 0, 5); t < Date.UTC(2026, 2, 1); t += 3_600_000) {
        const d = new Date(t);
        if (d.getUTCDay() === 0 || d.getUTCDay() === 6) continue;
        // February's very first bar jumps 30 %: an outlier only visible against January.
        const px = (t === Date.UTC(2026, 1, 2) ? 2600 : 2000 + Math.sin(t / 3.6e6) * 5).toFixed(2);
        lines.push(`${d.toISOString()},XAUUSD,1h,${px},${(Number(px) + 1).toFixed(2)},${(Number(px) - 1).toFixed(2)},${px},100`);
      }
      writeFileSync(join(configs, 'bars.csv'), `${lines.join('\n')}\n`);
      writeFileSync(join(configs, 'envs', 'test', 'sources.yaml'), `providers:\n  value:\n    csv:\n      type: Csv\n      enabled: true\n      priority: 1\n      timeframes: ["1h"]\n      path: ${JSON.stringify(join(configs, 'bars.csv'))}\n`);
    });
    const { metadata } = await materialize(i, '1h|XAUUSD|2026-02');
    expect(metadata.fetch.lookback).toBeGreaterThanOrEqual(180);
    expect(metadata.dq.outlier_count).toBe(1);
    const bars = await stored(i, '1h|XAUUSD|2026-02');
    expect(bars.find((b) => b.ts_utc === '2026-02-02T00:00:00.000Z')?.close).not.toBe(2600);
  });

  it('a source with no bars for a month fails loudly instead of quarantining an empty month', async () => {
    const i = await open(OPEN_MONTH, (configs) => {
      // The source knows XAUUSD, but has nothing for October.
      writeFileSync(join(configs, 'empty.csv'), 'ts_utc,symbol,timeframe,open,high,low,close,volume\n2026-08-03T00:00:00.000Z,XAUUSD,1h,2000,2001,1999,2000,1\n');
      writeFileSync(join(configs, 'envs', 'test', 'sources.yaml'), `providers:\n  value:\n    csv:\n      type: Csv\n      enabled: true\n      priority: 1\n      timeframes: ["1h"]\n      path: ${JSON.stringify(join(configs, 'empty.csv'))}\n`);
    });
    i.resources.clock = { now: () => new Date('2026-11-10T12:30:00Z') };
    const outcome = await i.runtime.launch({ selection: 'canonical_bars', partitions: { kind: 'keys', keys: ['1h|XAUUSD|2026-10'] }, skipUpToDate: false });
    expect(outcome.failures).toMatchObject([{ errorId: 'DATA_API_NODATA' }]);
    expect((await i.eventLog.partitionStatesFor('canonical_bars', ['1h|XAUUSD|2026-10'])).get('1h|XAUUSD|2026-10')?.status).toBe('failed');
  });
});
