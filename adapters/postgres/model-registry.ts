/**
 * The model registry on Postgres (`pg` or PGlite), on the event log's own kysely instance and
 * schema: tables `orrery_model_registry`, `orrery_config_changes` (the seed's
 * `audit.config_changes`) and `orrery_experiment_runs`, created by migration `0003_models`.
 *
 * - At most one production version per group × timeframe: a partial unique index
 *   (`orrery_model_registry_one_production_idx`), so even a writer that bypasses this class cannot
 *   make two.
 * - Every change takes the row locks of its group × timeframe first (`select … for update`), so
 *   concurrent promotions and rollbacks of one group run one after the other and each sees the
 *   other's result; the index is the last line of defence (`ML_REGISTRY_CONFLICT`).
 * - A change and its audit rows commit together or not at all.
 */
import { sql } from 'kysely';
import type { ColumnType, ExpressionBuilder, Kysely, Transaction } from 'kysely';
import type { EventLog, JsonObject } from '../../core/event-log/port.ts';
import { canonicalJson } from '../../assets/features/engine/schema.ts';
import type { AdoptionDecision } from '../../assets/published_models/engine/gate.ts';
import { PublishErrorIds, publishError } from '../../assets/published_models/engine/errors.ts';
import {
  isModelStage, requireName, validateTheta,
  type AuditAction, type AuditField, type AuditFilter, type AuditRecord, type ChangeOptions, type ExperimentFilter, type ExperimentRun,
  type ModelFilter, type ModelRecord, type ModelRegistry, type ModelStage, type NewExperimentRun, type PromoteOptions, type RegisterOptions,
  type RollbackResult, type Theta,
} from '../../assets/published_models/engine/registry.ts';
import { PostgresEventLog, toJson } from './event-log.ts';
import type { Json, JsonWithDefault, Serial8, Timestamp, TimestampWithDefault } from './schema.ts';

// --- tables -----------------------------------------------------------------------------

export interface ModelRegistryTable {
  version: string;
  model_group: string;
  timeframe: string;
  stage: ModelStage;
  bundle_uri: string;
  metrics: JsonWithDefault<JsonObject>;
  theta: Json<Theta>;
  previous_version: string | null;
  created_at: TimestampWithDefault;
  updated_at: TimestampWithDefault;
  promoted_at: Timestamp | null;
}

export interface ConfigChangesTable {
  id: Serial8;
  changed_at: TimestampWithDefault;
  changed_by: string;
  entity: string;
  entity_id: string;
  model_group: string | null;
  timeframe: string | null;
  field: AuditField;
  action: AuditAction;
  before: Json<JsonObject> | null;
  after: Json<JsonObject> | null;
  reason: string | null;
  request_id: string | null;
}

export interface ExperimentRunsTable {
  run_id: string;
  asset_key: string;
  partition_key: string;
  trial: ColumnType<number, number | undefined, number>;
  model_group: string | null;
  model_version: string | null;
  params: JsonWithDefault<JsonObject>;
  metrics: JsonWithDefault<JsonObject>;
  created_at: TimestampWithDefault;
}

export interface ModelDatabase {
  orrery_model_registry: ModelRegistryTable;
  orrery_config_changes: ConfigChangesTable;
  orrery_experiment_runs: ExperimentRunsTable;
}

type Db = Kysely<ModelDatabase>;
type Tx = Transaction<ModelDatabase>;

const MODEL_COLUMNS = [
  'version',
  'model_group as group',
  'timeframe',
  'stage',
  'bundle_uri as bundleUri',
  'metrics',
  'theta',
  'previous_version as previousVersion',
  'created_at as createdAt',
  'updated_at as updatedAt',
  'promoted_at as promotedAt',
] as const;

const auditColumns = (eb: ExpressionBuilder<ModelDatabase, 'orrery_config_changes'>) =>
  [
    eb.cast<number>('id', 'float8').as('id'),
    'changed_at as changedAt',
    'changed_by as changedBy',
    'entity',
    'entity_id as entityId',
    'model_group as group',
    'timeframe',
    'field',
    'action',
    'before',
    'after',
    'reason',
    'request_id as requestId',
  ] as const;

