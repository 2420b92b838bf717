/**
 * Per-request DataLoaders: every per-asset or per-run read of a page is batched into one
 * statement (counts, lean states for staleness, latest materializations, check summaries, step
 * counts), so a page costs a bounded number of queries whatever its size.
 */
import DataLoader from 'dataloader';
import type { AssetDefinition } from '../core/definitions/asset.ts';
import type { CheckSummary, LatestMaterialization, LeanPartitionState, PartitionState, PartitionStatus, RunRecord, StepCounts } from '../core/event-log/port.ts';
import type { AssetGraph } from '../core/graph/asset-graph.ts';
import { NO_PARTITION } from '../core/partitions/definitions.ts';
import { partitionAssessor, type StateIndex } from '../core/planning/staleness.ts';
import type { ApiEventLog } from './context.ts';

/**
 * Above this many state rows (the asset's partitions plus those of the upstreams it reads),
 * staleness is not assessed exactly per partition: stats fall back to code-version staleness in
 * SQL and pages assess only their own rows.
 */
export const STALE_EXACT_MAX_ROWS = 250_000;
/** How many stale causes `Asset.staleCauses` samples. */
export const STALE_CAUSE_SAMPLE = 20;

export interface StaleInfo {
  stale: number;
  /** False when counted by code version only (the asset is too large for an exact assessment). */
  exact: boolean;
  sample: Array<{ partitionKey: string; reason: string }>;
}

/** Partitions of an asset and of the upstreams it reads: the rows an exact assessment loads. */
export function assessmentRows(graph: AssetGraph, assetKey: string): number {
  const count = (d: AssetDefinition) => d.partitions?.count() ?? 1;
  let rows = count(graph.get(assetKey));
  for (const e of graph.upstreamEdges(assetKey)) if (e.input) rows += count(graph.get(e.from));
  return rows;
}

/** Asset keys whose states an assessment of `assetKey` reads: itself and its input upstreams. */
function assessmentAssets(graph: AssetGraph, assetKey: string): string[] {
  const keys = new Set([assetKey]);
  for (const e of graph.upstreamEdges(assetKey)) if (e.input) keys.add(e.from);
  return [...keys];
}

export class Loaders {
  constructor(private readonly graph: AssetGraph, private readonly log: ApiEventLog, private readonly staleExactMaxRows = STALE_EXACT_MAX_ROWS) {}

  /**
   * Partition counts by status. An asset small enough for an exact staleness assessment has all
   * its state rows read for that assessment in the same request (`partitionStats` asks for both):
   * its counts are tallied from those rows, the same rows a `count(*) … group by status` would
   * count, without a statement of their own. Larger assets are counted in SQL.
   */
  readonly counts = new DataLoader<string, Record<PartitionStatus, number>>(async (keys) => {
    const exact = keys.filter((k) => this.isExact(k));
    const counted = exact.length === keys.length ? [] : keys.filter((k) => !this.isExact(k));
    const [rows, m] = await Promise.all([this.lean.loadMany(exact), this.log.countPartitionStatesMany(counted)]);
    const tallied = new Map<string, Record<PartitionStatus, number>>();
    exact.forEach((k, i) => {
      const states = rows[i];
      if (states instanceof Error) throw states;
      const n: Record<PartitionStatus, number> = { materialized: 0, failed: 0, quarantined: 0 };
      for (const st of states.values()) n[st.status]++;
      tallied.set(k, n);
    });
    return keys.map((k) => tallied.get(k) ?? m.get(k)!);
  });

  /** Whether `assetKey` is assessed exactly (its and its inputs' state rows loaded). */
  private isExact(assetKey: string): boolean {
    return assessmentRows(this.graph, assetKey) <= this.staleExactMaxRows;
  }

  /** Lean state rows of an asset, by partition key. */
  readonly lean = new DataLoader<string, Map<string, PartitionState>>(async (keys) => {
    const rows = await this.log.leanPartitionStates(keys);
    const by = new Map<string, Map<string, PartitionState>>(keys.map((k) => [k, new Map()]));
    // The assessment reads only the lean fields; the rest of PartitionState is never touched.
    for (const r of rows) by.get(r.assetKey)!.set(r.partitionKey, r as LeanPartitionState as PartitionState);
    return keys.map((k) => by.get(k)!);
  });

  readonly latest = new DataLoader<string, LatestMaterialization | null>(async (keys) => {
    const m = await this.log.latestMaterializations(keys);
    return keys.map((k) => m.get(k) ?? null);
  });

