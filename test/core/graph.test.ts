import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AssetGraph } from '../../core/graph/asset-graph.ts';
import { selectAssets } from '../../core/graph/selection.ts';
import { defineAsset } from '../../core/definitions/asset.ts';
import { allPartitions, multiToSingle, timeWindow } from '../../core/partitions/mappings.ts';
import { ErrorIds } from '../../core/errors.ts';
import { asset, graphOf, multi, orreryError, statics, tw } from './builders.ts';

/** A random DAG: node i may depend on nodes j < i; definitions are listed in a shuffled order. */
const dagArb = fc.integer({ min: 1, max: 10 }).chain((n) =>
  fc.record({
    n: fc.constant(n),
    deps: fc.array(fc.array(fc.boolean(), { minLength: n, maxLength: n }), { minLength: n, maxLength: n }),
    perm: fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n }),
    asInput: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
  }),
);

function buildDag(d: { n: number; deps: boolean[][]; perm: number[]; asInput: boolean[] }) {
  const name = (i: number) => `n${i}`;
  const ups = new Map<string, string[]>();
  for (let i = 0; i < d.n; i++) ups.set(name(i), [...Array(i).keys()].filter((j) => d.deps[i][j]).map(name));
  const defs = d.perm.map((i) => {
    const u = ups.get(name(i))!;
    return d.asInput[i]
      ? asset(name(i), { ins: Object.fromEntries(u.map((k) => [`in_${k}`, k])) })
      : asset(name(i), { deps: u });
  });
  return { graph: new AssetGraph(defs), ups, defsOrder: d.perm.map(name) };
}

/** Shortest distances over `next` from `start`, excluding start (independent BFS). */
function bfs(start: string, next: (k: string) => string[]): Map<string, number> {
  const dist = new Map<string, number>();
  let frontier = [start];
  for (let depth = 1; frontier.length; depth++) {
    const nf: string[] = [];
    for (const k of frontier) for (const m of next(k)) if (m !== start && !dist.has(m)) { dist.set(m, depth); nf.push(m); }
    frontier = nf;
  }
  return dist;
}

