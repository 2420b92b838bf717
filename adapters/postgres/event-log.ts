/**
 * The event log on Postgres through kysely: `pg` (a server, cluster mode) or PGlite (embedded),
 * with the same queries on both.
 *
 * Reads alias columns to the port's camelCase names in SQL and cast int8 columns (`pg` returns
 * them as strings, PGlite as numbers), so rows come back already shaped as port records and no
 * per-row conversion runs in JS.
 */
import { Kysely, PostgresDialect, sql } from 'kysely';
import type { ExpressionBuilder, KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, Transaction, UnknownRow } from 'kysely';
import { ErrorIds, OrreryError } from '../../core/errors.ts';
import { TERMINAL_RUN_STATUSES } from '../../core/event-log/port.ts';
import type {
  AuditRecord,
  EventLogQueries,
  LatestMaterialization,
  LeanPartitionState,
  PagePartitionState,
  NewAuditRecord,
  RunPageFilter,
  SensorRecord,
  StepCounts,
  StepCursor,
  CheckSummary,
  CheckResult,
  CheckResultRecord,
  EventLog,
  EventRecord,
  JsonObject,
  Materialization,
  NewEvent,
  NewRun,
  PartitionPage,
  PartitionState,
  PartitionStatus,
  RunFilter,
  RunRecord,
  RunStatus,
  StepRecord,
} from '../../core/event-log/port.ts';
import { migrateEventLog } from './migrations.ts';
import type { Database } from './schema.ts';

/**
 * Items per multi-row INSERT. The widest row (orrery_partitions) binds 12 parameters and each
 * materialization adds 2 event rows of 5, so 500 items (6,000 parameters at most per statement)
 * stay far below Postgres' limit of 65,535.
 */
export const ITEMS_PER_STATEMENT = 500;
/** Rows per statement for narrow inserts (events, dynamic partition keys). */
const ROWS_PER_STATEMENT = 2000;

type Db = Kysely<Database>;
type Eb<T extends keyof Database> = ExpressionBuilder<Database, T>;

const RUN_COLUMNS = [
  'run_id as runId',
  'status',
  'kind',
  'request',
  'tags',
  'created_at as createdAt',
  'started_at as startedAt',
  'ended_at as endedAt',
  'host',
  'pid',
  'heartbeat_at as heartbeatAt',
  'resumed_from as resumedFrom',
  'steps_total as stepsTotal',
  'error',
] as const;

const STEP_COLUMNS = [
  'run_id as runId',
  'asset_key as assetKey',
  'partition_key as partitionKey',
  'status',
  'attempt',
  'started_at as startedAt',
  'ended_at as endedAt',
  'error',
] as const;

const CHECK_COLUMNS = [
  'run_id as runId',
  'asset_key as assetKey',
  'partition_key as partitionKey',
  'check_name as checkName',
  'passed',
  'severity',
  'metadata',
  'evaluated_at as evaluatedAt',
] as const;

const eventColumns = (eb: Eb<'orrery_events'>) =>
  [
    // float8 is exact up to 2^53 and parsed to a number by both drivers.
    eb.cast<number>('id', 'float8').as('id'),
    'run_id as runId',
    'type',
    'asset_key as assetKey',
    'partition_key as partitionKey',
    'ts',
    'payload',
  ] as const;

const partitionColumns = (eb: Eb<'orrery_partitions'>) =>
  [
    'asset_key as assetKey',
    'partition_key as partitionKey',
    'status',
    'data_version as dataVersion',
    'code_version as codeVersion',
    'input_versions as inputVersions',
    'code_hash as codeHash',
    eb.cast<number | null>('seed', 'float8').as('seed'),
    'uri',
    'run_id as runId',
    'materialized_run_id as materializedRunId',
    'materialized_at as materializedAt',
    'updated_at as updatedAt',
    'metadata',
    'quarantine',
  ] as const;

/** The transaction's start time; one immutable node, shared by every query. */
const NOW = sql<Date>`now()`;

/**
 * JSON text for a jsonb parameter. Postgres cannot store U+0000 in text or jsonb, and error
 * payloads (captured stderr) may contain it: replace it rather than fail the write.
 */
export function toJson(value: unknown): string {
  const text = JSON.stringify(value) ?? 'null';
  return text.includes('\\u0000') ? JSON.stringify(value, (_k, v: unknown) => (typeof v === 'string' ? v.replaceAll('\0', '\uFFFD') : v)) : text;
}

function* chunks<T>(items: readonly T[], size: number): Generator<readonly T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

/** Keeps the last item per key, so one ON CONFLICT DO UPDATE never touches a row twice. */
function lastPerKey<T>(items: readonly T[], key: (item: T) => string): T[] {
  const byKey = new Map<string, T>();
  for (const item of items) byKey.set(key(item), item);
  return byKey.size === items.length ? (items as T[]) : [...byKey.values()];
}

// U+0000 cannot occur in Postgres text, so it separates key parts unambiguously.
const stateKey = (x: { assetKey: string; partitionKey: string }) => `${x.assetKey}\0${x.partitionKey}`;
const stepKey = (x: { runId: string; assetKey: string; partitionKey: string }) => `${x.runId}\0${stateKey(x)}`;

/** Counts the statements this event log sends, so callers can bound queries per request (N+1 tests). */
class StatementCounter implements KyselyPlugin {
  constructor(private readonly stats: { statements: number }) {}
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    this.stats.statements++;
    return args.node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}

