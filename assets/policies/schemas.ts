import { z } from 'zod';

/** Schemas of every policy file (seed 002 設定YAML). Strict: an unknown key is an error. */

const hhmm = z.string().regex(/^\d{2}:\d{2}$/, 'must be HH:MM');
const month = z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'must be YYYY-MM');
const timeframe = z.enum(['15m', '1h', '4h']);
const prob = z.number().min(0).max(1);
const range01 = z.tuple([prob, prob]).refine(([a, b]) => a < b, 'range must be [low, high] with low < high');
const secretRef = z.string().regex(/^(ENV|VAULT):\S+$/, 'secrets are references: ENV:NAME or VAULT:path');
const channel = z.string().regex(/^#[a-z0-9_-]+$/, 'a Slack channel like #ml-ops');

const Leg = z.strictObject({
  canonical_symbol: z.string().regex(/^[A-Z0-9]+$/, 'canonical symbols are upper case without separators'),
  broker_symbol: z.string(),
  asset_class: z.enum(['CFD', 'FX', 'INDEX']),
  tick_size: z.number().positive(),
  price_precision: z.number().int().min(0).max(10),
  contract_size: z.number().positive(),
  min_lot: z.number().positive(),
  lot_step: z.number().positive(),
  base_ccy: z.string().length(3),
  timezone: z.string(),
  trading_hours: z.strictObject({
    sessions: z.array(z.strictObject({ start: hhmm, end: hhmm })).min(1),
    holidays_calendar: z.enum(['US', 'NONE']),
  }),
});

const Pair = z.strictObject({
  pair_id: z.string().regex(/^[A-Z0-9]+_[A-Z0-9]+$/, 'pair ids are LEGA_LEGB'),
  group: z.string(),
  leg_A: Leg,
  leg_B: Leg,
  constraints: z.strictObject({
    margin_requirement: z.number().positive().max(1),
    min_notional_usd: z.number().nonnegative(),
    allowed_timeframes: z.array(timeframe).min(1),
  }),
});

export const UniverseSchema = z.strictObject({ pairs: z.array(Pair).min(1) });
export type Universe = z.infer<typeof UniverseSchema>;
export type UniversePair = z.infer<typeof Pair>;
export type UniverseLeg = z.infer<typeof Leg>;

export const PipelinePolicySchema = z.strictObject({
  timeframe_default: timeframe,
  timeframe_allowed: z.array(timeframe).min(1),
  history_start: month,
  history_lookback_months: z.number().int().min(1).max(240),
  beta_window_bars: z.number().int().min(2),
  z_window_bars: z.number().int().min(2),
  atr_period: z.number().int().min(1),
  dq_spike_k: z.number().positive(),
  missing_fill_max_run: z.number().int().min(0),
  outlier_sigma: z.number().positive(),
  outlier_window_bars: z.number().int().min(2),
  dq_spike_window_bars: z.number().int().min(2),
  dq_min_periods: z.number().int().min(2),
  dq_thresholds: z.strictObject({ missing_rate: prob, outlier_rate: prob, beta_stability_std_jump: z.number().positive() }),
  freshness_budget_seconds: z.partialRecord(timeframe, z.number().int().positive()),
  retry_max: z.number().int().min(0).max(20),
  retry_backoff_max_seconds: z.number().positive(),
  rest_rate_limit_budget: z.number().int().positive(),
  circuit_breaker: z.strictObject({ open_threshold_errors: z.number().int().positive(), half_open_after_seconds: z.number().positive() }),
});
export type PipelinePolicy = z.infer<typeof PipelinePolicySchema>;

export const DataRetentionSchema = z.strictObject({
  raw_days: z.number().int().positive(),
  ws_ticks_hours: z.number().int().positive(),
  canonical_months: z.number().int().positive(),
  features_cache_months: z.number().int().positive(),
  features_snapshot_months: z.number().int().positive(),
  model_artifacts_months: z.number().int().positive(),
  signals_history_months: z.number().int().positive(),
  reports_months: z.number().int().positive(),
  logs_days: z.number().int().positive(),
  audit_logs_years: z.number().int().positive(),
  grace_days: z.number().int().nonnegative(),
});
export type DataRetention = z.infer<typeof DataRetentionSchema>;

export const CorePolicySchema = z.strictObject({
  theta1_initial: prob,
  theta2_initial: prob,
  theta_search_range: z.strictObject({ theta1: range01, theta2: range01 }),
  z_entry: z.number().positive(),
  z_exit: z.number().nonnegative(),
  horizon_bars: z.number().int().positive(),
  speed_lookback_bars: z.number().int().positive(),
  risk_label_thresholds: z.strictObject({
    theta_corr_var: z.number().positive(),
    theta_vol: z.number().positive(),
    theta_speed: z.number().positive(),
    theta_dd: prob,
    dd_window_business_days: z.number().int().positive(),
    speed_ema_half_life: z.number().positive(),
  }),
  class_weight_max_ratio: z.number().min(1),
  // θ optimisation (seed 002 閾値最適化 v1); optional, the engine falls back to the seed's values.
  theta_objective: z.strictObject({ dd_target: prob, trades_min: z.number().nonnegative(), lambda_dd: z.number().nonnegative(), lambda_trades: z.number().nonnegative(), lambda_stop: z.number().nonnegative() }).optional(),
  theta_constraints: z.strictObject({ max_dd: prob, trades_per_year_min: z.number().nonnegative(), fp_rate_ai2_max: prob }).optional(),
  theta_search: z.strictObject({
    grid_step: z.number().positive().max(0.5), resolution: z.number().positive().optional(), tpe_trials_min: z.number().int().nonnegative(), tpe_trials_max: z.number().int().positive(),
    early_stop_patience: z.number().int().positive(), min_improvement: z.number().nonnegative().optional(), gamma: prob.optional(), max_good: z.number().int().positive().optional(),
    candidates: z.number().int().positive().optional(), seed: z.number().int(),
  }).optional(),
  theta_hysteresis: z.strictObject({ new_weight: prob, max_step: z.number().positive(), min_oos_trades_ratio: prob }).optional(),
  theta_rollback: z.strictObject({ sharpe_drop: prob, max_dd_rise: prob }).optional(),
});
export type CorePolicy = z.infer<typeof CorePolicySchema>;

export const DdPolicySchema = z.strictObject({
  rolling_window_business_days: z.number().int().positive(),
  dd_warn_portfolio: prob,
  dd_halt_portfolio: prob,
  dd_flatten_portfolio: prob,
  k_warn: z.number().positive(),
  k_halt: z.number().positive(),
  k_flatten: z.number().positive(),
  leverage_scale_on_warn: z.number().gt(0).max(1),
  resume_stability_days: z.number().int().positive(),
});
export type DdPolicy = z.infer<typeof DdPolicySchema>;

export const RetrainPolicySchema = z.strictObject({
  retrain_cron: z.string().regex(/^(\S+\s+){4}\S+$/, 'a five-field cron expression'),
  retrain_retry_max: z.number().int().min(0),
  retrain_notification_channel: channel,
  model_version_retention: z.number().int().min(5, 'keep at least 5 model versions'),
});

export const AnalyticsPolicySchema = z.strictObject({
  risk_panels: z.strictObject({ show_pair_dd: z.boolean(), show_portfolio_dd: z.boolean(), show_leverage_scale: z.boolean() }),
  refresh_intervals_seconds: z.strictObject({ trading_page: z.number().int().positive(), risk_page: z.number().int().positive(), data_quality_page: z.number().int().positive() }),
  export_limits: z.strictObject({ trades_csv_max_rows: z.number().int().positive() }),
});

export const BacktestPolicySchema = z.strictObject({
  entry_rule: z.strictObject({ use_theta: z.boolean(), use_position_scale: z.boolean() }),
  exit_rule: z.strictObject({ z_exit: z.number().nonnegative(), M: z.number().int().positive(), risk_stop: z.boolean(), theta_stop: prob }),
  costs: z.strictObject({ commission_bps_default: z.number().nonnegative(), slippage_bps_default: z.number().nonnegative(), spread_bps_table: z.record(z.string(), z.number().nonnegative()) }),
  stress: z.strictObject({
    vol_spike: z.array(z.number().positive()).min(1),
    corr_breakdown: z.array(z.number().min(-1).max(1)).min(1),
    cost_increase_bps: z.array(z.number().nonnegative()).min(1),
    latency_bars: z.array(z.number().int().nonnegative()).min(1),
    gap_percent: z.array(z.number().positive()).min(1),
  }),
  acceptance: z.strictObject({ sharpe_min: z.number(), max_dd_max: prob, trades_per_year_min: z.number().int().nonnegative() }),
  // How a failed acceptance gate is reported: ERROR/WARN in the event log; blocking stops the backtest from being stored.
  acceptance_check: z.strictObject({ severity: z.enum(['ERROR', 'WARN']), blocking: z.boolean() }),
});
export type BacktestPolicy = z.infer<typeof BacktestPolicySchema>;

export const RunbookPolicySchema = z.strictObject({
  halt_policy: z.strictObject({ soft_on_dd_warn: z.boolean(), hard_on_dd_halt: z.boolean(), flatten_on_dd_flatten: z.boolean() }),
  resume_policy: z.strictObject({ stability_days: z.number().int().positive(), corr_threshold: z.number().min(-1).max(1), canary_ratio: prob }),
  rollback_policy: z.strictObject({ sharpe_drop_limit: prob, maxdd_increase_limit: prob }),
});

const Swap = z.strictObject({ long_bps_day: z.number(), short_bps_day: z.number() });
export const CostTableSchema = z.strictObject({
  defaults: z.strictObject({
    commission_bps: z.number().nonnegative(),
    slippage_bps: z.number().nonnegative(),
    spread_bps: z.number().nonnegative(),
    swap: z.strictObject({ rollover_day: z.enum(['MON', 'TUE', 'WED', 'THU', 'FRI']), time_utc: hhmm }),
  }),
  overrides: z.record(z.string(), z.strictObject({ commission_bps: z.number().nonnegative().optional(), slippage_bps: z.number().nonnegative().optional(), spread_bps: z.number().nonnegative().optional(), swap: Swap.optional() })),
  time_of_day_multipliers: z.record(z.string().regex(/^\d{2}:\d{2}-\d{2}:\d{2}$/, 'HH:MM-HH:MM'), z.number().positive()),
  account_currency: z.string().length(3),
});
export type CostTable = z.infer<typeof CostTableSchema>;

export const SlackPolicySchema = z.strictObject({
  channels: z.strictObject({ critical: channel, warning: channel, info: channel, config: channel }),
  webhook_url_ref: secretRef,
  message_templates: z.record(z.string(), z.string().min(1)),
});

const ProviderBase = { enabled: z.boolean(), priority: z.number().int().positive(), timeframes: z.array(timeframe).min(1) };
const SyntheticSource = z.strictObject({
  type: z.literal('Synthetic'),
  ...ProviderBase,
  seed: z.number().int(),
  legs: z.record(z.string(), z.strictObject({ price0: z.number().positive(), annual_vol: z.number().positive().max(5) })),
  pairs: z.record(z.string(), z.strictObject({ beta: z.number(), half_life_bars: z.number().positive(), spread_vol: z.number().positive() })),
});
const RestSource = z.strictObject({
  type: z.enum(['TwelveData', 'GenericRest']),
  ...ProviderBase,
  base_url: z.string().url(),
  api_key_ref: secretRef,
  assets: z.array(z.enum(['CFD', 'FX', 'INDEX'])).optional(),
  rate_limits: z.strictObject({ rest_qps: z.number().positive(), ws_channels: z.number().int().nonnegative().optional() }),
  cost_tier: z.string().optional(),
});
const CsvSource = z.strictObject({ type: z.literal('Csv'), ...ProviderBase, path: z.string() });

export const SourcesSchema = z.strictObject({
  providers: z.record(z.string(), z.discriminatedUnion('type', [SyntheticSource, RestSource, CsvSource])),
  diff_thresh: z.number().positive().max(1),
  dedupe_policy: z.literal('latest_wins'),
});
export type Sources = z.infer<typeof SourcesSchema>;
export type SyntheticSourceConfig = z.infer<typeof SyntheticSource>;

const FeatureEntry = z.strictObject({ name: z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/), dtype: z.enum(['float32', 'float64', 'int8', 'int32']), window: z.number().int().positive(), half_life: z.number().positive().optional() });
export const FeatureManifestSchema = z.strictObject({
  version: z.string().regex(/^\d+\.\d+\.\d+$/, 'semantic version'),
  features: z.strictObject({
    active: z.array(FeatureEntry).min(1),
    experimental: z.array(FeatureEntry),
    deprecated: z.array(z.strictObject({ name: z.string(), reason: z.string(), deprecated_date: z.string() })),
  }),
});
export type FeatureManifest = z.infer<typeof FeatureManifestSchema>;
