import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Resources } from './definitions/resources.ts';
import { ErrorIds, OrreryError, describeError } from './errors.ts';
import type { EventLog, JsonObject, RunRecord, RunRequest } from './event-log/port.ts';
import { Executor, type ExecutionProgress, type ExecutionResult } from './execution/executor.ts';
import type { StepLauncher } from './execution/step-protocol.ts';
import type { AssetGraph } from './graph/asset-graph.ts';
import { selectAssets } from './graph/selection.ts';
import { DynamicPartitions, MultiPartitions } from './partitions/definitions.ts';
import { loadStates, planRun, type Plan } from './planning/planner.ts';
import { partitionAssessor, type PartitionHealth } from './planning/staleness.ts';
import { isProcessAlive } from './process.ts';

export interface RuntimeOptions {
  graph: AssetGraph;
  eventLog: EventLog;
  resources: Resources;
  logger: Logger;
  launcher?: StepLauncher;
  pools?: Record<string, number>;
  concurrency?: number;
  heartbeatMs?: number;
  /** A started run whose heartbeat is older than this is taken as dead. */
  orphanAfterMs?: number;
}

export interface LaunchOptions {
  kind?: RunRecord['kind'];
  tags?: Record<string, string>;
  concurrency?: number;
  resumedFrom?: string;
  onPlan?: (plan: Plan, runId: string) => void;
  onProgress?: (p: ExecutionProgress) => void;
  /** Cancels this run from the same process. */
  signal?: AbortSignal;
}

export interface RunOutcome extends ExecutionResult {
  runId: string;
  plan: Plan;
}

export interface AssetHealth {
  assetKey: string;
  total: number;
  materialized: number;
  failed: number;
  missing: number;
  quarantined: number;
  stale: number;
}


/** The kernel's front door: plan, launch, resume and cancel runs over one graph and event log. */
export class Runtime {
  readonly graph: AssetGraph;
  readonly eventLog: EventLog;

  constructor(private readonly o: RuntimeOptions) {
    this.graph = o.graph;
    this.eventLog = o.eventLog;
  }

  /** Loads the dynamic partition keys registered earlier into the graph's definitions. */
  async loadDynamicPartitions(): Promise<void> {
    for (const def of this.graph.assets.values()) {
      const dims = def.partitions instanceof MultiPartitions ? def.partitions.dimensions.map(([, d]) => d) : def.partitions ? [def.partitions] : [];
      for (const d of dims) if (d instanceof DynamicPartitions) d.add(await this.eventLog.dynamicPartitions(d.name));
    }
  }

  async registerDynamicPartitions(name: string, keys: string[]): Promise<void> {
    await this.eventLog.addDynamicPartitions(name, keys);
    await this.loadDynamicPartitions();
  }

  /** Validates the request (selection, partitions, config) without touching anything. */
  async plan(request: RunRequest): Promise<Plan> {
    const assets = selectAssets(this.graph, request.selection);
    this.validateConfig(assets, request.config ?? {});
    const states = await loadStates(this.graph, assets, this.eventLog);
    return planRun(this.graph, request, states);
  }

