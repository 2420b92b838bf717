import { inputKey, type AssetDefinition } from '../definitions/asset.ts';
import { ErrorIds, OrreryError } from '../errors.ts';
import { defaultMapping, type PartitionMapping } from '../partitions/mappings.ts';

export interface Edge {
  /** Upstream asset key. */
  from: string;
  /** Downstream asset key. */
  to: string;
  /** Input name on the downstream asset; undefined for an order-only dep. */
  input: string | undefined;
  mapping: PartitionMapping;
}

/**
 * The validated asset graph: no duplicate keys, no missing deps, no cycles, and every edge's
 * partition mapping fits the partitions on both ends.
 */
export class AssetGraph {
  readonly assets: ReadonlyMap<string, AssetDefinition>;
  /** Keys in a topological order, stable with respect to definition order. */
  readonly order: readonly string[];
  private readonly upEdges = new Map<string, Edge[]>();
  private readonly downEdges = new Map<string, Edge[]>();

  constructor(definitions: readonly AssetDefinition<any, any, any>[]) {
    const assets = new Map<string, AssetDefinition>();
    for (const d of definitions) {
      if (assets.has(d.key)) throw new OrreryError(ErrorIds.GRAPH_DUPLICATE, `Asset key "${d.key}" is defined twice; give each asset its own key.`, { key: d.key });
      assets.set(d.key, d);
    }
    this.assets = assets;
    for (const key of assets.keys()) { this.upEdges.set(key, []); this.downEdges.set(key, []); }

    for (const d of assets.values()) {
      const refs: Array<{ from: string; input?: string; mapping?: PartitionMapping }> = [
        ...Object.entries(d.ins).map(([name, i]) => ({ from: inputKey(i), input: name, mapping: i.mapping })),
        ...d.deps.map((from) => ({ from })),
      ];
      for (const r of refs) {
        const up = assets.get(r.from);
        if (!up) throw new OrreryError(ErrorIds.GRAPH_MISSING, `Asset "${d.key}" depends on "${r.from}", which is not defined; define it or remove the dependency.`, { asset: d.key, missing: r.from });
        const mapping = r.mapping ?? defaultMapping(d.partitions, up.partitions);
        const why = mapping.incompatibility(d.partitions, up.partitions);
        if (why) throw new OrreryError(ErrorIds.GRAPH_MAPPING, `Edge ${r.from} → ${d.key}${r.input ? ` (input "${r.input}")` : ''}: ${why}.`, { from: r.from, to: d.key, mapping: mapping.name });
        const edge: Edge = { from: r.from, to: d.key, input: r.input, mapping };
        this.upEdges.get(d.key)!.push(edge);
        this.downEdges.get(r.from)!.push(edge);
      }
    }
    this.order = this.topologicalOrder();
  }

  private topologicalOrder(): string[] {
    const state = new Map<string, 'visiting' | 'done'>();
    const order: string[] = [];
    const stack: string[] = [];
    const visit = (key: string) => {
      const s = state.get(key);
      if (s === 'done') return;
      if (s === 'visiting') {
        const cycle = [...stack.slice(stack.indexOf(key)), key];
        throw new OrreryError(ErrorIds.GRAPH_CYCLE, `The asset graph has a cycle: ${cycle.join(' → ')}. Remove one of these dependencies.`, { cycle });
      }
      state.set(key, 'visiting');
      stack.push(key);
      for (const e of this.upEdges.get(key)!) visit(e.from);
      stack.pop();
      state.set(key, 'done');
      order.push(key);
    };
    for (const key of this.assets.keys()) visit(key);
    return order;
  }

  get(key: string): AssetDefinition {
    const a = this.assets.get(key);
    if (!a) throw new OrreryError(ErrorIds.SELECT_UNKNOWN, `No asset "${key}". Known assets: ${[...this.assets.keys()].join(', ')}.`, { key });
    return a;
  }

  has(key: string): boolean { return this.assets.has(key); }
  upstreamEdges(key: string): readonly Edge[] { return this.upEdges.get(key) ?? []; }
  downstreamEdges(key: string): readonly Edge[] { return this.downEdges.get(key) ?? []; }

  /** Keys reachable upstream (or downstream) of `key`, excluding it, up to `depth` edges away. */
  reachable(key: string, direction: 'upstream' | 'downstream', depth = Infinity): Map<string, number> {
    this.get(key);
    const seen = new Map<string, number>();
    let frontier = [key];
    for (let d = 1; d <= depth && frontier.length > 0; d++) {
      const next: string[] = [];
      for (const k of frontier) {
        const edges = direction === 'upstream' ? this.upstreamEdges(k) : this.downstreamEdges(k);
        for (const e of edges) {
          const n = direction === 'upstream' ? e.from : e.to;
          if (n !== key && !seen.has(n)) { seen.set(n, d); next.push(n); }
        }
      }
      frontier = next;
    }
    return seen;
  }

  /** Nodes and edges around `key`, for lineage views. */
  lineage(key: string, direction: 'UPSTREAM' | 'DOWNSTREAM' | 'BOTH', depth = Infinity): { nodes: string[]; edges: Edge[] } {
    const nodes = new Set([key]);
    if (direction !== 'DOWNSTREAM') for (const k of this.reachable(key, 'upstream', depth).keys()) nodes.add(k);
    if (direction !== 'UPSTREAM') for (const k of this.reachable(key, 'downstream', depth).keys()) nodes.add(k);
    const edges = [...nodes].flatMap((k) => this.upstreamEdges(k).filter((e) => nodes.has(e.from)));
    return { nodes: this.order.filter((k) => nodes.has(k)), edges };
  }
}
