import { z } from 'zod';
import { ConfigError, readConfigs, validateFile, type ConfigProblem } from '../core/config/loader.ts';
import { ErrorIds } from '../core/errors.ts';

/** Schemas of the policy files the asset library reads (seed 002). Every key is required. */

const hhmm = z.string().regex(/^\d{2}:\d{2}$/, 'must be HH:MM');
const month = z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'must be YYYY-MM');
const timeframe = z.enum(['15m', '1h', '4h']);

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

const SyntheticSource = z.strictObject({
  type: z.literal('Synthetic'),
  priority: z.number().int().positive(),
  timeframes: z.array(timeframe).min(1),
  seed: z.number().int(),
  legs: z.record(z.string(), z.strictObject({ price0: z.number().positive(), annual_vol: z.number().positive().max(5) })),
  pairs: z.record(z.string(), z.strictObject({ beta: z.number(), half_life_bars: z.number().positive(), spread_vol: z.number().positive() })),
});

export const SourcesSchema = z.strictObject({
  providers: z.strictObject({ synthetic: SyntheticSource }),
});
export type Sources = z.infer<typeof SourcesSchema>;

export interface Policies {
  universe: Universe;
  pipeline: PipelinePolicy;
  retention: DataRetention;
  sources: Sources;
}

/** Loads and validates every policy file, reporting all problems at once (fail fast at start-up). */
export function loadPolicies(dir: string, env?: string): Policies {
  const { configs, problems } = readConfigs(dir, env);
  const universe = validateFile(configs, 'universe', UniverseSchema, problems);
  const pipeline = validateFile(configs, 'pipeline_policy', PipelinePolicySchema, problems);
  const retention = validateFile(configs, 'data_retention', DataRetentionSchema, problems);
  const sources = validateFile(configs, 'sources', SourcesSchema, problems);
  if (universe && pipeline && sources) problems.push(...crossCheck(dir, universe, pipeline, sources));
  if (problems.length || !universe || !pipeline || !retention || !sources) throw new ConfigError(problems);
  return { universe, pipeline, retention, sources };
}

function crossCheck(dir: string, universe: Universe, pipeline: PipelinePolicy, sources: Sources): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const file = (n: string) => `${dir}/base/${n}.yaml`;
  if (!pipeline.timeframe_allowed.includes(pipeline.timeframe_default)) {
    out.push({ file: file('pipeline_policy'), path: 'timeframe_default', errorId: ErrorIds.CONFIG_INVALID, message: `${pipeline.timeframe_default} is not in timeframe_allowed` });
  }
  const ids = new Set<string>();
  universe.pairs.forEach((p, i) => {
    if (ids.has(p.pair_id)) out.push({ file: file('universe'), path: `pairs.${i}.pair_id`, errorId: ErrorIds.CONFIG_INVALID, message: `duplicate pair ${p.pair_id}` });
    ids.add(p.pair_id);
    if (p.pair_id !== `${p.leg_A.canonical_symbol}_${p.leg_B.canonical_symbol}`) {
      out.push({ file: file('universe'), path: `pairs.${i}.pair_id`, errorId: ErrorIds.CONFIG_INVALID, message: `pair_id must be ${p.leg_A.canonical_symbol}_${p.leg_B.canonical_symbol}` });
    }
    const syn = sources.providers.synthetic;
    if (!syn.pairs[p.pair_id]) out.push({ file: file('sources'), path: `providers.synthetic.pairs`, errorId: ErrorIds.CONFIG_MISSING, message: `no synthetic parameters for pair ${p.pair_id}` });
    for (const leg of [p.leg_A, p.leg_B]) {
      if (!syn.legs[leg.canonical_symbol]) out.push({ file: file('sources'), path: `providers.synthetic.legs`, errorId: ErrorIds.CONFIG_MISSING, message: `no synthetic parameters for leg ${leg.canonical_symbol}` });
    }
  });
  return out;
}