const EXPERIMENT_COLUMNS = [
  'run_id as runId',
  'asset_key as assetKey',
  'partition_key as partitionKey',
  'trial',
  'model_group as group',
  'model_version as modelVersion',
  'params',
  'metrics',
  'created_at as createdAt',
] as const;

const NOW = sql<Date>`now()`;
const DEFAULT_LIMIT = 100;
const STAGE_RANK: Record<ModelStage, number> = { archived: 0, staging: 1, production: 2 };

function limitOf(limit: number | undefined): number {
  const n = limit ?? DEFAULT_LIMIT;
  if (!Number.isInteger(n) || n < 1 || n > 10_000) throw publishError(PublishErrorIds.REGISTRY_INVALID, `limit must be an integer from 1 to 10000; got ${limit}.`, { limit });
  return n;
}

function requireText(what: string, value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') throw publishError(PublishErrorIds.REGISTRY_INVALID, `${what} must be a non-empty string.`, { [what]: (value ?? null) as never });
  return value;
}

function requireObject(what: string, value: unknown): JsonObject {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw publishError(PublishErrorIds.REGISTRY_INVALID, `${what} must be a JSON object.`, {});
  return value as JsonObject;
}

function notFound(version: string): never {
  throw publishError(PublishErrorIds.REGISTRY_NOT_FOUND, `Model version ${version} is not in the registry; list the versions with \`orrery models list\`.`, { version });
}

function isUniqueViolation(e: unknown): boolean {
  return (e as { code?: unknown } | null)?.code === '23505';
}

/** Runs `work` and turns a unique violation of the one-production index into `ML_REGISTRY_CONFLICT`. */
async function guarded<T>(group: string, timeframe: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    if (isUniqueViolation(e)) {
      throw publishError(PublishErrorIds.REGISTRY_CONFLICT, `Another change made a production version of ${group} ${timeframe} at the same time; nothing was changed. Check \`orrery models list --group ${group}\` and try again.`, { group, timeframe }, e);
    }
    throw e;
  }
}

interface AuditRow {
  actor: string;
  version: string;
  group: string;
  timeframe: string;
  field: AuditField;
  action: AuditAction;
  before: JsonObject | null;
  after: JsonObject | null;
  reason: string | null;
  requestId?: string;
}

export class PostgresModelRegistry implements ModelRegistry {
  private readonly db: Db;

  /**
   * @param root the event log's Kysely instance (`PostgresEventLog.root`): the tables are created by
   *   its migrations, and the registry never closes it.
   * @param schema the event log's schema.
   */
  constructor(root: Kysely<any>, readonly schema?: string) {
    this.db = (schema ? root.withSchema(schema) : root) as Db;
  }

  /** The registry on an event log's database (same connection, same schema, already migrated). */
  static on(log: PostgresEventLog): PostgresModelRegistry {
    return new PostgresModelRegistry(log.root, log.schema);
  }

  // --- models -----------------------------------------------------------------------------

  async register(version: string, group: string, timeframe: string, bundleUri: string, metrics: JsonObject, theta: Theta, options: RegisterOptions = {}): Promise<ModelRecord> {
    requireName('version', version);
    requireName('group', group);
    requireName('timeframe', timeframe);
    requireText('bundleUri', bundleUri);
    requireObject('metrics', metrics);
    const t = validateTheta(theta);
    const actor = options.actor ?? 'system';
    return this.db.transaction().execute(async (trx) => {
      const inserted = await trx
        .insertInto('orrery_model_registry')
        .values({ version, model_group: group, timeframe, stage: 'staging', bundle_uri: bundleUri, metrics: toJson(metrics), theta: toJson(t) })
        .onConflict((oc) => oc.column('version').doNothing())
        .returning(MODEL_COLUMNS)
        .executeTakeFirst();
      if (!inserted) {
        const existing = (await this.fetch(trx, version))!;
        const same = existing.group === group && existing.timeframe === timeframe && existing.bundleUri === bundleUri
          && canonicalJson(existing.theta) === canonicalJson(t) && canonicalJson(existing.metrics) === canonicalJson(JSON.parse(toJson(metrics)));
        if (!same) {
          throw publishError(PublishErrorIds.REGISTRY_CONFLICT, `Model version ${version} is already registered (${existing.group} ${existing.timeframe}, ${existing.bundleUri}) with other contents; a version is registered once. Use a new version.`, { version });
        }
        return existing;
      }
      await this.writeAudit(trx, {
        actor, version, group, timeframe, field: 'registration', action: 'register',
        before: null, after: { stage: 'staging', bundle_uri: bundleUri, theta: { ...t }, metrics }, reason: null, requestId: options.requestId,
      });
      return inserted as ModelRecord;
    });
  }

