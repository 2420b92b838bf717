/**
 * The event log: runs, steps, events, and one row of current state per (asset, partition).
 * Postgres via kysely implements it (`adapters/postgres/`), on `pg` in cluster mode and on
 * PGlite embedded — the same queries.
 */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };
export type JsonObject = { [k: string]: JsonValue };

export type RunStatus = 'queued' | 'started' | 'canceling' | 'success' | 'failed' | 'canceled';
export const TERMINAL_RUN_STATUSES: readonly RunStatus[] = ['success', 'failed', 'canceled'];

export type StepStatus = 'started' | 'success' | 'failed' | 'skipped' | 'canceled';

export type EventType =
  | 'RUN_START' | 'RUN_SUCCESS' | 'RUN_FAILURE' | 'RUN_CANCELED'
  | 'STEP_START' | 'STEP_SUCCESS' | 'STEP_FAILURE' | 'STEP_RETRY' | 'STEP_SKIPPED'
  | 'MATERIALIZATION' | 'CHECK_EVALUATION' | 'LOG' | 'PROGRESS';

/** What a run should do, as the user asked: enough to re-plan it on `--resume`. */
export interface RunRequest {
  selection: string;
  partitions: PartitionSpec;
  /** Skip partitions that are materialized and not stale. */
  skipUpToDate: boolean;
  onlyMissing?: boolean;
  onlyFailed?: boolean;
  config?: JsonObject;
}

export type PartitionSpec =
  | { kind: 'all' }
  | { kind: 'keys'; keys: string[] }
  | { kind: 'range'; from: string; to: string };

export interface RunRecord {
  runId: string;
  status: RunStatus;
  kind: 'materialize' | 'backfill';
  request: RunRequest;
  tags: Record<string, string>;
  createdAt: Date;
  startedAt: Date | null;
  endedAt: Date | null;
  /** Process that executes the run, for detecting a run whose process died. */
  host: string | null;
  pid: number | null;
  heartbeatAt: Date | null;
  resumedFrom: string | null;
  stepsTotal: number;
  error: JsonObject | null;
}

export interface NewRun {
  runId: string;
  kind: RunRecord['kind'];
  request: RunRequest;
  tags?: Record<string, string>;
  resumedFrom?: string | null;
}

export interface EventRecord {
  id: number;
  runId: string;
  type: EventType;
  assetKey: string | null;
  partitionKey: string | null;
  ts: Date;
  payload: JsonObject;
}

export interface NewEvent {
  runId: string;
  type: EventType;
  assetKey?: string | null;
  partitionKey?: string | null;
  payload?: JsonObject;
}

export interface StepRecord {
  runId: string;
  assetKey: string;
  partitionKey: string;
  status: StepStatus;
  attempt: number;
  startedAt: Date | null;
  endedAt: Date | null;
  error: JsonObject | null;
}

/** A successful materialization: written with its event and the current-state row in one transaction. */
export interface Materialization {
  runId: string;
  assetKey: string;
  partitionKey: string;
  /** Content hash of what was written. */
  dataVersion: string;
  codeVersion: string;
  /** Per input name, a fingerprint of the upstream partitions' data versions read. */
  inputVersions: Record<string, string>;
  /** Provenance. */
  codeHash: string;
  seed: number | null;
  uri: string | null;
  metadata: JsonObject;
  /** Set when the value is stored but quarantined (reasons, thresholds, time range); absent or null releases it. */
  quarantine?: JsonObject | null;
}

/** `quarantined`: stored, but failed data-quality thresholds; excluded from everything downstream. */
export type PartitionStatus = 'materialized' | 'failed' | 'quarantined';

/** The current state of one (asset, partition). A failure after a success keeps the last good data. */
export interface PartitionState {
  assetKey: string;
  partitionKey: string;
  status: PartitionStatus;
  dataVersion: string | null;
  codeVersion: string | null;
  inputVersions: Record<string, string>;
  codeHash: string | null;
  seed: number | null;
  uri: string | null;
  runId: string;
  /** Run of the last successful materialization. */
  materializedRunId: string | null;
  materializedAt: Date | null;
  updatedAt: Date;
  metadata: JsonObject;
  quarantine: JsonObject | null;
}

