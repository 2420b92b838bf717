import pRetry, { AbortError } from 'p-retry';
import type { Logger } from 'pino';
import type { AssetDefinition, StepContext, UpstreamPartitions } from '../definitions/asset.ts';
import { isBlocking } from '../definitions/checks.ts';
import { ioOf } from '../definitions/io.ts';
import type { Resources } from '../definitions/resources.ts';
import { ErrorIds, OrreryError, describeError } from '../errors.ts';
import type { CheckResult, EventLog, JsonObject } from '../event-log/port.ts';
import type { AssetGraph } from '../graph/asset-graph.ts';
import { MultiPartitions, NO_PARTITION } from '../partitions/definitions.ts';
import { TimeWindowPartitions } from '../partitions/time-window.ts';
import type { PlannedStep } from '../planning/planner.ts';
import { inputFingerprint } from '../planning/staleness.ts';
import { noMetrics } from '../metrics.ts';
import { MaterializationWriter } from './batch-writer.ts';
import { Pools } from './pools.ts';
import type { StepLauncher } from './step-protocol.ts';
import { codeHash, stepSeed } from './provenance.ts';

export interface ExecutorOptions {
  graph: AssetGraph;
  eventLog: EventLog;
  resources: Resources;
  logger: Logger;
  launcher?: StepLauncher;
  /** Limits per pool (`cpu`, `gpu`, user-defined); a pool not listed is limited by `concurrency`. */
  pools?: Record<string, number>;
  concurrency?: number;
}

export interface ExecutionProgress {
  total: number;
  succeeded: number;
  failed: number;
  skipped: number;
  running: number;
  last?: { assetKey: string; partitionKey: string; outcome: 'success' | 'failure' | 'skipped' };
}

/** Thrown when a step's upstream is quarantined: the step is excluded (skipped), not failed. */
class ExcludedByQuarantine extends OrreryError {}

export interface ExecutionResult {
  status: 'success' | 'failed' | 'canceled';
  succeeded: number;
  failed: number;
  skipped: number;
  failures: Array<{ assetKey: string; partitionKey: string; errorId: string; message: string }>;
}

function dimensionsOf(def: AssetDefinition, partitionKey: string): { dimensions: Record<string, string>; window?: { start: Date; end: Date } } {
  const p = def.partitions;
  if (!p || partitionKey === NO_PARTITION) return { dimensions: {} };
  if (p instanceof MultiPartitions) {
    const dimensions = p.split(partitionKey);
    const time = p.dimensions.find(([, d]) => d instanceof TimeWindowPartitions);
    const w = time ? (time[1] as TimeWindowPartitions).window(dimensions[time[0]]) : undefined;
    return { dimensions, window: w && { start: new Date(w.start), end: new Date(w.end) } };
  }
  if (p instanceof TimeWindowPartitions) {
    const w = p.window(partitionKey);
    return { dimensions: {}, window: { start: new Date(w.start), end: new Date(w.end) } };
  }
  return { dimensions: {} };
}

/**
 * Runs planned steps in-process: dependencies first, bounded by pools, with retries, checks,
 * atomic writes, and a durable materialization before a step counts as done.
 */
export class Executor {
  private readonly writer: MaterializationWriter;

  constructor(private readonly o: ExecutorOptions) {
    this.writer = new MaterializationWriter(o.eventLog);
  }

