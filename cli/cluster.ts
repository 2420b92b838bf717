/**
 * Cluster commands: `orrery operator` (the Kubernetes controller), the hidden
 * `orrery execute-step` that a step's pod runs, and the Kubernetes executor behind
 * `materialize`/`backfill --executor kubernetes`.
 */
import { mkdtempSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import pino from 'pino';
import type { Instance } from '../adapters/instance.ts';
import { serveMetrics } from '../adapters/observability/prometheus.ts';
import { ErrorIds, OrreryError, describeError } from '../core/errors.ts';
import type { JsonObject, PartitionSpec } from '../core/event-log/port.ts';
import { StepEnv } from '../core/execution/step-protocol.ts';
import pkg from '../package.json' with { type: 'json' };

const say = (line: string) => process.stderr.write(`${line}\n`);

// The Kubernetes client loads only for cluster work: every other command starts without it.
const kube = () => import('../adapters/kubernetes/cluster-executor.ts');

/** Cluster mode: `--executor kubernetes` or ORRERY_EXECUTOR=kubernetes. */
function isClusterMode(executor?: string): boolean {
  const e = executor ?? process.env.ORRERY_EXECUTOR;
  if (e && e !== 'kubernetes' && e !== 'in-process') throw new OrreryError(ErrorIds.CLI_USAGE, `Unknown executor "${e}"; use kubernetes or in-process.`, { executor: e });
  return e === 'kubernetes';
}

/** Environment passed on to step pods when the operator has it: where the shared state lives. */
const PASSED_ENV = ['DATABASE_URL', 'ORRERY_DB_SCHEMA', 'CLICKHOUSE_URL', 'REDIS_URL', 'ORRERY_CODE_LOCATION', 'ORRERY_CONFIGS', 'ORRERY_ENV', 'ORRERY_LOG_LEVEL'];

export function defaultImage(): string {
  return process.env.ORRERY_IMAGE ?? `ghcr.io/orrery/orrery:${pkg.version}`;
}

function parseEnvPairs(pairs: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs ?? []) {
    const i = p.indexOf('=');
    if (i <= 0) throw new OrreryError(ErrorIds.CLI_USAGE, `--step-env takes KEY=VALUE, got "${p}".`, {});
    out[p.slice(0, i)] = p.slice(i + 1);
  }
  return out;
}

/**
 * In cluster mode, submits the command's work as a resource and returns true (the caller stops);
 * false in embedded mode.
 */
export async function submitToCluster(command: 'materialize' | 'backfill', o: { executor?: string; kubeconfig?: string; namespace?: string; wait?: boolean; json?: boolean; select?: string; partition?: string[]; from?: string; to?: string; missing?: boolean; failed?: boolean; concurrency?: number }, partitions: () => PartitionSpec, config?: () => JsonObject): Promise<boolean> {
  if (!isClusterMode(o.executor)) return false;
  if (!o.select) throw new OrreryError(ErrorIds.CLI_USAGE, `${command} needs --select.`, {});
  const { ClusterExecutor } = await kube();
  const executor = ClusterExecutor.fromEnv({ kubeconfig: o.kubeconfig, namespace: o.namespace });
  const submission = command === 'materialize'
    ? await executor.materialize(o.select, partitions(), config?.())
    : await executor.backfill(o.select, partitions(), { onlyMissing: o.missing, onlyFailed: o.failed, concurrency: o.concurrency });
  process.stdout.write(o.json ? `${JSON.stringify({ kind: submission.kind, name: submission.name, namespace: submission.namespace })}\n` : `${submission.kind.toLowerCase()}/${submission.name}\n`);
  if (!o.wait) return true;
  const { ok, object } = await executor.wait(submission, { onUpdate: (obj) => { const s = obj.status ?? {}; say(`${submission.kind} ${submission.name}: ${s.phase ?? 'Pending'}${s.total !== undefined ? ` ${s.succeeded ?? 0}/${s.total} succeeded, ${s.failed ?? 0} failed, ${s.running ?? 0} running` : ''}`); } });
  if (!ok) {
    say(`${submission.kind} ${submission.name} failed: ${object.status?.message ?? object.status?.conditions?.find((c: { type: string }) => c.type === 'Failed')?.message ?? ''}`);
    process.exitCode = 1;
  }
  return true;
}

