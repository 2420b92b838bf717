/**
 * Keyset pages: opaque cursors, page-size checks, and the partition listing of an asset, which
 * never enumerates all partition keys in memory (the state table is paged in SQL; missing keys
 * are found by walking the definition's keys lazily, a bounded number per request).
 */
import type { JsonObject, PagePartitionState, PartitionState } from '../core/event-log/port.ts';
import type { AssetGraph } from '../core/graph/asset-graph.ts';
import { NO_PARTITION } from '../core/partitions/definitions.ts';
import { ApiErrorIds, apiError } from './errors.ts';
import type { ApiEventLog } from './context.ts';
import type { Loaders } from './loaders.ts';

export const MAX_PAGE = 500;
/** Definition keys (MISSING) or state rows (STALE) one request may scan looking for matches. */
export const SCAN_BUDGET = 50_000;
const SCAN_CHUNK = 500;

export function pageSize(first: number | null | undefined, fallback: number): number {
  const n = first ?? fallback;
  if (!Number.isInteger(n) || n < 0) throw apiError(ApiErrorIds.INPUT_INVALID, '`first` must be a non-negative integer.');
  if (n > MAX_PAGE) throw apiError(ApiErrorIds.LIMIT_PAGE, `\`first\` is ${n}, above the limit of ${MAX_PAGE} per page; page with \`after\` instead.`, { max: MAX_PAGE });
  return n;
}

/** Cursors are opaque: base64url of a small JSON document. */
export function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

export function decodeCursor<T>(cursor: string | null | undefined, check: (v: unknown) => v is T): T | undefined {
  if (cursor === null || cursor === undefined) return undefined;
  if (cursor.length > 4096) throw badCursor();
  let value: unknown;
  try {
    const text = Buffer.from(cursor, 'base64url').toString('utf8');
    // U+0000 cannot be in any key Postgres stores.
    if (text.includes('\\u0000') || text.includes('\0')) throw badCursor();
    value = JSON.parse(text);
  } catch {
    throw badCursor();
  }
  if (!check(value)) throw badCursor();
  return value;
}

function badCursor() {
  return apiError(ApiErrorIds.CURSOR_INVALID, 'The `after` cursor is not one this API returned; pass a pageInfo.endCursor or edge cursor unchanged.');
}

export const isString = (v: unknown): v is string => typeof v === 'string';
export const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
export const isStepCursor = (v: unknown): v is { a: string; p: string } =>
  typeof v === 'object' && v !== null && typeof (v as { a?: unknown }).a === 'string' && typeof (v as { p?: unknown }).p === 'string';

export interface Page<T> {
  edges: Array<{ cursor: string; node: T }>;
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
  totalCount?: number | null;
}

/** A page from `limit + 1` fetched items (the extra one only says there is a next page). */
export function pageOf<T>(items: readonly T[], limit: number, cursorOf: (item: T) => unknown, endCursor?: unknown): Page<T> {
  const hasNextPage = items.length > limit;
  const kept = items.slice(0, limit);
  const edges = kept.map((node) => ({ cursor: encodeCursor(cursorOf(node)), node }));
  const end = endCursor !== undefined ? encodeCursor(endCursor) : edges.at(-1)?.cursor ?? null;
  return { edges, pageInfo: { hasNextPage, hasPreviousPage: false, startCursor: edges[0]?.cursor ?? null, endCursor: end } };
}

export type ApiPartitionStatus = 'MATERIALIZED' | 'FAILED' | 'QUARANTINED' | 'MISSING' | 'STALE';

export interface PartitionNode {
  key: string;
  status: ApiPartitionStatus;
  dataVersion: string | null;
  materializedAt: Date | null;
  runId: string | null;
  metadata: JsonObject | null;
  staleCauses: string[];
  quarantine: JsonObject | null;
}

function nodeOf(key: string, st: PagePartitionState | undefined, causes: string[] | undefined): PartitionNode {
  if (!st) return { key, status: 'MISSING', dataVersion: null, materializedAt: null, runId: null, metadata: null, staleCauses: [], quarantine: null };
  const health = st.dataVersion === null ? (st.status === 'failed' ? 'FAILED' : 'MISSING') : (st.status.toUpperCase() as ApiPartitionStatus);
  const staleCauses = causes ?? [];
  return {
    key,
    // A materialized partition with stale causes shows as STALE; it still counts as materialized in the stats.
    status: health === 'MATERIALIZED' && staleCauses.length ? 'STALE' : health,
    dataVersion: st.dataVersion,
    materializedAt: st.materializedAt,
    runId: st.materializedRunId ?? st.runId,
    metadata: st.metadata,
    staleCauses,
    quarantine: st.quarantine,
  };
}

