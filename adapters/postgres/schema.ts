/**
 * Kysely table types for the event log (see `migrations.ts` for the DDL).
 *
 * Conventions:
 * - jsonb columns are written as JSON text (`JSON.stringify`, see `toJson` in `event-log.ts`) and read back
 *   parsed: `pg` would otherwise turn a JS array parameter into a Postgres array literal.
 * - int8 columns come back as strings from `pg` and as numbers from PGlite, so queries cast them
 *   (`::float8`, `::int`) in the select list instead of converting per row.
 * - timestamptz columns come back as `Date` from both drivers.
 */
import type { ColumnType, Generated } from 'kysely';
import type {
  EventType,
  JsonObject,
  PartitionStatus,
  RunRecord,
  RunRequest,
  RunStatus,
  StepStatus,
} from '../../core/event-log/port.ts';

/** A jsonb column: parsed `T` when selected, JSON text when written. */
export type Json<T> = ColumnType<T, string, string>;
/** A jsonb column with a database default. */
export type JsonWithDefault<T> = ColumnType<T, string | undefined, string>;
/** A nullable timestamptz column. */
export type Timestamp = ColumnType<Date, Date | string, Date | string>;
/** A timestamptz column with a `now()` default. */
export type TimestampWithDefault = ColumnType<Date, Date | string | undefined, Date | string>;
/** An int8 column: the driver decides the JS type, so select it through a cast. */
export type Int8 = ColumnType<string | number | bigint, number | bigint | string, number | bigint | string>;
/** A bigserial column. */
export type Serial8 = ColumnType<string | number | bigint, never, never>;

export interface RunsTable {
  run_id: string;
  status: RunStatus;
  kind: RunRecord['kind'];
  request: Json<RunRequest>;
  tags: JsonWithDefault<Record<string, string>>;
  created_at: TimestampWithDefault;
  started_at: Timestamp | null;
  ended_at: Timestamp | null;
  host: string | null;
  pid: number | null;
  heartbeat_at: Timestamp | null;
  resumed_from: string | null;
  steps_total: Generated<number>;
  error: Json<JsonObject> | null;
}

export interface StepsTable {
  run_id: string;
  asset_key: string;
  partition_key: string;
  status: StepStatus;
  attempt: number;
  started_at: Timestamp | null;
  ended_at: Timestamp | null;
  error: Json<JsonObject> | null;
}

export interface EventsTable {
  id: Serial8;
  run_id: string;
  type: EventType;
  asset_key: string | null;
  partition_key: string | null;
  ts: TimestampWithDefault;
  payload: JsonWithDefault<JsonObject>;
}

/** The current state of one (asset, partition): one row, upserted. */
export interface PartitionsTable {
  asset_key: string;
  partition_key: string;
  status: PartitionStatus;
  data_version: string | null;
  code_version: string | null;
  input_versions: JsonWithDefault<Record<string, string>>;
  code_hash: string | null;
  seed: Int8 | null;
  uri: string | null;
  run_id: string;
  materialized_run_id: string | null;
  materialized_at: Timestamp | null;
  updated_at: TimestampWithDefault;
  metadata: JsonWithDefault<JsonObject>;
  quarantine: Json<JsonObject> | null;
}

/** The latest result of each check on each partition. */
export interface CheckResultsTable {
  asset_key: string;
  partition_key: string;
  check_name: string;
  passed: boolean;
  severity: 'ERROR' | 'WARN';
  run_id: string;
  metadata: JsonWithDefault<JsonObject>;
  evaluated_at: TimestampWithDefault;
}

export interface DynamicPartitionsTable {
  name: string;
  key: string;
  /** Insertion order (a key's position never changes once added). */
  seq: Serial8;
  created_at: TimestampWithDefault;
}

/** Every API mutation, allowed or refused (migration 0004). */
export interface AuditTable {
  id: Serial8;
  at: TimestampWithDefault;
  subject: string | null;
  role: string | null;
  operation: string;
  variables: JsonWithDefault<JsonObject>;
  request_id: string | null;
  outcome: string;
  error_id: string | null;
}

/** Sensor state: enabled flag, interval, last tick and cursor (migration 0004). */
export interface SensorsTable {
  name: string;
  enabled: boolean;
  interval_seconds: number;
  last_tick: Timestamp | null;
  cursor: string | null;
}

export interface Database {
  orrery_audit: AuditTable;
  orrery_sensors: SensorsTable;
  orrery_runs: RunsTable;
  orrery_steps: StepsTable;
  orrery_events: EventsTable;
  orrery_partitions: PartitionsTable;
  orrery_check_results: CheckResultsTable;
  orrery_dynamic_partitions: DynamicPartitionsTable;
}
