/** The queries the UI sends and the shapes it reads back (the contract's schema, as used here). */
import type { PartitionStats } from './health.ts';

export type RunStatus = 'QUEUED' | 'STARTED' | 'CANCELING' | 'SUCCESS' | 'FAILED' | 'CANCELED';
export const TERMINAL: ReadonlySet<string> = new Set(['SUCCESS', 'FAILED', 'CANCELED']);
export const PARTITION_STATUSES = ['MATERIALIZED', 'STALE', 'FAILED', 'QUARANTINED', 'MISSING'] as const;
export type PartitionStatus = (typeof PARTITION_STATUSES)[number];

export interface CheckSummary { name: string; severity: string; passed: number; failed: number; lastFailure?: { partitionKey: string; evaluatedAt: string } | null }

export interface GraphAsset {
  key: string;
  group: string | null;
  kinds: string[];
  partitionStats: PartitionStats;
  checks: CheckSummary[];
  upstream: Array<{ key: string; input: string | null; mapping: string }>;
}

const STATS = 'partitionStats { total materialized failed missing stale quarantined }';

export const ASSETS_PAGE = `query GraphAssets($after: String, $first: Int!) {
  assets(first: $first, after: $after) {
    edges { node { key group kinds ${STATS} checks { name severity passed failed } upstream { key input mapping } } }
    pageInfo { hasNextPage endCursor }
  }
}`;

export interface StepCounts { succeeded: number; failed: number; skipped: number; running: number; canceled: number }
const COUNTS = 'stepCounts { succeeded failed skipped running canceled }';
export const RUN_FIELDS = `id kind status selection createdAt startedAt endedAt stepsTotal ${COUNTS} error`;

export interface RunSummary {
  id: string; kind: string; status: RunStatus; selection: string; createdAt: string; startedAt: string | null; endedAt: string | null;
  stepsTotal: number; stepCounts: StepCounts; error: unknown;
}

export interface AssetDetail {
  key: string; description: string | null; group: string | null; kinds: string[]; codeVersion: string | null; partitionsDefinition: unknown;
  partitionStats: PartitionStats;
  checks: CheckSummary[];
  latestMaterialization: { runId: string; partitionKey: string; timestamp: string; dataVersion: string | null; codeVersion: string | null; metadata: unknown } | null;
  staleCauses: Array<{ partitionKey: string; reason: string }>;
  upstream: Array<{ key: string }>;
  downstream: Array<{ key: string }>;
}

export const ASSET_DETAIL = `query AssetDetail($key: String!) {
  asset(key: $key) {
    key description group kinds codeVersion partitionsDefinition ${STATS}
    checks { name severity passed failed lastFailure { partitionKey evaluatedAt } }
    latestMaterialization { runId partitionKey timestamp dataVersion codeVersion metadata }
    staleCauses { partitionKey reason }
    upstream { key } downstream { key }
  }
  runs(filter: { assetKey: $key }, first: 10) { edges { node { ${RUN_FIELDS} } } }
}`;

export interface PartitionRow { key: string; status: PartitionStatus; dataVersion: string | null; materializedAt: string | null; runId: string | null }

export const PARTITIONS_PAGE = `query AssetPartitions($key: String!, $status: PartitionStatus, $first: Int!, $after: String) {
  asset(key: $key) {
    partitions(status: $status, first: $first, after: $after) {
      edges { node { key status dataVersion materializedAt runId } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`;

export const RUNS_PAGE = `query Runs($first: Int!, $after: String, $filter: RunFilter) {
  runs(filter: $filter, first: $first, after: $after) { edges { node { ${RUN_FIELDS} } } pageInfo { hasNextPage endCursor } }
}`;

export interface StepRow { assetKey: string; partitionKey: string; status: string; attempt: number; startedAt: string | null; endedAt: string | null; error: unknown }
const STEP_FIELDS = 'assetKey partitionKey status attempt startedAt endedAt error';
export interface RunEvent { id: string; type: string; assetKey: string | null; partitionKey: string | null; timestamp: string; payload: unknown }
const EVENT_FIELDS = 'id type assetKey partitionKey timestamp payload';

export const RUN_SUMMARY = `query RunSummary($id: ID!) { run(id: $id) { ${RUN_FIELDS} } }`;
export const RUN_DETAIL = `query RunDetail($id: ID!) {
  run(id: $id) {
    ${RUN_FIELDS}
    steps(first: 500) { edges { node { ${STEP_FIELDS} } } pageInfo { hasNextPage endCursor } }
    events(first: 500) { edges { node { ${EVENT_FIELDS} } } pageInfo { hasNextPage endCursor } }
  }
}`;
export const RUN_STEPS = `query RunSteps($id: ID!, $after: String) { run(id: $id) { steps(first: 500, after: $after) { edges { node { ${STEP_FIELDS} } } pageInfo { hasNextPage endCursor } } } }`;
export const RUN_EVENTS_SUB = `subscription RunEvents($runId: ID!) { runEvents(runId: $runId) { ${EVENT_FIELDS} } }`;
export const CANCEL_RUN = `mutation CancelRun($id: ID!) { cancelRun(id: $id) { ${RUN_FIELDS} } }`;

export const BACKFILLS_PAGE = `query Backfills($first: Int!, $after: String) {
  backfills(first: $first, after: $after) { edges { node { ${RUN_FIELDS} } } pageInfo { hasNextPage endCursor } }
}`;
export const BACKFILL_DETAIL = `query BackfillDetail($id: ID!, $after: String) {
  backfill(id: $id) {
    id run { ${RUN_FIELDS} }
    partitionCounts { succeeded failed skipped running canceled }
    partitions(first: 200, after: $after) { edges { node { ${STEP_FIELDS} } } pageInfo { hasNextPage endCursor } }
  }
}`;
export const LAUNCH_BACKFILL = `mutation LaunchBackfill($selection: String!, $range: PartitionRangeInput, $keys: [String!], $onlyMissing: Boolean, $onlyFailed: Boolean) {
  launchBackfill(selection: $selection, range: $range, keys: $keys, onlyMissing: $onlyMissing, onlyFailed: $onlyFailed) { runId }
}`;
export const RETRY_BACKFILL = `mutation RetryBackfill($id: ID!) { retryBackfill(id: $id, onlyFailed: true) { runId } }`;
export const VIEWER = `query Viewer { viewer { subject role } }`;
export const ASSET_KEYS = `query AssetKeys($after: String) { assets(first: 500, after: $after) { edges { node { key } } pageInfo { hasNextPage endCursor } } }`;
