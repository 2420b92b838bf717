import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { checkPolicies, loadPolicies, POLICY_FILES } from '../assets/policies/index.ts';
import { orrery, REPO } from './support/cli.ts';

/** A copy of configs/ with one file's envelope values edited. */
function edited(edits: Record<string, (doc: Record<string, { value: any }>) => void>, overlays: Record<string, Record<string, string>> = {}): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'orrery-cfg-')), 'configs');
  cpSync(join(REPO, 'configs'), dir, { recursive: true });
  for (const [file, edit] of Object.entries(edits)) {
    const path = join(dir, 'base', `${file}.yaml`);
    const doc = parse(readFileSync(path, 'utf8'));
    edit(doc);
    writeFileSync(path, stringify(doc));
  }
  for (const [env, files] of Object.entries(overlays)) {
    mkdirSync(join(dir, 'envs', env), { recursive: true });
    for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, 'envs', env, f), text);
  }
  return dir;
}

function problemsOf(dir: string, env?: string) {
  return checkPolicies(dir, env).problems.map((p) => ({ id: p.errorId, file: p.file.split('/').pop(), path: p.path }));
}

describe('policy configs', () => {
  it('the shipped base and every overlay validate, with the seeds\' defaults', () => {
    const p = loadPolicies(join(REPO, 'configs'));
    expect(POLICY_FILES).toHaveLength(13);
    expect(p.core).toMatchObject({ theta1_initial: 0.7, theta2_initial: 0.3, z_entry: 2, z_exit: 0.5, horizon_bars: 48 });
    expect(p.pipeline).toMatchObject({ beta_window_bars: 180, z_window_bars: 180, dq_spike_k: 12, outlier_sigma: 8, missing_fill_max_run: 2, retry_max: 5, circuit_breaker: { open_threshold_errors: 5, half_open_after_seconds: 120 } });
    expect(p.pipeline.dq_thresholds).toMatchObject({ missing_rate: 0.05, outlier_rate: 0.08 });
    expect(p.retention.logs_days).toBe(90);
    expect(p.dd).toMatchObject({ dd_warn_portfolio: 0.08, dd_halt_portfolio: 0.1, dd_flatten_portfolio: 0.12, k_warn: 2.5, k_halt: 3.5, k_flatten: 4.5 });
    for (const env of ['dev', 'stg', 'prod']) expect(problemsOf(join(REPO, 'configs'), env)).toEqual([]);
    expect(loadPolicies(join(REPO, 'configs'), 'dev').retention.logs_days).toBe(14);
    expect(loadPolicies(join(REPO, 'configs'), 'prod').sources.providers.twelvedata.enabled).toBe(true);
  });

  const cases: Array<[string, Record<string, (d: any) => void>, { id: string; file: string; path: string }]> = [
    ['an unknown key', { dd_policy: (d) => { d.dd_wran_portfolio = { value: 0.1 }; } }, { id: 'CORE_CONFIG_UNKNOWN', file: 'dd_policy.yaml', path: 'dd_wran_portfolio' }],
    ['a missing key', { core_policy: (d) => { delete d.z_exit; } }, { id: 'CORE_CONFIG_MISSING', file: 'core_policy.yaml', path: 'z_exit' }],
    ['a value of the wrong type', { core_policy: (d) => { d.z_exit.value = 'half'; } }, { id: 'CORE_CONFIG_INVALID', file: 'core_policy.yaml', path: 'z_exit' }],
    ['a nested unknown key', { universe: (d) => { d.pairs.value[0].leg_A.tick = 1; } }, { id: 'CORE_CONFIG_UNKNOWN', file: 'universe.yaml', path: 'pairs.0.leg_A.tick' }],
    ['a literal API key', { sources: (d) => { d.providers.value.twelvedata.api_key_ref = 'abc123secret'; } }, { id: 'CORE_CONFIG_SECRET', file: 'sources.yaml', path: 'providers.twelvedata.api_key_ref' }],
    ['timeframe_default outside timeframe_allowed', { pipeline_policy: (d) => { d.timeframe_allowed.value = ['15m', '4h']; d.freshness_budget_seconds.value = { '15m': 60, '4h': 180 }; } }, { id: 'CORE_CONFIG_INVALID', file: 'pipeline_policy.yaml', path: 'timeframe_default' }],
    ['retention shorter than the training history', { data_retention: (d) => { d.canonical_months.value = 12; } }, { id: 'CORE_CONFIG_INVALID', file: 'data_retention.yaml', path: 'canonical_months' }],
    ['non-monotone DD thresholds', { dd_policy: (d) => { d.dd_halt_portfolio.value = 0.07; } }, { id: 'CORE_CONFIG_INVALID', file: 'dd_policy.yaml', path: 'dd_*_portfolio' }],
    ['a cost override for a symbol outside the universe', { cost_table: (d) => { d.overrides.value.BTCUSD = { spread_bps: 20 }; } }, { id: 'CORE_CONFIG_INVALID', file: 'cost_table.yaml', path: 'overrides.BTCUSD' }],
    ['θ1 outside its search range', { core_policy: (d) => { d.theta1_initial.value = 0.9; } }, { id: 'CORE_CONFIG_INVALID', file: 'core_policy.yaml', path: 'theta1_initial' }],
    ['backtest z_exit disagreeing with core_policy', { backtest_policy: (d) => { d.exit_rule.value.z_exit = 0.6; } }, { id: 'CORE_CONFIG_INVALID', file: 'backtest_policy.yaml', path: 'exit_rule.z_exit' }],
    ['min_lot not a multiple of lot_step', { universe: (d) => { d.pairs.value[1].leg_B.min_lot = 0.015; } }, { id: 'CORE_CONFIG_INVALID', file: 'universe.yaml', path: 'pairs.1.leg_B.min_lot' }],
  ];
  it.each(cases)('rejects %s with file, key path and error id', (_name, edits, expected) => {
    expect(problemsOf(edited(edits))).toContainEqual(expected);
  });

  it('lists every problem at once, and an overlay may not add keys', async () => {
    const dir = edited({ core_policy: (d) => { delete d.z_exit; }, dd_policy: (d) => { d.k_halt.value = 1; } }, { stg: { 'retrain_policy.yaml': 'retrain_hook:\n  value: 1\n' } });
    const problems = problemsOf(dir, 'stg');
    expect(problems).toContainEqual({ id: 'CORE_CONFIG_MISSING', file: 'core_policy.yaml', path: 'z_exit' });
    expect(problems).toContainEqual({ id: 'CORE_CONFIG_UNKNOWN', file: 'retrain_policy.yaml', path: 'retrain_hook' });
  });

  it('orrery validate-configs exits 0 with a summary, or 2 listing every problem', async () => {
    const ok = (await orrery(['validate-configs', join(REPO, 'configs')], process.env));
    expect(ok.code).toBe(0);
    expect(ok.stderr).toMatch(/base\s+OK/);
    const dir = edited({ dd_policy: (d) => { d.k_flatten.value = 1; }, sources: (d) => { d.providers.value.twelvedata.api_key_ref = 'literal'; } });
    const bad = (await orrery(['validate-configs', dir, '--json'], process.env));
    expect(bad.code).toBe(2);
    const doc = JSON.parse(bad.stdout);
    expect(doc.ok).toBe(false);
    const ids = doc.problems.filter((p: { env: string }) => p.env === 'base').map((p: { errorId: string; path: string }) => `${p.errorId} ${p.path}`);
    expect(ids).toEqual(expect.arrayContaining(['CORE_CONFIG_INVALID k_*', 'CORE_CONFIG_SECRET providers.twelvedata.api_key_ref']));
    expect(bad.stderr).toContain('CORE_CONFIG_SECRET');
  });
});
