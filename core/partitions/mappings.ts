import { ErrorIds, OrreryError } from '../errors.ts';
import { MultiPartitions, NO_PARTITION, type PartitionsDefinition } from './definitions.ts';
import { TimeWindowPartitions } from './time-window.ts';

/**
 * How a downstream partition depends on upstream partitions. `down`/`up` are undefined for an
 * unpartitioned asset, whose single key is NO_PARTITION.
 */
export interface PartitionMapping {
  readonly name: string;
  /** Upstream keys that downstream `key` reads; keys the upstream definition lacks are dropped. */
  upstreamKeys(key: string, down: PartitionsDefinition | undefined, up: PartitionsDefinition | undefined): string[];
  /** Downstream keys that read upstream `key` (the inverse, for staleness and `key+`). */
  downstreamKeys(key: string, up: PartitionsDefinition | undefined, down: PartitionsDefinition | undefined): string[];
  /**
   * Fan-in mappings (a training window over all earlier data) drop quarantined upstream
   * partitions from the input; any other mapping cannot run without them.
   */
  readonly fanIn?: boolean;
  /** A sentence naming the incompatibility, or undefined when the two definitions fit. */
  incompatibility(down: PartitionsDefinition | undefined, up: PartitionsDefinition | undefined): string | undefined;
}

function keysOf(def: PartitionsDefinition | undefined): string[] {
  return def ? [...def.keys()] : [NO_PARTITION];
}

function sameShape(a: PartitionsDefinition, b: PartitionsDefinition): boolean {
  if (a.kind !== b.kind) return false;
  if (a instanceof MultiPartitions && b instanceof MultiPartitions) {
    return a.dimensionNames.join('|') === b.dimensionNames.join('|') && a.dimensions.every(([, d], i) => sameShape(d, b.dimensions[i][1]));
  }
  if (a instanceof TimeWindowPartitions && b instanceof TimeWindowPartitions) return a.cadence === b.cadence && a.timezone === b.timezone;
  return true;
}

/** Same key on both sides (or an unpartitioned side on either end). */
export function identity(): PartitionMapping {
  return {
    name: 'identity',
    // With one side unpartitioned, its single key pairs with every key of the other side (both directions agree).
    upstreamKeys: (key, down, up) => (!up ? [NO_PARTITION] : !down ? keysOf(up) : up.has(key) ? [key] : []),
    downstreamKeys: (key, up, down) => (!down ? [NO_PARTITION] : !up ? keysOf(down) : down.has(key) ? [key] : []),
    incompatibility: (down, up) =>
      down && up && !sameShape(down, up) ? `identity mapping needs the same partitions on both sides (downstream ${down.kind}, upstream ${up.kind})` : undefined,
  };
}

/** Every upstream partition (fan-in, e.g. a training window that sees all earlier data). */
export function allPartitions(): PartitionMapping {
  return {
    name: 'all',
    fanIn: true,
    upstreamKeys: (_key, _down, up) => keysOf(up),
    downstreamKeys: (_key, _up, down) => keysOf(down),
    incompatibility: () => undefined,
  };
}

/** Only the newest upstream partition. */
export function lastPartition(): PartitionMapping {
  const lastKey = (def: PartitionsDefinition | undefined): string | undefined => {
    if (!def) return NO_PARTITION;
    let last: string | undefined;
    for (const k of def.keys()) last = k;
    return last;
  };
  return {
    name: 'last',
    upstreamKeys: (_key, _down, up) => { const k = lastKey(up); return k === undefined ? [] : [k]; },
    downstreamKeys: (key, up, down) => (lastKey(up) === key ? keysOf(down) : []),
    incompatibility: () => undefined,
  };
}

/**
 * Time windows that overlap the downstream window, widened by offsets counted in upstream
 * windows: `startOffset: -1` on monthly bars gives a month of features the month before it too.
 */
