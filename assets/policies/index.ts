import { ConfigError, readConfigs, validateFile, type ConfigProblem } from '../../core/config/loader.ts';
import { crossCheck } from './cross-checks.ts';
import {
  AnalyticsPolicySchema, BacktestPolicySchema, CorePolicySchema, CostTableSchema, DataRetentionSchema, DdPolicySchema,
  FeatureManifestSchema, PipelinePolicySchema, RetrainPolicySchema, RunbookPolicySchema, SlackPolicySchema, SourcesSchema, UniverseSchema,
} from './schemas.ts';

export * from './schemas.ts';

/** Every policy file, by file name, with its schema. All are required. */
const FILES = {
  core_policy: CorePolicySchema,
  dd_policy: DdPolicySchema,
  retrain_policy: RetrainPolicySchema,
  pipeline_policy: PipelinePolicySchema,
  data_retention: DataRetentionSchema,
  analytics_policy: AnalyticsPolicySchema,
  backtest_policy: BacktestPolicySchema,
  runbook_policy: RunbookPolicySchema,
  universe: UniverseSchema,
  cost_table: CostTableSchema,
  sources: SourcesSchema,
  slack_policy: SlackPolicySchema,
  features: FeatureManifestSchema,
} as const;

type Files = typeof FILES;
type Values = { [K in keyof Files]: import('zod').infer<Files[K]> };

export interface Policies {
  core: Values['core_policy'];
  dd: Values['dd_policy'];
  retrain: Values['retrain_policy'];
  pipeline: Values['pipeline_policy'];
  retention: Values['data_retention'];
  analytics: Values['analytics_policy'];
  backtest: Values['backtest_policy'];
  runbook: Values['runbook_policy'];
  universe: Values['universe'];
  costs: Values['cost_table'];
  sources: Values['sources'];
  slack: Values['slack_policy'];
  features: Values['features'];
}

export const POLICY_FILES = Object.keys(FILES) as Array<keyof Files>;

/** Validates every policy file; returns the policies or every problem found (never just the first). */
export function checkPolicies(dir: string, env?: string): { policies?: Policies; problems: ConfigProblem[]; files: number } {
  const { configs, problems } = readConfigs(dir, env);
  const v = {} as Partial<Values>;
  for (const name of POLICY_FILES) (v as Record<string, unknown>)[name] = validateFile(configs, name, FILES[name] as import('zod').ZodType<unknown>, problems);
  for (const name of Object.keys(configs.files)) {
    if (!(name in FILES)) problems.push({ file: `${dir}/base/${name}.yaml`, path: '(file)', errorId: 'CORE_CONFIG_UNKNOWN', message: `not a policy file (known: ${POLICY_FILES.join(', ')})` });
  }
  const policies: Partial<Policies> = {
    core: v.core_policy, dd: v.dd_policy, retrain: v.retrain_policy, pipeline: v.pipeline_policy, retention: v.data_retention,
    analytics: v.analytics_policy, backtest: v.backtest_policy, runbook: v.runbook_policy, universe: v.universe,
    costs: v.cost_table, sources: v.sources, slack: v.slack_policy, features: v.features,
  };
  problems.push(...crossCheck(dir, policies));
  // A literal secret is reported once, as a secret, not again as a schema mismatch.
  const secrets = new Set(problems.filter((p) => p.errorId === 'CORE_CONFIG_SECRET').map((p) => `${p.file}\0${p.path}`));
  const unique = problems.filter((p) => p.errorId === 'CORE_CONFIG_SECRET' || !secrets.has(`${p.file}\0${p.path}`));
  const complete = POLICY_FILES.every((n) => v[n] !== undefined) && unique.length === 0;
  return { policies: complete ? (policies as Policies) : undefined, problems: unique, files: Object.keys(configs.files).length };
}

/** Loads and validates every policy file, failing fast at start-up with all problems listed. */
export function loadPolicies(dir: string, env?: string): Policies {
  const { policies, problems } = checkPolicies(dir, env);
  if (!policies) throw new ConfigError(problems);
  return policies;
}
