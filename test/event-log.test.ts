/**
 * Conformance suite for the event-log port, run against both backends: a Postgres server through
 * `pg` (in a fresh schema) and PGlite in memory (default schema).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kysely, PostgresDialect } from 'kysely';
import { PGlite } from '@electric-sql/pglite';
import { PGliteDialect } from 'kysely-pglite-dialect';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorIds, OrreryError } from '../core/errors.ts';
import type { EventLog, JsonObject, Materialization, NewRun, RunRequest } from '../core/event-log/port.ts';
import { ITEMS_PER_STATEMENT, PostgresEventLog, openPgEventLog, openPgliteEventLog } from '../adapters/postgres/event-log.ts';
import type { Database } from '../adapters/postgres/schema.ts';
import { dropSchema, freshSchemaName, testPostgresUrl } from './support/postgres.ts';

interface Backend {
  name: string;
  /** The shared log, opened through the public factory. */
  open(): Promise<PostgresEventLog>;
  /**
   * A migrated log of its own (a new schema or a new database), for tests that look at whole
   * tables, with raw access to its tables; `onQuery` sees every statement sent.
   */
  openOwn(onQuery?: (sql: string) => void): Promise<{ log: PostgresEventLog; db: Kysely<Database> }>;
  /** Drops what was created (after the logs are closed). */
  cleanup(): Promise<void>;
}

const pgBackend = (): Backend => {
  const schemas: string[] = [];
  let url = '';
  const newSchema = async () => {
    url ||= await testPostgresUrl();
    const schema = freshSchemaName('evlog');
    schemas.push(schema);
    return schema;
  };
  return {
    name: 'postgres (pg)',
    async open() {
      const schema = await newSchema();
      return openPgEventLog(url, { schema });
    },
    async openOwn(onQuery) {
      const schema = await newSchema();
      const db = new Kysely<Database>({
        dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 4 }) }),
        ...(onQuery ? { log: (e) => onQuery(e.query.sql) } : {}),
      });
      const log = new PostgresEventLog(db, schema);
      await log.migrate();
      return { log, db: db.withSchema(schema) };
    },
    async cleanup() {
      for (const schema of schemas) await dropSchema(url, schema);
    },
  };
};

const pgliteBackend = (): Backend => ({
  name: 'pglite (in memory)',
  open: () => openPgliteEventLog(undefined),
  async openOwn(onQuery) {
    const db = new Kysely<Database>({
      dialect: new PGliteDialect(await PGlite.create()),
      ...(onQuery ? { log: (e) => onQuery(e.query.sql) } : {}),
    });
    const log = new PostgresEventLog(db);
    await log.migrate();
    return { log, db };
  },
  async cleanup() {},
});

let seq = 0;
const uid = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${++seq}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const request: RunRequest = {
  selection: 'prices+',
  partitions: { kind: 'range', from: '2024-01-01', to: '2024-01-31' },
  skipUpToDate: true,
  onlyFailed: false,
  config: { nested: { list: [1, 2.5, 'x', null, true, { deep: [] }] }, looksLikeJson: '[1,2]', unicode: '東京 — ✓', empty: {} },
};

const newRun = (overrides: Partial<NewRun> = {}): NewRun => ({
  runId: uid('run'),
  kind: 'materialize',
  request,
  tags: { team: 'quant', 'orrery/user': 'ada' },
  ...overrides,
});

const mat = (runId: string, assetKey: string, partitionKey: string, overrides: Partial<Materialization> = {}): Materialization => ({
  runId,
  assetKey,
  partitionKey,
  dataVersion: `dv-${runId}-${partitionKey}`,
  codeVersion: 'cv1',
  inputVersions: { prices: 'fp-1', calendar: 'fp-2' },
  codeHash: 'sha256:abc',
  seed: 9_007_199_254_740_991, // 2^53 - 1: must survive int8 on both drivers
  uri: `file:///data/${assetKey}/${partitionKey}.parquet`,
  metadata: { rows: 1234, columns: ['a', 'b'], stats: { mean: 0.5 } },
  ...overrides,
});

/** Everything the tables hold for one asset, through the port, to compare before and after. */
async function snapshot(log: EventLog, runId: string, assetKey: string) {
  return {
    events: await log.listEvents(runId),
    states: [...(await log.partitionStates(assetKey)).entries()],
    steps: await log.listSteps(runId),
    counts: await log.countPartitionStates(assetKey),
  };
}

async function expectOrreryError(p: Promise<unknown>, errorId: string): Promise<void> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(OrreryError);
  expect((e as OrreryError).errorId).toBe(errorId);
}