  async promote(version: string, stage: ModelStage, actor: string, reason: string, options: PromoteOptions = {}): Promise<ModelRecord> {
    if (!isModelStage(stage)) throw publishError(PublishErrorIds.REGISTRY_INVALID, `Stage ${JSON.stringify(stage)} is not one of staging, production, archived.`, { stage: (stage ?? null) as never });
    requireText('actor', actor);
    const gate = options.gate;
    if (stage === 'production' && gate && !gate.passed) {
      throw publishError(PublishErrorIds.GATE_REJECTED, `Model version ${version} did not pass the adoption gate and is not promoted to production: ${gate.reasons.join('; ')}.`, { version, reasons: gate.reasons });
    }
    const first = await this.get(version);
    if (!first) notFound(version);
    return guarded(first.group, first.timeframe, () =>
      this.db.transaction().execute(async (trx) => {
        const rows = await this.lockGroup(trx, first.group, first.timeframe);
        const target = rows.find((r) => r.version === version)!;
        if (target.stage === stage) return target;
        let previousVersion = target.previousVersion;
        if (stage === 'production') {
          const current = rows.find((r) => r.stage === 'production');
          if (current) {
            await this.setStage(trx, current.version, 'archived', {});
            await this.writeAudit(trx, {
              actor, version: current.version, group: current.group, timeframe: current.timeframe, field: 'stage', action: 'demote',
              before: { stage: 'production' }, after: { stage: 'archived', replaced_by: version }, reason, requestId: options.requestId,
            });
          }
          previousVersion = current?.version ?? null;
        }
        const updated = await this.setStage(trx, version, stage, stage === 'production' ? { previousVersion } : {});
        await this.writeAudit(trx, {
          actor, version, group: target.group, timeframe: target.timeframe, field: 'stage',
          action: STAGE_RANK[stage] > STAGE_RANK[target.stage] ? 'promote' : 'demote',
          before: { stage: target.stage },
          after: {
            stage,
            ...(stage === 'production' ? { replaces: previousVersion, theta: { ...target.theta } } : {}),
            ...(gate ? { gate: gateSummary(gate) } : {}),
          },
          reason, requestId: options.requestId,
        });
        return updated;
      }),
    );
  }