export function timeWindow(options: { startOffset?: number; endOffset?: number } = {}): PartitionMapping {
  const startOffset = options.startOffset ?? 0;
  const endOffset = options.endOffset ?? 0;
  const asTime = (def: PartitionsDefinition | undefined, side: string): TimeWindowPartitions => {
    if (!(def instanceof TimeWindowPartitions)) throw new OrreryError(ErrorIds.GRAPH_MAPPING, `time-window mapping needs time-window partitions on the ${side} side.`, {});
    return def;
  };
  return {
    name: `timeWindow(${startOffset},${endOffset})`,
    upstreamKeys(key, down, up) {
      const d = asTime(down, 'downstream'), u = asTime(up, 'upstream');
      const w = d.window(key);
      const overlap = u.windowsOverlapping(w.start, w.end);
      if (overlap.length === 0) return [];
      const first = Math.max(0, u.indexOf(overlap[0].key) + startOffset);
      const last = Math.min(u.count() - 1, u.indexOf(overlap[overlap.length - 1].key) + endOffset);
      const out: string[] = [];
      for (let i = first; i <= last; i++) out.push(u.at(i)!.key);
      return out;
    },
    downstreamKeys(key, up, down) {
      const u = asTime(up, 'upstream'), d = asTime(down, 'downstream');
      const i = u.indexOf(key);
      // Downstream windows whose widened range reaches upstream window i.
      const lo = u.at(Math.max(0, i - endOffset)), hi = u.at(Math.min(u.count() - 1, i - startOffset));
      if (!lo || !hi) return [];
      return d.windowsOverlapping(lo.start, hi.end).map((w) => w.key)
        .filter((k) => this.upstreamKeys(k, down, up).includes(key));
    },
    incompatibility(down, up) {
      if (!(down instanceof TimeWindowPartitions) || !(up instanceof TimeWindowPartitions)) return 'time-window mapping needs time-window partitions on both sides';
      if (startOffset > endOffset) return `time-window mapping startOffset ${startOffset} is after endOffset ${endOffset}`;
      return undefined;
    },
  };
}

/**
 * A dimension reached through a lookup: a pair to its two leg symbols. `lookup` maps a downstream
 * key to the upstream keys it needs.
 */
export function lookup(name: string, fn: (downKey: string) => readonly string[]): PartitionMapping {
  return {
    name: `lookup(${name})`,
    upstreamKeys: (key, _down, up) => fn(key).filter((k) => !up || up.has(k)),
    downstreamKeys: (key, _up, down) => keysOf(down).filter((d) => fn(d).includes(key)),
    incompatibility: (down) => (down && down.kind === 'multi' ? 'a lookup mapping works on a single dimension; wrap it in dimensions()' : undefined),
  };
}

/**
 * Between a multi-dimensional asset and a single-dimensional one: the shared dimension matches,
 * the others fan in (multi upstream) or fan out (multi downstream).
 */
export function multiToSingle(dimension: string): PartitionMapping {
  return {
    name: `multiToSingle(${dimension})`,
    upstreamKeys(key, down, up) {
      if (up instanceof MultiPartitions) {
        // single downstream reads every upstream key whose dimension equals it
        return [...up.keys()].filter((k) => up.split(k)[dimension] === key);
      }
      if (down instanceof MultiPartitions) {
        const k = down.split(key)[dimension];
        return up && !up.has(k) ? [] : [k];
      }
      return [];
    },
    downstreamKeys(key, up, down) {
      if (down instanceof MultiPartitions) return [...down.keys()].filter((k) => down.split(k)[dimension] === key);
      if (up instanceof MultiPartitions) { const k = up.split(key)[dimension]; return down && !down.has(k) ? [] : [k]; }
      return [];
    },
    incompatibility(down, up) {
      const multi = down instanceof MultiPartitions ? down : up instanceof MultiPartitions ? up : undefined;
      const single = multi === down ? up : down;
      if (!multi || !single || single.kind === 'multi') return `multiToSingle(${dimension}) needs one multi and one single-dimension side`;
      if (!multi.dimensionNames.includes(dimension)) return `multiToSingle: no dimension "${dimension}" in (${multi.dimensionNames.join(', ')})`;
      if (!sameShape(multi.dimension(dimension), single)) return `multiToSingle: dimension "${dimension}" and the other side's partitions differ in shape`;
      return undefined;
    },
  };
}