  private validateConfig(assets: string[], config: JsonObject): void {
    for (const key of Object.keys(config)) {
      if (!this.graph.has(key)) throw new OrreryError(ErrorIds.CONFIG_UNKNOWN, `Run config names "${key}", which is not an asset; config is keyed by asset key.`, { key });
    }
    for (const key of assets) {
      const def = this.graph.get(key);
      const raw = config[key];
      if (raw !== undefined && !def.config) throw new OrreryError(ErrorIds.CONFIG_UNKNOWN, `Asset ${key} takes no config, but the run config sets it.`, { asset: key });
      if (!def.config) continue;
      const parsed = def.config.safeParse(raw ?? {});
      if (!parsed.success) {
        const unknown = parsed.error.issues.some((i) => i.code === 'unrecognized_keys');
        throw new OrreryError(unknown ? ErrorIds.CONFIG_UNKNOWN : ErrorIds.CONFIG_INVALID, `Config for ${key}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message}`).join('; ')}.`, { asset: key });
      }
    }
  }

  async launch(request: RunRequest, options: LaunchOptions = {}): Promise<RunOutcome> {
    const { done } = await this.start(request, options);
    return done;
  }

  /**
   * Validates, plans and records the run, then executes it in the background: the run id is
   * known (and the run visible in the event log) as soon as this resolves; `done` settles when
   * the run ends, like `launch`.
   */
  async start(request: RunRequest, options: LaunchOptions = {}): Promise<{ runId: string; done: Promise<RunOutcome> }> {
    const plan = await this.plan(request);
    const runId = randomUUID();
    await this.eventLog.createRun({ runId, kind: options.kind ?? 'materialize', request, tags: options.tags, resumedFrom: options.resumedFrom ?? null });
    await this.eventLog.startRun(runId, { host: hostname(), pid: process.pid, stepsTotal: plan.steps.length });
    await this.eventLog.appendEvents([{ runId, type: 'RUN_START', payload: { selection: request.selection, steps: plan.steps.length, skipped: plan.skipped, resumed_from: options.resumedFrom ?? null } }]);
    options.onPlan?.(plan, runId);
    return { runId, done: this.execute(runId, request, plan, options) };
  }

  private async execute(runId: string, request: RunRequest, plan: Plan, options: LaunchOptions): Promise<RunOutcome> {
    const controller = new AbortController();
    options.signal?.addEventListener('abort', () => controller.abort(), { once: true });
    const beat = setInterval(() => {
      this.eventLog.heartbeat(runId).then((status) => { if (status === 'canceling') controller.abort(); }, (e) => this.o.logger.warn({ runId, err: describeError(e) }, 'heartbeat failed'));
    }, this.o.heartbeatMs ?? 2000);

    let result: ExecutionResult;
    try {
      const executor = new Executor({ ...this.o, concurrency: options.concurrency ?? this.o.concurrency });
      result = await executor.execute(runId, plan.steps, (request.config ?? {}) as Record<string, unknown>, controller.signal, options.onProgress);
    } catch (e) {
      const d = describeError(e);
      await this.eventLog.endRun(runId, 'failed', { error_id: d.errorId, message: d.message });
      await this.eventLog.appendEvents([{ runId, type: 'RUN_FAILURE', payload: { error_id: d.errorId, message: d.message } }]);
      this.o.resources.metrics?.inc('pipeline_runs_total', { status: 'failed', pipeline: options.kind ?? 'materialize' });
      throw e;
    } finally {
      clearInterval(beat);
    }
    const error = result.failures.length ? { error_id: ErrorIds.STEP_FAILED, message: `${result.failed} step(s) failed`, first: result.failures[0] as unknown as JsonObject } : null;
    await this.eventLog.endRun(runId, result.status, error);
    const type = result.status === 'success' ? 'RUN_SUCCESS' : result.status === 'canceled' ? 'RUN_CANCELED' : 'RUN_FAILURE';
    await this.eventLog.appendEvents([{ runId, type, payload: { succeeded: result.succeeded, failed: result.failed, skipped: result.skipped } }]);
    this.o.resources.metrics?.inc('pipeline_runs_total', { status: result.status, pipeline: options.kind ?? 'materialize' });
    return { ...result, runId, plan };
  }

  /** Runs still marked started whose process is gone (same host, dead pid) or silent too long. */
  async orphanedRuns(): Promise<RunRecord[]> {
    const live = await this.eventLog.listRuns({ statuses: ['started', 'canceling'], limit: 1000 });
    const cutoff = Date.now() - (this.o.orphanAfterMs ?? 30_000);
    const here = hostname();
    return live.filter((r) => (r.host === here && r.pid !== null && r.pid !== process.pid && !isProcessAlive(r.pid)) || (r.heartbeatAt !== null && r.heartbeatAt.getTime() < cutoff));
  }

  /**
   * Resumes a run whose process died: marks it failed and launches its request again, which runs
   * only what is not materialized (or stale).
   */
  async resume(runId: string | undefined, options: LaunchOptions = {}): Promise<RunOutcome> {
    const orphans = await this.orphanedRuns();
    let target: RunRecord | undefined;
    if (runId) {
      target = await this.eventLog.getRun(runId);
      if (!target) throw new OrreryError(ErrorIds.RUN_NOT_FOUND, `No run ${runId}.`, { runId });
      if (target.status === 'started' && !orphans.some((o) => o.runId === runId)) {
        throw new OrreryError(ErrorIds.RUN_NOT_RESUMABLE, `Run ${runId} is still running (its process is alive); cancel it first or wait.`, { runId });
      }
    } else {
      target = orphans[0] ?? (await this.eventLog.listRuns({ statuses: ['failed', 'canceled'], limit: 1 }))[0];
      if (!target) throw new OrreryError(ErrorIds.RUN_NOT_FOUND, 'There is no interrupted, failed or canceled run to resume.', {});
    }
    if (orphans.some((o) => o.runId === target!.runId)) {
      await this.eventLog.endRun(target.runId, 'failed', { error_id: 'CORE_RUN_ORPHAN', message: 'The process running this run died; it was resumed.' });
      await this.eventLog.appendEvents([{ runId: target.runId, type: 'RUN_FAILURE', payload: { error_id: 'CORE_RUN_ORPHAN', message: 'process died' } }]);
    }
    return this.launch({ ...target.request, skipUpToDate: true }, { ...options, kind: target.kind, tags: target.tags, resumedFrom: target.runId });
  }

  async cancel(runId: string): Promise<boolean> {
    const ok = await this.eventLog.requestCancel(runId);
    if (ok) await this.eventLog.appendEvents([{ runId, type: 'LOG', payload: { message: 'cancel requested' } }]);
    return ok;
  }

  /** Partition health per asset: materialized, failed, missing, stale. */
  async health(assetKeys: readonly string[] = this.graph.order): Promise<AssetHealth[]> {
    const states = await loadStates(this.graph, assetKeys, this.eventLog);
    return assetKeys.map((assetKey) => {
      const def = this.graph.get(assetKey);
      const h: AssetHealth = { assetKey, total: 0, materialized: 0, failed: 0, missing: 0, quarantined: 0, stale: 0 };
      const assess = partitionAssessor(this.graph, assetKey, states);
      for (const key of def.partitions ? def.partitions.keys() : ['']) {
        const a = assess(key);
        h.total++;
        h[a.health]++;
        if (a.staleCauses.length) h.stale++;
      }
      return h;
    });
  }

  /** A page of an asset's partitions with their health, keyset on the key. */
  async partitionsPage(assetKey: string, options: { status?: PartitionHealth | 'stale'; afterKey?: string; limit: number }): Promise<Array<{ partitionKey: string; status: PartitionHealth; stale: string[] }>> {
    const def = this.graph.get(assetKey);
    const states = await loadStates(this.graph, [assetKey], this.eventLog);
    const out: Array<{ partitionKey: string; status: PartitionHealth; stale: string[] }> = [];
    // The cursor is a key: pages follow the definition's own order, whatever its lexical order.
    let started = options.afterKey === undefined;
    const assess = partitionAssessor(this.graph, assetKey, states);
    for (const key of def.partitions ? def.partitions.keys() : ['']) {
      if (!started) { started = key === options.afterKey; continue; }
      const a = assess(key);
      if (options.status === 'stale' ? a.staleCauses.length === 0 : options.status && a.health !== options.status) continue;
      out.push({ partitionKey: key, status: a.health, stale: a.staleCauses });
      if (out.length >= options.limit) break;
    }
    return out;
  }
}
