/** Small builders shared by the kernel tests: assets without compute, hand-built partition states. */
import { defineAsset, type AssetDefinition, type AssetInput } from '../../core/definitions/asset.ts';
import type { PartitionState } from '../../core/event-log/port.ts';
import { AssetGraph } from '../../core/graph/asset-graph.ts';
import { MultiPartitions, NO_PARTITION, StaticPartitions, type PartitionsDefinition } from '../../core/partitions/definitions.ts';
import type { PartitionMapping } from '../../core/partitions/mappings.ts';
import { TimeWindowPartitions, type Cadence, type TimeWindowOptions } from '../../core/partitions/time-window.ts';
import { inputFingerprint } from '../../core/planning/staleness.ts';
import { OrreryError } from '../../core/errors.ts';

export interface AssetOpts {
  partitions?: PartitionsDefinition;
  /** Input name → upstream key (and optional mapping). */
  ins?: Record<string, string | { from: string; mapping?: PartitionMapping }>;
  deps?: string[];
  codeVersion?: string;
}

export function asset(key: string, opts: AssetOpts = {}): AssetDefinition {
  const ins: Record<string, AssetInput<unknown>> = {};
  for (const [name, v] of Object.entries(opts.ins ?? {})) {
    ins[name] = typeof v === 'string' ? { asset: v } : { asset: v.from, mapping: v.mapping };
  }
  return defineAsset<unknown, Record<string, AssetInput<unknown>>, Record<string, never>>({
    key,
    partitions: opts.partitions,
    ins,
    deps: opts.deps,
    codeVersion: opts.codeVersion ?? 'v1',
    compute: () => ({ value: null }),
  }) as unknown as AssetDefinition;
}

export function graphOf(...assets: AssetDefinition[]): AssetGraph {
  return new AssetGraph(assets);
}

export function tw(cadence: Cadence, start: string, end: string, extra: Partial<TimeWindowOptions> = {}): TimeWindowPartitions {
  return new TimeWindowPartitions({ cadence, start, end, ...extra });
}

export function statics(...keys: string[]): StaticPartitions {
  return new StaticPartitions(keys);
}

export function multi(...dims: Array<[string, PartitionsDefinition]>): MultiPartitions {
  return new MultiPartitions(dims);
}

/** Runs `fn` and returns the OrreryError it throws; fails the test when it throws nothing or something else. */
export function orreryError(fn: () => unknown): OrreryError {
  try {
    fn();
  } catch (e) {
    if (e instanceof OrreryError) return e;
    throw new Error(`expected an OrreryError, got ${String(e)}`);
  }
  throw new Error('expected an OrreryError, but nothing was thrown');
}

export type States = Map<string, Map<string, PartitionState>>;

export function stateRow(assetKey: string, partitionKey: string, fields: Partial<PartitionState> = {}): PartitionState {
  return {
    assetKey,
    partitionKey,
    status: 'materialized',
    dataVersion: `${assetKey}@${partitionKey}#1`,
    codeVersion: 'v1',
    inputVersions: {},
    codeHash: null,
    seed: null,
    uri: null,
    runId: 'run-0',
    materializedRunId: 'run-0',
    materializedAt: new Date(0),
    updatedAt: new Date(0),
    metadata: {},
    quarantine: null,
    ...fields,
  };
}

export function keysOfAsset(graph: AssetGraph, key: string): string[] {
  const def = graph.get(key).partitions;
  return def ? [...def.keys()] : [NO_PARTITION];
}

/** The fingerprints a materialization of (asset, key) records, given the current upstream states. */
export function fingerprintsFor(graph: AssetGraph, assetKey: string, partitionKey: string, states: States): Record<string, string> {
  const def = graph.get(assetKey);
  const out: Record<string, string> = {};
  for (const e of graph.upstreamEdges(assetKey)) {
    if (!e.input) continue;
    const keys = e.mapping.upstreamKeys(partitionKey, def.partitions, graph.get(e.from).partitions);
    out[e.input] = inputFingerprint(keys, states.get(e.from));
  }
  return out;
}

/** Materializes one partition (in place) with the asset's current code version and the right fingerprints. */
export function materialize(graph: AssetGraph, states: States, assetKey: string, partitionKey: string, fields: Partial<PartitionState> = {}): void {
  let m = states.get(assetKey);
  if (!m) { m = new Map(); states.set(assetKey, m); }
  m.set(partitionKey, stateRow(assetKey, partitionKey, {
    codeVersion: graph.get(assetKey).codeVersion,
    inputVersions: fingerprintsFor(graph, assetKey, partitionKey, states),
    ...fields,
  }));
}

/** Every partition of every asset materialized, up to date, in topological order. */
export function materializeAll(graph: AssetGraph): States {
  const states: States = new Map();
  for (const key of graph.order) {
    states.set(key, new Map());
    for (const pk of keysOfAsset(graph, key)) materialize(graph, states, key, pk);
  }
  return states;
}

export function emptyStates(graph: AssetGraph): States {
  return new Map(graph.order.map((k) => [k, new Map()]));
}

/** Cartesian product of string lists, in order. */
export function product(...lists: string[][]): string[][] {
  return lists.reduce<string[][]>((acc, l) => acc.flatMap((p) => l.map((k) => [...p, k])), [[]]);
}