describe('AssetGraph validation', () => {
  it('detects a cycle and prints it, with CORE_GRAPH_CYCLE', () => {
    const e = orreryError(() => graphOf(asset('a', { deps: ['c'] }), asset('b', { deps: ['a'] }), asset('c', { deps: ['b'] })));
    expect(e.errorId).toBe(ErrorIds.GRAPH_CYCLE);
    const cycle = e.details.cycle as string[];
    expect(cycle).toHaveLength(4);
    expect(cycle[0]).toBe(cycle[3]);
    expect(new Set(cycle)).toEqual(new Set(['a', 'b', 'c']));
    expect(e.message).toContain(cycle.join(' → '));
    expect(e.message).toContain('a → c → b → a');
    // each step of the printed cycle follows a dependency
    const deps: Record<string, string> = { a: 'c', b: 'a', c: 'b' };
    for (let i = 0; i < 3; i++) expect(deps[cycle[i]]).toBe(cycle[i + 1]);
  });

  it('prints only the assets on the cycle, and finds cycles through inputs and self-loops', () => {
    const e = orreryError(() => graphOf(
      asset('root'),
      asset('x', { deps: ['root', 'y'] }),
      asset('y', { ins: { x: 'x' } }),
      asset('z', { deps: ['x'] }),
    ));
    expect(e.errorId).toBe(ErrorIds.GRAPH_CYCLE);
    expect(new Set(e.details.cycle as string[])).toEqual(new Set(['x', 'y']));
    expect(e.message).toMatch(/x → y → x|y → x → y/);
    expect(e.message).not.toContain('root');
    const self = orreryError(() => graphOf(asset('s', { deps: ['s'] })));
    expect(self.errorId).toBe(ErrorIds.GRAPH_CYCLE);
    expect(self.details.cycle).toEqual(['s', 's']);
  });

  it('missing dependency: CORE_GRAPH_MISSING naming both ends', () => {
    const e = orreryError(() => graphOf(asset('a'), asset('b', { deps: ['a', 'nope'] })));
    expect(e.errorId).toBe(ErrorIds.GRAPH_MISSING);
    expect(e.message).toContain('"b"');
    expect(e.message).toContain('"nope"');
    expect(e.details).toEqual({ asset: 'b', missing: 'nope' });
    expect(orreryError(() => graphOf(asset('b', { ins: { x: 'ghost' } }))).errorId).toBe(ErrorIds.GRAPH_MISSING);
  });

  it('duplicate key: CORE_GRAPH_DUPKEY', () => {
    const e = orreryError(() => graphOf(asset('a'), asset('b'), asset('a', { codeVersion: 'v2' })));
    expect(e.errorId).toBe(ErrorIds.GRAPH_DUPLICATE);
    expect(e.errorId).toBe('CORE_GRAPH_DUPKEY');
    expect(e.message).toContain('"a"');
  });

  it('incompatible mapping: CORE_GRAPH_MAPPING naming the edge', () => {
    const bars = asset('bars', { partitions: tw('daily', '2024-01-01', '2024-03-01') });
    const e = orreryError(() => graphOf(bars, asset('features', { partitions: tw('monthly', '2024-01-01', '2024-03-01'), ins: { bars: 'bars' } })));
    expect(e.errorId).toBe(ErrorIds.GRAPH_MAPPING);
    expect(e.message).toMatch(/^Edge bars → features \(input "bars"\): identity mapping needs the same partitions/);
    expect(e.details).toMatchObject({ from: 'bars', to: 'features', mapping: 'identity' });
    const rev = orreryError(() => graphOf(bars, asset('f', { partitions: tw('daily', '2024-01-01', '2024-03-01'), ins: { bars: { from: 'bars', mapping: timeWindow({ startOffset: 2, endOffset: 1 }) } } })));
    expect(rev.errorId).toBe(ErrorIds.GRAPH_MAPPING);
    expect(rev.message).toContain('startOffset 2 is after endOffset 1');
    const order = orreryError(() => graphOf(bars, asset('o', { partitions: statics('a'), deps: ['bars'] })));
    expect(order.errorId).toBe(ErrorIds.GRAPH_MAPPING);
    expect(order.message).toMatch(/^Edge bars → o: /);
    const m2s = orreryError(() => graphOf(
      asset('m', { partitions: multi(['tf', statics('1h')], ['sym', statics('A')]) }),
      asset('s', { partitions: statics('A'), ins: { m: { from: 'm', mapping: multiToSingle('pair') } } }),
    ));
    expect(m2s.errorId).toBe(ErrorIds.GRAPH_MAPPING);
    expect(m2s.message).toContain('no dimension "pair"');
  });

  it('valid edges carry their input name and mapping; defaults follow the partitions', () => {
    const g = graphOf(
      asset('bars', { partitions: tw('monthly', '2024-01-01', '2024-07-01') }),
      asset('features', { partitions: tw('monthly', '2024-01-01', '2024-07-01'), ins: { bars: { from: 'bars', mapping: timeWindow({ startOffset: -1 }) } } }),
      asset('model', { ins: { features: 'features' } }),
      asset('report', { deps: ['model'], ins: { bars: { from: 'bars', mapping: allPartitions() } } }),
    );
    expect(g.upstreamEdges('features').map((e) => [e.from, e.input, e.mapping.name])).toEqual([['bars', 'bars', 'timeWindow(-1,0)']]);
    expect(g.upstreamEdges('model').map((e) => [e.from, e.input, e.mapping.name])).toEqual([['features', 'features', 'all']]);
    expect(g.upstreamEdges('report').map((e) => [e.from, e.input, e.mapping.name])).toEqual([['bars', 'bars', 'all'], ['model', undefined, 'identity']]);
    expect(g.downstreamEdges('bars').map((e) => e.to)).toEqual(['features', 'report']);
    expect(g.order).toEqual(['bars', 'features', 'model', 'report']);
    expect(orreryError(() => g.get('nope')).errorId).toBe(ErrorIds.SELECT_UNKNOWN);
  });

  it('defineAsset rejects keys that are not lower_snake_case segments', () => {
    for (const bad of ['Bars', 'bars-1', '1bars', 'a//b', 'a/', '']) {
      expect(() => defineAsset({ key: bad, codeVersion: 'v1', compute: () => ({ value: 1 }) }), bad).toThrow(/lower_snake_case/);
    }
    expect(defineAsset({ key: 'market/bars_1h', codeVersion: 'v1', compute: () => ({ value: 1 }) }).key).toBe('market/bars_1h');
  });
});