export interface CheckResult {
  runId: string;
  assetKey: string;
  partitionKey: string;
  checkName: string;
  passed: boolean;
  severity: 'ERROR' | 'WARN';
  metadata: JsonObject;
}

export interface CheckResultRecord extends CheckResult {
  evaluatedAt: Date;
}

/** The latest results of one check over all partitions of an asset. */
export interface CheckSummary {
  checkName: string;
  severity: 'ERROR' | 'WARN';
  passed: number;
  failed: number;
  /** The most recently evaluated failing partition, if any. */
  lastFailure: { partitionKey: string; evaluatedAt: Date } | null;
}

export interface RunFilter {
  statuses?: RunStatus[];
  /** Runs created before this run id's creation (keyset pagination, newest first). */
  beforeRunId?: string;
  limit?: number;
}

export interface PartitionPage {
  /** Keyset pagination on partition key, ascending. */
  afterKey?: string;
  limit: number;
  status?: PartitionStatus;
}

export interface EventLog {
  /** Creates or upgrades the schema (idempotent). */
  migrate(): Promise<void>;
  close(): Promise<void>;

  createRun(run: NewRun): Promise<RunRecord>;
  /** Marks a run started by this process (host, pid, heartbeat). */
  startRun(runId: string, proc: { host: string; pid: number; stepsTotal: number }): Promise<void>;
  heartbeat(runId: string): Promise<RunStatus>;
  /** Sets a run's terminal status; returns false if the run already ended (the first end wins). */
  endRun(runId: string, status: 'success' | 'failed' | 'canceled', error?: JsonObject | null): Promise<boolean>;
  /** Asks a running run to stop; its executor sees `canceling` on its next heartbeat. */
  requestCancel(runId: string): Promise<boolean>;
  getRun(runId: string): Promise<RunRecord | undefined>;
  listRuns(filter?: RunFilter): Promise<RunRecord[]>;

  appendEvents(events: NewEvent[]): Promise<void>;
  listEvents(runId: string, options?: { afterId?: number; limit?: number }): Promise<EventRecord[]>;

  stepStarted(runId: string, assetKey: string, partitionKey: string, attempt: number): Promise<void>;
  /** Records a batch of successes atomically: MATERIALIZATION + STEP_SUCCESS events, state rows, step rows. */
  recordMaterializations(items: Materialization[]): Promise<void>;
  /** STEP_FAILURE event, step row, and state `failed` (keeping the last good data version). */
  recordStepFailure(runId: string, assetKey: string, partitionKey: string, attempt: number, error: JsonObject): Promise<void>;
  stepEnded(runId: string, assetKey: string, partitionKey: string, status: 'skipped' | 'canceled'): Promise<void>;
  listSteps(runId: string): Promise<StepRecord[]>;

  recordCheckResults(results: CheckResult[]): Promise<void>;
  latestCheckResults(assetKey: string, partitionKey?: string): Promise<CheckResultRecord[]>;
  /** Per check of an asset: how many partitions' latest results pass and fail. */
  checkSummary(assetKey: string): Promise<CheckSummary[]>;

  /** Current state of every partition of an asset (for planning and status). */
  partitionStates(assetKey: string): Promise<Map<string, PartitionState>>;
  partitionStatesFor(assetKey: string, keys: readonly string[]): Promise<Map<string, PartitionState>>;
  listPartitionStates(assetKey: string, page: PartitionPage): Promise<PartitionState[]>;
  countPartitionStates(assetKey: string): Promise<Record<PartitionStatus, number>>;
  /** Number of MATERIALIZATION events recorded for a partition (exactly-once checks). */
  countMaterializations(assetKey: string, partitionKey: string): Promise<number>;

  addDynamicPartitions(name: string, keys: readonly string[]): Promise<void>;
  dynamicPartitions(name: string): Promise<string[]>;

  /** Deletes events (not runs or current state) older than `before`; returns how many. */
  pruneEvents(before: Date): Promise<number>;
}

// --- reads and records of the API (GraphQL) ------------------------------------------------

