import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { parse as parseYaml } from 'yaml';
import { openInstance, type Instance } from '../adapters/instance.ts';
import { ConfigError } from '../core/config/loader.ts';
import { ErrorIds, OrreryError, describeError } from '../core/errors.ts';
import type { JsonObject, PartitionSpec, RunRequest } from '../core/event-log/port.ts';
import { selectAssets } from '../core/graph/selection.ts';
import { registerModelCommands } from './models.ts';
import { registerGraphqlCommands } from './graphql.ts';
import { registerClusterCommands, submitToCluster } from './cluster.ts';
import { registerManifestCommands } from './manifests.ts';
import { registerServeCommands } from './serve.ts';
import { trainerPython } from '../assets/models/torch.ts';
import type { RunOutcome } from '../core/runtime.ts';
import { checkPolicies } from '../assets/policies/index.ts';
import { exportPartition } from './export.ts';
import { RunProgress } from './progress.ts';

const program = new Command('orrery').description('Typed asset orchestration for quantitative ML: materialize, backfill and inspect assets.').showHelpAfterError();

function out(doc: unknown): void {
  process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
}
function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

async function withInstance<T>(fn: (i: Instance) => Promise<T>): Promise<T> {
  const instance = await openInstance();
  try {
    return await fn(instance);
  } finally {
    await instance.close();
  }
}

function partitionSpec(o: { partition?: string[]; from?: string; to?: string }): PartitionSpec {
  if ((o.from && !o.to) || (!o.from && o.to)) throw new OrreryError(ErrorIds.CLI_USAGE, '--from and --to go together.', {});
  if (o.from && o.partition?.length) throw new OrreryError(ErrorIds.CLI_USAGE, 'Use either --partition or --from/--to, not both.', {});
  if (o.from) return { kind: 'range', from: o.from, to: o.to! };
  if (o.partition?.length) return { kind: 'keys', keys: o.partition.flatMap((p) => p.split(',')).map((p) => p.trim()).filter(Boolean) };
  return { kind: 'all' };
}

function readRunConfig(file: string | undefined): JsonObject {
  if (!file) return {};
  const doc = parseYaml(readFileSync(resolve(file), 'utf8'));
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new OrreryError(ErrorIds.CONFIG_INVALID, `Run config ${file} must be a mapping of asset key to config.`, { file });
  return doc as JsonObject;
}

async function runWithProgress(label: string, go: (hooks: { onPlan: (p: { steps: unknown[] }) => void; onProgress: (p: Parameters<RunProgress['update']>[0]) => void }) => Promise<RunOutcome>): Promise<RunOutcome> {
  const bar = new RunProgress(label);
  try {
    return await go({ onPlan: (p) => bar.start(p.steps.length), onProgress: (p) => bar.update(p) });
  } finally {
    bar.stop();
  }
}

function report(outcome: RunOutcome, json: boolean): void {
  const doc = { run_id: outcome.runId, status: outcome.status, steps: outcome.plan.steps.length, skipped_up_to_date: outcome.plan.skipped, succeeded: outcome.succeeded, failed: outcome.failed, skipped: outcome.skipped, failures: outcome.failures.slice(0, 20) };
  if (json) out(doc);
  say(`run ${outcome.runId}: ${outcome.status} — ${outcome.succeeded} materialized, ${outcome.failed} failed, ${outcome.skipped} skipped, ${outcome.plan.skipped} already up to date`);
  for (const f of outcome.failures.slice(0, 5)) say(`  ${f.errorId} ${f.assetKey} ${f.partitionKey}: ${f.message}`);
  if (outcome.status !== 'success') process.exitCode = 1;
}