  async execute(runId: string, steps: readonly PlannedStep[], runConfig: Record<string, unknown>, signal: AbortSignal, onProgress?: (p: ExecutionProgress) => void): Promise<ExecutionResult> {
    const { graph } = this.o;
    // Index planned steps so each step knows which planned steps it waits for.
    const index = new Map<string, Map<string, number>>();
    steps.forEach((s, i) => {
      let m = index.get(s.assetKey);
      if (!m) index.set(s.assetKey, (m = new Map()));
      m.set(s.partitionKey, i);
    });
    const waiting = new Int32Array(steps.length);
    const dependents: number[][] = steps.map(() => []);
    steps.forEach((s, i) => {
      const def = graph.get(s.assetKey);
      for (const e of graph.upstreamEdges(s.assetKey)) {
        const upIndex = index.get(e.from);
        if (!upIndex) continue;
        for (const uk of e.mapping.upstreamKeys(s.partitionKey, def.partitions, graph.get(e.from).partitions)) {
          const j = upIndex.get(uk);
          if (j !== undefined) { waiting[i]++; dependents[j].push(i); }
        }
      }
    });

    const pools = new Pools(this.o.pools ?? {}, this.o.concurrency ?? 4);
    const progress: ExecutionProgress = { total: steps.length, succeeded: 0, failed: 0, skipped: 0, running: 0 };
    const failures: ExecutionResult['failures'] = [];
    const ready: number[] = [];
    steps.forEach((_, i) => { if (waiting[i] === 0) ready.push(i); });
    const blocked = new Uint8Array(steps.length);

    const skipDependents = async (i: number, cause: string) => {
      const stack = [...dependents[i]];
      while (stack.length) {
        const j = stack.pop()!;
        if (blocked[j]) continue;
        blocked[j] = 1;
        stack.push(...dependents[j]);
        const s = steps[j];
        progress.skipped++;
        progress.last = { assetKey: s.assetKey, partitionKey: s.partitionKey, outcome: 'skipped' };
        await this.o.eventLog.stepEnded(runId, s.assetKey, s.partitionKey, 'skipped');
        await this.o.eventLog.appendEvents([{ runId, type: 'STEP_SKIPPED', assetKey: s.assetKey, partitionKey: s.partitionKey, payload: { reason: cause } }]);
      }
      onProgress?.({ ...progress });
    };

    await new Promise<void>((resolveAll) => {
      let inFlight = 0;
      const pump = () => {
        if (signal.aborted) { if (inFlight === 0) resolveAll(); return; }
        for (let r = 0; r < ready.length; ) {
          const i = ready[r];
          const def = graph.get(steps[i].assetKey);
          if (!pools.tryAcquire(def.pool)) { r++; continue; }
          ready.splice(r, 1);
          inFlight++;
          progress.running++;
          void this.runStep(runId, steps[i], runConfig, signal)
            .then(async (outcome) => {
              const s = steps[i];
              if (!outcome.ok && outcome.excluded) {
                progress.skipped++;
                progress.last = { assetKey: s.assetKey, partitionKey: s.partitionKey, outcome: 'skipped' };
                await skipDependents(i, `upstream of ${s.assetKey} ${s.partitionKey} is quarantined`);
              } else if (outcome.ok) {
                progress.succeeded++;
                progress.last = { assetKey: s.assetKey, partitionKey: s.partitionKey, outcome: 'success' };
                for (const j of dependents[i]) if (--waiting[j] === 0 && !blocked[j]) ready.push(j);
              } else if (!signal.aborted) {
                progress.failed++;
                failures.push({ assetKey: s.assetKey, partitionKey: s.partitionKey, errorId: outcome.errorId, message: outcome.message });
                progress.last = { assetKey: s.assetKey, partitionKey: s.partitionKey, outcome: 'failure' };
                await skipDependents(i, `upstream ${s.assetKey} ${s.partitionKey} failed`);
              }
            })
            .finally(() => {
              pools.release(def.pool);
              inFlight--;
              progress.running--;
              onProgress?.({ ...progress });
              if (inFlight === 0 && (ready.length === 0 || signal.aborted)) resolveAll();
              else pump();
            });
        }
        if (inFlight === 0 && ready.length === 0) resolveAll();
      };
      signal.addEventListener('abort', () => pump(), { once: true });
      pump();
    });
    await this.writer.flush();

    const status = signal.aborted ? 'canceled' : progress.failed > 0 ? 'failed' : 'success';
    return { status, succeeded: progress.succeeded, failed: progress.failed, skipped: progress.skipped, failures };
  }

