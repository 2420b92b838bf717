import { ErrorIds, OrreryError } from '../errors.ts';
import type { AssetGraph } from './asset-graph.ts';

/**
 * Dagster-like selection: `key`, `+key` (with everything upstream), `key+` (downstream),
 * `+key+`, `*` (all), comma for union. Returns keys in topological order.
 */
export function selectAssets(graph: AssetGraph, selection: string): string[] {
  const terms = selection.split(',').map((t) => t.trim());
  if (terms.length === 0 || terms.some((t) => t.length === 0)) {
    throw new OrreryError(ErrorIds.SELECT_SYNTAX, `Selection "${selection}" has an empty term; write keys separated by commas, e.g. "canonical_bars,features+".`, { selection });
  }
  const chosen = new Set<string>();
  for (const term of terms) {
    if (term === '*') { for (const k of graph.order) chosen.add(k); continue; }
    const m = /^(\+?)([^+*\s]+)(\+?)$/.exec(term);
    if (!m) throw new OrreryError(ErrorIds.SELECT_SYNTAX, `Cannot read selection term "${term}"; use key, +key, key+, +key+ or *.`, { term });
    const [, up, key, down] = m;
    if (!graph.has(key)) {
      const near = [...graph.assets.keys()].filter((k) => k.includes(key) || key.includes(k));
      throw new OrreryError(ErrorIds.SELECT_UNKNOWN, `No asset "${key}" in selection "${selection}".${near.length ? ` Did you mean ${near.join(', ')}?` : ` Known assets: ${[...graph.assets.keys()].join(', ')}.`}`, { key, selection });
    }
    chosen.add(key);
    if (up) for (const k of graph.reachable(key, 'upstream').keys()) chosen.add(k);
    if (down) for (const k of graph.reachable(key, 'downstream').keys()) chosen.add(k);
  }
  return graph.order.filter((k) => chosen.has(k));
}