program
  .command('materialize')
  .description('Materialize the selected assets (skipping partitions that are up to date).')
  .option('-s, --select <selection>', 'assets: key, +key, key+, *, comma for union')
  .option('-p, --partition <key...>', 'partition key(s), e.g. 1h|XAUUSD|2024-03')
  .option('--from <key>', 'first partition of a range')
  .option('--to <key>', 'last partition of a range')
  .option('--force', 're-materialize partitions even when up to date')
  .option('--config <file>', 'run config YAML, keyed by asset')
  .option('--concurrency <n>', 'steps at once', (v) => Number(v))
  .option('--resume [runId]', 'resume a run whose process died (the newest interrupted one if no id): runs only what is not materialized')
  .option('--json', 'print one JSON document on stdout')
  .action(async (o) => (await submitToCluster('materialize', o, () => partitionSpec(o), () => readRunConfig(o.config))) ? undefined : withInstance(async (i) => {
    if (o.resume !== undefined) {
      const outcome = await runWithProgress('resume', (h) => i.runtime.resume(o.resume === true ? undefined : o.resume, { ...h, concurrency: o.concurrency }));
      return report(outcome, !!o.json);
    }
    if (!o.select) throw new OrreryError(ErrorIds.CLI_USAGE, 'materialize needs --select (e.g. --select "*").', {});
    const request: RunRequest = { selection: o.select, partitions: partitionSpec(o), skipUpToDate: !o.force, config: readRunConfig(o.config) };
    report(await runWithProgress('materialize', (h) => i.runtime.launch(request, { ...h, concurrency: o.concurrency })), !!o.json);
  }));

program
  .command('backfill')
  .description('Materialize a range or list of partitions of the selected assets.')
  .requiredOption('-s, --select <selection>', 'assets to backfill')
  .option('-p, --partition <key...>', 'partition keys')
  .option('--from <key>', 'first partition of the range')
  .option('--to <key>', 'last partition of the range')
  .option('--missing', 'only partitions never materialized')
  .option('--failed', 'only partitions whose last attempt failed')
  .option('--concurrency <n>', 'steps at once', (v) => Number(v))
  .option('--json', 'print one JSON document on stdout')
  .action(async (o) => (await submitToCluster('backfill', o, () => partitionSpec(o))) ? undefined : withInstance(async (i) => {
    if (o.missing && o.failed) throw new OrreryError(ErrorIds.CLI_USAGE, 'Use --missing or --failed, not both.', {});
    const request: RunRequest = { selection: o.select, partitions: partitionSpec(o), skipUpToDate: true, onlyMissing: !!o.missing, onlyFailed: !!o.failed };
    report(await runWithProgress('backfill', (h) => i.runtime.launch(request, { ...h, kind: 'backfill', concurrency: o.concurrency })), !!o.json);
  }));

program
  .command('status')
  .description('Partition health per asset: materialized, failed, missing, stale; and recent runs.')
  .option('--json', 'print one JSON document on stdout')
  .action(async (o) => withInstance(async (i) => {
    const health = await i.runtime.health();
    const runs = await i.eventLog.listRuns({ limit: 10 });
    const orphaned = new Set((await i.runtime.orphanedRuns()).map((r) => r.runId));
    const runDocs = runs.map((r) => ({ run_id: r.runId, kind: r.kind, status: orphaned.has(r.runId) ? 'interrupted' : r.status, selection: r.request.selection, steps: r.stepsTotal, created_at: r.createdAt.toISOString(), resumed_from: r.resumedFrom }));
    const checks = new Map(await Promise.all(health.map(async (h) => [h.assetKey, await i.eventLog.checkSummary(h.assetKey)] as const)));
    const checkDocs = (key: string) => checks.get(key)!.map((c) => ({ check: c.checkName, severity: c.severity, passed: c.passed, failed: c.failed, last_failure: c.lastFailure && { partition: c.lastFailure.partitionKey, at: c.lastFailure.evaluatedAt.toISOString() } }));
    if (o.json) return out({ assets: health.map((h) => ({ asset: h.assetKey, ...h, assetKey: undefined, checks: checkDocs(h.assetKey) })), runs: runDocs });
    say('asset                     total  materialized  failed  missing  quarantined  stale  checks');
    for (const h of health) {
      const cs = checks.get(h.assetKey)!;
      const failing = cs.filter((c) => c.failed > 0);
      const verdict = cs.length === 0 ? '-' : failing.length === 0 ? `${cs.length} passing` : `${failing.length}/${cs.length} failing`;
      say(`${h.assetKey.padEnd(24)} ${String(h.total).padStart(6)} ${String(h.materialized).padStart(13)} ${String(h.failed).padStart(7)} ${String(h.missing).padStart(8)} ${String(h.quarantined).padStart(12)} ${String(h.stale).padStart(6)}  ${verdict}`);
      for (const c of failing) say(`    ✗ ${c.checkName} [${c.severity}] failing in ${c.failed} partition(s), latest ${c.lastFailure?.partitionKey ?? '?'}`);
    }
    if (runDocs.length) say('\nrecent runs');
    for (const r of runDocs) say(`  ${r.run_id}  ${r.status.padEnd(11)} ${r.kind.padEnd(11)} ${r.selection}  (${r.steps} steps)`);
    if (orphaned.size) say(`\n${orphaned.size} interrupted run(s): resume with \`orrery materialize --resume\``);
  }));