const EMPTY_STEP_COUNTS: StepCounts = { succeeded: 0, failed: 0, skipped: 0, running: 0, canceled: 0 };

export class PostgresEventLog implements EventLog, EventLogQueries {
  /** Queries go through `db`, which qualifies every table with the schema. */
  private readonly db: Db;
  /** Statements sent since opening (every query, migrations included). */
  readonly stats = { statements: 0 };

  /**
   * @param root a Kysely instance on `pg` or PGlite; `close()` destroys it. Public so that other
   *   stores on the same database (the model registry) share its connection and migrations.
   * @param schema Postgres schema of the tables; undefined = the connection's search_path.
   */
  constructor(
    readonly root: Db,
    readonly schema?: string,
  ) {
    this.db = (schema ? root.withSchema(schema) : root).withPlugin(new StatementCounter(this.stats));
  }

  migrate(): Promise<void> {
    return migrateEventLog(this.root, this.schema);
  }

  close(): Promise<void> {
    return this.root.destroy();
  }

  // --- runs -------------------------------------------------------------------------------

  async createRun(run: NewRun): Promise<RunRecord> {
    return this.db
      .insertInto('orrery_runs')
      .values({
        run_id: run.runId,
        status: 'queued',
        kind: run.kind,
        request: toJson(run.request),
        tags: toJson(run.tags ?? {}),
        resumed_from: run.resumedFrom ?? null,
      })
      .returning(RUN_COLUMNS)
      .executeTakeFirstOrThrow();
  }

  async startRun(runId: string, proc: { host: string; pid: number; stepsTotal: number }): Promise<void> {
    const row = await this.db
      .updateTable('orrery_runs')
      .set((eb) => ({
        // A cancel requested before the start stays visible to the executor's first heartbeat.
        status: eb.case().when('status', '=', 'queued').then(sql.lit<RunStatus>('started')).else(eb.ref('status')).end(),
        started_at: NOW,
        heartbeat_at: NOW,
        host: proc.host,
        pid: proc.pid,
        steps_total: proc.stepsTotal,
      }))
      .where('run_id', '=', runId)
      .where('status', 'not in', TERMINAL_RUN_STATUSES)
      .returning('run_id')
      .executeTakeFirst();
    if (row) return;
    const run = await this.getRun(runId);
    if (!run) throw runNotFound(runId);
    throw new OrreryError(
      ErrorIds.RUN_NOT_RESUMABLE,
      `Run ${runId} already ended (${run.status}) and cannot be started again; start a new run, or resume it with --resume.`,
      { runId, status: run.status },
    );
  }

  async heartbeat(runId: string): Promise<RunStatus> {
    const row = await this.db
      .updateTable('orrery_runs')
      .set({ heartbeat_at: NOW })
      .where('run_id', '=', runId)
      .returning('status')
      .executeTakeFirst();
    if (!row) throw runNotFound(runId);
    return row.status;
  }

  async endRun(runId: string, status: 'success' | 'failed' | 'canceled', error: JsonObject | null = null): Promise<boolean> {
    const row = await this.db
      .updateTable('orrery_runs')
      .set({ status, ended_at: NOW, error: error === null ? null : toJson(error) })
      .where('run_id', '=', runId)
      .where('status', 'not in', TERMINAL_RUN_STATUSES)
      .returning('run_id')
      .executeTakeFirst();
    return row !== undefined;
  }

  async requestCancel(runId: string): Promise<boolean> {
    const row = await this.db
      .updateTable('orrery_runs')
      .set({ status: 'canceling' })
      .where('run_id', '=', runId)
      .where('status', 'in', ['queued', 'started'])
      .returning('run_id')
      .executeTakeFirst();
    return row !== undefined;
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    return this.db.selectFrom('orrery_runs').select(RUN_COLUMNS).where('run_id', '=', runId).executeTakeFirst();
  }

  /** Newest first. An empty or absent `statuses` does not filter; no `limit` returns every match. */
  async listRuns(filter: RunFilter = {}): Promise<RunRecord[]> {
    let q = this.db
      .selectFrom('orrery_runs as r')
      .select(RUN_COLUMNS)
      .orderBy('r.created_at', 'desc')
      .orderBy('r.run_id', 'desc');
    if (filter.statuses?.length) q = q.where('r.status', 'in', filter.statuses);
    const before = filter.beforeRunId;
    if (before !== undefined) {
      // Row comparison against the cursor run; an unknown cursor matches nothing.
      q = q.where(({ eb, refTuple, selectFrom }) =>
        eb(
          refTuple('r.created_at', 'r.run_id'),
          '<',
          selectFrom('orrery_runs as c')
            .select(['c.created_at', 'c.run_id'])
            .where('c.run_id', '=', before)
            .$asTuple('created_at', 'run_id'),
        ),
      );
    }
    if (filter.limit !== undefined) q = q.limit(filter.limit);
    return q.execute();
  }

  // --- events -----------------------------------------------------------------------------

