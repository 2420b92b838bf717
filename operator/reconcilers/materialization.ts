/**
 * Materialization → batch/v1 Job. Creates the Job (deterministic name, so a retried reconcile
 * or a restarted operator finds it instead of creating another), mirrors its status (phase,
 * attempts, the result manifest from the pod's termination message), records container steps'
 * materializations in the event log exactly once, and on delete removes the Job first.
 */
import { apiMessage, isConflict, isNotFound } from '../../adapters/kubernetes/client.ts';
import { isBlocking } from '../../core/definitions/checks.ts';
import { ioOf } from '../../core/definitions/io.ts';
import { codeHash, stepSeed } from '../../core/execution/provenance.ts';
import { parseManifest, type ResultManifest } from '../../core/execution/step-protocol.ts';
import type { JsonObject } from '../../core/event-log/port.ts';
import { currentInputVersions } from '../../core/planning/staleness.ts';
import { ensureFinalizer, recordEvent, removeFinalizer, withFreshRetry, writeStatus, type OperatorContext } from '../context.ts';
import { buildJob, outputUriOf, runIdOf } from '../job-builder.ts';
import { jobName } from '../names.ts';
import { RESOURCES, setCondition, type KubeObject, type MaterializationResource, type MaterializationStatus } from '../resources.ts';

type Job = KubeObject<any, { active?: number; succeeded?: number; failed?: number; startTime?: string; completionTime?: string; conditions?: Array<{ type: string; status: string; message?: string; reason?: string }> }>;

const TERMINAL = new Set(['Succeeded', 'Failed']);

export async function reconcileMaterialization(ctx: OperatorContext, key: string) {
  return withFreshRetry(ctx, RESOURCES.materialization, ctx.informers.materializations.get(key), (m) => sync(ctx, m));
}