  private async runStep(runId: string, step: PlannedStep, runConfig: Record<string, unknown>, signal: AbortSignal): Promise<{ ok: true } | { ok: false; errorId: string; message: string; excluded?: boolean }> {
    const { graph, eventLog } = this.o;
    const def = graph.get(step.assetKey);
    const { assetKey, partitionKey } = step;
    const log = this.o.logger.child({ runId, assetKey, partitionKey });
    const policy = def.retry;
    const metrics = this.o.resources.metrics ?? noMetrics;
    const started = performance.now();
    const timed = <T extends { ok: boolean; excluded?: boolean }>(outcome: T): T => {
      metrics.observe('step_duration_seconds', { asset: assetKey, outcome: outcome.ok ? 'success' : outcome.excluded ? 'excluded' : 'failure' }, (performance.now() - started) / 1000);
      return outcome;
    };
    let attempt = 0;
    try {
      await pRetry(async () => {
        attempt++;
        if (signal.aborted) throw new AbortError(new OrreryError(ErrorIds.RUN_CANCELED, 'The run was canceled.'));
        await eventLog.stepStarted(runId, assetKey, partitionKey, attempt);
        await eventLog.appendEvents([{ runId, type: 'STEP_START', assetKey, partitionKey, payload: { attempt, reason: step.reason } }]);
        try {
          await this.attemptStep(runId, step, def, runConfig, signal, log, attempt);
        } catch (e) {
          const d = describeError(e);
          const retryable = !signal.aborted && !(e instanceof ExcludedByQuarantine) && d.errorId !== ErrorIds.CHECK_FAILED && d.errorId !== ErrorIds.STEP_PROTOCOL && attempt < policy.maxAttempts;
          if (retryable) {
            log.warn({ errorId: d.errorId, attempt }, `step failed, retrying: ${d.message}`);
            await eventLog.appendEvents([{ runId, type: 'STEP_RETRY', assetKey, partitionKey, payload: { attempt, error_id: d.errorId, message: d.message } }]);
            throw e;
          }
          throw new AbortError(e instanceof Error ? e : new Error(String(e)));
        }
      }, {
        retries: Math.max(0, policy.maxAttempts - 1),
        minTimeout: policy.initialDelayMs ?? 1000,
        maxTimeout: policy.maxDelayMs ?? 60_000,
        factor: policy.factor ?? 2,
        randomize: true,
        // No signal here: p-retry would reject on abort even after a durable success.
        // Attempts check the signal themselves before starting and before writing.
      });
      return timed({ ok: true });
    } catch (e) {
      const cause = e instanceof AbortError ? (e as AbortError & { originalError?: unknown }).originalError ?? e : e;
      const d = describeError(cause);
      if (signal.aborted) {
        await eventLog.stepEnded(runId, assetKey, partitionKey, 'canceled');
        return { ok: false, errorId: ErrorIds.RUN_CANCELED, message: 'canceled' };
      }
      if (cause instanceof ExcludedByQuarantine) {
        log.warn({ errorId: cause.errorId }, cause.message);
        await eventLog.stepEnded(runId, assetKey, partitionKey, 'skipped');
        await eventLog.appendEvents([{ runId, type: 'STEP_SKIPPED', assetKey, partitionKey, payload: { reason: cause.message, error_id: cause.errorId } }]);
        return timed({ ok: false, errorId: cause.errorId, message: cause.message, excluded: true });
      }
      log.error({ errorId: d.errorId, attempt }, d.message);
      await eventLog.recordStepFailure(runId, assetKey, partitionKey, attempt, { error_id: d.errorId, message: d.message, details: d.details as JsonObject });
      return timed({ ok: false, errorId: d.errorId, message: d.message });
    }
  }