/**
 * Multi → multi, one mapping per upstream dimension. Each entry names the downstream dimension it
 * reads (`from`, default the same name) and the mapping between the two dimension definitions.
 * Upstream dimensions without an entry fan in (all their keys).
 */
export function dimensions(spec: Record<string, PartitionMapping | { from: string; mapping: PartitionMapping }>): PartitionMapping {
  const entries = Object.entries(spec).map(([upDim, v]) => ('mapping' in v ? { upDim, downDim: v.from, mapping: v.mapping } : { upDim, downDim: upDim, mapping: v }));
  const asMulti = (def: PartitionsDefinition | undefined, side: string): MultiPartitions => {
    if (!(def instanceof MultiPartitions)) throw new OrreryError(ErrorIds.GRAPH_MAPPING, `dimensions() mapping needs multi partitions on the ${side} side.`, {});
    return def;
  };
  const product = (lists: string[][]): string[][] =>
    lists.reduce<string[][]>((acc, l) => acc.flatMap((prefix) => l.map((k) => [...prefix, k])), [[]]);

  return {
    name: `dimensions(${entries.map((e) => `${e.upDim}←${e.downDim}:${e.mapping.name}`).join(',')})`,
    upstreamKeys(key, down, up) {
      const d = asMulti(down, 'downstream'), u = asMulti(up, 'upstream');
      const parts = d.split(key);
      const lists = u.dimensionNames.map((upDim) => {
        const e = entries.find((x) => x.upDim === upDim);
        const upDef = u.dimension(upDim);
        return e ? e.mapping.upstreamKeys(parts[e.downDim], d.dimension(e.downDim), upDef) : [...upDef.keys()];
      });
      return product(lists).map((p) => p.join('|'));
    },
    downstreamKeys(key, up, down) {
      const u = asMulti(up, 'upstream'), d = asMulti(down, 'downstream');
      const parts = u.split(key);
      const lists = d.dimensionNames.map((downDim) => {
        const mapped = entries.filter((x) => x.downDim === downDim);
        const downDef = d.dimension(downDim);
        if (mapped.length === 0) return [...downDef.keys()];
        // a downstream dimension value qualifies when every mapping that reads it reaches this key
        return mapped
          .map((e) => e.mapping.downstreamKeys(parts[e.upDim], u.dimension(e.upDim), downDef))
          .reduce((a, b) => a.filter((k) => b.includes(k)));
      });
      return product(lists).map((p) => p.join('|'));
    },
    incompatibility(down, up) {
      if (!(down instanceof MultiPartitions) || !(up instanceof MultiPartitions)) return 'dimensions() mapping needs multi partitions on both sides';
      for (const e of entries) {
        if (!up.dimensionNames.includes(e.upDim)) return `dimensions(): upstream has no dimension "${e.upDim}"`;
        if (!down.dimensionNames.includes(e.downDim)) return `dimensions(): downstream has no dimension "${e.downDim}"`;
        const why = e.mapping.incompatibility(down.dimension(e.downDim), up.dimension(e.upDim));
        if (why) return `dimension ${e.upDim}←${e.downDim}: ${why}`;
      }
      return undefined;
    },
  };
}

/** The mapping used when an input names none, as Dagster's defaults. */
export function defaultMapping(down: PartitionsDefinition | undefined, up: PartitionsDefinition | undefined): PartitionMapping {
  if (!up || !down) return up ? allPartitions() : identity();
  return identity();
}
