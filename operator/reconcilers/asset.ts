/**
 * Asset: checks spec.key against the code location and spec.config against the definition's
 * config schema (condition Valid, naming the field), and reports partition health, the last
 * materialization and check results from the event log in status.
 */
import { withFreshRetry, writeStatus, type OperatorContext } from '../context.ts';
import { RESOURCES, setCondition, type AssetResource, type AssetStatus } from '../resources.ts';

/** How often an Asset's status is refreshed from the event log. */
export const ASSET_REFRESH_MS = 30_000;

export async function reconcileAsset(ctx: OperatorContext, key: string) {
  return withFreshRetry(ctx, RESOURCES.asset, ctx.informers.assets.get(key), (a) => sync(ctx, a));
}

function validate(ctx: OperatorContext, a: AssetResource): string | undefined {
  const { graph } = ctx.runtime;
  if (!graph.has(a.spec.key)) return `spec.key: asset "${a.spec.key}" is not in the code location (known: ${graph.order.slice(0, 10).join(', ')}${graph.order.length > 10 ? ', …' : ''})`;
  const def = graph.get(a.spec.key);
  if (a.spec.config && Object.keys(a.spec.config).length && !def.config) return `spec.config: asset ${a.spec.key} takes no config`;
  if (def.config) {
    const parsed = def.config.safeParse(a.spec.config ?? {});
    if (!parsed.success) return parsed.error.issues.map((i) => `spec.config${i.path.length ? '.' + i.path.join('.') : ''}: ${i.message}`).join('; ');
  }
  return undefined;
}

async function sync(ctx: OperatorContext, a: AssetResource): Promise<void | { requeueAfterMs: number }> {
  if (a.metadata.deletionTimestamp) return;
  const gen = a.metadata.generation;
  const status: AssetStatus = { ...structuredClone(a.status ?? {}), observedGeneration: gen };
  const problem = validate(ctx, a);
  status.conditions = setCondition(status.conditions, { type: 'Valid', status: problem ? 'False' : 'True', reason: problem ? 'InvalidSpec' : 'Valid', message: problem ?? 'key and config match the code location', observedGeneration: gen });
  if (problem) {
    status.conditions = setCondition(status.conditions, { type: 'Ready', status: 'False', reason: 'InvalidSpec', message: problem, observedGeneration: gen });
    await writeStatus(ctx, RESOURCES.asset, a, status);
    return;
  }
  const key = a.spec.key;
  const [health] = await ctx.runtime.health([key]);
  status.partitions = { total: health.total, materialized: health.materialized, failed: health.failed, missing: health.missing, stale: health.stale, quarantined: health.quarantined };
  let last: { partition: string; runId: string; time: Date } | undefined;
  for (const [partition, st] of await ctx.eventLog.partitionStates(key)) {
    if (st.materializedAt && (!last || st.materializedAt > last.time)) last = { partition, runId: st.materializedRunId ?? st.runId, time: st.materializedAt };
  }
  if (last) status.lastMaterialization = { partition: last.partition, runId: last.runId, time: last.time.toISOString() };
  const checks = await ctx.eventLog.checkSummary(key);
  status.checks = { passing: checks.filter((c) => c.failed === 0).length, failing: checks.filter((c) => c.failed > 0).length, failingNames: checks.filter((c) => c.failed > 0).map((c) => c.checkName) };
  const ready = health.failed === 0 && health.missing === 0;
  status.conditions = setCondition(status.conditions, { type: 'Ready', status: ready ? 'True' : 'False', reason: ready ? 'Materialized' : health.failed ? 'PartitionsFailed' : 'PartitionsMissing', message: `${health.materialized}/${health.total} materialized, ${health.failed} failed, ${health.stale} stale`, observedGeneration: gen });
  await writeStatus(ctx, RESOURCES.asset, a, status);
  return { requeueAfterMs: ASSET_REFRESH_MS };
}