  private async attemptStep(runId: string, step: PlannedStep, def: AssetDefinition, runConfig: Record<string, unknown>, signal: AbortSignal, log: Logger, attempt: number): Promise<void> {
    const { graph, eventLog, resources } = this.o;
    const { assetKey, partitionKey } = step;
    const { dimensions, window } = dimensionsOf(def, partitionKey);

    // Inputs: the upstream partitions each input reads, all of which must be materialized.
    const inputs: Record<string, UpstreamPartitions<unknown>> = {};
    const inputVersions: Record<string, string> = {};
    const inputRefs: Record<string, Array<{ partitionKey: string; uri: string }>> = {};
    for (const e of graph.upstreamEdges(assetKey)) {
      const up = graph.get(e.from);
      const mapped = e.mapping.upstreamKeys(partitionKey, def.partitions, up.partitions);
      const states = await eventLog.partitionStatesFor(e.from, mapped);
      // Quarantined upstream data never flows downstream: a fan-in input reads without it,
      // any other input cannot be computed.
      const quarantined = mapped.filter((k) => states.get(k)?.status === 'quarantined');
      if (quarantined.length && !e.mapping.fanIn) {
        throw new ExcludedByQuarantine(ErrorIds.QUARANTINED, `Excluded: upstream ${e.from} ${quarantined.slice(0, 3).join(', ')} is quarantined; rematerialize it once its data passes.`, { upstream: e.from, quarantined: quarantined.slice(0, 20) });
      }
      const keys = quarantined.length ? mapped.filter((k) => !quarantined.includes(k)) : mapped;
      const missing = keys.filter((k) => !states.get(k)?.dataVersion);
      if (missing.length) {
        throw new OrreryError(ErrorIds.STEP_FAILED, `Upstream ${e.from} is not materialized for ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ` and ${missing.length - 3} more` : ''}; materialize it first (select +${assetKey}).`, { upstream: e.from, missing: missing.slice(0, 20) });
      }
      if (!e.input) continue;
      const io = ioOf(up);
      inputVersions[e.input] = inputFingerprint(keys, states);
      inputRefs[e.input] = keys.map((k) => ({ partitionKey: k, uri: io.uri({ assetKey: e.from, partitionKey: k, resources }) }));
      const load = (k: string) => io.read({ assetKey: e.from, partitionKey: k, resources });
      inputs[e.input] = {
        assetKey: e.from,
        partitionKeys: keys,
        load,
        loadAll: async () => Promise.all(keys.map(async (k) => ({ partitionKey: k, value: await load(k) }))),
      };
    }

    const config = this.configFor(def, runConfig);
    const seed = stepSeed(assetKey, partitionKey);
    const previous = async () => {
      const before = (await eventLog.partitionStatesFor(assetKey, [partitionKey])).get(partitionKey);
      return before?.dataVersion
        ? { status: before.status, metadata: before.metadata, load: () => ioOf(def).read({ assetKey, partitionKey, resources }) }
        : undefined;
    };
    let lastProgress = 0;
    const ctx: StepContext<unknown> = {
      runId, assetKey, partitionKey, dimensions, window, config, seed, log, resources, signal, previous,
      progress: (done, total, message) => {
        const now = Date.now();
        if (now - lastProgress < 1000 && done < total) return;
        lastProgress = now;
        void eventLog.appendEvents([{ runId, type: 'PROGRESS', assetKey, partitionKey, payload: { done, total, message: message ?? null } }]);
      },
    };

    const io = ioOf(def);
    const ioCtx = { assetKey, partitionKey, resources };
    let value: unknown;
    let metadata: JsonObject = {};
    let quarantine: JsonObject | null = null;
    let stepChecks: CheckResult[] = [];
    let written: { uri: string; dataVersion: string; metadata?: JsonObject } | undefined;

    if (typeof def.compute === 'function') {
      const result = await def.compute(ctx, inputs as never);
      value = result.value;
      metadata = result.metadata ?? {};
      if (result.quarantine) quarantine = { reasons: result.quarantine.reasons, ...result.quarantine.details, quarantined_at: new Date().toISOString() };
    } else {
      if (!this.o.launcher) throw new OrreryError(ErrorIds.STEP_FAILED, `Asset ${assetKey} runs in a container but no step launcher is configured.`, {});
      const outputUri = resources.objectStore.scratchUri(`${assetKey}-${attempt}`);
      const manifest = await this.o.launcher.launch({
        runId, assetKey, partitionKey, dimensions, config, inputs: inputRefs, outputUri, seed,
        image: def.compute.image, command: def.compute.command, env: def.compute.env, resources: def.compute.resources, nodeSelector: def.compute.nodeSelector,
      }, {
        signal,
        onLine: (line) => {
          if (line.kind === 'progress') ctx.progress(line.done, line.total, line.message);
          else if (line.kind === 'log') log.info({ ...line.fields, stepLevel: line.level }, line.message);
          else log.info({ stream: 'step' }, line.text);
        },
      });
      stepChecks = manifest.checks.map((c) => ({ runId, assetKey, partitionKey, checkName: c.name, passed: c.passed, severity: c.severity, metadata: c.metadata as JsonObject }));
      if (manifest.status === 'failure') {
        throw new OrreryError(manifest.error?.errorId ?? ErrorIds.STEP_FAILED, manifest.error?.message ?? 'The step reported failure.', {});
      }
      metadata = manifest.metadata as JsonObject;
      written = await io.adopt(ioCtx, outputUri);
      if (manifest.dataVersion) written.dataVersion = manifest.dataVersion;
    }

    // An IO manager that can stage starts storing now, out of sight, so storing overlaps the
    // checks; the value becomes the stored one only once they pass.
    const staged = written === undefined && io.stage && !signal.aborted ? io.stage(ioCtx, value) : undefined;
    let committing = false;
    try {
      // Checks run before anything is stored: a failing blocking check writes nothing.
      for (const check of def.checks) {
        const outcome = await check.evaluate(value as never, ctx);
        stepChecks.push({ runId, assetKey, partitionKey, checkName: check.name, passed: outcome.passed, severity: check.severity ?? 'ERROR', metadata: outcome.metadata ?? {} });
      }
      if (stepChecks.length) {
        await eventLog.recordCheckResults(stepChecks); // also appends a CHECK_EVALUATION event per result
        for (const c of stepChecks) if (!c.passed) resources.metrics?.inc('dq_fail_total', { asset: assetKey, check: c.checkName });
      }
      const blockingFailures = stepChecks.filter((c) => !c.passed && (def.checks.find((k) => k.name === c.checkName) ? isBlocking(def.checks.find((k) => k.name === c.checkName)!) : c.severity === 'ERROR'));
      if (blockingFailures.length) {
        throw new OrreryError(ErrorIds.CHECK_FAILED, `Check${blockingFailures.length > 1 ? 's' : ''} ${blockingFailures.map((c) => c.checkName).join(', ')} failed for ${assetKey} ${partitionKey}; nothing was written. See the check metadata for what to fix.`, { checks: blockingFailures.map((c) => ({ name: c.checkName, metadata: c.metadata })) });
      }

      if (signal.aborted) throw new OrreryError(ErrorIds.RUN_CANCELED, 'The run was canceled.');
      committing = true;
      written ??= staged ? await staged.commit() : await io.write(ioCtx, value);
    } catch (e) {
      if (staged && !committing) await staged.discard().catch((d) => log.warn({ err: d }, 'could not discard a staged write'));
      throw e;
    }
    await this.writer.record({
      runId, assetKey, partitionKey,
      dataVersion: written.dataVersion,
      codeVersion: def.codeVersion,
      inputVersions,
      codeHash: codeHash(def),
      seed,
      uri: written.uri,
      metadata: { ...written.metadata, ...metadata },
      quarantine,
    });
    if (quarantine) {
      resources.metrics?.inc('dq_fail_total', { asset: assetKey, check: 'quarantine' });
      log.warn({ errorId: ErrorIds.QUARANTINED, quarantine }, `quarantined ${assetKey} ${partitionKey}`);
    }
  }

  private configFor(def: AssetDefinition, runConfig: Record<string, unknown>): unknown {
    const raw = runConfig[def.key] ?? {};
    if (!def.config) return raw;
    const parsed = def.config.safeParse(raw);
    if (!parsed.success) {
      throw new OrreryError(ErrorIds.CONFIG_INVALID, `Config for ${def.key} is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}.`, { asset: def.key });
    }
    return parsed.data;
  }
}
