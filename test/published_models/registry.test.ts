/**
 * The model registry on both backends (a Postgres server in a fresh schema, PGlite in memory), on
 * the event log's own database: stages, one production per group × timeframe (enforced by the
 * database), atomic promotion, rollback, audit rows, θ changes and experiment runs.
 */
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrreryError } from '../../core/errors.ts';
import { PostgresEventLog, openPgEventLog, openPgliteEventLog } from '../../adapters/postgres/event-log.ts';
import { PostgresModelRegistry, modelRegistryFor, type ModelDatabase } from '../../adapters/postgres/model-registry.ts';
import { PublishErrorIds, adoptionGate, type ModelKpis } from '../../assets/published_models/engine/index.ts';
import { dropSchema, freshSchemaName, testPostgresUrl } from '../support/postgres.ts';

const ids = PublishErrorIds;

async function refusal(p: Promise<unknown>): Promise<OrreryError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e, 'expected a refusal').toBeInstanceOf(OrreryError);
  return e as OrreryError;
}

interface Backend {
  name: string;
  open(): Promise<PostgresEventLog>;
  cleanup(): Promise<void>;
}

const pgBackend = (): Backend => {
  let url = '';
  const schemas: string[] = [];
  return {
    name: 'postgres (pg)',
    async open() {
      url ||= await testPostgresUrl();
      const schema = freshSchemaName('models');
      schemas.push(schema);
      return openPgEventLog(url, { schema });
    },
    async cleanup() {
      for (const s of schemas) await dropSchema(url, s);
    },
  };
};

const pgliteBackend = (): Backend => ({ name: 'pglite (in memory)', open: () => openPgliteEventLog(undefined), async cleanup() {} });

const kpis = (sharpe: number): ModelKpis => ({ sharpe, maxDrawdown: 0.08, ai2FalseStopRate: 0.04, expectancyPerTrade: 0.5 });
const metricsOf = (sharpe: number) => ({ sharpe, max_dd: 0.08, ai2_false_stop_rate: 0.04, e_per_trade: 0.5, auc: 0.71 });
const theta = { theta1: 0.7, theta2: 0.3 };

