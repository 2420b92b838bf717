/**
 * Wall time of the main job: `orrery start` (what `npm start` runs) on the demo universe in a fresh
 * `$ORRERY_HOME` — bars, features, labels for 24 months, then the latest training window's models,
 * θ, backtests and published models. The baseline is measured side by side: the same command with
 * only the data half in the code location (bench/data-half.location.ts) on another fresh home, so
 * the ratio is total / data time — how much the ML half adds. Goal: total under 10 minutes here.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchResult } from './run.ts';

const CLI = join(import.meta.dirname, '..', 'cli', 'main.ts');

function timedCli(args: string[], env: Record<string, string> = {}): number {
  const home = mkdtempSync(join(tmpdir(), 'orrery-bench-pipeline-'));
  try {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], { env: { ...process.env, ...env, ORRERY_HOME: home }, stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0) throw new Error(`orrery ${args.join(' ')} exited with ${r.status}`);
    return (performance.now() - t0) / 1000;
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

export async function run(): Promise<BenchResult> {
  const total = timedCli(['start']);
  const data = timedCli(['start'], { ORRERY_CODE_LOCATION: join(import.meta.dirname, 'data-half.location.ts') });
  return { value: Math.round(total * 10) / 10, unit: 's (npm start, fresh home)', baseline: Math.round(data * 10) / 10, ratio: Math.round((total / data) * 100) / 100, goal: 'value < 600 s', baseline_is: 'npm start with the data half only' };
}