async function sync(ctx: OperatorContext, m: MaterializationResource): Promise<void | { requeueAfterMs: number }> {
  const ns = m.metadata.namespace ?? ctx.namespace;
  const name = jobName(ns, m.metadata.name);
  if (m.metadata.deletionTimestamp) {
    try {
      await ctx.client.delete(RESOURCES.job, ns, name, 'Background');
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    await removeFinalizer(ctx, RESOURCES.materialization, m);
    return;
  }
  const status: MaterializationStatus = structuredClone(m.status ?? {});
  if (TERMINAL.has(status.phase ?? '') && status.observedGeneration === m.metadata.generation) return;

  if (!ctx.runtime.graph.has(m.spec.asset)) {
    m = await ensureFinalizer(ctx, RESOURCES.materialization, m);
    return void (await fail(ctx, m, status, 'UnknownAsset', `Asset "${m.spec.asset}" is not in the code location; fix spec.asset.`));
  }

  let job = ctx.informers.jobs.get(`${ns}/${name}`) as Job | undefined;
  if (!job) {
    if (status.phase && status.phase !== 'Pending' && status.jobName === name) {
      // Our cache may lag right after creation; a fresh read tells whether the Job is really gone.
      try { job = await ctx.client.get<Job>(RESOURCES.job, ns, name); } catch (e) { if (!isNotFound(e)) throw e; }
    }
  }
  if (!job) {
    const assetCr = ctx.informers.assets.list().find((a) => a.spec.key === m.spec.asset && a.metadata.namespace === ns);
    const body = buildJob(m, ctx.runtime.graph, ctx.resources, ctx.jobs, assetCr);
    try {
      job = await ctx.client.create<Job>(RESOURCES.job, ns, body);
      ctx.informers.jobs.assume(job);
      ctx.jobCreated();
      // No Event here: the Running/Succeeded/Failed transitions carry one each, and an Event per
      // created Job doubles the API writes of a 10,000-step backfill.
    } catch (e) {
      if (!isConflict(e)) throw e; // AlreadyExists: created by an earlier attempt of this reconcile
      job = await ctx.client.get<Job>(RESOURCES.job, ns, name);
    }
    // Status (Pending, jobName) follows from the Job's first watch event, like every later change;
    // so does our finalizer (below). Until then the Job's controller ownerReference is what ties
    // it to the Materialization: deleted in between, the Materialization takes its Job with it
    // through the garbage collector. That keeps a new Materialization's path to its Job to one
    // write (a Backfill's steps are born with the finalizer anyway).
    return;
  }
  m = await ensureFinalizer(ctx, RESOURCES.materialization, m);

  const js = job.status ?? {};
  const complete = js.conditions?.find((c) => c.type === 'Complete' && c.status === 'True');
  const failed = js.conditions?.find((c) => c.type === 'Failed' && c.status === 'True');
  const attempts = (js.failed ?? 0) + (js.succeeded ?? 0) + (js.active ?? 0);
  const next: MaterializationStatus = { ...status, jobName: name, attempts, observedGeneration: m.metadata.generation, startTime: status.startTime ?? js.startTime ?? new Date().toISOString() };

  if (complete) {
    const message = await terminationMessage(ctx, ns, name, 'success');
    let manifest: ResultManifest | undefined;
    try { manifest = message ? parseManifest(message) : undefined; } catch { manifest = undefined; }
    const def = ctx.runtime.graph.get(m.spec.asset);
    if (typeof def.compute !== 'function') {
      if (!manifest || manifest.status !== 'success') return void (await fail(ctx, m, next, 'NoManifest', `The step's Job completed without a success manifest: ${(message ?? '(empty)').slice(0, 300)}`));
      try {
        manifest = await recordContainerStep(ctx, m, manifest);
      } catch (e) {
        return void (await fail(ctx, m, next, 'RecordFailed', apiMessage(e)));
      }
    }
    next.phase = 'Succeeded';
    next.completionTime = js.completionTime ?? new Date().toISOString();
    next.message = `Materialized ${m.spec.asset} ${m.spec.partitions.join(', ')}`;
    next.result = { status: manifest?.status ?? 'success', ...(manifest?.dataVersion ? { dataVersion: manifest.dataVersion } : {}), metadata: (manifest?.metadata ?? {}) as Record<string, unknown> };
    next.conditions = setCondition(setCondition(next.conditions, { type: 'Complete', status: 'True', reason: 'JobSucceeded', message: next.message, observedGeneration: m.metadata.generation }), { type: 'Failed', status: 'False', reason: 'JobSucceeded', observedGeneration: m.metadata.generation });
    await writeStatus(ctx, RESOURCES.materialization, m, next);
    if (status.phase !== 'Succeeded') await transitioned(ctx, m, 'Succeeded', next.message);
    return;
  }
  if (failed) {
    const message = await terminationMessage(ctx, ns, name, 'failure');
    let why = failed.message ?? failed.reason ?? 'the Job failed';
    try { if (message) { const man = parseManifest(message); why = man.error ? `${man.error.errorId ?? ''} ${man.error.message}`.trim() : why; } } catch { why = message?.slice(-500) ?? why; }
    return void (await fail(ctx, m, next, 'JobFailed', why, js.completionTime));
  }
  next.phase = (js.active ?? 0) > 0 || attempts > 0 ? 'Running' : 'Pending';
  next.conditions = setCondition(next.conditions, { type: 'Complete', status: 'False', reason: next.phase, message: `Job ${name} is ${next.phase.toLowerCase()}`, observedGeneration: m.metadata.generation });
  await writeStatus(ctx, RESOURCES.materialization, m, next);
  if (status.phase !== next.phase && next.phase === 'Running') recordEvent(ctx, m, 'Normal', 'Running', `Job ${name} is running`);
}

async function fail(ctx: OperatorContext, m: MaterializationResource, status: MaterializationStatus, reason: string, message: string, at?: string): Promise<void> {
  const next: MaterializationStatus = {
    ...status, phase: 'Failed', message, completionTime: at ?? new Date().toISOString(), observedGeneration: m.metadata.generation,
  };
  next.conditions = setCondition(setCondition(next.conditions, { type: 'Failed', status: 'True', reason, message, observedGeneration: m.metadata.generation }), { type: 'Complete', status: 'False', reason, message, observedGeneration: m.metadata.generation });
  await writeStatus(ctx, RESOURCES.materialization, m, next);
  if (m.status?.phase !== 'Failed') await transitioned(ctx, m, 'Failed', message);
}

/** Kubernetes Event and an event-log entry for a terminal transition. */
async function transitioned(ctx: OperatorContext, m: MaterializationResource, phase: 'Succeeded' | 'Failed', message: string): Promise<void> {
  recordEvent(ctx, m, phase === 'Succeeded' ? 'Normal' : 'Warning', phase, message);
  await ctx.eventLog.appendEvents(m.spec.partitions.map((p) => ({
    runId: runIdOf(m), type: 'LOG' as const, assetKey: m.spec.asset, partitionKey: p,
    payload: { message: `materialization ${m.metadata.name} ${phase.toLowerCase()}`, source: 'orrery-operator', materialization: m.metadata.name, phase, detail: message.slice(0, 500) },
  })));
}

/** The termination message of the Job's pod that ended as wanted (the newest one). */
async function terminationMessage(ctx: OperatorContext, namespace: string, job: string, outcome: 'success' | 'failure'): Promise<string | undefined> {
  const pods = await ctx.client.core.listNamespacedPod({ namespace, labelSelector: `job-name=${job}` });
  const ended = pods.items
    .map((p) => ({ p, t: p.status?.containerStatuses?.[0]?.state?.terminated }))
    .filter((x) => x.t && (outcome === 'success' ? x.t.exitCode === 0 : x.t.exitCode !== 0))
    .sort((a, b) => String(a.t!.finishedAt ?? '').localeCompare(String(b.t!.finishedAt ?? '')));
  return ended.at(-1)?.t?.message ?? undefined;
}

/**
 * A container step's output is adopted and recorded here, by the operator, once: a reconcile that
 * runs again (a conflict, a restart) finds the partition already recorded under this run.
 */
async function recordContainerStep(ctx: OperatorContext, m: MaterializationResource, manifest: ResultManifest): Promise<ResultManifest> {
  const { graph } = ctx.runtime;
  const def = graph.get(m.spec.asset);
  const runId = runIdOf(m);
  const partitionKey = m.spec.partitions[0];
  const before = (await ctx.eventLog.partitionStatesFor(def.key, [partitionKey])).get(partitionKey);
  if (before?.materializedRunId === runId) return { ...manifest, dataVersion: before.dataVersion ?? manifest.dataVersion };
  const checks = manifest.checks.map((c) => ({ runId, assetKey: def.key, partitionKey, checkName: c.name, passed: c.passed, severity: c.severity, metadata: c.metadata as JsonObject }));
  if (checks.length) await ctx.eventLog.recordCheckResults(checks);
  const blocking = checks.filter((c) => !c.passed && (def.checks.find((k) => k.name === c.checkName) ? isBlocking(def.checks.find((k) => k.name === c.checkName)!) : c.severity === 'ERROR'));
  if (blocking.length) throw new Error(`Check(s) ${blocking.map((c) => c.checkName).join(', ')} failed; nothing was recorded.`);
  // What the step read, as the executor would have recorded it (so the partition is not stale at once).
  const inputVersions = await currentInputVersions(graph, def.key, partitionKey, (asset, keys) => ctx.eventLog.partitionStatesFor(asset, keys));
  const written = await ioOf(def).adopt({ assetKey: def.key, partitionKey, resources: ctx.resources }, outputUriOf(m, ctx.resources));
  await ctx.eventLog.recordMaterializations([{
    runId, assetKey: def.key, partitionKey, dataVersion: manifest.dataVersion ?? written.dataVersion, codeVersion: def.codeVersion, inputVersions,
    codeHash: codeHash(def), seed: stepSeed(def.key, partitionKey), uri: written.uri, metadata: { ...written.metadata, ...manifest.metadata } as JsonObject,
  }]);
  return { ...manifest, dataVersion: manifest.dataVersion ?? written.dataVersion };
}