describe.each([pgBackend(), pgliteBackend()])('event log on $name', (backend) => {
  let log: PostgresEventLog;
  const opened: PostgresEventLog[] = [];
  const own = async (onQuery?: (sql: string) => void) => {
    const o = await backend.openOwn(onQuery);
    opened.push(o.log);
    return o;
  };
  const fresh = async (onQuery?: (sql: string) => void) => (await own(onQuery)).log;

  beforeAll(async () => {
    log = await backend.open();
    opened.push(log);
  });
  afterAll(async () => {
    for (const l of opened) await l.close();
    await backend.cleanup();
  });

  describe('migrations', () => {
    it('migrate() again is harmless and keeps the data', async () => {
      const run = await log.createRun(newRun());
      await log.migrate();
      await log.migrate();
      expect(await log.getRun(run.runId)).toEqual(run);
    });
  });

  describe('runs', () => {
    it('creates a queued run and round-trips request, tags and timestamps', async () => {
      const input = newRun({ kind: 'backfill', resumedFrom: 'run-earlier' });
      const before = Date.now();
      const run = await log.createRun(input);
      expect(run).toEqual({
        runId: input.runId,
        status: 'queued',
        kind: 'backfill',
        request,
        tags: input.tags,
        createdAt: expect.any(Date),
        startedAt: null,
        endedAt: null,
        host: null,
        pid: null,
        heartbeatAt: null,
        resumedFrom: 'run-earlier',
        stepsTotal: 0,
        error: null,
      });
      expect(Math.abs(run.createdAt.getTime() - before)).toBeLessThan(60_000);
      expect(await log.getRun(input.runId)).toEqual(run);
      expect(await log.getRun('no-such-run')).toBeUndefined();
    });

    it('defaults tags to {} and resumedFrom to null', async () => {
      const run = await log.createRun({ runId: uid('run'), kind: 'materialize', request: { selection: 'a', partitions: { kind: 'all' }, skipUpToDate: false } });
      expect(run.tags).toEqual({});
      expect(run.resumedFrom).toBeNull();
    });

    it('rejects a duplicate run id', async () => {
      const input = newRun();
      await log.createRun(input);
      await expect(log.createRun(input)).rejects.toThrow();
    });

    it('goes queued → started → canceling → canceled, and the first end wins', async () => {
      const { runId } = await log.createRun(newRun());
      await log.startRun(runId, { host: 'worker-1', pid: 4242, stepsTotal: 17 });
      const started = (await log.getRun(runId))!;
      expect(started).toMatchObject({ status: 'started', host: 'worker-1', pid: 4242, stepsTotal: 17, endedAt: null });
      expect(started.startedAt).toBeInstanceOf(Date);
      expect(started.heartbeatAt).toBeInstanceOf(Date);

      await sleep(5);
      expect(await log.heartbeat(runId)).toBe('started');
      const beat = (await log.getRun(runId))!.heartbeatAt!;
      expect(beat.getTime()).toBeGreaterThan(started.heartbeatAt!.getTime());

      expect(await log.requestCancel(runId)).toBe(true);
      expect(await log.heartbeat(runId)).toBe('canceling');
      expect(await log.requestCancel(runId)).toBe(false); // already canceling

      expect(await log.endRun(runId, 'canceled', { reason: 'user' })).toBe(true);
      expect(await log.endRun(runId, 'success')).toBe(false);
      expect(await log.endRun(runId, 'failed', { message: 'late' })).toBe(false);
      const ended = (await log.getRun(runId))!;
      expect(ended.status).toBe('canceled');
      expect(ended.error).toEqual({ reason: 'user' });
      expect(ended.endedAt).toBeInstanceOf(Date);
      expect(await log.requestCancel(runId)).toBe(false);
      expect(await log.heartbeat(runId)).toBe('canceled');
    });

    it('lets exactly one of two concurrent endRun calls win', async () => {
      const { runId } = await log.createRun(newRun());
      await log.startRun(runId, { host: 'h', pid: 1, stepsTotal: 1 });
      const results = await Promise.all([log.endRun(runId, 'success'), log.endRun(runId, 'failed', { message: 'x' })]);
      expect(results.filter(Boolean)).toHaveLength(1);
      const run = (await log.getRun(runId))!;
      expect(run.status).toBe(results[0] ? 'success' : 'failed');
      expect(run.error).toEqual(results[0] ? null : { message: 'x' });
    });

    it('keeps a cancel requested before the start visible to the first heartbeat', async () => {
      const { runId } = await log.createRun(newRun());
      expect(await log.requestCancel(runId)).toBe(true);
      await log.startRun(runId, { host: 'h', pid: 2, stepsTotal: 3 });
      expect(await log.heartbeat(runId)).toBe('canceling');
      expect((await log.getRun(runId))!.host).toBe('h');
    });

    it('reports unknown and ended runs', async () => {
      await expectOrreryError(log.startRun('no-such-run', { host: 'h', pid: 1, stepsTotal: 0 }), ErrorIds.RUN_NOT_FOUND);
      await expectOrreryError(log.heartbeat('no-such-run'), ErrorIds.RUN_NOT_FOUND);
      expect(await log.endRun('no-such-run', 'success')).toBe(false);
      expect(await log.requestCancel('no-such-run')).toBe(false);
      const { runId } = await log.createRun(newRun());
      await log.endRun(runId, 'failed', { message: 'boom' });
      await expectOrreryError(log.startRun(runId, { host: 'h', pid: 1, stepsTotal: 0 }), ErrorIds.RUN_NOT_RESUMABLE);
      expect((await log.getRun(runId))!.status).toBe('failed');
    });

    it('lists runs newest first with keyset pages and a status filter', async () => {
      const own = await fresh();
      const ids: string[] = [];
      for (let i = 0; i < 7; i++) {
        ids.push((await own.createRun(newRun())).runId);
        await sleep(2);
      }
      await own.endRun(ids[1]!, 'success');
      await own.endRun(ids[4]!, 'failed');
      await own.startRun(ids[5]!, { host: 'h', pid: 1, stepsTotal: 0 });

      const newestFirst = [...ids].reverse();
      expect((await own.listRuns()).map((r) => r.runId)).toEqual(newestFirst);
      expect((await own.listRuns({ statuses: [] })).map((r) => r.runId)).toEqual(newestFirst);

      const paged: string[] = [];
      let before: string | undefined;
      for (;;) {
        const page = await own.listRuns({ limit: 3, ...(before ? { beforeRunId: before } : {}) });
        expect(page.length).toBeLessThanOrEqual(3);
        if (page.length === 0) break;
        paged.push(...page.map((r) => r.runId));
        before = page.at(-1)!.runId;
      }
      expect(paged).toEqual(newestFirst);

      expect((await own.listRuns({ statuses: ['success', 'failed'] })).map((r) => r.runId)).toEqual([ids[4], ids[1]]);
      expect((await own.listRuns({ statuses: ['queued'], beforeRunId: ids[3]!, limit: 10 })).map((r) => r.runId)).toEqual([
        ids[2],
        ids[0],
      ]);
      expect((await own.listRuns({ statuses: ['started'] }))[0]).toMatchObject({ runId: ids[5], status: 'started' });
      expect(await own.listRuns({ beforeRunId: 'no-such-run' })).toEqual([]);
    });

    it('breaks created_at ties by run id, descending', async () => {
      const { log: own1, db } = await own();
      for (const runId of ['tie-b', 'tie-a', 'tie-d', 'tie-c']) await own1.createRun(newRun({ runId }));
      await db.updateTable('orrery_runs').set({ created_at: new Date('2024-05-01T00:00:00Z') }).where('run_id', '!=', 'tie-d').execute();
      await db.updateTable('orrery_runs').set({ created_at: new Date('2024-04-01T00:00:00Z') }).where('run_id', '=', 'tie-d').execute();
      const expected = ['tie-c', 'tie-b', 'tie-a', 'tie-d'];
      expect((await own1.listRuns()).map((r) => r.runId)).toEqual(expected);
      const paged: string[] = [];
      let before: string | undefined;
      for (;;) {
        const page = await own1.listRuns({ limit: 1, ...(before ? { beforeRunId: before } : {}) });
        if (page.length === 0) break;
        paged.push(page[0]!.runId);
        before = page[0]!.runId;
      }
      expect(paged).toEqual(expected);
    });
  });

  describe('events', () => {
    it('lists a run’s events in order and pages with afterId', async () => {
      const { runId } = await log.createRun(newRun());
      const other = (await log.createRun(newRun())).runId;
      await log.appendEvents([
        { runId, type: 'RUN_START', payload: { planned: 3 } },
        { runId: other, type: 'RUN_START' },
        { runId, type: 'STEP_START', assetKey: 'prices', partitionKey: '2024-01-01', payload: { attempt: 1 } },
        { runId, type: 'LOG', assetKey: 'prices', partitionKey: '2024-01-01', payload: { level: 'info', msg: 'hello "world"\n', list: [1, [2]] } },
        { runId, type: 'PROGRESS', assetKey: null, partitionKey: null },
        { runId, type: 'RUN_SUCCESS' },
      ]);
      const events = await log.listEvents(runId);
      expect(events.map((e) => e.type)).toEqual(['RUN_START', 'STEP_START', 'LOG', 'PROGRESS', 'RUN_SUCCESS']);
      expect(events.every((e) => e.runId === runId && e.ts instanceof Date && typeof e.id === 'number')).toBe(true);
      for (let i = 1; i < events.length; i++) expect(events[i]!.id).toBeGreaterThan(events[i - 1]!.id);
      expect(events[0]).toMatchObject({ assetKey: null, partitionKey: null, payload: { planned: 3 } });
      expect(events[2]).toMatchObject({ assetKey: 'prices', partitionKey: '2024-01-01', payload: { level: 'info', msg: 'hello "world"\n', list: [1, [2]] } });
      expect(events[3]!.payload).toEqual({});

      const paged = [];
      let afterId: number | undefined;
      for (;;) {
        const page = await log.listEvents(runId, { limit: 2, ...(afterId !== undefined ? { afterId } : {}) });
        if (page.length === 0) break;
        expect(page.length).toBeLessThanOrEqual(2);
        paged.push(...page);
        afterId = page.at(-1)!.id;
      }
      expect(paged).toEqual(events);
      expect(await log.listEvents(runId, { afterId: events.at(-1)!.id })).toEqual([]);
      expect(await log.listEvents(other)).toHaveLength(1);
      await log.appendEvents([]);
    });

    it('appends more events than fit in one statement, in order', async () => {
      const { runId } = await log.createRun(newRun());
      const n = 4_321;
      await log.appendEvents(Array.from({ length: n }, (_, i) => ({ runId, type: 'LOG' as const, payload: { i } })));
      const events = await log.listEvents(runId);
      expect(events.map((e) => e.payload.i)).toEqual(Array.from({ length: n }, (_, i) => i));
    });

    it('replaces U+0000, which Postgres cannot store, instead of failing', async () => {
      const { runId } = await log.createRun(newRun());
      await log.appendEvents([{ runId, type: 'LOG', payload: { stderr: 'a\0b', literal: '\\u0000' } }]);
      expect((await log.listEvents(runId))[0]!.payload).toEqual({ stderr: 'a\uFFFDb', literal: '\\u0000' });
    });
  });

  describe('materializations', () => {
    it('records a state row, both events and the step row', async () => {
      const { runId } = await log.createRun(newRun());
      const asset = uid('asset');
      const m = mat(runId, asset, '2024-01-02');
      await log.recordMaterializations([m]);

      const state = (await log.partitionStates(asset)).get('2024-01-02');
      expect(state).toEqual({
        assetKey: asset,
        partitionKey: '2024-01-02',
        status: 'materialized',
        dataVersion: m.dataVersion,
        codeVersion: 'cv1',
        inputVersions: m.inputVersions,
        codeHash: 'sha256:abc',
        seed: 9_007_199_254_740_991,
        uri: m.uri,
        runId,
        materializedRunId: runId,
        materializedAt: expect.any(Date),
        updatedAt: expect.any(Date),
        metadata: m.metadata,
        quarantine: null,
      });
      const events = await log.listEvents(runId);
      expect(events.map((e) => [e.type, e.assetKey, e.partitionKey])).toEqual([
        ['MATERIALIZATION', asset, '2024-01-02'],
        ['STEP_SUCCESS', asset, '2024-01-02'],
      ]);
      expect(events[0]!.payload).toEqual({
        dataVersion: m.dataVersion,
        codeVersion: 'cv1',
        inputVersions: m.inputVersions,
        codeHash: 'sha256:abc',
        seed: 9_007_199_254_740_991,
        uri: m.uri,
        metadata: m.metadata,
        quarantine: null,
      });
      expect(await log.listSteps(runId)).toEqual([
        { runId, assetKey: asset, partitionKey: '2024-01-02', status: 'success', attempt: 1, startedAt: null, endedAt: expect.any(Date), error: null },
      ]);
      expect(await log.countMaterializations(asset, '2024-01-02')).toBe(1);
      expect(await log.countMaterializations(asset, 'other')).toBe(0);
      await log.recordMaterializations([]);
    });

    it('a quarantined materialization keeps its data and reasons until a passing one releases it', async () => {
      const asset = uid('asset');
      const runId = (await log.createRun(newRun())).runId;
      await log.recordMaterializations([mat(runId, asset, 'p1', { quarantine: { reasons: ['outlier_rate 0.1 > 0.08'], outlier_rate: 0.1 } }), mat(runId, asset, 'p2')]);
      const q = (await log.partitionStates(asset)).get('p1')!;
      expect(q).toMatchObject({ status: 'quarantined', dataVersion: expect.any(String), quarantine: { reasons: ['outlier_rate 0.1 > 0.08'], outlier_rate: 0.1 } });
      expect(await log.countPartitionStates(asset)).toEqual({ materialized: 1, failed: 0, quarantined: 1 });
      expect((await log.listPartitionStates(asset, { limit: 10, status: 'quarantined' })).map((x) => x.partitionKey)).toEqual(['p1']);
      await log.recordMaterializations([mat(runId, asset, 'p1')]);
      expect((await log.partitionStates(asset)).get('p1')).toMatchObject({ status: 'materialized', quarantine: null });
    });

    it('keeps one current row per partition when re-materialized; events count every materialization', async () => {
      const asset = uid('asset');
      const run1 = (await log.createRun(newRun())).runId;
      const run2 = (await log.createRun(newRun())).runId;
      await log.recordMaterializations([mat(run1, asset, 'p1'), mat(run1, asset, 'p2', { seed: null, uri: null })]);
      const first = (await log.partitionStates(asset)).get('p1')!;
      await sleep(5);
      await log.recordMaterializations([mat(run2, asset, 'p1', { dataVersion: 'dv-new', metadata: { rows: 1 }, inputVersions: {} })]);

      const states = await log.partitionStates(asset);
      expect([...states.keys()].sort()).toEqual(['p1', 'p2']);
      expect(states.get('p1')).toMatchObject({ dataVersion: 'dv-new', runId: run2, materializedRunId: run2, metadata: { rows: 1 }, inputVersions: {} });
      expect(states.get('p1')!.materializedAt!.getTime()).toBeGreaterThan(first.materializedAt!.getTime());
      expect(states.get('p2')).toMatchObject({ seed: null, uri: null, runId: run1 });
      expect(await log.countPartitionStates(asset)).toEqual({ materialized: 2, failed: 0, quarantined: 0 });
      expect(await log.countMaterializations(asset, 'p1')).toBe(2);
      expect(await log.countMaterializations(asset, 'p2')).toBe(1);
    });

    it('takes the last of two items for one partition in the same batch', async () => {
      const asset = uid('asset');
      const { runId } = await log.createRun(newRun());
      await log.recordMaterializations([mat(runId, asset, 'p', { dataVersion: 'first' }), mat(runId, asset, 'p', { dataVersion: 'second' })]);
      expect((await log.partitionStates(asset)).get('p')!.dataVersion).toBe('second');
      expect(await log.countMaterializations(asset, 'p')).toBe(2);
      expect(await log.listSteps(runId)).toHaveLength(1);
    });

    it.each([
      ['a NULL data version (check constraint)', { dataVersion: null as unknown as string }],
      ['a NULL asset key (not-null key, after the events were inserted)', { assetKey: null as unknown as string }],
      ['a non-integer seed (bigint column)', { seed: 1.5 }],
    ])('writes nothing of a batch with %s', async (_label, bad) => {
      const asset = uid('asset');
      const { runId } = await log.createRun(newRun());
      await log.recordMaterializations([mat(runId, asset, 'p0', { dataVersion: 'v0' })]);
      const before = await snapshot(log, runId, asset);

      const batch = [mat(runId, asset, 'p0', { dataVersion: 'v1' }), mat(runId, asset, 'p1'), { ...mat(runId, asset, 'p2'), ...bad }, mat(runId, asset, 'p3')];
      await expect(log.recordMaterializations(batch)).rejects.toThrow();

      expect(await snapshot(log, runId, asset)).toEqual(before);
      expect(await log.countMaterializations(asset, 'p1')).toBe(0);
      expect(await log.countMaterializations(asset, 'p0')).toBe(1);
    });

    it('writes nothing when an item in a later chunk of a large batch fails', async () => {
      const asset = uid('asset');
      const { runId } = await log.createRun(newRun());
      const n = ITEMS_PER_STATEMENT * 2 + 17;
      const batch = Array.from({ length: n }, (_, i) => mat(runId, asset, `k${String(i).padStart(5, '0')}`));
      batch[n - 3] = { ...batch[n - 3]!, dataVersion: null as unknown as string };
      await expect(log.recordMaterializations(batch)).rejects.toThrow();
      expect(await log.listEvents(runId)).toEqual([]);
      expect((await log.partitionStates(asset)).size).toBe(0);
      expect(await log.listSteps(runId)).toEqual([]);
    });

    it('records a batch larger than one statement', async () => {
      const asset = uid('asset');
      const { runId } = await log.createRun(newRun());
      const n = ITEMS_PER_STATEMENT * 2 + 17;
      const keys = Array.from({ length: n }, (_, i) => `k${String(i).padStart(5, '0')}`);
      await log.recordMaterializations(keys.map((k) => mat(runId, asset, k)));
      const states = await log.partitionStates(asset);
      expect(states.size).toBe(n);
      expect(states.get(keys[n - 1]!)!.dataVersion).toBe(`dv-${runId}-${keys[n - 1]}`);
      expect(await log.listEvents(runId)).toHaveLength(2 * n);
      expect(await log.listSteps(runId)).toHaveLength(n);
    });

    it('sends the same number of statements for 3 items as for a full chunk', async () => {
      const statements: string[] = [];
      const own = await fresh((sql) => statements.push(sql));
      const { runId } = await own.createRun(newRun());
      const count = async (n: number) => {
        const asset = uid('asset');
        statements.length = 0;
        await own.recordMaterializations(Array.from({ length: n }, (_, i) => mat(runId, asset, `p${i}`)));
        return statements.length;
      };
      const small = await count(3);
      expect(small).toBeLessThanOrEqual(5); // begin, 3 inserts, commit
      expect(await count(ITEMS_PER_STATEMENT)).toBe(small);
      expect(await count(ITEMS_PER_STATEMENT * 3)).toBe(small + 2 * 3);
    });
  });

  describe('step failures and steps', () => {
    it('keeps the last good data when a partition fails after a success', async () => {
      const asset = uid('asset');
      const run1 = (await log.createRun(newRun())).runId;
      const run2 = (await log.createRun(newRun())).runId;
      await log.recordMaterializations([mat(run1, asset, 'p')]);
      const good = (await log.partitionStates(asset)).get('p')!;

      await log.stepStarted(run2, asset, 'p', 1);
      await log.stepStarted(run2, asset, 'p', 2);
      await sleep(5);
      const error = { errorId: 'CORE_STEP_FAILED', message: 'division by zero', details: { line: 3 } };
      await log.recordStepFailure(run2, asset, 'p', 2, error);

      const failed = (await log.partitionStates(asset)).get('p')!;
      expect(failed).toEqual({ ...good, status: 'failed', runId: run2, updatedAt: expect.any(Date) });
      expect(failed.updatedAt.getTime()).toBeGreaterThan(good.updatedAt.getTime());
      expect(await log.countPartitionStates(asset)).toEqual({ materialized: 0, failed: 1, quarantined: 0 });

      const [step] = await log.listSteps(run2);
      expect(step).toMatchObject({ status: 'failed', attempt: 2, error });
      expect(step!.startedAt).toBeInstanceOf(Date);
      expect(step!.endedAt).toBeInstanceOf(Date);
      const events = await log.listEvents(run2);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ type: 'STEP_FAILURE', assetKey: asset, partitionKey: 'p', payload: { attempt: 2, error } });
      expect(await log.countMaterializations(asset, 'p')).toBe(1);
    });

    it('creates a failed row without data when the partition never succeeded, and recovers', async () => {
      const asset = uid('asset');
      const { runId } = await log.createRun(newRun());
      await log.recordStepFailure(runId, asset, 'p', 1, { message: 'boom' });
      expect((await log.partitionStates(asset)).get('p')).toEqual({
        assetKey: asset,
        partitionKey: 'p',
        status: 'failed',
        dataVersion: null,
        codeVersion: null,
        inputVersions: {},
        codeHash: null,
        seed: null,
        uri: null,
        runId,
        materializedRunId: null,
        materializedAt: null,
        updatedAt: expect.any(Date),
        metadata: {},
        quarantine: null,
      });
      expect(await log.listSteps(runId)).toMatchObject([{ status: 'failed', attempt: 1, startedAt: null, error: { message: 'boom' } }]);

      // A retry in the same run succeeds: the step row ends success with its attempt, the error cleared.
      await log.stepStarted(runId, asset, 'p', 2);
      await log.recordMaterializations([mat(runId, asset, 'p')]);
      expect((await log.partitionStates(asset)).get('p')).toMatchObject({ status: 'materialized', materializedRunId: runId });
      expect(await log.listSteps(runId)).toMatchObject([{ status: 'success', attempt: 2, error: null }]);
    });

    it('tracks step rows through start, retry, skip and cancel, ordered by asset and partition', async () => {
      const { runId } = await log.createRun(newRun());
      await log.stepStarted(runId, 'b', 'p1', 1);
      await log.recordStepFailure(runId, 'b', 'p1', 1, { message: 'transient' });
      await log.stepStarted(runId, 'b', 'p1', 2);
      await log.stepStarted(runId, 'a', 'p2', 1);
      await log.stepEnded(runId, 'a', 'p2', 'canceled');
      await log.stepEnded(runId, 'a', 'p1', 'skipped');

      const steps = await log.listSteps(runId);
      expect(steps.map((s) => [s.assetKey, s.partitionKey, s.status, s.attempt])).toEqual([
        ['a', 'p1', 'skipped', 0],
        ['a', 'p2', 'canceled', 1],
        ['b', 'p1', 'started', 2],
      ]);
      expect(steps[0]).toMatchObject({ startedAt: null, endedAt: expect.any(Date), error: null });
      expect(steps[1]!.startedAt).toBeInstanceOf(Date);
      expect(steps[1]!.endedAt).toBeInstanceOf(Date);
      expect(steps[2]).toMatchObject({ endedAt: null, error: null }); // the retry cleared the failure
      expect(await log.listSteps('no-such-run')).toEqual([]);
    });
  });

  describe('check results', () => {
    it('keeps the latest result per check and logs every evaluation', async () => {
      const asset = uid('asset');
      const run1 = (await log.createRun(newRun())).runId;
      const run2 = (await log.createRun(newRun())).runId;
      await log.recordCheckResults([
        { runId: run1, assetKey: asset, partitionKey: 'p1', checkName: 'not_null', passed: true, severity: 'ERROR', metadata: { nulls: 0 } },
        { runId: run1, assetKey: asset, partitionKey: 'p1', checkName: 'fresh', passed: false, severity: 'WARN', metadata: {} },
        { runId: run1, assetKey: asset, partitionKey: 'p2', checkName: 'not_null', passed: true, severity: 'ERROR', metadata: {} },
      ]);
      await log.recordCheckResults([
        { runId: run2, assetKey: asset, partitionKey: 'p1', checkName: 'not_null', passed: true, severity: 'ERROR', metadata: { nulls: 1 } },
        { runId: run2, assetKey: asset, partitionKey: 'p1', checkName: 'not_null', passed: false, severity: 'ERROR', metadata: { nulls: 7 } },
      ]);

      const p1 = await log.latestCheckResults(asset, 'p1');
      expect(p1).toEqual([
        { runId: run1, assetKey: asset, partitionKey: 'p1', checkName: 'fresh', passed: false, severity: 'WARN', metadata: {}, evaluatedAt: expect.any(Date) },
        { runId: run2, assetKey: asset, partitionKey: 'p1', checkName: 'not_null', passed: false, severity: 'ERROR', metadata: { nulls: 7 }, evaluatedAt: expect.any(Date) },
      ]);
      expect((await log.latestCheckResults(asset)).map((r) => [r.partitionKey, r.checkName])).toEqual([
        ['p1', 'fresh'],
        ['p1', 'not_null'],
        ['p2', 'not_null'],
      ]);
      expect(await log.latestCheckResults(asset, 'p3')).toEqual([]);
      expect((await log.listEvents(run1)).filter((e) => e.type === 'CHECK_EVALUATION')).toHaveLength(3);
      const run2Events = await log.listEvents(run2);
      expect(run2Events.map((e) => e.payload)).toEqual([
        { checkName: 'not_null', passed: true, severity: 'ERROR', metadata: { nulls: 1 } },
        { checkName: 'not_null', passed: false, severity: 'ERROR', metadata: { nulls: 7 } },
      ]);
      await log.recordCheckResults([]);
    });
  });

  describe('partition state queries', () => {
    // Mixed case and punctuation: the order must be code-point order on every server.
    const keys = ['2024-01-01', '2024-01-02', 'A', 'B', '_x', 'a', 'a-b', 'aB', 'ab', 'b', ...Array.from({ length: 15 }, (_, i) => `z${String(i).padStart(2, '0')}`)];
    const failedKeys = new Set(['2024-01-02', 'B', 'a-b', 'z03', 'z04', 'z14']);
    const sorted = [...keys].sort();
    let asset = '';

    beforeAll(async () => {
      asset = uid('asset');
      const { runId } = await log.createRun(newRun());
      // Shuffled, so that insertion order cannot pass for key order.
      const shuffled = [...keys].sort((x, y) => (x.split('').reverse().join() < y.split('').reverse().join() ? -1 : 1));
      await log.recordMaterializations(shuffled.filter((k) => !failedKeys.has(k) || k.startsWith('z')).map((k) => mat(runId, asset, k)));
      for (const k of failedKeys) await log.recordStepFailure(runId, asset, k, 1, { message: 'x' });
      await log.recordMaterializations([mat(runId, uid('other-asset'), 'a')]);
    });

    it('pages through every key exactly once, in order', async () => {
      const all = [];
      let afterKey: string | undefined;
      for (;;) {
        const page = await log.listPartitionStates(asset, { limit: 4, ...(afterKey !== undefined ? { afterKey } : {}) });
        if (page.length === 0) break;
        expect(page.length).toBeLessThanOrEqual(4);
        all.push(...page);
        afterKey = page.at(-1)!.partitionKey;
      }
      expect(all.map((s) => s.partitionKey)).toEqual(sorted);
      expect(all.every((s) => s.assetKey === asset)).toBe(true);
      expect(all.filter((s) => s.status === 'failed').map((s) => s.partitionKey)).toEqual(sorted.filter((k) => failedKeys.has(k)));
    });

    it('pages with a status filter', async () => {
      for (const [status, limit] of [['failed', 2], ['materialized', 3]] as const) {
        const got: string[] = [];
        let afterKey: string | undefined;
        for (;;) {
          const page = await log.listPartitionStates(asset, { limit, status, ...(afterKey !== undefined ? { afterKey } : {}) });
          if (page.length === 0) break;
          expect(page.every((s) => s.status === status)).toBe(true);
          got.push(...page.map((s) => s.partitionKey));
          afterKey = page.at(-1)!.partitionKey;
        }
        expect(got).toEqual(sorted.filter((k) => failedKeys.has(k) === (status === 'failed')));
      }
    });

    it('counts states by status', async () => {
      expect(await log.countPartitionStates(asset)).toEqual({ materialized: keys.length - failedKeys.size, failed: failedKeys.size, quarantined: 0 });
      expect(await log.countPartitionStates('no-such-asset')).toEqual({ materialized: 0, failed: 0, quarantined: 0 });
    });

    it('returns all states of an asset, or the requested keys only', async () => {
      const all = await log.partitionStates(asset);
      expect([...all.keys()].sort()).toEqual(sorted);
      expect(all.get('z03')!.status).toBe('failed');
      expect(all.get('z03')!.dataVersion).not.toBeNull(); // failed after a success
      expect(all.get('B')!.dataVersion).toBeNull(); // failed, never succeeded

      const some = await log.partitionStatesFor(asset, ['a', 'ab', 'missing', 'a']);
      expect([...some.keys()].sort()).toEqual(['a', 'ab']);
      expect(some.get('ab')).toEqual(all.get('ab'));
      expect((await log.partitionStatesFor(asset, [])).size).toBe(0);
      expect((await log.partitionStates('no-such-asset')).size).toBe(0);
    });
  });

  describe('dynamic partitions', () => {
    it('keeps insertion order and ignores keys already present', async () => {
      const name = uid('tickers');
      await log.addDynamicPartitions(name, ['MSFT', 'AAPL', 'GOOG']);
      await log.addDynamicPartitions(name, ['AAPL', 'TSLA', 'MSFT', 'AMZN', 'TSLA']);
      await log.addDynamicPartitions(name, []);
      expect(await log.dynamicPartitions(name)).toEqual(['MSFT', 'AAPL', 'GOOG', 'TSLA', 'AMZN']);
      expect(await log.dynamicPartitions(uid('empty'))).toEqual([]);
    });

    it('keeps order across statements for a long list, separately per name', async () => {
      const name = uid('big');
      const keys = Array.from({ length: 5_003 }, (_, i) => `k${(i * 7919) % 5_003}`);
      await log.addDynamicPartitions(name, keys);
      const other = uid('other');
      await log.addDynamicPartitions(other, ['k1']);
      expect(await log.dynamicPartitions(name)).toEqual(keys);
      expect(await log.dynamicPartitions(other)).toEqual(['k1']);
    });
  });

  describe('pruning', () => {
    it('deletes only events older than the cutoff and keeps runs and state', async () => {
      const own = await fresh();
      const asset = uid('asset');
      const { runId } = await own.createRun(newRun());
      await own.recordMaterializations([mat(runId, asset, 'p')]);
      await own.appendEvents([{ runId, type: 'LOG' }]);
      const old = await own.listEvents(runId);
      // Event times come from the database clock; cut just after the newest old event.
      const cutoff = new Date(Math.max(...old.map((e) => e.ts.getTime())) + 1);
      await sleep(20);
      await own.appendEvents([{ runId, type: 'LOG', payload: { n: 'new' } }, { runId, type: 'RUN_SUCCESS' }]);

      expect(await own.pruneEvents(cutoff)).toBe(old.length);
      const left = await own.listEvents(runId);
      expect(left.map((e) => e.type)).toEqual(['LOG', 'RUN_SUCCESS']);
      expect(left.every((e) => e.ts.getTime() >= cutoff.getTime())).toBe(true);
      expect(await own.pruneEvents(cutoff)).toBe(0);
      expect(await own.getRun(runId)).toBeDefined();
      expect((await own.partitionStates(asset)).get('p')!.status).toBe('materialized');
      expect(await own.countMaterializations(asset, 'p')).toBe(0); // counted from events, which are gone
    });
  });
});

describe('opening', () => {
  it('reports an unreachable server as a connection error', async () => {
    const e = await openPgEventLog('postgres://orrery:secret@127.0.0.1:1/nowhere').catch((err: unknown) => err);
    expect(e).toBeInstanceOf(OrreryError);
    expect((e as OrreryError).errorId).toBe(ErrorIds.STORAGE_CONN);
    expect((e as OrreryError).message).toMatch(/127\.0\.0\.1:1/);
    expect((e as OrreryError).message).not.toMatch(/secret/);
  });

  it('keeps a PGlite data directory across reopening', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'orrery-pglite-'));
    try {
      const first = await openPgliteEventLog(dir, { schema: 'orrery' });
      const run = await first.createRun(newRun());
      await first.recordMaterializations([mat(run.runId, 'asset', 'p')]);
      await first.close();

      const second = await openPgliteEventLog(dir, { schema: 'orrery' });
      try {
        expect(await second.getRun(run.runId)).toEqual(run);
        expect(await second.countMaterializations('asset', 'p')).toBe(1);
      } finally {
        await second.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