export function registerClusterCommands(program: Command, withInstance: <T>(fn: (i: Instance) => Promise<T>) => Promise<T>): void {
  for (const name of ['materialize', 'backfill']) {
    const cmd = program.commands.find((c) => c.name() === name);
    cmd?.addOption(new Option('--executor <executor>', 'where steps run: in-process (default) or kubernetes (ORRERY_EXECUTOR)').choices(['in-process', 'kubernetes']))
      .option('--wait', 'cluster mode: follow the resource until Complete or Failed')
      .option('--kubeconfig <path>', 'cluster mode: kubeconfig (default $KUBECONFIG)')
      .option('--namespace <ns>', 'cluster mode: namespace (default $ORRERY_NAMESPACE or default)');
  }

  program
    .command('operator')
    .description('Run the Kubernetes operator: reconcile Assets, Materializations, Backfills, Sensors and ModelDeployments.')
    .option('--namespace <ns>', 'namespace to watch', process.env.ORRERY_NAMESPACE ?? 'default')
    .option('--concurrency <n>', 'reconciles at once', (v) => Number(v), 8)
    .option('--kubeconfig <path>', 'kubeconfig (default $KUBECONFIG, else in-cluster)')
    .option('--image <image>', 'image of step pods (default $ORRERY_IMAGE)')
    .option('--step-env <KEY=VALUE...>', 'extra environment for step pods')
    .option('--identity <id>', 'leader-election identity (default host-pid)')
    .option('--no-leader-elect', 'act without leader election (a single replica)')
    .option('--lease-duration <ms>', 'leader lease duration', (v) => Number(v))
    .option('--renew-deadline <ms>', 'leader renew deadline', (v) => Number(v))
    .option('--retry-period <ms>', 'leader retry period', (v) => Number(v))
    .option('--job-ttl <seconds>', 'ttlSecondsAfterFinished of step Jobs', (v) => Number(v), 3600)
    .option('--metrics-port <port>', 'serve /metrics here', (v) => Number(v))
    .action(async (o) => withInstance(async (i) => {
      const logger = pino({ level: process.env.ORRERY_LOG_LEVEL ?? 'info', base: { service: 'orrery-operator' } });
      const stepEnv: Record<string, string> = {};
      for (const k of PASSED_ENV) if (process.env[k]) stepEnv[k] = process.env[k]!;
      Object.assign(stepEnv, parseEnvPairs(o.stepEnv));
      const [{ Operator }, { KubeClient }] = await Promise.all([import('../operator/main.ts'), import('../adapters/kubernetes/client.ts')]);
      const operator = new Operator({
        client: KubeClient.load(o.kubeconfig), namespace: o.namespace, runtime: i.runtime, eventLog: i.eventLog, resources: i.resources, logger,
        jobs: { image: o.image ?? defaultImage(), stepEnv, ttlSecondsAfterFinished: o.jobTtl },
        concurrency: o.concurrency, identity: o.identity,
        leaderElection: o.leaderElect === false ? false : { leaseDurationMs: o.leaseDuration, renewDeadlineMs: o.renewDeadline, retryPeriodMs: o.retryPeriod },
        informer: { watchdogMs: Number(process.env.ORRERY_WATCHDOG_MS ?? 60_000), resyncMs: Number(process.env.ORRERY_RESYNC_MS ?? 300_000) },
        registry: i.metrics.registry,
      });
      const served = o.metricsPort !== undefined ? await serveMetrics(i.metrics, { port: o.metricsPort, host: process.env.ORRERY_METRICS_HOST ?? '0.0.0.0' }) : undefined;
      await operator.start();
      logger.info({ identity: operator.identity, namespace: o.namespace, metrics: served?.url }, 'operator started');
      say(`operator ${operator.identity} watching namespace ${o.namespace}${served ? `, metrics at ${served.url}` : ''}`);
      // SIGTERM (and SIGINT): stop taking work, finish in flight, release the lease.
      process.removeAllListeners('SIGINT');
      await new Promise<void>((resolve) => {
        const stop = (sig: string) => { logger.info({ sig }, 'shutting down'); resolve(); };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
      await operator.stop();
      await served?.close();
      logger.info('operator stopped');
    }));

  const step = program
    .command('execute-step', { hidden: true })
    .description('Run one step (asset × partitions) in this process and write its result manifest (what a step pod runs).')
    .requiredOption('--asset <key>', 'asset key')
    .requiredOption('--partition <key...>', 'partition key(s)')
    .option('--run-id <id>', 'the Materialization run this step belongs to')
    .action(async (o) => {
      // A pod's filesystem is its own: without ORRERY_HOME, local state goes to a fresh temp dir.
      if (!process.env.ORRERY_HOME) process.env.ORRERY_HOME = mkdtempSync(join(tmpdir(), 'orrery-step-'));
      const resultPath = process.env[StepEnv.RESULT_PATH] ?? '/dev/termination-log';
      let manifest: Record<string, unknown>;
      try {
        manifest = await withInstance(async (i) => {
          const configText = process.env[StepEnv.CONFIG];
          const assetConfig = configText ? (JSON.parse(configText) as JsonObject) : {};
          const outcome = await i.runtime.launch(
            { selection: o.asset, partitions: { kind: 'keys', keys: o.partition }, skipUpToDate: true, config: Object.keys(assetConfig).length ? { [o.asset]: assetConfig } : {} },
            { tags: { ...(o.runId ? { k8s_run_id: o.runId } : {}), ...(process.env.ORRERY_MATERIALIZATION ? { materialization: process.env.ORRERY_MATERIALIZATION } : {}) } },
          );
          if (outcome.status !== 'success') {
            const f = outcome.failures[0];
            return { status: 'failure', error: { errorId: f?.errorId ?? ErrorIds.STEP_FAILED, message: f?.message ?? `step ${outcome.status}` } };
          }
          const state = (await i.eventLog.partitionStatesFor(o.asset, o.partition)).get(o.partition[0]);
          return { status: 'success', metadata: { ...(state?.metadata ?? {}), run_id: outcome.runId, steps_run: outcome.succeeded }, ...(state?.dataVersion ? { dataVersion: state.dataVersion } : {}) };
        });
      } catch (e) {
        const d = describeError(e);
        manifest = { status: 'failure', error: { errorId: d.errorId, message: d.message } };
      }
      // The termination message holds at most 4 KiB: drop metadata rather than be cut mid-JSON.
      let text = JSON.stringify(manifest);
      if (text.length > 4000) text = JSON.stringify({ ...manifest, metadata: { truncated: true } });
      await writeFile(resultPath, text);
      if (manifest.status !== 'success') {
        say(`${(manifest.error as { errorId: string }).errorId}: ${(manifest.error as { message: string }).message}`);
        process.exitCode = 1;
      }
    });
  void step;
}
