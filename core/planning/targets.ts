import { ErrorIds, OrreryError } from '../errors.ts';
import type { PartitionSpec } from '../event-log/port.ts';
import type { AssetGraph } from '../graph/asset-graph.ts';
import { DIMENSION_SEPARATOR, MultiPartitions, NO_PARTITION, type PartitionsDefinition } from '../partitions/definitions.ts';
import { TimeWindowPartitions } from '../partitions/time-window.ts';

function timeDimension(def: MultiPartitions): string | undefined {
  return def.dimensions.find(([, d]) => d instanceof TimeWindowPartitions)?.[0];
}

/** Keys of `def` from `from` to `to`, inclusive: time windows by position (their keys sort out of time order when clocks fall back). */
function between(def: PartitionsDefinition, from: string, to: string): string[] {
  if (def instanceof TimeWindowPartitions) return def.windows().slice(def.indexOf(from), def.indexOf(to) + 1).map((w) => w.key);
  const out: string[] = [];
  for (const k of def.keys()) if (k >= from && k <= to) out.push(k);
  return out;
}

/** Keys of `def` in the inclusive range: full keys, or bare time keys applied to the time dimension. */
export function keysInRange(def: PartitionsDefinition | undefined, from: string, to: string): string[] {
  if (!def) return [];
  if (def instanceof MultiPartitions) {
    const timeDim = timeDimension(def);
    if (from.includes(DIMENSION_SEPARATOR)) {
      if (!def.has(from) || !def.has(to)) return [];
      const a = def.split(from), b = def.split(to);
      const fixed = def.dimensionNames.filter((n) => n !== timeDim);
      if (fixed.some((n) => a[n] !== b[n])) {
        throw new OrreryError(ErrorIds.PARTITION_INVALID, `A range runs along the time dimension only: "${from}" and "${to}" differ in ${fixed.filter((n) => a[n] !== b[n]).join(', ')}.`, { from, to });
      }
      if (!timeDim) return between(def, from, to);
      const times = between(def.dimension(timeDim), a[timeDim], b[timeDim]);
      return times.map((t) => def.join({ ...a, [timeDim]: t }));
    }
    if (!timeDim || !def.dimension(timeDim).has(from) || !def.dimension(timeDim).has(to)) return [];
    const time = def.dimension(timeDim) as TimeWindowPartitions;
    const lo = time.indexOf(from), hi = time.indexOf(to);
    const out: string[] = [];
    for (const k of def.keys()) { const i = time.indexOf(def.split(k)[timeDim]); if (i >= lo && i <= hi) out.push(k); }
    return out;
  }
  if (!def.has(from) || !def.has(to)) return [];
  return between(def, from, to);
}

/**
 * The partitions each selected asset should cover. Keys or a range apply directly to assets whose
 * partitions contain them; other selected assets get the partitions connected to those through
 * the graph's partition mappings (upstream needs, downstream effects).
 */
export function resolveTargets(graph: AssetGraph, selected: readonly string[], spec: PartitionSpec): Map<string, string[]> {
  const targets = new Map<string, string[]>();
  if (spec.kind === 'all') {
    for (const key of selected) {
      const def = graph.get(key).partitions;
      targets.set(key, def ? [...def.keys()] : [NO_PARTITION]);
    }
    return targets;
  }

  for (const key of selected) {
    const def = graph.get(key).partitions;
    const direct = spec.kind === 'keys' ? spec.keys.filter((k) => def?.has(k)) : keysInRange(def, spec.from, spec.to);
    if (direct.length) targets.set(key, direct);
  }
  const asked = spec.kind === 'keys' ? spec.keys : [spec.from, spec.to];
  const unmatched = asked.filter((k) => !selected.some((a) => { const d = graph.get(a).partitions; return d?.has(k) || (d instanceof MultiPartitions && timeDimension(d) && d.dimension(timeDimension(d)!).has(k)); }));
  if (targets.size === 0 || unmatched.length > 0) {
    const shapes = selected.map((a) => `${a}: ${describeShape(graph.get(a).partitions)}`).join('; ');
    const bad = unmatched.length ? unmatched : asked;
    throw new OrreryError(ErrorIds.PARTITION_UNKNOWN, `Partition ${bad.slice(0, 5).map((k) => JSON.stringify(k)).join(', ')}${bad.length > 5 ? ` and ${bad.length - 5} more` : ''} does not exist for the selected assets (${shapes}).`, { partitions: asked });
  }

  const selectedSet = new Set(selected);
  // Downstream effects: in topological order, from targeted upstream assets.
  for (const key of selected) {
    if (targets.has(key)) continue;
    const def = graph.get(key).partitions;
    const keys = new Set<string>();
    for (const e of graph.upstreamEdges(key)) {
      const upTargets = targets.get(e.from);
      if (!upTargets || !selectedSet.has(e.from)) continue;
      const upDef = graph.get(e.from).partitions;
      for (const uk of upTargets) for (const dk of e.mapping.downstreamKeys(uk, upDef, def)) keys.add(dk);
    }
    if (keys.size) targets.set(key, orderLike(def, keys));
  }
  // Upstream needs: in reverse order, from targeted downstream assets.
  for (const key of [...selected].reverse()) {
    if (targets.has(key)) continue;
    const def = graph.get(key).partitions;
    const keys = new Set<string>();
    for (const e of graph.downstreamEdges(key)) {
      const downTargets = targets.get(e.to);
      if (!downTargets || !selectedSet.has(e.to)) continue;
      const downDef = graph.get(e.to).partitions;
      for (const dk of downTargets) for (const uk of e.mapping.upstreamKeys(dk, downDef, def)) keys.add(uk);
    }
    if (keys.size) targets.set(key, orderLike(def, keys));
  }
  return targets;
}

function orderLike(def: PartitionsDefinition | undefined, keys: Set<string>): string[] {
  if (!def) return [...keys];
  if (keys.size * 4 < def.count()) return [...keys].sort();
  const out: string[] = [];
  for (const k of def.keys()) if (keys.has(k)) out.push(k);
  return out;
}

export function describeShape(def: PartitionsDefinition | undefined): string {
  if (!def) return 'unpartitioned';
  if (def instanceof MultiPartitions) return def.dimensionNames.join(DIMENSION_SEPARATOR);
  if (def instanceof TimeWindowPartitions) return `${def.cadence} windows`;
  return def.kind;
}
