/**
 * Backfill → Materializations. The plan is the Runtime planner's (selection × partitions, with
 * onlyMissing/onlyFailed) united with the Materializations this Backfill already created, so it
 * stays stable as steps complete and across operator restarts. A step gets its Materialization
 * once its upstream steps in the plan have succeeded, within `concurrency.max` and the per-pool
 * limits. Deleting a Backfill deletes its Materializations (and through them their Jobs) first.
 */
import { describeError } from '../../core/errors.ts';
import type { PartitionSpec, RunRequest } from '../../core/event-log/port.ts';
import type { PlannedStep } from '../../core/planning/planner.ts';
import { ensureFinalizer, recordEvent, removeFinalizer, withFreshRetry, writeStatus, type OperatorContext } from '../context.ts';
import { poolOf } from '../job-builder.ts';
import { labelValue, materializationName } from '../names.ts';
import { isNotFound, isConflict } from '../../adapters/kubernetes/client.ts';
import { CREATED_BY_ANNOTATION, FINALIZER, LABEL, MANAGED_BY, ownerReference, RESOURCES, setCondition, type BackfillResource, type BackfillStatus, type MaterializationResource } from '../resources.ts';

const DEFAULT_MAX = 10;

/**
 * Materializations created but not yet seen by the informer (its cache lags the writes): counted
 * as active so a quick second reconcile cannot exceed the limits or plan them twice.
 */
const expectations = new WeakMap<OperatorContext, Map<string, Map<string, { asset: string; partition: string }>>>();
function expected(ctx: OperatorContext, backfillKey: string): Map<string, { asset: string; partition: string }> {
  let perCtx = expectations.get(ctx);
  if (!perCtx) expectations.set(ctx, (perCtx = new Map()));
  let m = perCtx.get(backfillKey);
  if (!m) perCtx.set(backfillKey, (m = new Map()));
  return m;
}

export async function reconcileBackfill(ctx: OperatorContext, key: string) {
  return withFreshRetry(ctx, RESOURCES.backfill, ctx.informers.backfills.get(key), (b) => sync(ctx, b));
}

function childrenOf(ctx: OperatorContext, b: BackfillResource): MaterializationResource[] {
  return ctx.informers.materializations.list().filter((m) => m.metadata.namespace === b.metadata.namespace && m.spec.backfill === b.metadata.name && m.metadata.ownerReferences?.some((o) => o.uid === b.metadata.uid));
}

export function requestOf(b: BackfillResource): RunRequest {
  const p = b.spec.partitions;
  const partitions: PartitionSpec = p?.keys?.length ? { kind: 'keys', keys: p.keys } : p?.from && p?.to ? { kind: 'range', from: p.from, to: p.to } : { kind: 'all' };
  return { selection: b.spec.selection, partitions, skipUpToDate: true, onlyMissing: !!b.spec.onlyMissing, onlyFailed: !!b.spec.onlyFailed };
}