program
  .command('graph')
  .description('The asset graph: assets, partitions and edges with their partition mappings.')
  .option('--json', 'print one JSON document on stdout')
  .action(async (o) => withInstance(async (i) => {
    const g = i.runtime.graph;
    const doc = {
      assets: g.order.map((k) => { const d = g.get(k); return { key: k, group: d.group, description: d.description, kinds: d.kinds, code_version: d.codeVersion, pool: d.pool, partitions: d.partitions?.describe() ?? null, checks: d.checks.map((c) => c.name), compute: typeof d.compute === 'function' ? 'in-process' : { image: d.compute.image, resources: d.compute.resources ?? {} } }; }),
      edges: g.order.flatMap((k) => g.upstreamEdges(k).map((e) => ({ from: e.from, to: e.to, input: e.input ?? null, mapping: e.mapping.name }))),
    };
    if (o.json) return out(doc);
    for (const a of doc.assets) {
      const ups = doc.edges.filter((e) => e.to === a.key);
      say(`${a.key}  [${a.group}]  ${a.partitions ? `${i.runtime.graph.get(a.key).partitions!.count()} partitions` : 'unpartitioned'}`);
      for (const e of ups) say(`  ← ${e.from} (${e.mapping})`);
    }
  }));

program
  .command('partitions <asset>')
  .description("An asset's partitions with their status, a page at a time.")
  .addOption(new Option('--status <status>', 'only this status').choices(['materialized', 'failed', 'missing', 'quarantined', 'stale']))
  .option('--limit <n>', 'page size', (v) => Number(v), 50)
  .option('--after <key>', 'start after this key (the previous page\'s last key)')
  .option('--json', 'print one JSON document on stdout')
  .action(async (asset: string, o) => withInstance(async (i) => {
    if (!Number.isInteger(o.limit) || o.limit < 1 || o.limit > 10_000) throw new OrreryError(ErrorIds.CLI_USAGE, '--limit must be an integer from 1 to 10000.', {});
    i.runtime.graph.get(asset);
    const page = await i.runtime.partitionsPage(asset, { status: o.status, afterKey: o.after, limit: o.limit });
    const next = page.length === o.limit ? page[page.length - 1].partitionKey : null;
    if (o.json) return out({ asset, partitions: page.map((p) => ({ key: p.partitionKey, status: p.status, stale: p.stale })), next_after: next });
    for (const p of page) say(`${p.partitionKey.padEnd(28)} ${p.status}${p.stale.length ? `  stale: ${p.stale.join('; ')}` : ''}`);
    if (next) say(`… more: --after '${next}'`);
  }));

program
  .command('export <asset>')
  .description('Print one materialized partition as CSV or JSON on stdout.')
  .requiredOption('-p, --partition <key>', 'partition key')
  .addOption(new Option('--format <format>', 'output format').choices(['csv', 'json']).default('csv'))
  .action(async (asset: string, o) => withInstance(async (i) => { await exportPartition(i, asset, o.partition, o.format, process.stdout); }));