describe('AssetGraph order, reachable, lineage', () => {
  it('property: the order is a topological order of every edge and independent of nothing but the definitions', () => {
    fc.assert(
      fc.property(dagArb, (d) => {
        const { graph, ups, defsOrder } = buildDag(d);
        expect([...graph.order].sort()).toEqual([...defsOrder].sort());
        const pos = new Map(graph.order.map((k, i) => [k, i]));
        for (const [k, u] of ups) for (const from of u) expect(pos.get(from)!).toBeLessThan(pos.get(k)!);
        for (const k of graph.order) for (const e of graph.upstreamEdges(k)) expect(pos.get(e.from)!).toBeLessThan(pos.get(k)!);
        // the same definitions give the same order
        expect(buildDag(d).graph.order).toEqual(graph.order);
      }),
      { numRuns: 150, seed: 31 },
    );
  });

  it('property: reachable() matches an independent BFS with shortest depths, and respects depth', () => {
    fc.assert(
      fc.property(dagArb, fc.nat(), fc.integer({ min: 1, max: 4 }), (d, pick, depth) => {
        const { graph, ups } = buildDag(d);
        const downs = new Map<string, string[]>([...ups.keys()].map((k) => [k, []]));
        for (const [k, u] of ups) for (const f of u) downs.get(f)!.push(k);
        const key = graph.order[pick % graph.order.length];
        const up = bfs(key, (k) => ups.get(k)!), down = bfs(key, (k) => downs.get(k)!);
        expect(new Map([...graph.reachable(key, 'upstream')].sort())).toEqual(new Map([...up].sort()));
        expect(new Map([...graph.reachable(key, 'downstream')].sort())).toEqual(new Map([...down].sort()));
        const limited = graph.reachable(key, 'upstream', depth);
        expect([...limited.keys()].sort()).toEqual([...up].filter(([, v]) => v <= depth).map(([k]) => k).sort());
        // selection agrees with reachability
        expect(selectAssets(graph, `+${key}`)).toEqual(graph.order.filter((k) => k === key || up.has(k)));
        expect(selectAssets(graph, `${key}+`)).toEqual(graph.order.filter((k) => k === key || down.has(k)));
        expect(selectAssets(graph, `+${key}+`)).toEqual(graph.order.filter((k) => k === key || up.has(k) || down.has(k)));
      }),
      { numRuns: 150, seed: 32 },
    );
  });

  // a → b → c → d, a → d (shortcut), e → c, f isolated
  const g = graphOf(
    asset('d', { deps: ['c', 'a'] }),
    asset('c', { deps: ['b', 'e'] }),
    asset('b', { deps: ['a'] }),
    asset('a'),
    asset('e'),
    asset('f'),
  );

  it('reachable with depth counts the shortest number of edges', () => {
    expect(Object.fromEntries(g.reachable('d', 'upstream'))).toEqual({ c: 1, a: 1, b: 2, e: 2 });
    expect(Object.fromEntries(g.reachable('d', 'upstream', 1))).toEqual({ c: 1, a: 1 });
    expect(Object.fromEntries(g.reachable('a', 'downstream'))).toEqual({ b: 1, d: 1, c: 2 });
    expect(Object.fromEntries(g.reachable('a', 'downstream', 0))).toEqual({});
    expect(g.reachable('f', 'upstream').size).toBe(0);
    expect(orreryError(() => g.reachable('zz', 'upstream')).errorId).toBe(ErrorIds.SELECT_UNKNOWN);
  });

  it('lineage: nodes in topological order and the edges among them', () => {
    const up1 = g.lineage('c', 'UPSTREAM', 1);
    expect(up1.nodes).toEqual(g.order.filter((k) => ['b', 'c', 'e'].includes(k)));
    expect(up1.edges.map((e) => `${e.from}>${e.to}`).sort()).toEqual(['b>c', 'e>c']);
    const both = g.lineage('c', 'BOTH');
    expect(new Set(both.nodes)).toEqual(new Set(['a', 'b', 'c', 'd', 'e']));
    expect(both.edges.map((e) => `${e.from}>${e.to}`).sort()).toEqual(['a>b', 'a>d', 'b>c', 'c>d', 'e>c']);
    const down = g.lineage('b', 'DOWNSTREAM', 1);
    expect(down.nodes).toEqual(['b', 'c']);
    expect(down.edges.map((e) => `${e.from}>${e.to}`)).toEqual(['b>c']);
    expect(g.lineage('f', 'BOTH')).toEqual({ nodes: ['f'], edges: [] });
  });
});