async function sync(ctx: OperatorContext, b: BackfillResource): Promise<void | { requeueAfterMs: number }> {
  const ns = b.metadata.namespace ?? ctx.namespace;
  const children = childrenOf(ctx, b);
  if (b.metadata.deletionTimestamp) {
    for (const m of children) {
      if (m.metadata.deletionTimestamp) continue;
      try { await ctx.client.delete(RESOURCES.materialization, ns, m.metadata.name); } catch (e) { if (!isNotFound(e)) throw e; }
    }
    if (children.length) return { requeueAfterMs: 500 };
    await removeFinalizer(ctx, RESOURCES.backfill, b);
    return;
  }
  const status: BackfillStatus = structuredClone(b.status ?? {});
  const gen = b.metadata.generation;
  if ((status.phase === 'Complete' || status.phase === 'Failed') && status.observedGeneration === gen) return;
  b = await ensureFinalizer(ctx, RESOURCES.backfill, b);

  let planned: PlannedStep[];
  try {
    planned = (await ctx.runtime.plan(requestOf(b))).steps;
  } catch (e) {
    const d = describeError(e);
    const next: BackfillStatus = { ...status, phase: 'Failed', observedGeneration: gen };
    next.conditions = setCondition(setCondition(next.conditions, { type: 'Failed', status: 'True', reason: 'InvalidSpec', message: `${d.errorId}: ${d.message}`, observedGeneration: gen }), { type: 'Complete', status: 'False', reason: 'InvalidSpec', message: d.message, observedGeneration: gen });
    await writeStatus(ctx, RESOURCES.backfill, b, next);
    if (status.phase !== 'Failed') recordEvent(ctx, b, 'Warning', 'InvalidSpec', `${d.errorId}: ${d.message}`);
    return;
  }

  // The plan: steps already given a Materialization, then what the planner still wants.
  const byStep = new Map<string, MaterializationResource>();
  for (const m of children) byStep.set(`${m.spec.asset}\u0000${m.spec.partitions[0]}`, m);
  const pendingCreates = expected(ctx, `${ns}/${b.metadata.name}`);
  for (const [name, e] of pendingCreates) {
    if (children.some((m) => m.metadata.name === name)) { pendingCreates.delete(name); continue; }
    const k = `${e.asset}\u0000${e.partition}`;
    if (!byStep.has(k)) {
      const placeholder = { apiVersion: '', kind: 'Materialization', metadata: { name }, spec: { asset: e.asset, partitions: [e.partition] }, status: { phase: 'Pending' } } as MaterializationResource;
      byStep.set(k, placeholder);
      children.push(placeholder);
    }
  }
  const steps: PlannedStep[] = [];
  const seen = new Set<string>();
  for (const m of children) { const k = `${m.spec.asset}\u0000${m.spec.partitions[0]}`; if (!seen.has(k)) { seen.add(k); steps.push({ assetKey: m.spec.asset, partitionKey: m.spec.partitions[0], reason: 'requested' }); } }
  for (const s of planned) { const k = `${s.assetKey}\u0000${s.partitionKey}`; if (!seen.has(k)) { seen.add(k); steps.push(s); } }
  const inPlan = new Set(seen);

  const { graph } = ctx.runtime;
  const phaseOf = (s: PlannedStep) => byStep.get(`${s.assetKey}\u0000${s.partitionKey}`)?.status?.phase ?? (byStep.has(`${s.assetKey}\u0000${s.partitionKey}`) ? 'Pending' : undefined);
  const assetCrs = ctx.informers.assets.list().filter((a) => a.metadata.namespace === ns);
  const poolFor = (asset: string) => poolOf(graph.get(asset), assetCrs.find((a) => a.spec.key === asset));

  let running = 0, succeeded = 0, failed = 0, created = 0;
  const activeByPool = new Map<string, number>();
  const failedPartitions: string[] = [];
  const failedSteps = new Set<string>();
  for (const s of steps) {
    const phase = phaseOf(s);
    if (phase === 'Succeeded') succeeded++;
    else if (phase === 'Failed') { failed++; failedSteps.add(`${s.assetKey}\u0000${s.partitionKey}`); if (failedPartitions.length < 100) failedPartitions.push(`${s.assetKey}:${s.partitionKey}`); }
    else if (phase !== undefined) { running++; const pool = poolFor(s.assetKey); activeByPool.set(pool, (activeByPool.get(pool) ?? 0) + 1); }
  }

  const max = b.spec.concurrency?.max ?? DEFAULT_MAX;
  const poolLimits = b.spec.concurrency?.pools ?? {};
  let blocked = 0;
  // Upstream steps of the plan that have not succeeded (yet, or ever).
  const upstreamState = (s: PlannedStep): 'ready' | 'waiting' | 'blocked' => {
    const def = graph.get(s.assetKey);
    let waiting = false;
    for (const e of graph.upstreamEdges(s.assetKey)) {
      for (const uk of e.mapping.upstreamKeys(s.partitionKey, def.partitions, graph.get(e.from).partitions)) {
        const k = `${e.from}\u0000${uk}`;
        if (!inPlan.has(k)) continue;
        if (failedSteps.has(k)) return 'blocked';
        if (byStep.get(k)?.status?.phase !== 'Succeeded') waiting = true;
      }
    }
    return waiting ? 'waiting' : 'ready';
  };
  for (const s of steps) {
    if (byStep.has(`${s.assetKey}\u0000${s.partitionKey}`)) continue;
    const up = upstreamState(s);
    if (up === 'blocked') { blocked++; failedSteps.add(`${s.assetKey}\u0000${s.partitionKey}`); continue; }
    if (up === 'waiting' || running >= max) continue;
    const pool = poolFor(s.assetKey);
    const limit = poolLimits[pool];
    if (limit !== undefined && (activeByPool.get(pool) ?? 0) >= limit) continue;
    const name = await createMaterialization(ctx, b, s, pool);
    pendingCreates.set(name, { asset: s.assetKey, partition: s.partitionKey });
    running++; created++;
    activeByPool.set(pool, (activeByPool.get(pool) ?? 0) + 1);
  }

  const total = steps.length;
  const pending = total - running - succeeded - failed;
  const next: BackfillStatus = { ...status, total, pending, running, succeeded, failed, failedPartitions, observedGeneration: gen };
  const settled = running === 0 && pending - blocked <= 0;
  if (total > 0 && succeeded === total) {
    next.phase = 'Complete';
    next.conditions = setCondition(setCondition(next.conditions, { type: 'Complete', status: 'True', reason: 'AllSucceeded', message: `${succeeded} step(s) succeeded`, observedGeneration: gen }), { type: 'Failed', status: 'False', reason: 'AllSucceeded', observedGeneration: gen });
  } else if (total === 0) {
    next.phase = 'Complete';
    next.conditions = setCondition(setCondition(next.conditions, { type: 'Complete', status: 'True', reason: 'NothingToDo', message: 'Everything selected is up to date', observedGeneration: gen }), { type: 'Failed', status: 'False', reason: 'NothingToDo', observedGeneration: gen });
  } else if (failed > 0 && settled) {
    next.phase = 'Failed';
    const msg = `${failed} step(s) failed${blocked ? `, ${blocked} blocked by them` : ''}: ${failedPartitions.slice(0, 5).join(', ')}`;
    next.conditions = setCondition(setCondition(next.conditions, { type: 'Failed', status: 'True', reason: 'StepsFailed', message: msg, observedGeneration: gen }), { type: 'Complete', status: 'False', reason: 'StepsFailed', message: msg, observedGeneration: gen });
  } else {
    next.phase = running > 0 || succeeded > 0 || failed > 0 ? 'Running' : 'Pending';
    next.conditions = setCondition(setCondition(next.conditions, { type: 'Complete', status: 'False', reason: 'InProgress', message: `${succeeded}/${total} succeeded, ${running} running`, observedGeneration: gen }), { type: 'Failed', status: 'False', reason: 'InProgress', observedGeneration: gen });
  }
  await writeStatus(ctx, RESOURCES.backfill, b, next);
  if (status.phase !== next.phase) recordEvent(ctx, b, next.phase === 'Failed' ? 'Warning' : 'Normal', next.phase!, `${succeeded}/${total} succeeded, ${failed} failed, ${running} running`);
  if (created > 0) ctx.logger.debug({ backfill: b.metadata.name, created }, 'created materializations');
}