program
  .command('cancel <runId>')
  .description('Ask a running run to stop.')
  .action(async (runId: string) => withInstance(async (i) => {
    if (!(await i.runtime.cancel(runId))) throw new OrreryError(ErrorIds.RUN_NOT_FOUND, `Run ${runId} is not running.`, { runId });
    say(`cancel requested for ${runId}`);
  }));

program
  .command('validate-configs [dir]')
  .description('Validate the policy YAML files: base/ alone and with each overlay in envs/.')
  .option('--env <env>', 'only this overlay')
  .option('--json', 'print one JSON document on stdout')
  .action(async (dir: string | undefined, o) => {
    const path = resolve(dir ?? 'configs');
    const envDir = join(path, 'envs');
    const envs: Array<string | undefined> = o.env ? [o.env] : [undefined, ...(existsSync(envDir) ? readdirSync(envDir).filter((e) => statSync(join(envDir, e)).isDirectory()).sort() : [])];
    const results = envs.map((env) => ({ env: env ?? 'base', ...checkPolicies(path, env) }));
    const problems = results.flatMap((r) => r.problems.map((p) => ({ env: r.env, ...p })));
    if (o.json) out({ ok: problems.length === 0, checked: results.map((r) => ({ env: r.env, files: r.files, problems: r.problems.length })), problems });
    for (const r of results) say(`${r.env.padEnd(6)} ${r.problems.length === 0 ? 'OK' : `${r.problems.length} problem(s)`} — ${r.files} files`);
    for (const p of problems) say(`  ${p.errorId} [${p.env}] ${p.file}: ${p.path}: ${p.message}`);
    if (problems.length) process.exitCode = 2;
  });

