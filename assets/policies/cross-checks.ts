import type { ConfigProblem } from '../../core/config/loader.ts';
import { ErrorIds } from '../../core/errors.ts';
import type { Policies } from './index.ts';

const BARS_PER_MONTH: Record<string, number> = { '15m': 4 * 24 * 21, '1h': 24 * 21, '4h': 6 * 21 };

/** The seed's final consistency checklist (最終整合チェックリスト v1), across files. */
export function crossCheck(dir: string, p: Partial<Policies>): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const bad = (file: string, path: string, message: string, errorId: string = ErrorIds.CONFIG_INVALID) => out.push({ file: `${dir}/base/${file}.yaml`, path, errorId, message });

  // Each group runs when the files it reads are valid, so one bad file hides no other problem.
  const { pipeline, core, retention, dd, backtest, runbook, universe, costs, sources } = p;
  if (pipeline) {
  if (!pipeline.timeframe_allowed.includes(pipeline.timeframe_default)) bad('pipeline_policy', 'timeframe_default', `${pipeline.timeframe_default} is not in timeframe_allowed`);
  for (const tf of pipeline.timeframe_allowed) {
    if (pipeline.freshness_budget_seconds[tf] === undefined) bad('pipeline_policy', `freshness_budget_seconds.${tf}`, `no freshness budget for allowed timeframe ${tf}`, ErrorIds.CONFIG_MISSING);
  }
  }
  // Retention must cover what the windows and the training history need.
  if (pipeline && core && retention) {
  const neededBars = Math.max(pipeline.beta_window_bars, pipeline.z_window_bars, core.horizon_bars);
  for (const tf of pipeline.timeframe_allowed) {
    if (retention.canonical_months * BARS_PER_MONTH[tf] < neededBars) bad('data_retention', 'canonical_months', `${retention.canonical_months} months of ${tf} bars is fewer than the ${neededBars} bars the windows need`);
  }
  if (retention.canonical_months < pipeline.history_lookback_months) bad('data_retention', 'canonical_months', `retention (${retention.canonical_months} months) is shorter than the training history (history_lookback_months ${pipeline.history_lookback_months})`);
  if (retention.features_snapshot_months < pipeline.history_lookback_months) bad('data_retention', 'features_snapshot_months', `snapshots (${retention.features_snapshot_months} months) must cover the training history (${pipeline.history_lookback_months} months)`);

  }
  // Drawdown thresholds are monotone.
  if (dd) {
  if (!(dd.dd_warn_portfolio < dd.dd_halt_portfolio && dd.dd_halt_portfolio < dd.dd_flatten_portfolio)) bad('dd_policy', 'dd_*_portfolio', 'must increase: dd_warn < dd_halt < dd_flatten');
  if (!(dd.k_warn < dd.k_halt && dd.k_halt < dd.k_flatten)) bad('dd_policy', 'k_*', 'must increase: k_warn < k_halt < k_flatten');

  }
  // θ ranges and label parameters agree across files.
  if (core && backtest && runbook && dd) {
  const { theta1, theta2 } = core.theta_search_range;
  if (core.theta1_initial < theta1[0] || core.theta1_initial > theta1[1]) bad('core_policy', 'theta1_initial', `${core.theta1_initial} is outside theta_search_range.theta1 [${theta1.join(', ')}]`);
  if (core.theta2_initial < theta2[0] || core.theta2_initial > theta2[1]) bad('core_policy', 'theta2_initial', `${core.theta2_initial} is outside theta_search_range.theta2 [${theta2.join(', ')}]`);
  if (backtest.exit_rule.theta_stop < theta2[0]) bad('backtest_policy', 'exit_rule.theta_stop', `θ_stop ${backtest.exit_rule.theta_stop} is below the θ2 range: every entry would stop at once`);
  if (core.z_exit >= core.z_entry) bad('core_policy', 'z_exit', `z_exit (${core.z_exit}) must be below z_entry (${core.z_entry})`);
  if (backtest.exit_rule.z_exit !== core.z_exit) bad('backtest_policy', 'exit_rule.z_exit', `differs from core_policy z_exit (${core.z_exit})`);
  if (backtest.exit_rule.M !== core.horizon_bars) bad('backtest_policy', 'exit_rule.M', `differs from core_policy horizon_bars (${core.horizon_bars})`);
  if (runbook.resume_policy.stability_days !== dd.resume_stability_days) bad('runbook_policy', 'resume_policy.stability_days', `differs from dd_policy resume_stability_days (${dd.resume_stability_days})`);

  }
  // Universe against costs and sources.
  if (universe && pipeline && costs && sources) {
  const symbols = new Map<string, Policies['universe']['pairs'][number]['leg_A']>();
  const ids = new Set<string>();
  universe.pairs.forEach((pair, i) => {
    if (ids.has(pair.pair_id)) bad('universe', `pairs.${i}.pair_id`, `duplicate pair ${pair.pair_id}`);
    ids.add(pair.pair_id);
    if (pair.pair_id !== `${pair.leg_A.canonical_symbol}_${pair.leg_B.canonical_symbol}`) bad('universe', `pairs.${i}.pair_id`, `must be ${pair.leg_A.canonical_symbol}_${pair.leg_B.canonical_symbol}`);
    for (const [legName, leg] of [['leg_A', pair.leg_A], ['leg_B', pair.leg_B]] as const) {
      symbols.set(leg.canonical_symbol, leg);
      const where = `pairs.${i}.${legName}`;
      if (Math.abs(Math.round(leg.min_lot / leg.lot_step) * leg.lot_step - leg.min_lot) > 1e-9) bad('universe', `${where}.min_lot`, `min_lot ${leg.min_lot} is not a multiple of lot_step ${leg.lot_step}`);
      if (leg.tick_size < 10 ** -leg.price_precision - 1e-15) bad('universe', `${where}.tick_size`, `tick_size ${leg.tick_size} is finer than price_precision ${leg.price_precision}`);
    }
    // The pair must be tradable on the timeframe the pipeline trains and trades by default.
    if (!pair.constraints.allowed_timeframes.includes(pipeline.timeframe_default)) bad('universe', `pairs.${i}.constraints.allowed_timeframes`, `${pair.pair_id} does not allow the default timeframe ${pipeline.timeframe_default}`);
  });
  for (const sym of Object.keys(costs.overrides)) if (!symbols.has(sym)) bad('cost_table', `overrides.${sym}`, `${sym} is not a symbol of universe.yaml`);

  const enabled = Object.entries(sources.providers).filter(([, s]) => s.enabled);
  if (enabled.length === 0) bad('sources', 'providers', 'no provider is enabled', ErrorIds.CONFIG_MISSING);
  const priorities = enabled.map(([, s]) => s.priority);
  if (new Set(priorities).size !== priorities.length) bad('sources', 'providers', 'enabled providers must have distinct priorities');
  for (const [name, s] of Object.entries(sources.providers)) {
    if (s.type !== 'Synthetic') continue;
    for (const pair of universe.pairs) {
      if (!s.pairs[pair.pair_id]) bad('sources', `providers.${name}.pairs`, `no synthetic parameters for pair ${pair.pair_id}`, ErrorIds.CONFIG_MISSING);
      for (const leg of [pair.leg_A, pair.leg_B]) if (!s.legs[leg.canonical_symbol]) bad('sources', `providers.${name}.legs`, `no synthetic parameters for leg ${leg.canonical_symbol}`, ErrorIds.CONFIG_MISSING);
    }
  }
  }
  return out;
}