async function createMaterialization(ctx: OperatorContext, b: BackfillResource, s: PlannedStep, pool: string): Promise<string> {
  const ns = b.metadata.namespace ?? ctx.namespace;
  const name = materializationName(b.metadata.name, s.assetKey, s.partitionKey);
  const body: MaterializationResource = {
    apiVersion: RESOURCES.materialization.group + '/' + RESOURCES.materialization.version,
    kind: 'Materialization',
    metadata: {
      name, namespace: ns,
      labels: { ...MANAGED_BY, [LABEL.backfill]: labelValue(b.metadata.name), [LABEL.asset]: labelValue(s.assetKey) },
      ...(ctx.jobs.createdBy ? { annotations: { [CREATED_BY_ANNOTATION]: ctx.jobs.createdBy } } : {}),
      ownerReferences: [ownerReference(b, true)],
      // Born with the finalizer: saves the Materialization reconcile a write per step.
      finalizers: [FINALIZER],
    },
    // The definition's retry policy decides the attempts (the CRD's default 3 is for hand-made ones).
    spec: { asset: s.assetKey, partitions: [s.partitionKey], backfill: b.metadata.name, runId: b.metadata.uid, pool, maxAttempts: Math.min(10, Math.max(1, ctx.runtime.graph.get(s.assetKey).retry.maxAttempts ?? 3)) },
  };
  try {
    await ctx.client.create(RESOURCES.materialization, ns, body);
  } catch (e) {
    if (!isConflict(e)) throw e; // already created by an earlier reconcile (our cache lags)
  }
  return name;
}