program
  .command('start')
  .description('The main job, embedded: materialize the demo universe and print a summary.')
  .action(async () => withInstance(async (i) => {
    const tf = i.policies.pipeline.timeframe_default;
    // Every partition of the data assets on the default timeframe; the ML assets train on the latest window (the monthly retrain).
    const keys = new Set<string>();
    const latestModelMonth = i.location.partitions.modelMonths.at(i.location.partitions.modelMonths.count() - 1)?.key;
    // The PyTorch trainer runs only where its python has torch; the GBDT chain does not need it.
    const python = trainerPython();
    const torch = spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
    const skipped = new Set(torch ? [] : ['torch_models']);
    if (!torch && i.runtime.graph.assets.has('torch_models')) say(`torch_models: skipped — ${python} has no torch (apt-get install python3-torch, or set ORRERY_PYTHON to a python that has it)`);
    for (const d of i.runtime.graph.assets.values()) {
      if (skipped.has(d.key)) continue;
      const ml = d.partitions === i.location.partitions.modelWindows;
      for (const k of d.partitions?.keys() ?? []) if (k.startsWith(`${tf}|`) && (!ml || k.endsWith(`|${latestModelMonth}`))) keys.add(k);
    }
    const selection = selectAssets(i.runtime.graph, '*').filter((k) => !skipped.has(k)).join(',');
    say(`Orrery — ${i.policies.universe.pairs.length} pairs, ${tf}, ${i.location.partitions.months.count()} months, state in ${i.home}`);
    const outcome = await runWithProgress('materialize', (h) => i.runtime.launch({ selection, partitions: { kind: 'keys', keys: [...keys] }, skipUpToDate: true }, h));
    report(outcome, false);
    for (const h of await i.runtime.health()) say(`  ${h.assetKey}: ${h.materialized}/${h.total} materialized, ${h.failed} failed, ${h.stale} stale`);
    if (i.runtime.graph.assets.has('labels')) {
      // What the labels hold per pair: the training material of the models.
      const perPair = new Map<string, { ai1: number; ai1Pos: number; ai2: number; ai2Pos: number }>();
      for (const [key, st] of await i.eventLog.partitionStates('labels')) {
        if (!key.startsWith(`${tf}|`) || st.status !== 'materialized') continue;
        const m = st.metadata as { ai1_events?: number; ai1_positive_rate?: number | null; ai2_labelled?: number; ai2_positive_rate?: number | null };
        const p = perPair.get(key.split('|')[1]) ?? { ai1: 0, ai1Pos: 0, ai2: 0, ai2Pos: 0 };
        p.ai1 += m.ai1_events ?? 0;
        p.ai1Pos += (m.ai1_events ?? 0) * (m.ai1_positive_rate ?? 0);
        p.ai2 += m.ai2_labelled ?? 0;
        p.ai2Pos += (m.ai2_labelled ?? 0) * (m.ai2_positive_rate ?? 0);
        perPair.set(key.split('|')[1], p);
      }
      for (const [pair, p] of perPair) {
        say(`  ${pair}: ${p.ai1} AI1 events (${p.ai1 ? ((100 * p.ai1Pos) / p.ai1).toFixed(1) : '-'} % revert), ${p.ai2} AI2 labels (${p.ai2 ? ((100 * p.ai2Pos) / p.ai2).toFixed(1) : '-'} % risk)`);
      }
    }
    // The ML half: per group, the model's OOS metrics, the backtest KPIs at the applied θ, and what was published.
    if (i.runtime.graph.assets.has('published_models')) {
      const [models, theta, backtests, published] = await Promise.all(['models', 'theta', 'backtests', 'published_models'].map((a) => i.eventLog.partitionStates(a)));
      const pct = (x: unknown) => (typeof x === 'number' ? `${(100 * x).toFixed(1)} %` : '-');
      const num = (x: unknown, d = 2) => (typeof x === 'number' ? x.toFixed(d) : '-');
      for (const [key, st] of published) {
        if (!key.startsWith(`${tf}|`) || !key.endsWith(`|${latestModelMonth}`)) continue;
        const m = models.get(key)?.metadata ?? {}, t = theta.get(key)?.metadata ?? {}, b = backtests.get(key)?.metadata ?? {}, p = st.metadata;
        say(`  ${key.split('|')[1]} (${latestModelMonth}): model ${m.model_version}, OOS AI1 AUC ${num(m.ai1_oos_auc, 3)}, AI2 PR-AUC ${num(m.ai2_oos_pr_auc, 3)}`);
        say(`    θ1 ${num(t.theta1, 3)} θ2 ${num(t.theta2, 3)}${t.held ? ` (held: ${t.held})` : ''}; backtest ${b.period}: ${b.trades} trades (${num(b.trades_per_year, 0)}/yr), Sharpe ${num(b.sharpe)}, MaxDD ${pct(b.max_dd)}, annual ${pct(b.ann_return)}, E/trade ${num(b.e_per_trade)} USD, win ${pct(b.win_rate)}, halt ${pct(b.halt_rate)}`);
        say(`    published ${p.version} → ${p.stage}${p.stage === 'production' ? '' : ` (${[...((p.acceptance_reasons as string[] | undefined) ?? []), ...((p.gate_reasons as string[] | undefined) ?? [])].join('; ') || 'not promoted'})`}`);
      }
    }
  }));

registerModelCommands(program, withInstance);
registerGraphqlCommands(program, withInstance);
registerClusterCommands(program, withInstance);
registerManifestCommands(program);
registerServeCommands(program, withInstance);

program.hook('preAction', () => {
  process.on('SIGINT', () => { say('interrupted'); process.exit(130); });
});

// `orrery export … | head` closes the pipe early: that is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') process.exit(0); throw e; });

try {
  await program.parseAsync(process.argv);
} catch (e) {
  const d = describeError(e, ErrorIds.CLI_USAGE);
  if (e instanceof ConfigError) say(e.message);
  else say(`${d.errorId}: ${d.message}`);
  if (process.argv.includes('--json')) out({ error_id: d.errorId, message: d.message });
  process.exitCode = e instanceof OrreryError ? 2 : 1;
}
