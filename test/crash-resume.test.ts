import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openEmbeddedDwh } from '../adapters/clickhouse/client.ts';
import { openPgliteEventLog } from '../adapters/postgres/event-log.ts';
import { cliSandbox, orrery, orreryChild } from './support/cli.ts';

/** 4 symbols × 2 timeframes × 62 months (2020-01 … 2025-02, all within the synthetic source) = 496 partitions (retention raised to keep them all). */
const TOTAL = 496;
const OVERLAY = {
  'pipeline_policy.yaml': 'timeframe_allowed:\n  value: ["1h", "4h"]\nhistory_start:\n  value: "2020-01"\nhistory_lookback_months:\n  value: 62\n',
  'data_retention.yaml': 'canonical_months:\n  value: 200\nfeatures_snapshot_months:\n  value: 200\n',
};

/** Content of the whole bars table, independent of row order and of which run ingested a row. */
const FINGERPRINT =
  'SELECT count() AS n, toString(groupBitXor(cityHash64(ts, symbol, timeframe, open, high, low, close, volume, quality_flag, source_id))) AS h FROM canonical_bars';

describe('a run killed with SIGKILL resumes without losing or duplicating work', () => {
  it('materializes every partition across a crash, each exactly once, each ClickHouse partition whole', async () => {
    const { home, env } = cliSandbox(OVERLAY);
    let fingerprint: { n: string; h: string } | undefined;
    const child = orreryChild(['materialize', '--select', 'canonical_bars', '--concurrency', '2'], env);
    let stderr = '';
    const killedAt = await new Promise<number>((resolve, reject) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        const m = new RegExp(`materialize: (\\d+)/${TOTAL}`).exec(stderr.split('\n').filter(Boolean).pop() ?? '');
        if (m && Number(m[1]) >= 150) { child.kill('SIGKILL'); resolve(Number(m[1])); }
      });
      child.on('exit', (code, signal) => { if (signal !== 'SIGKILL') reject(new Error(`child ended before the kill (code ${code}): ${stderr}`)); });
    });
    await new Promise((r) => child.once('close', r));
    expect(killedAt).toBeGreaterThanOrEqual(150);
    expect(stderr).not.toMatch(/\([1-9]\d* failed/); // the progress counted successes only

    const status = (await orrery(['status', '--json'], env));
    expect(status.code).toBe(0);
    const before = JSON.parse(status.stdout);
    expect(before.runs[0].status).toBe('interrupted');
    const done = before.assets[0].materialized;
    expect(done).toBeGreaterThanOrEqual(killedAt);
    expect(done).toBeLessThan(TOTAL);

    const resumed = (await orrery(['materialize', '--resume', '--json'], env));
    expect(resumed.code, resumed.stderr).toBe(0);
    const r = JSON.parse(resumed.stdout);
    expect(r.status).toBe('success');
    expect(r.succeeded).toBe(TOTAL - done);
    expect(r.skipped_up_to_date).toBe(done);

    const log = await openPgliteEventLog(join(home, 'eventlog'));
    const dwh = await openEmbeddedDwh(join(home, 'dwh'));
    try {
      const states = await log.partitionStates('canonical_bars');
      // ClickHouse holds each partition whole: exactly the rows its materialization reported.
      const counts = await dwh.query<{ symbol: string; timeframe: string; month: string; n: string }>(
        "SELECT symbol, timeframe, formatDateTime(ts, '%Y-%m') AS month, count() AS n FROM canonical_bars GROUP BY symbol, timeframe, month",
      );
      expect(counts).toHaveLength(TOTAL);
      for (const c of counts) expect(Number(c.n)).toBe(states.get(`${c.timeframe}|${c.symbol}|${c.month}`)?.metadata.rows);
      expect(states.size).toBe(TOTAL);
      expect([...states.values()].every((s) => s.status === 'materialized' && s.dataVersion)).toBe(true);
      for (const key of states.keys()) expect(await log.countMaterializations('canonical_bars', key)).toBe(1);
      const runs = await log.listRuns();
      expect(runs.map((x) => x.status).sort()).toEqual(['failed', 'success']);
      expect(runs.find((x) => x.status === 'success')?.resumedFrom).toBe(runs.find((x) => x.status === 'failed')?.runId);
      fingerprint = (await dwh.query<{ n: string; h: string }>(FINGERPRINT))[0];
    } finally {
      await log.close();
      await dwh.close();
    }

    // The same ingest without a crash stores exactly the same table.
    const clean = cliSandbox(OVERLAY);
    const uninterrupted = (await orrery(['materialize', '--select', 'canonical_bars', '--concurrency', '2', '--json'], clean.env));
    expect(uninterrupted.code, uninterrupted.stderr).toBe(0);
    const cleanDwh = await openEmbeddedDwh(join(clean.home, 'dwh'));
    try {
      expect((await cleanDwh.query<{ n: string; h: string }>(FINGERPRINT))[0]).toEqual(fingerprint);
    } finally {
      await cleanDwh.close();
    }
  }, 480_000);
});
