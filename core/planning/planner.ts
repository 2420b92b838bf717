import type { PartitionState, RunRequest } from '../event-log/port.ts';
import type { AssetGraph } from '../graph/asset-graph.ts';
import { selectAssets } from '../graph/selection.ts';
import { partitionAssessor, type StateIndex } from './staleness.ts';
import { resolveTargets } from './targets.ts';

export type StepReason = 'missing' | 'failed' | 'quarantined' | 'stale' | 'upstream' | 'requested';

export interface PlannedStep {
  assetKey: string;
  partitionKey: string;
  reason: StepReason;
  staleCauses?: string[];
}

export interface Plan {
  /** Steps in an order that respects dependencies (asset topological order, then partition order). */
  steps: PlannedStep[];
  /** Targets left out because they are up to date (or filtered by onlyMissing/onlyFailed). */
  skipped: number;
  targets: number;
  assets: string[];
}

export interface StateSource {
  partitionStates(assetKey: string): Promise<Map<string, PartitionState>>;
}

/** Loads the current state of the selected assets and of their direct upstreams. */
export async function loadStates(graph: AssetGraph, assetKeys: readonly string[], source: StateSource): Promise<Map<string, Map<string, PartitionState>>> {
  const needed = new Set(assetKeys);
  for (const k of assetKeys) for (const e of graph.upstreamEdges(k)) needed.add(e.from);
  const states = new Map<string, Map<string, PartitionState>>();
  for (const k of needed) states.set(k, await source.partitionStates(k));
  return states;
}

/**
 * From a selection and a partition spec, the ordered steps to run. Up-to-date partitions are
 * skipped (unless the request says otherwise); a partition whose upstream is planned runs too.
 */
export function planRun(graph: AssetGraph, request: RunRequest, states: StateIndex): Plan {
  const assets = selectAssets(graph, request.selection);
  const targets = resolveTargets(graph, assets, request.partitions);
  const planned = new Map<string, Set<string>>();
  const steps: PlannedStep[] = [];
  let skipped = 0, total = 0;

  for (const assetKey of assets) {
    const keys = targets.get(assetKey) ?? [];
    const def = graph.get(assetKey);
    const upEdges = graph.upstreamEdges(assetKey).filter((e) => planned.has(e.from));
    const mine = new Set<string>();
    planned.set(assetKey, mine);
    total += keys.length;
    const assess = partitionAssessor(graph, assetKey, states);
    for (const partitionKey of keys) {
      const a = assess(partitionKey);
      let reason: StepReason | undefined;
      if (request.onlyFailed) reason = a.health === 'failed' ? 'failed' : undefined;
      else if (request.onlyMissing) reason = a.health === 'missing' ? 'missing' : undefined;
      else if (!request.skipUpToDate) reason = 'requested';
      else if (a.health !== 'materialized') reason = a.health;
      else if (a.staleCauses.length) reason = 'stale';
      else if (upEdges.some((e) => e.mapping.upstreamKeys(partitionKey, def.partitions, graph.get(e.from).partitions).some((k) => planned.get(e.from)!.has(k)))) reason = 'upstream';

      if (reason === undefined) { skipped++; continue; }
      mine.add(partitionKey);
      steps.push(a.staleCauses.length ? { assetKey, partitionKey, reason, staleCauses: a.staleCauses } : { assetKey, partitionKey, reason });
    }
  }
  return { steps, skipped, targets: total, assets };
}
