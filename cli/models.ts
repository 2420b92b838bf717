/**
 * `orrery models …`: the model registry, its audit and experiment runs, rollback, and bundle
 * verification. `cli/main.ts` registers these with `registerModelCommands(program, withInstance)`.
 *
 *   orrery models list [--group G] [--timeframe TF] [--stage S] [--limit N] [--json]
 *   orrery models show VERSION [--json]
 *   orrery models rollback --group G [--timeframe TF] [--reason R] [--actor A] [--request-id ID] [--json]
 *   orrery models experiments [--group G] [--partition KEY] [--asset KEY] [--model-version V] [--run ID] [--limit N] [--json]
 *   orrery models verify VERSION [--json]
 *
 * `--json` prints one JSON document on stdout; people-facing lines go to stderr. Refusals throw an
 * `OrreryError` (exit 2 with its id, e.g. `ML_BUNDLE_CHECKSUM`, `ML_REGISTRY_NOROLLBACK`).
 */
import { userInfo } from 'node:os';
import { Option, type Command } from 'commander';
import type { Instance } from '../adapters/instance.ts';
import { modelRegistryFor } from '../adapters/postgres/model-registry.ts';
import { SecretResolver } from '../adapters/providers/secrets.ts';
import { ErrorIds, OrreryError } from '../core/errors.ts';
import { loadBundle } from '../assets/published_models/engine/bundle.ts';
import { PublishErrorIds } from '../assets/published_models/engine/errors.ts';
import { resolveVerifyKey } from '../assets/published_models/engine/keys.ts';
import { MODEL_STAGES, type AuditRecord, type ExperimentRun, type ModelRecord, type ModelRegistry } from '../assets/published_models/engine/registry.ts';

export type WithInstance = <T>(fn: (i: Instance) => Promise<T>) => Promise<T>;

function out(doc: unknown): void {
  process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
}
function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** The instance's registry: its `modelRegistry` when it has one, else one on its event log's database. */
export function registryOf(i: Instance): ModelRegistry {
  return (i as Instance & { modelRegistry?: ModelRegistry }).modelRegistry ?? modelRegistryFor(i.eventLog);
}

/** Who is acting, for the audit: `--actor`, else `$ORRERY_ACTOR`, else the OS user. */
function actorOf(given: string | undefined): string {
  if (given) return given;
  if (process.env.ORRERY_ACTOR) return process.env.ORRERY_ACTOR;
  try {
    return userInfo().username || 'unknown';
  } catch {
    return 'unknown';
  }
}

function limitOption(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new OrreryError(ErrorIds.CLI_USAGE, '--limit must be an integer from 1 to 10000.', {});
  return n;
}

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

export function modelDoc(m: ModelRecord) {
  return {
    version: m.version, group: m.group, timeframe: m.timeframe, stage: m.stage, bundle_uri: m.bundleUri,
    theta: m.theta, metrics: m.metrics, previous_version: m.previousVersion,
    created_at: iso(m.createdAt), updated_at: iso(m.updatedAt), promoted_at: iso(m.promotedAt),
  };
}

export function auditDoc(a: AuditRecord) {
  return {
    id: a.id, changed_at: iso(a.changedAt), changed_by: a.changedBy, version: a.entityId, group: a.group, timeframe: a.timeframe,
    field: a.field, action: a.action, before: a.before, after: a.after, reason: a.reason, request_id: a.requestId,
  };
}

export function experimentDoc(e: ExperimentRun) {
  return {
    run_id: e.runId, asset_key: e.assetKey, partition_key: e.partitionKey, trial: e.trial, group: e.group, model_version: e.modelVersion,
    params: e.params, metrics: e.metrics, created_at: iso(e.createdAt),
  };
}

const thetaText = (m: ModelRecord) => `θ1=${m.theta.theta1} θ2=${m.theta.theta2}`;

