/**
 * Event-log schema migrations, kept in code (no migration folder to ship) and run with kysely's
 * `Migrator`. Every table is named `orrery_*`; with a schema name everything, the migrator's own
 * bookkeeping tables included, lives in that Postgres schema, which is created if missing.
 *
 * Never edit a migration that has shipped: add `0002_...` instead.
 */
import { Migrator, sql } from 'kysely';
import type { Kysely, Migration, MigrationProvider, SchemaModule } from 'kysely';
import { ErrorIds, OrreryError } from '../../core/errors.ts';

/**
 * Keys sort by code point on every server (the database's default collation may be en_US, PGlite's
 * is C), so keyset pagination returns the same order everywhere; C comparisons are also cheaper.
 */
const keyText = sql`text collate "C"`;

export const MIGRATION_TABLE = 'orrery_migration';
export const MIGRATION_LOCK_TABLE = 'orrery_migration_lock';

/** All migrations, by name; applied in name order. */
export function eventLogMigrations(schema?: string): Record<string, Migration> {
  const ddl = (db: Kysely<unknown>): SchemaModule => (schema ? db.schema.withSchema(schema) : db.schema);

  return {
    '0001_event_log': {
      async up(db) {
        const s = ddl(db);
        if (schema) await db.schema.createSchema(schema).ifNotExists().execute();

        await s
          .createTable('orrery_runs')
          .addColumn('run_id', 'text', (c) => c.primaryKey())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('request', 'jsonb', (c) => c.notNull())
          .addColumn('tags', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
          .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
          .addColumn('started_at', 'timestamptz')
          .addColumn('ended_at', 'timestamptz')
          .addColumn('host', 'text')
          .addColumn('pid', 'integer')
          .addColumn('heartbeat_at', 'timestamptz')
          .addColumn('resumed_from', 'text')
          .addColumn('steps_total', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('error', 'jsonb')
          .addCheckConstraint(
            'orrery_runs_status_check',
            sql`status in ('queued', 'started', 'canceling', 'success', 'failed', 'canceled')`,
          )
          .addCheckConstraint('orrery_runs_kind_check', sql`kind in ('materialize', 'backfill')`)
          .execute();
        // listRuns: newest first, keyset on (created_at, run_id).
        await s
          .createIndex('orrery_runs_created_at_idx')
          .on('orrery_runs')
          .columns(['created_at desc', 'run_id desc'])
          .execute();

        await s
          .createTable('orrery_steps')
          .addColumn('run_id', 'text', (c) => c.notNull())
          .addColumn('asset_key', keyText, (c) => c.notNull())
          .addColumn('partition_key', keyText, (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('attempt', 'integer', (c) => c.notNull())
          .addColumn('started_at', 'timestamptz')
          .addColumn('ended_at', 'timestamptz')
          .addColumn('error', 'jsonb')
          .addPrimaryKeyConstraint('orrery_steps_pkey', ['run_id', 'asset_key', 'partition_key'])
          .addCheckConstraint(
            'orrery_steps_status_check',
            sql`status in ('started', 'success', 'failed', 'skipped', 'canceled')`,
          )
          .execute();

        // No foreign keys to orrery_runs: they would cost a lookup per inserted event on the hot path.
        await s
          .createTable('orrery_events')
          .addColumn('id', 'bigserial', (c) => c.primaryKey())
          .addColumn('run_id', 'text', (c) => c.notNull())
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('asset_key', 'text')
          .addColumn('partition_key', 'text')
          .addColumn('ts', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
          .addColumn('payload', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
          .execute();
        await s.createIndex('orrery_events_run_id_idx').on('orrery_events').columns(['run_id', 'id']).execute();
        await s.createIndex('orrery_events_ts_idx').on('orrery_events').column('ts').execute();
        // countMaterializations. The predicate must be a literal for the planner to match it.
        await s
          .createIndex('orrery_events_materialization_idx')
          .on('orrery_events')
          .columns(['asset_key', 'partition_key'])
          .where(sql.ref('type'), '=', sql.lit('MATERIALIZATION'))
          .execute();

        await s
          .createTable('orrery_partitions')
          .addColumn('asset_key', keyText, (c) => c.notNull())
          .addColumn('partition_key', keyText, (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('data_version', 'text')
          .addColumn('code_version', 'text')
          .addColumn('input_versions', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
          .addColumn('code_hash', 'text')
          .addColumn('seed', 'bigint')
          .addColumn('uri', 'text')
          .addColumn('run_id', 'text', (c) => c.notNull())
          .addColumn('materialized_run_id', 'text')
          .addColumn('materialized_at', 'timestamptz')
          .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
          .addColumn('metadata', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
          .addPrimaryKeyConstraint('orrery_partitions_pkey', ['asset_key', 'partition_key'])
          .addCheckConstraint('orrery_partitions_status_check', sql`status in ('materialized', 'failed')`)
          // A materialized partition always has data; a failed one keeps whatever it had.
          .addCheckConstraint(
            'orrery_partitions_data_check',
            sql`status <> 'materialized' or data_version is not null`,
          )
          .execute();
        // listPartitionStates / countPartitionStates with a status filter.
        await s
          .createIndex('orrery_partitions_status_idx')
          .on('orrery_partitions')
          .columns(['asset_key', 'status', 'partition_key'])
          .execute();

        await s
          .createTable('orrery_check_results')
          .addColumn('asset_key', keyText, (c) => c.notNull())
          .addColumn('partition_key', keyText, (c) => c.notNull())
          .addColumn('check_name', 'text', (c) => c.notNull())
          .addColumn('passed', 'boolean', (c) => c.notNull())
          .addColumn('severity', 'text', (c) => c.notNull())
          .addColumn('run_id', 'text', (c) => c.notNull())
          .addColumn('metadata', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
          .addColumn('evaluated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
          .addPrimaryKeyConstraint('orrery_check_results_pkey', ['asset_key', 'partition_key', 'check_name'])
          .addCheckConstraint('orrery_check_results_severity_check', sql`severity in ('ERROR', 'WARN')`)
          .execute();

        await s
          .createTable('orrery_dynamic_partitions')
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('key', 'text', (c) => c.notNull())
          .addColumn('seq', 'bigserial', (c) => c.notNull())
          .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
          .addPrimaryKeyConstraint('orrery_dynamic_partitions_pkey', ['name', 'key'])
          .execute();
        await s
          .createIndex('orrery_dynamic_partitions_seq_idx')
          .on('orrery_dynamic_partitions')
          .columns(['name', 'seq'])
          .execute();
      },
    },
    // A partition can be quarantined by data-quality checks: stored, but excluded downstream.
    '0002_quarantine': {
      async up(db) {
        const s = ddl(db);
        await s.alterTable('orrery_partitions').dropConstraint('orrery_partitions_status_check').execute();
        await s.alterTable('orrery_partitions').addCheckConstraint('orrery_partitions_status_check', sql`status in ('materialized', 'failed', 'quarantined')`).execute();
        await s.alterTable('orrery_partitions').addColumn('quarantine', 'jsonb').execute();
      },
    },
    // Published models: the model registry (seed 002 `model_registry`), the audit of every stage and
    // θ change (seed 002 `audit.config_changes`), and experiment runs with their params and metrics.
    '0003_models': {
      async up(db) {
        const s = ddl(db);
        await s
          .createTable('orrery_model_registry')
          .addColumn('version', keyText, (c) => c.primaryKey())
          .addColumn('model_group', keyText, (c) => c.notNull())
          .addColumn('timeframe', keyText, (c) => c.notNull())
          .addColumn('stage', 'text', (c) => c.notNull())
          .addColumn('bundle_uri', 'text', (c) => c.notNull())
          .addColumn('metrics', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
          .addColumn('theta', 'jsonb', (c) => c.notNull())
          // The production version this one replaced when it was last promoted: what a rollback restores.
          .addColumn('previous_version', 'text')
          .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
          .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
          .addColumn('promoted_at', 'timestamptz')
          .addCheckConstraint('orrery_model_registry_stage_check', sql`stage in ('staging', 'production', 'archived')`)
          .execute();
        // One production version per group × timeframe, enforced by the database. The predicate must
        // be a literal for the planner (and ON CONFLICT inference) to match it.
        await s
          .createIndex('orrery_model_registry_one_production_idx')
          .on('orrery_model_registry')
          .columns(['model_group', 'timeframe'])
          .unique()
          .where(sql.ref('stage'), '=', sql.lit('production'))
          .execute();
        await s
          .createIndex('orrery_model_registry_group_idx')
          .on('orrery_model_registry')
          .columns(['model_group', 'timeframe', 'created_at desc'])
          .execute();

        await s
          .createTable('orrery_config_changes')
          .addColumn('id', 'bigserial', (c) => c.primaryKey())
          .addColumn('changed_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
          .addColumn('changed_by', 'text', (c) => c.notNull())
          .addColumn('entity', 'text', (c) => c.notNull())
          .addColumn('entity_id', keyText, (c) => c.notNull())
          .addColumn('model_group', keyText)
          .addColumn('timeframe', keyText)
          .addColumn('field', 'text', (c) => c.notNull())
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('before', 'jsonb')
          .addColumn('after', 'jsonb')
          .addColumn('reason', 'text')
          .addColumn('request_id', 'text')
          .execute();
        await s.createIndex('orrery_config_changes_entity_idx').on('orrery_config_changes').columns(['entity', 'entity_id', 'id']).execute();
        await s.createIndex('orrery_config_changes_group_idx').on('orrery_config_changes').columns(['model_group', 'timeframe', 'id']).execute();

        await s
          .createTable('orrery_experiment_runs')
          .addColumn('run_id', keyText, (c) => c.notNull())
          .addColumn('asset_key', keyText, (c) => c.notNull())
          .addColumn('partition_key', keyText, (c) => c.notNull())
          // Several trials (θ candidates, folds) of one step; a rerun overwrites its own trials.
          .addColumn('trial', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('model_group', keyText)
          .addColumn('model_version', keyText)
          .addColumn('params', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
          .addColumn('metrics', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
          .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
          .addPrimaryKeyConstraint('orrery_experiment_runs_pkey', ['run_id', 'asset_key', 'partition_key', 'trial'])
          .execute();
        await s.createIndex('orrery_experiment_runs_created_idx').on('orrery_experiment_runs').columns(['created_at desc']).execute();
        await s.createIndex('orrery_experiment_runs_group_idx').on('orrery_experiment_runs').columns(['model_group', 'created_at desc']).execute();
        await s.createIndex('orrery_experiment_runs_partition_idx').on('orrery_experiment_runs').columns(['partition_key', 'created_at desc']).execute();
        await s.createIndex('orrery_experiment_runs_version_idx').on('orrery_experiment_runs').columns(['model_version', 'created_at desc']).execute();
      },
    },
    // The GraphQL API: audit of its mutations, sensor state, and indexes for its filters.
    '0004_api': {
      async up(db) {
        const s = ddl(db);
        await s
          .createTable('orrery_audit')
          .addColumn('id', 'bigserial', (c) => c.primaryKey())
          .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
          .addColumn('subject', 'text')
          .addColumn('role', 'text')
          .addColumn('operation', 'text', (c) => c.notNull())
          .addColumn('variables', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
          .addColumn('request_id', 'text')
          .addColumn('outcome', 'text', (c) => c.notNull())
          .addColumn('error_id', 'text')
          .execute();
        await s.createIndex('orrery_audit_at_idx').on('orrery_audit').column('at').execute();

        await s
          .createTable('orrery_sensors')
          .addColumn('name', keyText, (c) => c.primaryKey())
          .addColumn('enabled', 'boolean', (c) => c.notNull().defaultTo(true))
          .addColumn('interval_seconds', 'integer', (c) => c.notNull().defaultTo(30))
          .addColumn('last_tick', 'timestamptz')
          .addColumn('cursor', 'text')
          .execute();

        // runs(filter: {assetKey, partitionKey}): runs that have a step on this asset/partition.
        await s.createIndex('orrery_steps_asset_partition_idx').on('orrery_steps').columns(['asset_key', 'partition_key', 'run_id']).execute();
        // backfills: runs of one kind, newest first; backfill chains through resumed_from.
        await s.createIndex('orrery_runs_kind_idx').on('orrery_runs').columns(['kind', 'created_at desc', 'run_id desc']).execute();
        await s.createIndex('orrery_runs_resumed_from_idx').on('orrery_runs').column('resumed_from').execute();
        // latestMaterialization per asset.
        await s.createIndex('orrery_partitions_materialized_at_idx').on('orrery_partitions').columns(['asset_key', 'materialized_at desc']).execute();
      },
    },
  };
}

class InCodeMigrationProvider implements MigrationProvider {
  constructor(private readonly migrations: Record<string, Migration>) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    return this.migrations;
  }
}

export function eventLogMigrator(db: Kysely<any>, schema?: string): Migrator {
  return new Migrator({
    db,
    provider: new InCodeMigrationProvider(eventLogMigrations(schema)),
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
    // Creates the schema if missing; undefined = the connection's default schema.
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
}

/**
 * Brings the event-log tables up to date. Idempotent, and safe to run from several processes at
 * once (kysely takes an advisory lock on Postgres). Throws an `OrreryError` if a migration fails.
 */
export async function migrateEventLog(db: Kysely<any>, schema?: string): Promise<void> {
  const { error, results } = await eventLogMigrator(db, schema).migrateToLatest();
  if (error === undefined) return;
  const failed = results?.find((r) => r.status === 'Error')?.migrationName;
  const where = schema ? `schema "${schema}"` : 'the default schema';
  const reason = error instanceof Error ? error.message : String(error);
  throw new OrreryError(
    ErrorIds.STORAGE_WRITE,
    failed
      ? `Event-log migration ${failed} failed in ${where}: ${reason}. Nothing of it was applied; fix the cause (permissions to create tables?) and run again.`
      : `Could not migrate the event log in ${where}: ${reason}. Check that the database is reachable and that this user may create schemas and tables.`,
    { schema: schema ?? null, migration: failed ?? null },
    { cause: error },
  );
}
