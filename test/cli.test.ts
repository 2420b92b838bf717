import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliSandbox, orrery, REPO } from './support/cli.ts';

/** One month, one timeframe: 4 partitions keep the CLI tests quick. */
const SMALL = { 'pipeline_policy.yaml': 'timeframe_allowed:\n  value: ["1h"]\nhistory_start:\n  value: "2026-01"\nhistory_lookback_months:\n  value: 2\n' };

async function nothingWritten(home: string): Promise<void> {
  const objects = join(home, 'objects', 'assets');
  expect(existsSync(objects) ? readdirSync(objects) : []).toEqual([]);
  const status = (await orrery(['status', '--json'], { ...process.env, ORRERY_HOME: home, ORRERY_CONFIGS: join(home, '..', 'configs'), ORRERY_ENV: 'test' }));
  expect(JSON.parse(status.stdout).runs).toEqual([]);
}

// Each step spawns the CLI (PGlite + chDB start-up, seconds each): generous per-test limits for a loaded 2-core machine.
describe('orrery CLI', { timeout: 240_000 }, () => {
  it('materialize → status → partitions → export, with --json on stdout', async () => {
    const { env } = cliSandbox(SMALL);
    const m = (await orrery(['materialize', '--select', 'canonical_bars', '--partition', '1h|XAUUSD|2026-02', '--json'], env));
    expect(m.code, m.stderr).toBe(0);
    expect(JSON.parse(m.stdout)).toMatchObject({ status: 'success', succeeded: 1 });

    const st = JSON.parse((await orrery(['status', '--json'], env)).stdout);
    expect(st.assets[0]).toMatchObject({ asset: 'canonical_bars', total: 8, materialized: 1, missing: 7 });

    const p1 = JSON.parse((await orrery(['partitions', 'canonical_bars', '--limit', '3', '--json'], env)).stdout);
    expect(p1.partitions).toHaveLength(3);
    const p2 = JSON.parse((await orrery(['partitions', 'canonical_bars', '--limit', '10', '--after', p1.next_after, '--json'], env)).stdout);
    expect(p2.partitions).toHaveLength(5);
    expect(new Set([...p1.partitions, ...p2.partitions].map((x: { key: string }) => x.key)).size).toBe(8);
    const onlyDone = JSON.parse((await orrery(['partitions', 'canonical_bars', '--status', 'materialized', '--json'], env)).stdout);
    expect(onlyDone.partitions.map((x: { key: string }) => x.key)).toEqual(['1h|XAUUSD|2026-02']);

    const csv = (await orrery(['export', 'canonical_bars', '--partition', '1h|XAUUSD|2026-02', '--format', 'csv'], env));
    const lines = csv.stdout.trim().split('\n');
    expect(lines[0]).toBe('ts_utc,symbol,timeframe,open,high,low,close,volume,quality_flag,source_id,ingest_run_id');
    // February 2026: 20 weekdays × 24 hours, less nothing (no US market holiday in it).
    expect(lines).toHaveLength(1 + 20 * 24);
    expect(lines[1].startsWith('2026-02-02T00:00:00.000Z,XAUUSD,1h,')).toBe(true); // Feb 1 is a Sunday
    const json = JSON.parse((await orrery(['export', 'canonical_bars', '--partition', '1h|XAUUSD|2026-02', '--format', 'json'], env)).stdout);
    expect(json).toHaveLength(480);

    const graph = JSON.parse((await orrery(['graph', '--json'], env)).stdout);
    expect(graph.assets[0]).toMatchObject({ key: 'canonical_bars', partitions: { kind: 'multi' } });
  });

  it('backfill --missing runs only what was never materialized, over a range', async () => {
    const { env } = cliSandbox(SMALL);
    const first = (await orrery(['materialize', '--select', 'canonical_bars', '--partition', '1h|XAGUSD|2026-01'], env));
    expect(first.code, first.stderr).toBe(0);
    const b = (await orrery(['backfill', '--select', 'canonical_bars', '--from', '2026-01', '--to', '2026-02', '--missing', '--json'], env));
    expect(b.code, b.stderr).toBe(0);
    expect(JSON.parse(b.stdout)).toMatchObject({ status: 'success', succeeded: 7, skipped_up_to_date: 1 });
  });

  it('a month with too many missing bars is quarantined; a clean month is not', async () => {
    const { env, configs } = cliSandbox(SMALL);
    // A CSV source: January complete, February missing 60 consecutive weekday hours (> 5 %).
    const lines = ['ts_utc,symbol,timeframe,open,high,low,close,volume'];
    for (let t = Date.UTC(2026, 0, 1); t < Date.UTC(2026, 2, 1); t += 3_600_000) {
      const d = new Date(t);
      if (d.getUTCDay() === 0 || d.getUTCDay() === 6 || d.toISOString().startsWith('2026-01-01')) continue;
      if (t >= Date.UTC(2026, 1, 10) && t < Date.UTC(2026, 1, 10) + 60 * 3_600_000) continue;
      const px = (2000 + Math.sin(t / 3.6e6) * 5).toFixed(2);
      lines.push(`${d.toISOString()},XAUUSD,1h,${px},${(Number(px) + 1).toFixed(2)},${(Number(px) - 1).toFixed(2)},${px},100`);
    }
    writeFileSync(join(configs, 'bars.csv'), `${lines.join('\n')}\n`);
    writeFileSync(join(configs, 'envs', 'test', 'sources.yaml'), `providers:\n  value:\n    csv:\n      type: Csv\n      enabled: true\n      priority: 1\n      timeframes: ["1h"]\n      path: ${JSON.stringify(join(configs, 'bars.csv'))}\n`);
    const m = (await orrery(['materialize', '--select', 'canonical_bars', '--partition', '1h|XAUUSD|2026-01', '1h|XAUUSD|2026-02', '--json'], env));
    expect(m.code, m.stderr).toBe(0);
    const parts = JSON.parse((await orrery(['partitions', 'canonical_bars', '--json'], env)).stdout).partitions;
    expect(parts.find((p: { key: string }) => p.key === '1h|XAUUSD|2026-01').status).toBe('materialized');
    expect(parts.find((p: { key: string }) => p.key === '1h|XAUUSD|2026-02').status).toBe('quarantined');
    const st = JSON.parse((await orrery(['status', '--json'], env)).stdout);
    expect(st.assets[0]).toMatchObject({ materialized: 1, quarantined: 1 });
    // Check results show in status: every check was evaluated on both months.
    expect(st.assets[0].checks.length).toBeGreaterThan(5);
    for (const c of st.assets[0].checks) expect(c.passed + c.failed, c.check).toBe(2);
    expect((await orrery(['status'], env)).stderr).toMatch(/canonical_bars .* \d+ passing|failing/);
  });

  describe('bad input exits non-zero with an error id and writes nothing', () => {
    const cases: Array<[string, string[], string]> = [
      ['unknown selection', ['materialize', '--select', 'canonical_barz'], 'CORE_SELECT_UNKNOWN'],
      ['partition outside its definition', ['materialize', '--select', 'canonical_bars', '--partition', '1h|XAUUSD|2031-01'], 'CORE_PART_UNKNOWN'],
      ['timeframe outside its definition', ['materialize', '--select', 'canonical_bars', '--partition', '4h|XAUUSD|2026-01'], 'CORE_PART_UNKNOWN'],
      ['unknown run config key', ['materialize', '--select', 'canonical_bars', '--config', 'RUNCFG'], 'CORE_CONFIG_UNKNOWN'],
    ];
    it.each(cases)('%s', async (_name, args, errorId) => {
      const { home, env, configs } = cliSandbox(SMALL);
      const runCfg = join(configs, 'run.yaml');
      writeFileSync(runCfg, 'canonical_bars:\n  source: synthetic\n  window: 3\n');
      const r = (await orrery([...args, '--json'].map((a) => (a === 'RUNCFG' ? runCfg : a)), env));
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(errorId);
      expect(JSON.parse(r.stdout).error_id).toBe(errorId);
      await nothingWritten(home);
    });

    it('a cycle in the code location', async () => {
      const { home, env } = cliSandbox(SMALL);
      const r = (await orrery(['status'], { ...env, ORRERY_CODE_LOCATION: join(REPO, 'test', 'fixtures', 'cycle-location.ts') }));
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/CORE_GRAPH_CYCLE: .*a → c → b → a|CORE_GRAPH_CYCLE: .*→.*→.*→/);
      expect(existsSync(join(home, 'objects', 'assets'))).toBe(false);
    });

    it('an unknown key in a policy file', async () => {
      const { home, env } = cliSandbox({ ...SMALL, 'data_retention.yaml': 'logs_dayz:\n  value: 3\n' });
      const r = (await orrery(['materialize', '--select', 'canonical_bars'], env));
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('CORE_CONFIG_UNKNOWN');
      expect(r.stderr).toContain('logs_dayz');
      expect(existsSync(join(home, 'objects', 'assets'))).toBe(false);
    });
  });
});