export function registerModelCommands(program: Command, withInstance: WithInstance): Command {
  const models = program.command('models').description('Published models: the registry (stages, champion, rollback), its audit, experiment runs, bundle verification.');

  models
    .command('list')
    .description('Registered model versions, newest first.')
    .option('--group <group>', 'only this pair group (e.g. metals)')
    .option('--timeframe <tf>', 'only this timeframe')
    .addOption(new Option('--stage <stage>', 'only this stage').choices([...MODEL_STAGES]))
    .option('--limit <n>', 'at most this many', limitOption, 100)
    .option('--json', 'print one JSON document on stdout')
    .action(async (o) => withInstance(async (i) => {
      const rows = await registryOf(i).list({ group: o.group, timeframe: o.timeframe, stage: o.stage, limit: o.limit });
      if (o.json) return out({ models: rows.map(modelDoc) });
      if (rows.length === 0) return say('no model versions registered');
      say('version                        group        timeframe  stage       θ1     θ2     created');
      for (const m of rows) {
        say(`${m.version.padEnd(30)} ${m.group.padEnd(12)} ${m.timeframe.padEnd(10)} ${m.stage.padEnd(11)} ${String(m.theta.theta1).padEnd(6)} ${String(m.theta.theta2).padEnd(6)} ${iso(m.createdAt)}`);
      }
    }));

  models
    .command('show <version>')
    .description('One model version: its record, its audit trail and its experiment runs.')
    .option('--json', 'print one JSON document on stdout')
    .action(async (version: string, o) => withInstance(async (i) => {
      const registry = registryOf(i);
      const m = await registry.get(version);
      if (!m) throw new OrreryError(PublishErrorIds.REGISTRY_NOT_FOUND, `Model version ${version} is not in the registry; list the versions with \`orrery models list\`.`, { version });
      const audit = await registry.audit({ version });
      const experiments = await registry.experiments({ modelVersion: version });
      if (o.json) return out({ model: modelDoc(m), audit: audit.map(auditDoc), experiments: experiments.map(experimentDoc) });
      say(`${m.version}  ${m.group} ${m.timeframe}  ${m.stage}  ${thetaText(m)}`);
      say(`  bundle    ${m.bundleUri}`);
      say(`  metrics   ${JSON.stringify(m.metrics)}`);
      if (m.previousVersion) say(`  replaced  ${m.previousVersion}`);
      say(`  created   ${iso(m.createdAt)}${m.promotedAt ? `, last promoted ${iso(m.promotedAt)}` : ''}`);
      if (audit.length) say('\naudit (newest first)');
      for (const a of audit) say(`  ${iso(a.changedAt)}  ${a.action.padEnd(8)} ${a.field.padEnd(12)} by ${a.changedBy}: ${JSON.stringify(a.before)} → ${JSON.stringify(a.after)}${a.reason ? `  (${a.reason})` : ''}`);
      if (experiments.length) say(`\n${experiments.length} experiment run(s): orrery models experiments --model-version ${version}`);
    }));

  models
    .command('rollback')
    .description('Archive the production model of a group × timeframe and restore the one it replaced (audited).')
    .requiredOption('--group <group>', 'pair group (e.g. metals)')
    .option('--timeframe <tf>', 'timeframe (default: pipeline_policy timeframe_default)')
    .option('--reason <reason>', 'why (kept in the audit)', 'manual rollback (orrery models rollback)')
    .option('--actor <name>', 'who (default: $ORRERY_ACTOR or the OS user)')
    .option('--request-id <id>', 'request / incident id kept in the audit')
    .option('--json', 'print one JSON document on stdout')
    .action(async (o) => withInstance(async (i) => {
      const timeframe: string = o.timeframe ?? i.policies.pipeline.timeframe_default;
      const { from, to } = await registryOf(i).rollback(o.group, timeframe, actorOf(o.actor), o.reason, { requestId: o.requestId });
      if (o.json) return out({ group: o.group, timeframe, from: modelDoc(from), to: modelDoc(to) });
      say(`rolled back ${o.group} ${timeframe}: ${from.version} → archived, ${to.version} → production (${thetaText(to)})`);
    }));

  models
    .command('experiments')
    .description('Experiment runs (params and metrics of each trial), newest first.')
    .option('--group <group>', 'only this pair group')
    .option('--partition <key>', 'only this partition key')
    .option('--asset <key>', 'only this asset')
    .option('--model-version <version>', 'only this model version')
    .option('--run <runId>', 'only this run')
    .option('--limit <n>', 'at most this many', limitOption, 100)
    .option('--json', 'print one JSON document on stdout')
    .action(async (o) => withInstance(async (i) => {
      const rows = await registryOf(i).experiments({ group: o.group, partitionKey: o.partition, assetKey: o.asset, modelVersion: o.modelVersion, runId: o.run, limit: o.limit });
      if (o.json) return out({ experiments: rows.map(experimentDoc) });
      if (rows.length === 0) return say('no experiment runs');
      for (const e of rows) {
        say(`${iso(e.createdAt)}  ${e.runId}  ${e.assetKey} ${e.partitionKey} #${e.trial}${e.modelVersion ? `  model ${e.modelVersion}` : ''}${e.group ? `  [${e.group}]` : ''}`);
        say(`    params  ${JSON.stringify(e.params)}`);
        say(`    metrics ${JSON.stringify(e.metrics)}`);
      }
    }));

  models
    .command('verify <version>')
    .description("Check a version's bundle: Ed25519 signature with the trusted key, every file's checksum, no file missing or extra.")
    .option('--json', 'print one JSON document on stdout')
    .action(async (version: string, o) => withInstance(async (i) => {
      const m = await registryOf(i).get(version);
      if (!m) throw new OrreryError(PublishErrorIds.REGISTRY_NOT_FOUND, `Model version ${version} is not in the registry; list the versions with \`orrery models list\`.`, { version });
      const resolver = new SecretResolver();
      const key = await resolveVerifyKey({ resolveSecret: (ref) => resolver.resolve(ref), home: i.home, generate: false });
      const bundle = await loadBundle(i.objectStore, m.bundleUri, key, { version: m.version, group: m.group, timeframe: m.timeframe });
      const doc = {
        version, ok: true, key_id: bundle.keyId, bundle_uri: m.bundleUri, created_at: bundle.manifest.createdAt,
        files: bundle.manifest.files.map((f) => ({ name: f.name, sha256: f.sha256, size: f.size })),
      };
      if (o.json) return out(doc);
      say(`${version}: OK — signed by key ${bundle.keyId}, ${doc.files.length} file(s) match their checksums`);
      for (const f of doc.files) say(`  ${f.name.padEnd(24)} ${String(f.size).padStart(10)}  sha256 ${f.sha256}`);
    }));

  return models;
}
