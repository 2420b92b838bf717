import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openInstance } from '../adapters/instance.ts';
import type { PairFeatures } from '../assets/features/asset.ts';
import { cliSandbox } from './support/cli.ts';

// Its own file: chDB opens one data directory per process.
const OVERLAY = { 'pipeline_policy.yaml': 'timeframe_allowed:\n  value: ["1h"]\nhistory_start:\n  value: "2025-01"\nhistory_lookback_months:\n  value: 4\n' };
const PAIR = 'XAUUSD_XAGUSD';
const key = (month: string) => `1h|${PAIR}|${month}`;

describe('features and quarantine', () => {
  it('a quarantined leg month excludes the pair month that needs it; its neighbours read without it', async () => {
    const { home, configs } = cliSandbox(OVERLAY);
    // XAGUSD's February loses 4 weekdays of bars (> 5 % missing) in a CSV source.
    const lines = ['ts_utc,symbol,timeframe,open,high,low,close,volume'];
    for (let t = Date.UTC(2024, 11, 1); t < Date.UTC(2025, 4, 1); t += 3_600_000) {
      const d = new Date(t);
      if (d.getUTCDay() === 0 || d.getUTCDay() === 6) continue;
      const gap = t >= Date.UTC(2025, 1, 10) && t < Date.UTC(2025, 1, 14);
      const ag = 30 + Math.sin(t / 3.6e7);
      lines.push(`${d.toISOString()},XAUUSD,1h,${(ag * 85).toFixed(2)},${(ag * 85 + 1).toFixed(2)},${(ag * 85 - 1).toFixed(2)},${(ag * 85 + Math.sin(t / 7e6)).toFixed(2)},1`);
      if (!gap) lines.push(`${d.toISOString()},XAGUSD,1h,${ag.toFixed(3)},${(ag + 0.01).toFixed(3)},${(ag - 0.01).toFixed(3)},${ag.toFixed(3)},1`);
    }
    writeFileSync(join(configs, 'bars.csv'), `${lines.join('\n')}\n`);
    writeFileSync(join(configs, 'envs', 'test', 'sources.yaml'), `providers:\n  value:\n    csv:\n      type: Csv\n      enabled: true\n      priority: 1\n      timeframes: ["1h"]\n      path: ${JSON.stringify(join(configs, 'bars.csv'))}\n`);
    const q = await openInstance({ home, configsDir: configs, env: 'test' });
    try {
      await q.runtime.launch({ selection: 'canonical_bars', partitions: { kind: 'all' }, skipUpToDate: true });
      expect((await q.eventLog.partitionStatesFor('canonical_bars', ['1h|XAGUSD|2025-02'])).get('1h|XAGUSD|2025-02')?.status).toBe('quarantined');
      const r = await q.runtime.launch({ selection: 'features', partitions: { kind: 'keys', keys: [key('2025-02'), key('2025-03')] }, skipUpToDate: true });
      expect(r.skipped).toBe(1);
      const states = await q.eventLog.partitionStatesFor('features', [key('2025-02'), key('2025-03')]);
      expect(states.get(key('2025-02'))).toBeUndefined();
      expect(states.get(key('2025-03'))?.status).toBe('materialized');
      // March warmed up from January only: no bar of the quarantined February entered.
      const march = (await q.runtime.graph.get('features').io!.read({ assetKey: 'features', partitionKey: key('2025-03'), resources: q.resources })) as PairFeatures;
      expect(march.rows.every((x) => x.ts_utc.startsWith('2025-03'))).toBe(true);
      expect((states.get(key('2025-03'))!.metadata as { warmup_bars_read: number }).warmup_bars_read).toBeLessThan(24 * 23 + 1);
    } finally {
      await q.close();
    }
  }, 240_000);
});
