/**
 * Pair-feature engine throughput: 200,000 synthetic cointegrated bar pairs through
 * `FeatureEngine.update` (every output, one row object per bar, one core), against the same
 * features from bench/features_pandas.py on the same bars: baseline = its straightforward variant
 * (built-in rolling windows, rolling().apply for the two slopes pandas has no built-in for);
 * `baseline_vectorised` = the same with the slopes as rolling cov/var against an index (no
 * per-window Python call at all), reported alongside with its own ratio.
 * Both sides: best of 5 (pandas: 3) runs by process CPU time — robust on a shared 2-core box —
 * with wall-clock figures alongside. Goal: value ≥ 2,000,000 bar-updates/s and ratio ≥ 10.
 *
 * Needs Debian's pandas: `apt-get update && apt-get install -y python3-pandas` (as root); it runs
 * /usr/bin/python3 because the default python3 may be a pyenv shim without pandas.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FeatureEngine, syntheticPair, type PairBar } from '../assets/features/engine/index.ts';
import type { BenchResult } from './run.ts';
import { best, timed } from './timing.ts';

const BARS = 200_000, RUNS = 5, PYTHON = '/usr/bin/python3';

function checkPandas(): void {
  const probe = spawnSync(PYTHON, ['-c', 'import pandas'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    throw new Error(`the features bench needs pandas for its baseline, and ${PYTHON} has none (${(probe.stderr || String(probe.error)).trim().split('\n').pop()}).\n`
      + 'Install it as root: apt-get update && apt-get install -y python3-pandas');
  }
}

function writeCsv(path: string, a: readonly PairBar[], b: readonly PairBar[]): void {
  const lines = ['a_high,a_low,a_close,b_high,b_low,b_close'];
  // String(number) is the shortest round-tripping form: pandas reads back the same doubles.
  for (let i = 0; i < a.length; i++) lines.push(`${a[i].high},${a[i].low},${a[i].close},${b[i].high},${b[i].low},${b[i].close}`);
  writeFileSync(path, `${lines.join('\n')}\n`);
}

export async function run(): Promise<BenchResult> {
  checkPandas();
  const { a, b } = syntheticPair({ n: BARS, seed: 7, kind: 'cointegrated' });

  // Rows are folded into a checksum so that no work can be optimised away.
  let checksum = 0, robustBars = 0;
  const fullRun = () => {
    const engine = new FeatureEngine();
    for (let i = 0; i < BARS; i++) {
      const row = engine.update(a[i], b[i]);
      if (row.z !== null) checksum += row.z + (row.slope_z as number);
      if (row.robust) robustBars++;
    }
  };
  const valuesRun = () => {
    const engine = new FeatureEngine();
    for (let i = 0; i < BARS; i++) checksum += engine.updateValues(a[i], b[i])[0] || 0;
  };
  timed(fullRun); // JIT warm-up
  robustBars = 0;
  const rows = best(Array.from({ length: RUNS }, () => timed(fullRun)));
  const columnar = best(Array.from({ length: RUNS }, () => timed(valuesRun)));

  const dir = mkdtempSync(join(tmpdir(), 'orrery-features-bench-'));
  try {
    const csv = join(dir, 'bars.csv');
    writeCsv(csv, a, b);
    const py = spawnSync(PYTHON, [join(import.meta.dirname, 'features_pandas.py'), csv, '3'], { encoding: 'utf8', maxBuffer: 1 << 20 });
    if (py.status !== 0) throw new Error(`features_pandas.py failed:\n${py.stderr}`);
    const pandas = JSON.parse(py.stdout.trim().split('\n').pop() as string) as {
      bar_updates_per_s: number; bar_updates_per_s_wall: number; bar_updates_per_s_vectorised: number; robust_bars: number; pandas: string;
    };

    const perS = (ms: number) => Math.round(BARS / (ms / 1000));
    const value = perS(rows.cpuMs);
    const baseline = Math.round(pandas.bar_updates_per_s);
    return {
      value,
      unit: 'bar-updates/s',
      baseline,
      ratio: Number((value / baseline).toFixed(2)),
      clock: `process CPU time, best of ${RUNS} (pandas: best of 3)`,
      bars: BARS,
      baseline_vectorised: Math.round(pandas.bar_updates_per_s_vectorised),
      ratio_vectorised: Number((value / pandas.bar_updates_per_s_vectorised).toFixed(2)),
      wall_value: perS(rows.wallMs),
      wall_baseline: Math.round(pandas.bar_updates_per_s_wall),
      columnar_value: perS(columnar.cpuMs),
      ns_per_bar: Number((1e6 * rows.cpuMs / BARS).toFixed(0)),
      robust_bars: robustBars / RUNS,
      pandas_robust_bars: pandas.robust_bars,
      pandas_version: pandas.pandas,
      checksum_finite: Number.isFinite(checksum),
      goal: 'value ≥ 2,000,000 bar-updates/s and ratio ≥ 10',
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