  async setTheta(version: string, theta: Theta, actor: string, reason: string, options: ChangeOptions = {}): Promise<ModelRecord> {
    const t = validateTheta(theta);
    requireText('actor', actor);
    return this.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('orrery_model_registry').select(MODEL_COLUMNS).where('version', '=', version).forUpdate().executeTakeFirst();
      if (!row) notFound(version);
      const before = row.theta as Theta;
      if (canonicalJson(before) === canonicalJson(t)) return row as ModelRecord;
      const updated = await trx
        .updateTable('orrery_model_registry')
        .set({ theta: toJson(t), updated_at: NOW })
        .where('version', '=', version)
        .returning(MODEL_COLUMNS)
        .executeTakeFirstOrThrow();
      await this.writeAudit(trx, {
        actor, version, group: row.group, timeframe: row.timeframe, field: 'theta', action: 'theta',
        before: { theta: { ...before } }, after: { theta: { ...t } }, reason, requestId: options.requestId,
      });
      return updated as ModelRecord;
    });
  }

  async get(version: string): Promise<ModelRecord | undefined> {
    return this.fetch(this.db, version);
  }

  async list(filter: ModelFilter = {}): Promise<ModelRecord[]> {
    let q = this.db.selectFrom('orrery_model_registry').select(MODEL_COLUMNS);
    if (filter.group !== undefined) q = q.where('model_group', '=', filter.group);
    if (filter.timeframe !== undefined) q = q.where('timeframe', '=', filter.timeframe);
    if (filter.stage !== undefined) q = q.where('stage', '=', filter.stage);
    return (await q.orderBy('created_at', 'desc').orderBy('version', 'desc').limit(limitOf(filter.limit)).execute()) as ModelRecord[];
  }

  async champion(group: string, timeframe: string): Promise<ModelRecord | undefined> {
    return (await this.db
      .selectFrom('orrery_model_registry')
      .select(MODEL_COLUMNS)
      .where('model_group', '=', group)
      .where('timeframe', '=', timeframe)
      .where('stage', '=', sql.lit('production'))
      .executeTakeFirst()) as ModelRecord | undefined;
  }

  async history(group: string, timeframe: string, options: { limit?: number } = {}): Promise<ModelRecord[]> {
    return this.list({ group, timeframe, limit: options.limit });
  }

  async rollback(group: string, timeframe: string, actor: string, reason: string, options: ChangeOptions = {}): Promise<RollbackResult> {
    requireText('actor', actor);
    return guarded(group, timeframe, () =>
      this.db.transaction().execute(async (trx) => {
        const rows = await this.lockGroup(trx, group, timeframe);
        const current = rows.find((r) => r.stage === 'production');
        if (!current) {
          throw publishError(PublishErrorIds.REGISTRY_NO_ROLLBACK, `${group} ${timeframe} has no production model to roll back.`, { group, timeframe });
        }
        const previous = current.previousVersion === null ? undefined : rows.find((r) => r.version === current.previousVersion);
        if (!previous) {
          throw publishError(PublishErrorIds.REGISTRY_NO_ROLLBACK, `${group} ${timeframe}: production version ${current.version} replaced no earlier version in the registry, so there is nothing to roll back to. Promote a version instead.`, { group, timeframe, version: current.version });
        }
        const from = await this.setStage(trx, current.version, 'archived', {});
        const to = await this.setStage(trx, previous.version, 'production', {});
        await this.writeAudit(trx, {
          actor, version: current.version, group, timeframe, field: 'stage', action: 'rollback',
          before: { stage: 'production', theta: { ...current.theta } }, after: { stage: 'archived', rolled_back_to: previous.version }, reason, requestId: options.requestId,
        });
        await this.writeAudit(trx, {
          actor, version: previous.version, group, timeframe, field: 'stage', action: 'rollback',
          before: { stage: previous.stage }, after: { stage: 'production', rolled_back_from: current.version, theta: { ...previous.theta } }, reason, requestId: options.requestId,
        });
        return { from, to };
      }),
    );
  }

  // --- experiments ------------------------------------------------------------------------

  async recordExperiment(run: NewExperimentRun): Promise<ExperimentRun> {
    requireText('runId', run.runId);
    requireText('assetKey', run.assetKey);
    requireText('partitionKey', run.partitionKey);
    const trial = run.trial ?? 0;
    if (!Number.isInteger(trial) || trial < 0 || trial > 2_147_483_647) throw publishError(PublishErrorIds.REGISTRY_INVALID, `trial must be a non-negative integer; got ${run.trial}.`, {});
    const values = {
      run_id: run.runId,
      asset_key: run.assetKey,
      partition_key: run.partitionKey,
      trial,
      model_group: run.group ?? null,
      model_version: run.modelVersion ?? null,
      params: toJson(requireObject('params', run.params)),
      metrics: toJson(requireObject('metrics', run.metrics)),
    };
    return (await this.db
      .insertInto('orrery_experiment_runs')
      .values(values)
      .onConflict((oc) =>
        oc.columns(['run_id', 'asset_key', 'partition_key', 'trial']).doUpdateSet({
          model_group: values.model_group,
          model_version: values.model_version,
          params: values.params,
          metrics: values.metrics,
          created_at: NOW,
        }),
      )
      .returning(EXPERIMENT_COLUMNS)
      .executeTakeFirstOrThrow()) as ExperimentRun;
  }

  async experiments(filter: ExperimentFilter = {}): Promise<ExperimentRun[]> {
    let q = this.db.selectFrom('orrery_experiment_runs').select(EXPERIMENT_COLUMNS);
    if (filter.group !== undefined) q = q.where('model_group', '=', filter.group);
    if (filter.assetKey !== undefined) q = q.where('asset_key', '=', filter.assetKey);
    if (filter.partitionKey !== undefined) q = q.where('partition_key', '=', filter.partitionKey);
    if (filter.modelVersion !== undefined) q = q.where('model_version', '=', filter.modelVersion);
    if (filter.runId !== undefined) q = q.where('run_id', '=', filter.runId);
    return (await q
      .orderBy('created_at', 'desc')
      .orderBy('run_id', 'desc')
      .orderBy('asset_key')
      .orderBy('partition_key')
      .orderBy('trial')
      .limit(limitOf(filter.limit))
      .execute()) as ExperimentRun[];
  }

  // --- audit ------------------------------------------------------------------------------

  async audit(filter: AuditFilter = {}): Promise<AuditRecord[]> {
    let q = this.db.selectFrom('orrery_config_changes').select(auditColumns).where('entity', '=', 'model');
    if (filter.version !== undefined) q = q.where('entity_id', '=', filter.version);
    if (filter.group !== undefined) q = q.where('model_group', '=', filter.group);
    if (filter.timeframe !== undefined) q = q.where('timeframe', '=', filter.timeframe);
    if (filter.field !== undefined) q = q.where('field', '=', filter.field);
    return (await q.orderBy('id', 'desc').limit(limitOf(filter.limit)).execute()) as AuditRecord[];
  }

  // --- internals --------------------------------------------------------------------------

  private async fetch(db: Db | Tx, version: string): Promise<ModelRecord | undefined> {
    return (await db.selectFrom('orrery_model_registry').select(MODEL_COLUMNS).where('version', '=', version).executeTakeFirst()) as ModelRecord | undefined;
  }

  /** Locks every version of a group × timeframe (in one order, so two lockers cannot deadlock) and returns them. */
  private async lockGroup(trx: Tx, group: string, timeframe: string): Promise<ModelRecord[]> {
    return (await trx
      .selectFrom('orrery_model_registry')
      .select(MODEL_COLUMNS)
      .where('model_group', '=', group)
      .where('timeframe', '=', timeframe)
      .orderBy('version')
      .forUpdate()
      .execute()) as ModelRecord[];
  }

  private async setStage(trx: Tx, version: string, stage: ModelStage, o: { previousVersion?: string | null }): Promise<ModelRecord> {
    return (await trx
      .updateTable('orrery_model_registry')
      .set({
        stage,
        updated_at: NOW,
        ...(stage === 'production' ? { promoted_at: NOW } : {}),
        ...(o.previousVersion !== undefined ? { previous_version: o.previousVersion } : {}),
      })
      .where('version', '=', version)
      .returning(MODEL_COLUMNS)
      .executeTakeFirstOrThrow()) as ModelRecord;
  }

  private async writeAudit(trx: Tx, a: AuditRow): Promise<void> {
    await trx
      .insertInto('orrery_config_changes')
      .values({
        changed_by: a.actor,
        entity: 'model',
        entity_id: a.version,
        model_group: a.group,
        timeframe: a.timeframe,
        field: a.field,
        action: a.action,
        before: a.before === null ? null : toJson(a.before),
        after: a.after === null ? null : toJson(a.after),
        reason: a.reason,
        request_id: a.requestId ?? null,
      })
      .execute();
  }
}

function gateSummary(gate: AdoptionDecision): JsonObject {
  return {
    passed: gate.passed,
    against_champion: gate.againstChampion,
    checks: gate.checks.map((c) => ({ criterion: c.criterion, passed: c.passed, skipped: c.skipped, value: c.value, threshold: c.threshold, reason: c.reason })),
  };
}

/** The registry of an instance's event log; it must be the Postgres/PGlite one. */
export function modelRegistryFor(log: EventLog): PostgresModelRegistry {
  if (!(log instanceof PostgresEventLog)) {
    throw publishError(PublishErrorIds.REGISTRY_INVALID, 'The model registry lives in the Postgres event log; this instance uses another event log.');
  }
  return PostgresModelRegistry.on(log);
}
