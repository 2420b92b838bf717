import { hash } from 'node:crypto';
import type { PartitionState } from '../event-log/port.ts';
import type { AssetGraph } from '../graph/asset-graph.ts';
import type { PartitionsDefinition } from '../partitions/definitions.ts';
import type { PartitionMapping } from '../partitions/mappings.ts';

/**
 * A fingerprint of the upstream data an input reads: the keys and their data versions. Recorded
 * with each materialization; when it no longer matches, the materialization is stale.
 *
 * The common input reads one upstream partition: its fingerprint is that key and data version as
 * they are (`2024-03=9f2c…`), readable in the state row and free to compute for every partition
 * an assessment looks at. Other inputs (none or many keys) get a SHA-1 of the pieces.
 */
export function inputFingerprint(keys: readonly string[], states: ReadonlyMap<string, PartitionState> | undefined): string {
  if (keys.length === 1) return `${keys[0]}=${states?.get(keys[0])?.dataVersion ?? '∅'}`;
  // One string, one one-shot hash: the same digest as streaming the pieces, without a Hash object per call.
  let text = '';
  for (const k of keys) text += `${k}=${states?.get(k)?.dataVersion ?? '∅'}\n`;
  return hash('sha1', text, 'hex');
}

/**
 * Whether a recorded fingerprint still matches the input: equal to `inputFingerprint`, or, for a
 * one-key input recorded before the plain form, equal to the SHA-1 it was recorded as then.
 */
export function fingerprintMatches(recorded: string | undefined, keys: readonly string[], states: ReadonlyMap<string, PartitionState> | undefined): boolean {
  if (recorded === undefined) return false;
  const current = inputFingerprint(keys, states);
  if (recorded === current) return true;
  return keys.length === 1 && /^[0-9a-f]{40}$/.test(recorded) && recorded === hash('sha1', `${current}\n`, 'hex');
}

/**
 * The fingerprints a materialization of `assetKey`'s `partitionKey` records, per input, from the
 * upstream states as they are now (a fan-in input without its quarantined partitions, as the
 * executor reads it). For recording a step that ran elsewhere (a container step in a pod).
 */
export async function currentInputVersions(
  graph: AssetGraph,
  assetKey: string,
  partitionKey: string,
  statesOf: (assetKey: string, keys: readonly string[]) => Promise<ReadonlyMap<string, PartitionState>>,
): Promise<Record<string, string>> {
  const def = graph.get(assetKey);
  const out: Record<string, string> = {};
  for (const e of graph.upstreamEdges(assetKey)) {
    if (!e.input) continue;
    const up = graph.get(e.from).partitions;
    const states = await statesOf(e.from, e.mapping.upstreamKeys(partitionKey, def.partitions, up));
    out[e.input] = inputFingerprint(keysRead(e.mapping, partitionKey, def.partitions, up, states), states);
  }
  return out;
}

/** The upstream keys an input reads for `partitionKey`: a fan-in input without its quarantined partitions (as the executor reads it). */
function keysRead(mapping: PartitionMapping, partitionKey: string, down: PartitionsDefinition | undefined, up: PartitionsDefinition | undefined, upStates: ReadonlyMap<string, PartitionState> | undefined): string[] {
  const keys = mapping.upstreamKeys(partitionKey, down, up);
  return mapping.fanIn ? keys.filter((k) => upStates?.get(k)?.status !== 'quarantined') : keys;
}

export type PartitionHealth = 'materialized' | 'failed' | 'missing' | 'quarantined';

export interface Assessment {
  health: PartitionHealth;
  /** Why a materialized partition is stale; empty when it is up to date. */
  staleCauses: string[];
}

/** All current states the assessment needs, by asset key. */
export type StateIndex = ReadonlyMap<string, ReadonlyMap<string, PartitionState>>;

export function assessPartition(graph: AssetGraph, assetKey: string, partitionKey: string, states: StateIndex): Assessment {
  return partitionAssessor(graph, assetKey, states)(partitionKey);
}

/**
 * `assessPartition` for many partitions of one asset against the same states: the asset's
 * definition and inputs are looked up once, not per partition (the API assesses every
 * partition of an asset a request).
 */
export function partitionAssessor(graph: AssetGraph, assetKey: string, states: StateIndex): (partitionKey: string) => Assessment {
  const def = graph.get(assetKey);
  const own = states.get(assetKey);
  const inputs = graph.upstreamEdges(assetKey).filter((e) => e.input).map((e) => ({
    name: e.input!, from: e.from, mapping: e.mapping, partitions: graph.get(e.from).partitions, states: states.get(e.from),
  }));
  return (partitionKey) => {
    const st = own?.get(partitionKey);
    if (!st || st.dataVersion === null) return { health: st?.status === 'failed' ? 'failed' : 'missing', staleCauses: [] };
    const causes: string[] = [];
    if (st.codeVersion !== def.codeVersion) causes.push(`code version changed (${st.codeVersion} → ${def.codeVersion})`);
    for (const input of inputs) {
      const keys = keysRead(input.mapping, partitionKey, def.partitions, input.partitions, input.states);
      if (!fingerprintMatches(st.inputVersions[input.name], keys, input.states)) causes.push(`upstream ${input.from} changed`);
    }
    return { health: st.status, staleCauses: causes };
  };
}