/** Step rows counted by outcome (`running` = started, not yet ended). */
export interface StepCounts {
  succeeded: number;
  failed: number;
  skipped: number;
  running: number;
  canceled: number;
}

/** The lean part of a state row that staleness needs (see core/planning/staleness.ts). */
export type LeanPartitionState = Pick<PartitionState, 'assetKey' | 'partitionKey' | 'status' | 'dataVersion' | 'codeVersion' | 'inputVersions'>;
/** What a page of an asset's partitions shows: the lean fields (for staleness) and the materialization's. */
export type PagePartitionState = LeanPartitionState & Pick<PartitionState, 'runId' | 'materializedRunId' | 'materializedAt' | 'metadata' | 'quarantine'>;

export interface LatestMaterialization {
  assetKey: string;
  runId: string;
  partitionKey: string;
  timestamp: Date;
  dataVersion: string | null;
  codeVersion: string | null;
  metadata: JsonObject;
}

export interface RunPageFilter {
  statuses?: RunStatus[];
  kind?: RunRecord['kind'];
  /** Runs with a step on this asset (and partition, when given). */
  assetKey?: string;
  partitionKey?: string;
  /** A backfill run and the runs that resumed or retried it, transitively. */
  backfillId?: string;
  /** Keyset: runs created before this one (newest first). */
  afterRunId?: string;
  limit: number;
}

export interface StepCursor { assetKey: string; partitionKey: string }

export interface AuditRecord {
  id: number;
  at: Date;
  subject: string | null;
  role: string | null;
  operation: string;
  variables: JsonObject;
  requestId: string | null;
  outcome: string;
  errorId: string | null;
}

export type NewAuditRecord = Omit<AuditRecord, 'id' | 'at'>;

export interface SensorRecord {
  name: string;
  enabled: boolean;
  intervalSeconds: number;
  lastTick: Date | null;
  cursor: string | null;
}

/**
 * Batched reads for an API over the event log (one statement for many assets or runs, whatever
 * their number), the audit of API mutations, and sensor state. Implemented next to the event log.
 */
export interface EventLogQueries {
  countPartitionStatesMany(assetKeys: readonly string[]): Promise<Map<string, Record<PartitionStatus, number>>>;
  leanPartitionStates(assetKeys: readonly string[]): Promise<LeanPartitionState[]>;
  /** State rows of some partitions of an asset (any order). */
  partitionRows(assetKey: string, keys: readonly string[]): Promise<PagePartitionState[]>;
  /** Full state rows for (asset, partition) pairs, in one statement. */
  partitionStatesForPairs(pairs: ReadonlyArray<{ assetKey: string; partitionKey: string }>): Promise<PartitionState[]>;
  /** Materialized rows (with data) whose code version differs from the given one: staleness by code alone. */
  countCodeVersionStale(assetKey: string, codeVersion: string): Promise<number>;
  latestMaterializations(assetKeys: readonly string[]): Promise<Map<string, LatestMaterialization>>;
  checkSummaries(assetKeys: readonly string[]): Promise<Map<string, CheckSummary[]>>;

  listRunsPage(filter: RunPageFilter): Promise<RunRecord[]>;
  stepCountsMany(runIds: readonly string[]): Promise<Map<string, StepCounts>>;
  listStepsPage(runId: string, after: StepCursor | undefined, limit: number): Promise<StepRecord[]>;
  /** Latest step per (asset, partition) over a backfill and the runs that retried it. */
  backfillStepsPage(backfillId: string, after: StepCursor | undefined, limit: number): Promise<StepRecord[]>;
  backfillStepCounts(backfillId: string): Promise<StepCounts>;

  recordAudit(record: NewAuditRecord): Promise<void>;
  listAudit(options?: { limit?: number }): Promise<AuditRecord[]>;

  /** Registers sensors known to code; existing rows keep their state. */
  ensureSensors(sensors: ReadonlyArray<{ name: string; intervalSeconds: number; enabled?: boolean }>): Promise<void>;
  listSensors(): Promise<SensorRecord[]>;
  setSensorEnabled(name: string, enabled: boolean): Promise<SensorRecord | undefined>;
}