  async appendEvents(events: NewEvent[]): Promise<void> {
    if (events.length === 0) return;
    const rows = events.map((e) => ({
      run_id: e.runId,
      type: e.type,
      asset_key: e.assetKey ?? null,
      partition_key: e.partitionKey ?? null,
      payload: toJson(e.payload ?? {}),
    }));
    await this.inTransactionIf(rows.length > ROWS_PER_STATEMENT, async (db) => {
      for (const chunk of chunks(rows, ROWS_PER_STATEMENT)) await db.insertInto('orrery_events').values(chunk).execute();
    });
  }

  async listEvents(runId: string, options: { afterId?: number; limit?: number } = {}): Promise<EventRecord[]> {
    let q = this.db.selectFrom('orrery_events').select(eventColumns).where('run_id', '=', runId).orderBy('id');
    if (options.afterId !== undefined) q = q.where('id', '>', options.afterId);
    if (options.limit !== undefined) q = q.limit(options.limit);
    return q.execute();
  }

  // --- steps ------------------------------------------------------------------------------

  /** Upserts the step row as `started` (a retry resets it). Writes no event: the caller appends STEP_START. */
  async stepStarted(runId: string, assetKey: string, partitionKey: string, attempt: number): Promise<void> {
    await this.db
      .insertInto('orrery_steps')
      .values({
        run_id: runId,
        asset_key: assetKey,
        partition_key: partitionKey,
        status: 'started',
        attempt,
        started_at: NOW,
        ended_at: null,
        error: null,
      })
      .onConflict((oc) =>
        oc.columns(['run_id', 'asset_key', 'partition_key']).doUpdateSet((eb) => ({
          status: eb.ref('excluded.status'),
          attempt: eb.ref('excluded.attempt'),
          started_at: eb.ref('excluded.started_at'),
          ended_at: null,
          error: null,
        })),
      )
      .execute();
  }

  async recordMaterializations(items: Materialization[]): Promise<void> {
    if (items.length === 0) return;
    // Three statements per chunk (events, state rows, step rows) whatever the chunk's size.
    await this.db.transaction().execute(async (trx) => {
      for (const chunk of chunks(items, ITEMS_PER_STATEMENT)) {
        const events = [];
        const states = [];
        for (const m of chunk) {
          const inputVersions = toJson(m.inputVersions);
          const metadata = toJson(m.metadata);
          // The event payload embeds the already-serialized parts instead of serializing them twice.
          const payload =
            `{"dataVersion":${toJson(m.dataVersion)},"codeVersion":${toJson(m.codeVersion)},` +
            `"inputVersions":${inputVersions},"codeHash":${toJson(m.codeHash)},"seed":${toJson(m.seed)},` +
            `"uri":${toJson(m.uri)},"metadata":${metadata},"quarantine":${toJson(m.quarantine ?? null)}}`;
          events.push(
            { run_id: m.runId, asset_key: m.assetKey, partition_key: m.partitionKey, type: 'MATERIALIZATION' as const, payload },
            { run_id: m.runId, asset_key: m.assetKey, partition_key: m.partitionKey, type: 'STEP_SUCCESS' as const, payload: '{}' },
          );
          states.push({
            run_id: m.runId,
            asset_key: m.assetKey,
            partition_key: m.partitionKey,
            status: m.quarantine ? ('quarantined' as const) : ('materialized' as const),
            quarantine: m.quarantine ? toJson(m.quarantine) : null,
            data_version: m.dataVersion,
            code_version: m.codeVersion,
            input_versions: inputVersions,
            code_hash: m.codeHash,
            seed: m.seed,
            uri: m.uri,
            materialized_run_id: m.runId,
            materialized_at: NOW,
            updated_at: NOW,
            metadata,
          });
        }
        await trx.insertInto('orrery_events').values(events).execute();

        const lastStates = lastPerKey(states, (s) => `${s.asset_key}\0${s.partition_key}`);
        await trx
          .insertInto('orrery_partitions')
          .values(lastStates)
          .onConflict((oc) =>
            oc.columns(['asset_key', 'partition_key']).doUpdateSet((eb) => ({
              status: eb.ref('excluded.status'),
              data_version: eb.ref('excluded.data_version'),
              code_version: eb.ref('excluded.code_version'),
              input_versions: eb.ref('excluded.input_versions'),
              code_hash: eb.ref('excluded.code_hash'),
              seed: eb.ref('excluded.seed'),
              uri: eb.ref('excluded.uri'),
              run_id: eb.ref('excluded.run_id'),
              materialized_run_id: eb.ref('excluded.materialized_run_id'),
              materialized_at: eb.ref('excluded.materialized_at'),
              updated_at: eb.ref('excluded.updated_at'),
              metadata: eb.ref('excluded.metadata'),
              quarantine: eb.ref('excluded.quarantine'),
            })),
          )
          .execute();

        const steps = lastPerKey(chunk, stepKey).map((m) => ({
          run_id: m.runId,
          asset_key: m.assetKey,
          partition_key: m.partitionKey,
          status: 'success' as const,
          attempt: 1, // only used when no stepStarted row exists; an existing row keeps its attempt
          ended_at: NOW,
        }));
        await trx
          .insertInto('orrery_steps')
          .values(steps)
          .onConflict((oc) =>
            oc.columns(['run_id', 'asset_key', 'partition_key']).doUpdateSet((eb) => ({
              status: eb.ref('excluded.status'),
              ended_at: eb.ref('excluded.ended_at'),
              error: null,
            })),
          )
          .execute();
      }
    });
  }