describe.each([pgBackend(), pgliteBackend()])('model registry on $name', (backend) => {
  let log: PostgresEventLog;
  let registry: PostgresModelRegistry;
  let db: Kysely<ModelDatabase>;
  let seq = 0;
  const group = () => `g${++seq}`;

  /** Registers versions `${g}-v1..n` of group g, 1h. */
  const registerVersions = async (g: string, n: number) => {
    for (let k = 1; k <= n; k++) await registry.register(`${g}-v${k}`, g, '1h', `published_models/${g}/1h/${g}-v${k}`, metricsOf(1 + k / 10), theta, { actor: 'trainer', requestId: `run-${k}` });
  };

  beforeAll(async () => {
    log = await backend.open();
    registry = modelRegistryFor(log);
    db = (log.schema ? log.root.withSchema(log.schema) : log.root) as unknown as Kysely<ModelDatabase>;
  });
  afterAll(async () => {
    await log?.close();
    await backend.cleanup();
  });

  it('creates its tables with the event log (migration 0003_models, in the log’s schema)', async () => {
    const rows = await sql<{ table_name: string }>`select table_name from information_schema.tables where table_schema = ${log.schema ?? 'public'} and table_name in ('orrery_model_registry', 'orrery_config_changes', 'orrery_experiment_runs') order by table_name`.execute(log.root);
    expect(rows.rows.map((r) => r.table_name)).toEqual(['orrery_config_changes', 'orrery_experiment_runs', 'orrery_model_registry']);
    await log.migrate(); // idempotent
  });

  it('registers a version in staging, with an audit row; the same registration again is a no-op', async () => {
    const g = group();
    const m = await registry.register(`${g}-v1`, g, '1h', 'published_models/x', metricsOf(1.1), theta, { actor: 'trainer', requestId: 'run-7' });
    expect(m).toMatchObject({ version: `${g}-v1`, group: g, timeframe: '1h', stage: 'staging', bundleUri: 'published_models/x', theta, previousVersion: null, promotedAt: null });
    expect(m.metrics).toEqual(metricsOf(1.1));
    expect(m.createdAt).toBeInstanceOf(Date);
    await registry.register(`${g}-v1`, g, '1h', 'published_models/x', metricsOf(1.1), theta, { actor: 'trainer' });
    expect((await refusal(registry.register(`${g}-v1`, g, '1h', 'published_models/other', metricsOf(1.1), theta))).errorId).toBe(ids.REGISTRY_CONFLICT);
    expect((await refusal(registry.register(`${g}-v2`, g, '1h', 'u', {}, { theta1: 2, theta2: 0.1 }))).errorId).toBe(ids.REGISTRY_INVALID);
    expect((await refusal(registry.register('bad/version', g, '1h', 'u', {}, theta))).errorId).toBe(ids.REGISTRY_INVALID);
    const audit = await registry.audit({ version: `${g}-v1` });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ changedBy: 'trainer', entity: 'model', entityId: `${g}-v1`, group: g, timeframe: '1h', field: 'registration', action: 'register', before: null, requestId: 'run-7' });
    expect(audit[0].after).toMatchObject({ stage: 'staging', theta });
  });

  it('promote demotes the previous champion in the same transaction', async () => {
    const g = group();
    await registerVersions(g, 2);
    expect(await registry.champion(g, '1h')).toBeUndefined();
    const first = await registry.promote(`${g}-v1`, 'production', 'ada', 'first model', { requestId: 'req-1' });
    expect(first).toMatchObject({ stage: 'production', previousVersion: null });
    expect(first.promotedAt).toBeInstanceOf(Date);
    const second = await registry.promote(`${g}-v2`, 'production', 'ada', 'better Sharpe', { requestId: 'req-2' });
    expect(second).toMatchObject({ version: `${g}-v2`, stage: 'production', previousVersion: `${g}-v1` });
    expect((await registry.champion(g, '1h'))?.version).toBe(`${g}-v2`);
    expect((await registry.get(`${g}-v1`))?.stage).toBe('archived');
    const stageRows = (await registry.audit({ group: g, field: 'stage' })).filter((a) => a.requestId === 'req-2');
    expect(stageRows.map((a) => [a.entityId, a.action, a.before?.stage, a.after?.stage])).toEqual([
      [`${g}-v2`, 'promote', 'staging', 'production'],
      [`${g}-v1`, 'demote', 'production', 'archived'],
    ]);
    // One transaction: both rows carry its start time.
    expect(stageRows[0].changedAt.getTime()).toBe(stageRows[1].changedAt.getTime());
    expect(stageRows.every((a) => a.changedBy === 'ada' && a.reason === 'better Sharpe')).toBe(true);
    // Promoting the champion again changes nothing.
    await registry.promote(`${g}-v2`, 'production', 'ada', 'again');
    expect((await registry.audit({ version: `${g}-v2`, field: 'stage' }))).toHaveLength(1);
  });

  it('a promotion that fails midway changes nothing (the demotion is rolled back too)', async () => {
    const g = group();
    await registerVersions(g, 2);
    await registry.promote(`${g}-v1`, 'production', 'ada', 'first');
    // Make the audit insert of the promoted version fail, after the old champion was demoted.
    const fn = `${log.schema ? `"${log.schema}".` : ''}orrery_test_fail_${g}`;
    const table = `${log.schema ? `"${log.schema}".` : ''}orrery_config_changes`;
    await sql.raw(`create function ${fn}() returns trigger language plpgsql as $$ begin if new.reason = 'boom' and new.action = 'promote' then raise exception 'injected failure'; end if; return new; end $$`).execute(log.root);
    await sql.raw(`create trigger orrery_test_fail_${g} before insert on ${table} for each row execute function ${fn}()`).execute(log.root);
    try {
      await expect(registry.promote(`${g}-v2`, 'production', 'ada', 'boom')).rejects.toThrow(/injected failure/);
    } finally {
      await sql.raw(`drop trigger orrery_test_fail_${g} on ${table}`).execute(log.root);
    }
    expect((await registry.champion(g, '1h'))?.version).toBe(`${g}-v1`);
    expect((await registry.get(`${g}-v2`))?.stage).toBe('staging');
    expect((await registry.audit({ group: g })).some((a) => a.reason === 'boom')).toBe(false);
  });

  it('the database refuses two production versions of one group × timeframe', async () => {
    const g = group();
    await registerVersions(g, 2);
    await registry.promote(`${g}-v1`, 'production', 'ada', 'first');
    const e = await db.updateTable('orrery_model_registry').set({ stage: 'production' }).where('version', '=', `${g}-v2`).execute().then(() => undefined, (err: unknown) => err);
    expect((e as { code?: string }).code).toBe('23505');
    expect(String((e as Error).message)).toMatch(/orrery_model_registry_one_production_idx/);
    // Another timeframe or group may have its own production version.
    await registry.register(`${g}-4h`, g, '4h', 'u', {}, theta);
    await registry.promote(`${g}-4h`, 'production', 'ada', 'own timeframe');
    expect((await registry.list({ group: g, stage: 'production' })).map((m) => m.version).sort()).toEqual([`${g}-4h`, `${g}-v1`]);
  });

  it('concurrent promotions of one group leave exactly one production version', async () => {
    const g = group();
    await registerVersions(g, 4);
    await registry.promote(`${g}-v1`, 'production', 'ada', 'first');
    const results = await Promise.allSettled([2, 3, 4].map((k) => registry.promote(`${g}-v${k}`, 'production', 'ada', `race ${k}`)));
    // The group's row locks serialize them: each one demotes the champion the previous one made.
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    const production = await registry.list({ group: g, stage: 'production' });
    expect(production).toHaveLength(1);
    const stageRows = (await registry.audit({ group: g, field: 'stage' })).reverse();
    const promoted = stageRows.filter((a) => a.action === 'promote').map((a) => a.entityId);
    const demoted = stageRows.filter((a) => a.action === 'demote').map((a) => a.entityId);
    expect(promoted).toHaveLength(4);
    expect(demoted).toEqual(promoted.slice(0, 3));
    expect(production[0].version).toBe(promoted[3]);
    expect(production[0].previousVersion).toBe(promoted[2]);
  });

  it('rollback restores the previous champion, step by step, with audit rows', async () => {
    const g = group();
    const other = group();
    await registerVersions(g, 3);
    await registerVersions(other, 1);
    await registry.promote(`${other}-v1`, 'production', 'ada', 'other group');
    expect((await refusal(registry.rollback(g, '1h', 'ops', 'nothing yet'))).errorId).toBe(ids.REGISTRY_NO_ROLLBACK);
    for (const k of [1, 2, 3]) await registry.promote(`${g}-v${k}`, 'production', 'ada', `v${k}`);
    await registry.setTheta(`${g}-v2`, { theta1: 0.72, theta2: 0.28 }, 'ada', 'retuned');

    const r1 = await registry.rollback(g, '1h', 'ops', 'Sharpe -25 % after release', { requestId: 'INC-1' });
    expect(r1.from).toMatchObject({ version: `${g}-v3`, stage: 'archived' });
    expect(r1.to).toMatchObject({ version: `${g}-v2`, stage: 'production', theta: { theta1: 0.72, theta2: 0.28 } });
    expect((await registry.champion(g, '1h'))?.version).toBe(`${g}-v2`);
    const rows = (await registry.audit({ group: g })).filter((a) => a.requestId === 'INC-1');
    expect(rows.map((a) => [a.entityId, a.action, a.before?.stage, a.after?.stage])).toEqual([
      [`${g}-v2`, 'rollback', 'archived', 'production'],
      [`${g}-v3`, 'rollback', 'production', 'archived'],
    ]);
    expect(rows.every((a) => a.changedBy === 'ops' && a.reason === 'Sharpe -25 % after release')).toBe(true);
    expect(rows[0].after).toMatchObject({ rolled_back_from: `${g}-v3`, theta: { theta1: 0.72, theta2: 0.28 } });

    // Again: back to v1, which replaced nothing, so a third rollback has nowhere to go.
    expect((await registry.rollback(g, '1h', 'ops', 'still bad')).to.version).toBe(`${g}-v1`);
    expect((await refusal(registry.rollback(g, '1h', 'ops', 'once more'))).errorId).toBe(ids.REGISTRY_NO_ROLLBACK);
    expect((await registry.list({ group: g, stage: 'production' })).map((m) => m.version)).toEqual([`${g}-v1`]);
    // The other group was not touched.
    expect((await registry.champion(other, '1h'))?.version).toBe(`${other}-v1`);
    // A promotion after a rollback can itself be rolled back to the restored version.
    await registry.promote(`${g}-v3`, 'production', 'ada', 'fixed');
    expect((await registry.rollback(g, '1h', 'ops', 'not fixed')).to.version).toBe(`${g}-v1`);
  });

  it('audits θ changes with before and after', async () => {
    const g = group();
    await registerVersions(g, 1);
    const m = await registry.setTheta(`${g}-v1`, { theta1: 0.68, theta2: 0.32 }, 'optimizer', 'monthly θ update', { requestId: 'run-theta-1' });
    expect(m.theta).toEqual({ theta1: 0.68, theta2: 0.32 });
    await registry.setTheta(`${g}-v1`, { theta1: 0.68, theta2: 0.32 }, 'optimizer', 'same'); // no change, no row
    const rows = await registry.audit({ version: `${g}-v1`, field: 'theta' });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ action: 'theta', changedBy: 'optimizer', reason: 'monthly θ update', requestId: 'run-theta-1', before: { theta }, after: { theta: { theta1: 0.68, theta2: 0.32 } } });
    expect((await refusal(registry.setTheta(`${g}-v1`, { theta1: -0.1, theta2: 0.3 }, 'x', 'y'))).errorId).toBe(ids.REGISTRY_INVALID);
    expect((await refusal(registry.setTheta('nope', theta, 'x', 'y'))).errorId).toBe(ids.REGISTRY_NOT_FOUND);
  });

  it('refuses a promotion to production whose adoption gate failed, and keeps a passing gate in the audit', async () => {
    const g = group();
    await registerVersions(g, 2);
    await registry.promote(`${g}-v1`, 'production', 'ada', 'first', { gate: adoptionGate({ candidate: kpis(1.1) }) });
    const worse = adoptionGate({ candidate: kpis(0.5), champion: kpis(1.1), improvementCi: { lower: -0.2, upper: 0.1 } });
    const e = await refusal(registry.promote(`${g}-v2`, 'production', 'ada', 'worse', { gate: worse }));
    expect(e.errorId).toBe(ids.GATE_REJECTED);
    expect((await registry.champion(g, '1h'))?.version).toBe(`${g}-v1`);
    const row = (await registry.audit({ version: `${g}-v1`, field: 'stage' }))[0];
    expect(row.after).toMatchObject({ stage: 'production', gate: { passed: true, against_champion: false } });
    expect((await refusal(registry.promote('nope', 'production', 'a', 'b'))).errorId).toBe(ids.REGISTRY_NOT_FOUND);
    expect((await refusal(registry.promote(`${g}-v2`, 'live' as never, 'a', 'b'))).errorId).toBe(ids.REGISTRY_INVALID);
  });

  it('history and list, newest first', async () => {
    const g = group();
    await registerVersions(g, 3);
    await registry.promote(`${g}-v3`, 'archived', 'ada', 'not needed');
    expect((await registry.history(g, '1h')).map((m) => m.version)).toEqual([`${g}-v3`, `${g}-v2`, `${g}-v1`]);
    expect((await registry.list({ group: g, stage: 'archived' })).map((m) => m.version)).toEqual([`${g}-v3`]);
    expect(await registry.history(g, '1h', { limit: 1 })).toHaveLength(1);
    expect((await registry.audit({ version: `${g}-v3`, field: 'stage' }))[0]).toMatchObject({ action: 'demote', before: { stage: 'staging' }, after: { stage: 'archived' } });
  });

  it('records experiment runs and finds them by group, partition, model version and run', async () => {
    const g = group();
    const runId = `run-exp-${g}`;
    for (let trial = 0; trial < 3; trial++) {
      await registry.recordExperiment({ runId, assetKey: 'theta', partitionKey: `1h|${g}|2025-03`, trial, group: g, modelVersion: `${g}-v1`, params: { theta1: 0.6 + trial / 100, theta2: 0.3 }, metrics: { score: trial, sharpe: 1 + trial / 10 } });
    }
    await registry.recordExperiment({ runId: `${runId}-b`, assetKey: 'models', partitionKey: `1h|${g}|2025-04`, group: g, params: { lr: 0.05 }, metrics: { auc: 0.7 } });
    // A rerun of the same trial overwrites it (no duplicates).
    const again = await registry.recordExperiment({ runId, assetKey: 'theta', partitionKey: `1h|${g}|2025-03`, trial: 2, group: g, modelVersion: `${g}-v1`, params: { theta1: 0.62, theta2: 0.3 }, metrics: { score: 2.5 } });
    expect(again).toMatchObject({ runId, trial: 2, metrics: { score: 2.5 }, params: { theta1: 0.62, theta2: 0.3 } });

    expect(await registry.experiments({ group: g })).toHaveLength(4);
    expect((await registry.experiments({ partitionKey: `1h|${g}|2025-03` })).map((e) => e.trial).sort()).toEqual([0, 1, 2]);
    const byVersion = await registry.experiments({ modelVersion: `${g}-v1` });
    expect(byVersion).toHaveLength(3);
    expect(byVersion.every((e) => e.assetKey === 'theta' && e.group === g && e.createdAt instanceof Date)).toBe(true);
    expect(await registry.experiments({ runId: `${runId}-b` })).toEqual([expect.objectContaining({ assetKey: 'models', trial: 0, modelVersion: null, metrics: { auc: 0.7 } })]);
    expect(await registry.experiments({ group: g, limit: 2 })).toHaveLength(2);
    expect((await refusal(registry.recordExperiment({ runId: '', assetKey: 'a', partitionKey: 'p', params: {}, metrics: {} }))).errorId).toBe(ids.REGISTRY_INVALID);
  });
});