  readonly checks = new DataLoader<string, CheckSummary[]>(async (keys) => {
    const m = await this.log.checkSummaries(keys);
    return keys.map((k) => m.get(k) ?? []);
  });

  readonly stepCounts = new DataLoader<string, StepCounts>(async (ids) => {
    const m = await this.log.stepCountsMany(ids);
    return ids.map((id) => m.get(id)!);
  });

  readonly runs = new DataLoader<string, RunRecord | null>(async (ids) => Promise.all(ids.map(async (id) => (await this.log.getRun(id)) ?? null)), { batch: false });

  readonly stale = new DataLoader<string, StaleInfo>(async (keys) => Promise.all(keys.map((k) => this.assessStale(k))));

  /** The state index an exact assessment of `assetKey` needs; undefined when the asset is too large. */
  async stateIndex(assetKey: string): Promise<StateIndex | undefined> {
    if (!this.isExact(assetKey)) return undefined;
    const keys = assessmentAssets(this.graph, assetKey);
    const maps = await this.lean.loadMany(keys);
    const index = new Map<string, Map<string, PartitionState>>();
    keys.forEach((k, i) => {
      const m = maps[i];
      if (m instanceof Error) throw m;
      index.set(k, m);
    });
    return index;
  }

  private readonly assessed = new Map<string, Promise<Map<string, string[]> | undefined>>();

  /**
   * Stale causes of every recorded partition of an asset with data (empty when up to date), once
   * per request; undefined when the asset is too large for an exact assessment.
   */
  assessAll(assetKey: string): Promise<Map<string, string[]> | undefined> {
    let p = this.assessed.get(assetKey);
    if (!p) {
      p = this.stateIndex(assetKey).then((index) => {
        if (!index) return undefined;
        const out = new Map<string, string[]>();
        const assess = partitionAssessor(this.graph, assetKey, index);
        for (const [key, st] of index.get(assetKey)!) {
          if (st.dataVersion !== null) out.set(key, assess(key).staleCauses);
        }
        return out;
      });
      this.assessed.set(assetKey, p);
    }
    return p;
  }

  private async assessStale(assetKey: string): Promise<StaleInfo> {
    const def = this.graph.get(assetKey);
    const all = await this.assessAll(assetKey);
    if (!all) return { stale: await this.log.countCodeVersionStale(assetKey, def.codeVersion), exact: false, sample: [] };
    let stale = 0;
    const sample: StaleInfo['sample'] = [];
    // In the definition's order (the sample is the first stale partitions); rows of keys the
    // definition no longer has are not the asset's partitions (as in Runtime.health).
    for (const key of def.partitions ? def.partitions.keys() : [NO_PARTITION]) {
      const causes = all.get(key);
      if (!causes?.length) continue;
      stale++;
      if (sample.length < STALE_CAUSE_SAMPLE) sample.push({ partitionKey: key, reason: causes.join('; ') });
    }
    return { stale, exact: true, sample };
  }

  /**
   * Stale causes of some rows of an asset. Uses the asset's exact index when it is small enough;
   * otherwise loads just the upstream partitions these rows read (one statement).
   */
  async staleCausesOf(assetKey: string, rows: readonly LeanPartitionState[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    const withData = rows.filter((r) => r.dataVersion !== null);
    if (withData.length === 0) return out;
    const all = await this.assessAll(assetKey);
    if (all) {
      // The request's assessment (its rows were read a few milliseconds before or after these).
      for (const r of withData) out.set(r.partitionKey, all.get(r.partitionKey) ?? []);
      return out;
    }
    const def = this.graph.get(assetKey);
    const pairs: Array<{ assetKey: string; partitionKey: string }> = [];
    for (const e of this.graph.upstreamEdges(assetKey)) {
      if (!e.input) continue;
      const up = this.graph.get(e.from).partitions;
      for (const r of withData) for (const k of e.mapping.upstreamKeys(r.partitionKey, def.partitions, up)) pairs.push({ assetKey: e.from, partitionKey: k });
    }
    const upRows = await this.log.partitionStatesForPairs(pairs);
    // The assessment reads only the lean fields.
    const index = new Map<string, Map<string, PartitionState>>([[assetKey, new Map(withData.map((r) => [r.partitionKey, r as PartitionState]))]]);
    for (const r of upRows) {
      if (!index.has(r.assetKey)) index.set(r.assetKey, new Map());
      index.get(r.assetKey)!.set(r.partitionKey, r);
    }
    const assess = partitionAssessor(this.graph, assetKey, index);
    for (const r of withData) out.set(r.partitionKey, assess(r.partitionKey).staleCauses);
    return out;
  }
}