describe('selectAssets', () => {
  const g = graphOf(
    asset('bars'),
    asset('features', { deps: ['bars'] }),
    asset('labels', { deps: ['bars'] }),
    asset('model', { deps: ['features', 'labels'] }),
    asset('report', { deps: ['model'] }),
    asset('universe'),
  );
  const ordered = (keys: string[]) => g.order.filter((k) => keys.includes(k));

  it('key, +key, key+, +key+, *', () => {
    expect(selectAssets(g, 'model')).toEqual(['model']);
    expect(selectAssets(g, '+model')).toEqual(ordered(['bars', 'features', 'labels', 'model']));
    expect(selectAssets(g, 'features+')).toEqual(ordered(['features', 'model', 'report']));
    expect(selectAssets(g, '+features+')).toEqual(ordered(['bars', 'features', 'model', 'report']));
    expect(selectAssets(g, '*')).toEqual(g.order);
    expect(selectAssets(g, '*')).toHaveLength(6);
  });

  it('unions are deduplicated and returned in topological order', () => {
    expect(selectAssets(g, 'report,bars')).toEqual(['bars', 'report']);
    expect(selectAssets(g, ' labels+ , +features ')).toEqual(ordered(['bars', 'features', 'labels', 'model', 'report']));
    expect(selectAssets(g, 'universe,*')).toEqual(g.order);
    expect(selectAssets(g, 'model,model')).toEqual(['model']);
  });

  it('unknown key: CORE_SELECT_UNKNOWN with a suggestion', () => {
    const e = orreryError(() => selectAssets(g, 'bars,modl'));
    expect(e.errorId).toBe(ErrorIds.SELECT_UNKNOWN);
    expect(e.message).toContain('"modl"');
    const near = orreryError(() => selectAssets(g, '+feature'));
    expect(near.errorId).toBe(ErrorIds.SELECT_UNKNOWN);
    expect(near.message).toContain('Did you mean features');
    expect(orreryError(() => selectAssets(g, 'zzz+')).message).toContain('Known assets');
  });

  it('bad syntax: CORE_SELECT_SYNTAX', () => {
    for (const bad of ['', ',', 'a,,b', 'bars,', '++bars', 'bars++', '*bars', 'bars*', 'ba rs', '+', '+*']) {
      expect(orreryError(() => selectAssets(g, bad)).errorId, JSON.stringify(bad)).toBe(ErrorIds.SELECT_SYNTAX);
    }
  });
});