  async recordStepFailure(runId: string, assetKey: string, partitionKey: string, attempt: number, error: JsonObject): Promise<void> {
    const where = { run_id: runId, asset_key: assetKey, partition_key: partitionKey };
    const errorJson = toJson(error);
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('orrery_events')
        .values({ ...where, type: 'STEP_FAILURE', payload: `{"attempt":${toJson(attempt)},"error":${errorJson}}` })
        .execute();
      await trx
        .insertInto('orrery_steps')
        .values({ ...where, status: 'failed', attempt, ended_at: NOW, error: errorJson })
        .onConflict((oc) =>
          oc.columns(['run_id', 'asset_key', 'partition_key']).doUpdateSet((eb) => ({
            status: eb.ref('excluded.status'),
            attempt: eb.ref('excluded.attempt'),
            ended_at: eb.ref('excluded.ended_at'),
            error: eb.ref('excluded.error'),
          })),
        )
        .execute();
      // Only status, run and time change on an existing row: the last good data stays.
      await trx
        .insertInto('orrery_partitions')
        .values({ ...where, status: 'failed' })
        .onConflict((oc) =>
          oc.columns(['asset_key', 'partition_key']).doUpdateSet((eb) => ({
            status: eb.ref('excluded.status'),
            run_id: eb.ref('excluded.run_id'),
            updated_at: NOW,
          })),
        )
        .execute();
    });
  }

  /** Marks a step skipped or canceled, creating its row if it never started (attempt 0). Writes no event. */
  async stepEnded(runId: string, assetKey: string, partitionKey: string, status: 'skipped' | 'canceled'): Promise<void> {
    await this.db
      .insertInto('orrery_steps')
      .values({ run_id: runId, asset_key: assetKey, partition_key: partitionKey, status, attempt: 0, ended_at: NOW })
      .onConflict((oc) =>
        oc.columns(['run_id', 'asset_key', 'partition_key']).doUpdateSet((eb) => ({
          status: eb.ref('excluded.status'),
          ended_at: eb.ref('excluded.ended_at'),
        })),
      )
      .execute();
  }

  async listSteps(runId: string): Promise<StepRecord[]> {
    return this.db
      .selectFrom('orrery_steps')
      .select(STEP_COLUMNS)
      .where('run_id', '=', runId)
      .orderBy('asset_key')
      .orderBy('partition_key')
      .execute();
  }

  // --- checks -----------------------------------------------------------------------------

  /** Appends a CHECK_EVALUATION event per result (the history) and keeps the latest result per check. */
  async recordCheckResults(results: CheckResult[]): Promise<void> {
    if (results.length === 0) return;
    await this.db.transaction().execute(async (trx) => {
      for (const chunk of chunks(results, ITEMS_PER_STATEMENT)) {
        const rows = chunk.map((r) => ({
          asset_key: r.assetKey,
          partition_key: r.partitionKey,
          check_name: r.checkName,
          passed: r.passed,
          severity: r.severity,
          run_id: r.runId,
          metadata: toJson(r.metadata),
        }));
        await trx
          .insertInto('orrery_events')
          .values(
            rows.map((r) => ({
              run_id: r.run_id,
              type: 'CHECK_EVALUATION' as const,
              asset_key: r.asset_key,
              partition_key: r.partition_key,
              payload: `{"checkName":${toJson(r.check_name)},"passed":${r.passed},"severity":${toJson(r.severity)},"metadata":${r.metadata}}`,
            })),
          )
          .execute();
        await trx
          .insertInto('orrery_check_results')
          .values(lastPerKey(rows, (r) => `${r.asset_key}\0${r.partition_key}\0${r.check_name}`))
          .onConflict((oc) =>
            oc.columns(['asset_key', 'partition_key', 'check_name']).doUpdateSet((eb) => ({
              passed: eb.ref('excluded.passed'),
              severity: eb.ref('excluded.severity'),
              run_id: eb.ref('excluded.run_id'),
              metadata: eb.ref('excluded.metadata'),
              evaluated_at: NOW,
            })),
          )
          .execute();
      }
    });
  }

  async latestCheckResults(assetKey: string, partitionKey?: string): Promise<CheckResultRecord[]> {
    let q = this.db
      .selectFrom('orrery_check_results')
      .select(CHECK_COLUMNS)
      .where('asset_key', '=', assetKey)
      .orderBy('partition_key')
      .orderBy('check_name');
    if (partitionKey !== undefined) q = q.where('partition_key', '=', partitionKey);
    return q.execute();
  }

  async checkSummary(assetKey: string): Promise<CheckSummary[]> {
    const rows = await this.db
      .selectFrom('orrery_check_results')
      .select((eb) => [
        'check_name',
        eb.fn.max('severity').as('severity'),
        eb.cast<number>(eb.fn.count('partition_key').filterWhere('passed', '=', true), 'integer').as('passed'),
        eb.cast<number>(eb.fn.count('partition_key').filterWhere('passed', '=', false), 'integer').as('failed'),
      ])
      .where('asset_key', '=', assetKey)
      .groupBy('check_name')
      .orderBy('check_name')
      .execute();
    const lastFailures = await this.db
      .selectFrom('orrery_check_results')
      .distinctOn('check_name')
      .select(['check_name', 'partition_key', 'evaluated_at'])
      .where('asset_key', '=', assetKey)
      .where('passed', '=', false)
      .orderBy('check_name')
      .orderBy('evaluated_at', 'desc')
      .execute();
    const last = new Map(lastFailures.map((r) => [r.check_name, { partitionKey: r.partition_key, evaluatedAt: r.evaluated_at }]));
    return rows.map((r) => ({ checkName: r.check_name, severity: r.severity as 'ERROR' | 'WARN', passed: r.passed, failed: r.failed, lastFailure: last.get(r.check_name) ?? null }));
  }

  // --- partition state --------------------------------------------------------------------

  async partitionStates(assetKey: string): Promise<Map<string, PartitionState>> {
    const rows = await this.db
      .selectFrom('orrery_partitions')
      .select(partitionColumns)
      .where('asset_key', '=', assetKey)
      .execute();
    return toStateMap(rows);
  }

  async partitionStatesFor(assetKey: string, keys: readonly string[]): Promise<Map<string, PartitionState>> {
    if (keys.length === 0) return new Map();
    // One array parameter, however many keys.
    const rows = await this.db
      .selectFrom('orrery_partitions')
      .select(partitionColumns)
      .where('asset_key', '=', assetKey)
      .where('partition_key', '=', sql<string>`any(${[...keys]}::text[])`)
      .execute();
    return toStateMap(rows);
  }

  async listPartitionStates(assetKey: string, page: PartitionPage): Promise<PartitionState[]> {
    let q = this.db
      .selectFrom('orrery_partitions')
      .select(partitionColumns)
      .where('asset_key', '=', assetKey)
      .orderBy('partition_key')
      .limit(page.limit);
    if (page.afterKey !== undefined) q = q.where('partition_key', '>', page.afterKey);
    if (page.status !== undefined) q = q.where('status', '=', page.status);
    return q.execute();
  }

  async countPartitionStates(assetKey: string): Promise<Record<PartitionStatus, number>> {
    const rows = await this.db
      .selectFrom('orrery_partitions')
      .select((eb) => ['status', eb.cast<number>(eb.fn.countAll(), 'integer').as('n')])
      .where('asset_key', '=', assetKey)
      .groupBy('status')
      .execute();
    const counts: Record<PartitionStatus, number> = { materialized: 0, failed: 0, quarantined: 0 };
    for (const r of rows) counts[r.status] = r.n;
    return counts;
  }

  async countMaterializations(assetKey: string, partitionKey: string): Promise<number> {
    const row = await this.db
      .selectFrom('orrery_events')
      .select((eb) => eb.cast<number>(eb.fn.countAll(), 'integer').as('n'))
      // A literal, not a parameter, so the partial index on MATERIALIZATION events applies.
      .where('type', '=', sql.lit('MATERIALIZATION'))
      .where('asset_key', '=', assetKey)
      .where('partition_key', '=', partitionKey)
      .executeTakeFirstOrThrow();
    return row.n;
  }

  // --- dynamic partitions -----------------------------------------------------------------

  /** Adds keys not yet present, in the given order; existing keys keep their position. */
  async addDynamicPartitions(name: string, keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.inTransactionIf(keys.length > ROWS_PER_STATEMENT, async (db) => {
      for (const chunk of chunks(keys, ROWS_PER_STATEMENT)) {
        // Rows of one VALUES list take sequence numbers in list order; duplicates are skipped.
        await db
          .insertInto('orrery_dynamic_partitions')
          .values(chunk.map((key) => ({ name, key })))
          .onConflict((oc) => oc.columns(['name', 'key']).doNothing())
          .execute();
      }
    });
  }

  async dynamicPartitions(name: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('orrery_dynamic_partitions')
      .select('key')
      .where('name', '=', name)
      .orderBy('seq')
      .execute();
    return rows.map((r) => r.key);
  }

  // --- batched reads for the API (EventLogQueries) ------------------------------------------

  // The API's hottest reads are plain SQL templates: no query-builder work per request.

  /** A table reference qualified with the schema (the schema plugin does not rewrite top-level raw SQL). */
  private table(name: keyof Database) {
    return sql.table(this.schema ? `${this.schema}.${name}` : name);
  }

  async countPartitionStatesMany(assetKeys: readonly string[]): Promise<Map<string, Record<PartitionStatus, number>>> {
    const out = new Map<string, Record<PartitionStatus, number>>();
    for (const k of assetKeys) out.set(k, { materialized: 0, failed: 0, quarantined: 0 });
    if (assetKeys.length === 0) return out;
    const { rows } = await sql<{ asset_key: string; status: PartitionStatus; n: number }>`
      select asset_key, status, count(*)::int as n from ${this.table('orrery_partitions')}
      where asset_key = any(${[...assetKeys]}::text[]) group by asset_key, status`.execute(this.db);
    for (const r of rows) out.get(r.asset_key)![r.status] = r.n;
    return out;
  }

  async leanPartitionStates(assetKeys: readonly string[]): Promise<LeanPartitionState[]> {
    if (assetKeys.length === 0) return [];
    const { rows } = await sql<LeanPartitionState>`
      select asset_key as "assetKey", partition_key as "partitionKey", status, data_version as "dataVersion",
        code_version as "codeVersion", input_versions as "inputVersions"
      from ${this.table('orrery_partitions')} where asset_key = any(${[...assetKeys]}::text[])`.execute(this.db);
    return rows;
  }

  /** Like partitionStatesFor, as a list (the API pages partitions by key). */
  async partitionRows(assetKey: string, keys: readonly string[]): Promise<PagePartitionState[]> {
    if (keys.length === 0) return [];
    const { rows } = await sql<PagePartitionState>`
      select asset_key as "assetKey", partition_key as "partitionKey", status, data_version as "dataVersion",
        code_version as "codeVersion", input_versions as "inputVersions",
        run_id as "runId", materialized_run_id as "materializedRunId", materialized_at as "materializedAt", metadata, quarantine
      from ${this.table('orrery_partitions')} where asset_key = ${assetKey} and partition_key = any(${[...keys]}::text[])`.execute(this.db);
    return rows;
  }

  async partitionStatesForPairs(pairs: ReadonlyArray<{ assetKey: string; partitionKey: string }>): Promise<PartitionState[]> {
    if (pairs.length === 0) return [];
    // Two parallel array parameters joined by position: one statement however many pairs.
    const assets = pairs.map((p) => p.assetKey);
    const keys = pairs.map((p) => p.partitionKey);
    return this.db
      .selectFrom('orrery_partitions')
      .select(partitionColumns)
      .where(({ eb, refTuple, selectFrom }) =>
        eb(refTuple('asset_key', 'partition_key'), 'in',
          selectFrom(sql<{ a: string; k: string }>`(select * from unnest(${assets}::text[], ${keys}::text[]) as t(a, k))`.as('p')).select(['p.a', 'p.k']).$asTuple('a', 'k')))
      .execute();
  }

  async countCodeVersionStale(assetKey: string, codeVersion: string): Promise<number> {
    const row = await this.db
      .selectFrom('orrery_partitions')
      .select((eb) => eb.cast<number>(eb.fn.countAll(), 'integer').as('n'))
      .where('asset_key', '=', assetKey)
      .where('data_version', 'is not', null)
      .where(sql<boolean>`code_version is distinct from ${codeVersion}`)
      .executeTakeFirstOrThrow();
    return row.n;
  }

  async latestMaterializations(assetKeys: readonly string[]): Promise<Map<string, LatestMaterialization>> {
    const out = new Map<string, LatestMaterialization>();
    if (assetKeys.length === 0) return out;
    // One index probe per asset (asset_key, materialized_at desc) instead of a scan of its partitions.
    const rows = await this.db
      .selectFrom(sql<{ k: string }>`(select unnest(${[...assetKeys]}::text[]) as k)`.as('a'))
      .innerJoinLateral(
        (eb) => eb.selectFrom('orrery_partitions as p')
          .select(['p.asset_key', 'p.partition_key', 'p.materialized_run_id', 'p.materialized_at', 'p.data_version', 'p.code_version', 'p.metadata'])
          .whereRef('p.asset_key', '=', 'a.k')
          .where('p.materialized_at', 'is not', null)
          .orderBy('p.materialized_at', 'desc')
          .limit(1)
          .as('m'),
        (join) => join.onTrue(),
      )
      .selectAll('m')
      .execute();
    for (const r of rows) {
      out.set(r.asset_key, { assetKey: r.asset_key, runId: r.materialized_run_id ?? '', partitionKey: r.partition_key, timestamp: r.materialized_at!, dataVersion: r.data_version, codeVersion: r.code_version, metadata: r.metadata });
    }
    return out;
  }

  async checkSummaries(assetKeys: readonly string[]): Promise<Map<string, CheckSummary[]>> {
    const out = new Map<string, CheckSummary[]>();
    for (const k of assetKeys) out.set(k, []);
    if (assetKeys.length === 0) return out;
    const keys = sql<string>`any(${[...assetKeys]}::text[])`;
    const [rows, lastFailures] = await Promise.all([
      this.db
        .selectFrom('orrery_check_results')
        .select((eb) => [
          'asset_key',
          'check_name',
          eb.fn.max('severity').as('severity'),
          eb.cast<number>(eb.fn.count('partition_key').filterWhere('passed', '=', true), 'integer').as('passed'),
          eb.cast<number>(eb.fn.count('partition_key').filterWhere('passed', '=', false), 'integer').as('failed'),
        ])
        .where('asset_key', '=', keys)
        .groupBy(['asset_key', 'check_name'])
        .orderBy('asset_key')
        .orderBy('check_name')
        .execute(),
      this.db
        .selectFrom('orrery_check_results')
        .distinctOn(['asset_key', 'check_name'])
        .select(['asset_key', 'check_name', 'partition_key', 'evaluated_at'])
        .where('asset_key', '=', keys)
        .where('passed', '=', false)
        .orderBy('asset_key')
        .orderBy('check_name')
        .orderBy('evaluated_at', 'desc')
        .execute(),
    ]);
    const last = new Map(lastFailures.map((r) => [`${r.asset_key}\0${r.check_name}`, { partitionKey: r.partition_key, evaluatedAt: r.evaluated_at }]));
    for (const r of rows) {
      out.get(r.asset_key)!.push({ checkName: r.check_name, severity: r.severity as 'ERROR' | 'WARN', passed: r.passed, failed: r.failed, lastFailure: last.get(`${r.asset_key}\0${r.check_name}`) ?? null });
    }
    return out;
  }

  /** The ids of a backfill run and of every run that resumed it, transitively (a recursive CTE). */
  private backfillChain(backfillId: string) {
    return sql<{ run_id: string }>`(with recursive chain(run_id) as (
        select run_id from ${this.table('orrery_runs')} where run_id = ${backfillId}
        union
        select r.run_id from ${this.table('orrery_runs')} r join chain c on r.resumed_from = c.run_id
      ) select run_id from chain)`;
  }

  async listRunsPage(filter: RunPageFilter): Promise<RunRecord[]> {
    let q = this.db
      .selectFrom('orrery_runs as r')
      .select(RUN_COLUMNS)
      .orderBy('r.created_at', 'desc')
      .orderBy('r.run_id', 'desc')
      .limit(filter.limit);
    if (filter.statuses?.length) q = q.where('r.status', 'in', filter.statuses);
    if (filter.kind) q = q.where('r.kind', '=', filter.kind);
    const { assetKey, partitionKey, backfillId, afterRunId } = filter;
    if (assetKey !== undefined || partitionKey !== undefined) {
      q = q.where(({ exists, selectFrom }) => {
        let s = selectFrom('orrery_steps as s').select(sql.lit(1).as('one')).whereRef('s.run_id', '=', 'r.run_id');
        if (assetKey !== undefined) s = s.where('s.asset_key', '=', assetKey);
        if (partitionKey !== undefined) s = s.where('s.partition_key', '=', partitionKey);
        return exists(s);
      });
    }
    if (backfillId !== undefined) q = q.where(sql<boolean>`r.run_id in ${this.backfillChain(backfillId)}`);
    if (afterRunId !== undefined) {
      q = q.where(({ eb, refTuple, selectFrom }) =>
        eb(refTuple('r.created_at', 'r.run_id'), '<',
          selectFrom('orrery_runs as c').select(['c.created_at', 'c.run_id']).where('c.run_id', '=', afterRunId).$asTuple('created_at', 'run_id')));
    }
    return q.execute();
  }

  private stepCountColumns() {
    return sql<StepCounts>`json_build_object(
      'succeeded', count(*) filter (where status = 'success'),
      'failed', count(*) filter (where status = 'failed'),
      'skipped', count(*) filter (where status = 'skipped'),
      'running', count(*) filter (where status = 'started'),
      'canceled', count(*) filter (where status = 'canceled'))`;
  }

  async stepCountsMany(runIds: readonly string[]): Promise<Map<string, StepCounts>> {
    const out = new Map<string, StepCounts>();
    for (const id of runIds) out.set(id, { ...EMPTY_STEP_COUNTS });
    if (runIds.length === 0) return out;
    const rows = await this.db
      .selectFrom('orrery_steps')
      .select(['run_id', this.stepCountColumns().as('counts')])
      .where('run_id', '=', sql<string>`any(${[...runIds]}::text[])`)
      .groupBy('run_id')
      .execute();
    for (const r of rows) out.set(r.run_id, r.counts);
    return out;
  }

  async listStepsPage(runId: string, after: StepCursor | undefined, limit: number): Promise<StepRecord[]> {
    let q = this.db
      .selectFrom('orrery_steps')
      .select(STEP_COLUMNS)
      .where('run_id', '=', runId)
      .orderBy('asset_key')
      .orderBy('partition_key')
      .limit(limit);
    if (after) q = q.where(({ eb, refTuple, tuple }) => eb(refTuple('asset_key', 'partition_key'), '>', tuple(after.assetKey, after.partitionKey)));
    return q.execute();
  }

  /** The latest step of each (asset, partition) over the chain, as one derived table. */
  private latestBackfillSteps(backfillId: string) {
    return this.db
      .selectFrom('orrery_steps as s')
      .innerJoin('orrery_runs as r', 'r.run_id', 's.run_id')
      .distinctOn(['s.asset_key', 's.partition_key'])
      .select(['s.run_id', 's.asset_key', 's.partition_key', 's.status', 's.attempt', 's.started_at', 's.ended_at', 's.error'])
      .where(sql<boolean>`s.run_id in ${this.backfillChain(backfillId)}`)
      .orderBy('s.asset_key')
      .orderBy('s.partition_key')
      .orderBy('r.created_at', 'desc');
  }

  async backfillStepsPage(backfillId: string, after: StepCursor | undefined, limit: number): Promise<StepRecord[]> {
    let q = this.db
      .selectFrom(this.latestBackfillSteps(backfillId).as('l'))
      .select(['l.run_id as runId', 'l.asset_key as assetKey', 'l.partition_key as partitionKey', 'l.status', 'l.attempt', 'l.started_at as startedAt', 'l.ended_at as endedAt', 'l.error'])
      .orderBy('l.asset_key')
      .orderBy('l.partition_key')
      .limit(limit);
    if (after) q = q.where(({ eb, refTuple, tuple }) => eb(refTuple('l.asset_key', 'l.partition_key'), '>', tuple(after.assetKey, after.partitionKey)));
    return q.execute();
  }

  async backfillStepCounts(backfillId: string): Promise<StepCounts> {
    const row = await this.db
      .selectFrom(this.latestBackfillSteps(backfillId).as('l'))
      .select(this.stepCountColumns().as('counts'))
      .executeTakeFirst();
    return row?.counts ?? { ...EMPTY_STEP_COUNTS };
  }

  // --- audit and sensors ------------------------------------------------------------------

  async recordAudit(record: NewAuditRecord): Promise<void> {
    await this.db
      .insertInto('orrery_audit')
      .values({
        subject: record.subject,
        role: record.role,
        operation: record.operation,
        variables: toJson(record.variables),
        request_id: record.requestId,
        outcome: record.outcome,
        error_id: record.errorId,
      })
      .execute();
  }

  /** Newest first. */
  async listAudit(options: { limit?: number } = {}): Promise<AuditRecord[]> {
    return this.db
      .selectFrom('orrery_audit')
      .select((eb) => [
        eb.cast<number>('id', 'float8').as('id'),
        'at', 'subject', 'role', 'operation', 'variables', 'request_id as requestId', 'outcome', 'error_id as errorId',
      ])
      .orderBy('id', 'desc')
      .limit(options.limit ?? 100)
      .execute();
  }

  async ensureSensors(sensors: ReadonlyArray<{ name: string; intervalSeconds: number; enabled?: boolean }>): Promise<void> {
    if (sensors.length === 0) return;
    await this.db
      .insertInto('orrery_sensors')
      .values(sensors.map((s) => ({ name: s.name, enabled: s.enabled ?? true, interval_seconds: s.intervalSeconds })))
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
  }

  async listSensors(): Promise<SensorRecord[]> {
    return this.db
      .selectFrom('orrery_sensors')
      .select(['name', 'enabled', 'interval_seconds as intervalSeconds', 'last_tick as lastTick', 'cursor'])
      .orderBy('name')
      .execute();
  }

  async setSensorEnabled(name: string, enabled: boolean): Promise<SensorRecord | undefined> {
    return this.db
      .updateTable('orrery_sensors')
      .set({ enabled })
      .where('name', '=', name)
      .returning(['name', 'enabled', 'interval_seconds as intervalSeconds', 'last_tick as lastTick', 'cursor'])
      .executeTakeFirst();
  }

  // --- retention --------------------------------------------------------------------------

  async pruneEvents(before: Date): Promise<number> {
    const result = await this.db.deleteFrom('orrery_events').where('ts', '<', before).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  private async inTransactionIf(transactional: boolean, work: (db: Db | Transaction<Database>) => Promise<void>): Promise<void> {
    if (transactional) await this.db.transaction().execute(work);
    else await work(this.db);
  }
}

