/** Layered left-to-right layout of the asset graph with ELK. */
import ELK from 'elkjs/lib/elk.bundled.js';
import type { ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api';

export { NODE_H, NODE_W, type Layout, type LayoutCache };

import { NODE_H, NODE_W, structureHash, type LaidEdge, type LaidNode, type Layout, type LayoutCache } from './layout-hash.ts';

let elk: InstanceType<typeof ELK> | undefined;
let warming: Promise<unknown> | undefined;

/**
 * ELK's first layout pays for compiling its code; a two-node layout started while the assets are
 * still being fetched moves most of that off the critical path.
 */
export function warmUp(): Promise<unknown> {
  elk ??= new ELK();
  warming ??= elk.layout({ id: 'warm', layoutOptions: OPTIONS, children: [{ id: 'a', width: 10, height: 10 }, { id: 'b', width: 10, height: 10 }], edges: [{ id: 'e', sources: ['a'], targets: ['b'] }] }).catch(() => undefined);
  return warming;
}

const OPTIONS: Record<string, string> = {
  'elk.algorithm': 'layered',
  'elk.direction': 'RIGHT',
  'elk.spacing.nodeNode': '28',
  'elk.layered.spacing.nodeNodeBetweenLayers': '72',
  'elk.layered.spacing.edgeNodeBetweenLayers': '24',
  'elk.edgeRouting': 'ORTHOGONAL',
  'elk.layered.nodePlacement.strategy': 'BRANDES_KOEPF',
  'elk.padding': '[top=24,left=24,bottom=24,right=24]',
};
/** Bump when the options or node size change: cached layouts from before no longer fit. */
const CACHE_VERSION = 1;


/**
 * The layout of a graph, from `cache` when the same structure (keys and edges) was laid out before:
 * a graph that did not change redraws without running ELK.
 */
export async function cachedLayout(keys: string[], edges: Array<{ from: string; to: string }>, cache: LayoutCache | undefined): Promise<Layout> {
  const signature = `${CACHE_VERSION}|${NODE_W}x${NODE_H}|${[...keys].sort().join(',')}|${edges.map((e) => `${e.from}>${e.to}`).sort().join(',')}`;
  const key = `orrery.layout.${structureHash(signature)}`;
  try {
    const hit = cache?.get(key);
    if (hit) {
      const doc = JSON.parse(hit) as { signature: string; nodes: LaidNode[]; edges: LaidEdge[]; width: number; height: number };
      if (doc.signature === signature) return { nodes: new Map(doc.nodes.map((n) => [n.key, n])), edges: doc.edges, width: doc.width, height: doc.height };
    }
  } catch { /* a damaged entry is laid out again */ }
  const layout = await layoutGraph(keys, edges);
  try {
    cache?.set(key, JSON.stringify({ signature, nodes: [...layout.nodes.values()], edges: layout.edges, width: layout.width, height: layout.height }));
  } catch { /* storage full or disabled: fine, just not cached */ }
  return layout;
}

export async function layoutGraph(keys: string[], edges: Array<{ from: string; to: string }>): Promise<Layout> {
  elk ??= new ELK();
  const known = new Set(keys);
  const elkEdges: ElkExtendedEdge[] = [];
  const seen = new Set<string>();
  for (const e of edges) {
    // Edges to assets outside the list (another code location) have nothing to attach to.
    const id = `${e.from}->${e.to}`;
    if (!known.has(e.from) || !known.has(e.to) || seen.has(id)) continue;
    seen.add(id);
    elkEdges.push({ id, sources: [e.from], targets: [e.to] });
  }
  const graph: ElkNode = {
    id: 'root',
    layoutOptions: OPTIONS,
    children: keys.map((id) => ({ id, width: NODE_W, height: NODE_H })),
    edges: elkEdges,
  };
  const out = await elk.layout(graph);
  const nodes = new Map<string, LaidNode>();
  for (const c of out.children ?? []) nodes.set(c.id, { key: c.id, x: c.x ?? 0, y: c.y ?? 0 });
  const laid: LaidEdge[] = [];
  for (const e of (out.edges ?? []) as ElkExtendedEdge[]) {
    const points = (e.sections ?? []).flatMap((sec) => [sec.startPoint, ...(sec.bendPoints ?? []), sec.endPoint]);
    laid.push({ from: e.sources[0], to: e.targets[0], points });
  }
  return { nodes, edges: laid, width: out.width ?? 0, height: out.height ?? 0 };
}