/** Definition keys after `after`, lazily, in the definition's order. */
function* keysAfter(keys: Iterable<string>, after: string | undefined): Generator<string> {
  let started = after === undefined;
  for (const k of keys) {
    if (started) yield k;
    else if (k === after) started = true;
  }
}

/** One page of an asset's partitions; cursors are partition keys. */
export async function partitionPage(
  graph: AssetGraph,
  log: ApiEventLog,
  loaders: Loaders,
  assetKey: string,
  status: ApiPartitionStatus | null | undefined,
  limit: number,
  after: string | undefined,
): Promise<Page<PartitionNode>> {
  const def = graph.get(assetKey);
  const keys = def.partitions ? def.partitions.keys() : [NO_PARTITION];

  if (status === 'MATERIALIZED' || status === 'FAILED' || status === 'QUARANTINED') {
    // Keyset over the state table, in key order (C collation).
    const rows = await log.listPartitionStates(assetKey, { afterKey: after, limit: limit + 1, status: status.toLowerCase() as PartitionState['status'] });
    const causes = await loaders.staleCausesOf(assetKey, rows.slice(0, limit));
    return pageOf(rows.map((r) => nodeOf(r.partitionKey, r, causes.get(r.partitionKey))), limit, (n) => n.key);
  }

  if (status === 'STALE') {
    // Scan the state table in key order, a chunk at a time, keeping the stale rows; bounded.
    const found: PartitionNode[] = [];
    let cursor = after, scanned = 0, exhausted = false;
    while (found.length <= limit && scanned < SCAN_BUDGET) {
      const rows = await log.listPartitionStates(assetKey, { afterKey: cursor, limit: SCAN_CHUNK });
      if (rows.length === 0) { exhausted = true; break; }
      const causes = await loaders.staleCausesOf(assetKey, rows);
      for (const r of rows) {
        scanned++;
        cursor = r.partitionKey;
        const c = causes.get(r.partitionKey);
        if (c?.length) found.push(nodeOf(r.partitionKey, r, c));
        if (found.length > limit) break;
      }
      if (rows.length < SCAN_CHUNK && found.length <= limit) { exhausted = true; break; }
    }
    return scanPage(found, limit, exhausted, cursor);
  }

  if (status === 'MISSING') {
    // Walk the definition's keys from the cursor, a chunk at a time, skipping recorded ones; bounded.
    const found: PartitionNode[] = [];
    const it = keysAfter(keys, after);
    let cursor = after, scanned = 0, exhausted = false;
    while (found.length <= limit && scanned < SCAN_BUDGET) {
      const chunk: string[] = [];
      for (let r = it.next(); !r.done; r = it.next()) { chunk.push(r.value); if (chunk.length === SCAN_CHUNK) break; }
      if (chunk.length === 0) { exhausted = true; break; }
      const states = await log.partitionStatesFor(assetKey, chunk);
      for (const k of chunk) {
        scanned++;
        cursor = k;
        const st = states.get(k);
        if (!st || (st.dataVersion === null && st.status !== 'failed')) found.push(nodeOf(k, undefined, undefined));
        if (found.length > limit) break;
      }
      if (chunk.length < SCAN_CHUNK && found.length <= limit) { exhausted = true; break; }
    }
    return scanPage(found, limit, exhausted, cursor);
  }

  // Every partition in the definition's order, with its state (missing ones included).
  const pageKeys: string[] = [];
  for (const k of keysAfter(keys, after)) { pageKeys.push(k); if (pageKeys.length > limit) break; }
  const rows = await log.partitionRows(assetKey, pageKeys.slice(0, limit));
  const states = new Map(rows.map((r) => [r.partitionKey, r]));
  const causes = await loaders.staleCausesOf(assetKey, rows);
  return pageOf(pageKeys.map((k) => nodeOf(k, states.get(k), causes.get(k))), limit, (n) => n.key);
}

/**
 * A page from a bounded scan: when the budget ran out before the page filled, there may be more,
 * and the end cursor is where the scan stopped (so the next page resumes there, not at the last match).
 */
function scanPage(found: PartitionNode[], limit: number, exhausted: boolean, scannedTo: string | undefined): Page<PartitionNode> {
  if (found.length > limit) return pageOf(found, limit, (n) => n.key);
  const page = pageOf(found, limit, (n) => n.key, exhausted || scannedTo === undefined ? undefined : scannedTo);
  page.pageInfo.hasNextPage = !exhausted;
  return page;
}