function toStateMap(rows: PartitionState[]): Map<string, PartitionState> {
  const map = new Map<string, PartitionState>();
  for (const row of rows) map.set(row.partitionKey, row);
  return map;
}

function runNotFound(runId: string): OrreryError {
  return new OrreryError(ErrorIds.RUN_NOT_FOUND, `Run ${runId} does not exist in the event log; check the run id (orrery runs list).`, { runId });
}

// --- opening ----------------------------------------------------------------------------

export interface OpenEventLogOptions {
  /** Postgres schema for the tables (created if missing); default: the connection's search_path. */
  schema?: string;
}

/** Opens the event log on a Postgres server (`postgres://user:pass@host:port/db`) and migrates it. */
export async function openPgEventLog(url: string, options: OpenEventLogOptions = {}): Promise<PostgresEventLog> {
  const { default: pg } = await import('pg');
  // A bounded connect timeout: an unreachable host should fail, not hang.
  const pool = new pg.Pool({ connectionString: url, connectionTimeoutMillis: 15_000 });
  // An idle client's error (server restart) would otherwise crash the process; the next query reports it.
  pool.on('error', () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const where = `Postgres at ${redactUrl(url)}`;
  return openAndMigrate(db, options.schema, where, 'Check that the server is running and reachable and that the URL (user, password, database name) is right.');
}

/** Opens the embedded event log (PGlite) in `dataDir`, or in memory when undefined, and migrates it. */
export async function openPgliteEventLog(dataDir: string | undefined, options: OpenEventLogOptions = {}): Promise<PostgresEventLog> {
  const where = dataDir === undefined ? 'the in-memory PGlite database' : `the PGlite database in ${dataDir}`;
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGliteDialect } = await import('kysely-pglite-dialect');
  let pglite;
  try {
    pglite = await PGlite.create(dataDir);
  } catch (e) {
    throw connectionError(e, where, 'Check that the directory is writable and not open in another process, or move it aside to start afresh.');
  }
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) });
  return openAndMigrate(db, options.schema, where, 'Check that the directory is writable and not open in another process.');
}

async function openAndMigrate(db: Db, schema: string | undefined, where: string, advice: string): Promise<PostgresEventLog> {
  const log = new PostgresEventLog(db, schema);
  try {
    // Connect first so that a connection problem is reported as one, not as a failed migration.
    await sql`select 1`.execute(db);
  } catch (e) {
    await db.destroy().catch(() => {});
    throw connectionError(e, where, advice);
  }
  try {
    await log.migrate();
  } catch (e) {
    await db.destroy().catch(() => {});
    throw e;
  }
  return log;
}

function connectionError(e: unknown, where: string, advice: string): OrreryError {
  const reason = e instanceof Error ? e.message || e.name : String(e);
  const code = (e as { code?: unknown } | null)?.code;
  return new OrreryError(
    ErrorIds.STORAGE_CONN,
    `Cannot open the event log on ${where}: ${reason}. ${advice}`,
    { where, ...(typeof code === 'string' ? { code } : {}) },
    { cause: e },
  );
}

/** The URL without its password, for messages. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(the configured connection string)';
  }
}
