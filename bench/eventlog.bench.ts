/**
 * Materialization events written per second to Postgres through the event log (one transaction
 * per group-commit batch: events, current-state upserts, step rows), against raw batched INSERTs
 * of the same rows into plain tables. Goal: ratio ≥ 0.5.
 */
import pg from 'pg';
import { openPgEventLog } from '../adapters/postgres/event-log.ts';
import type { Materialization } from '../core/event-log/port.ts';
import { dropSchema, freshSchemaName, testPostgresUrl } from '../test/support/postgres.ts';
import type { BenchResult } from './run.ts';

const N = 20_000, BATCH = 256;

function items(runId: string): Materialization[] {
  return Array.from({ length: N }, (_, i) => ({
    runId, assetKey: `asset_${i % 7}`, partitionKey: `1h|PAIR${i % 20}|2024-${String((i % 12) + 1).padStart(2, '0')}#${i}`,
    dataVersion: `d${i.toString(16).padStart(63, '0')}`, codeVersion: '1', inputVersions: { up: `f${i}` }, codeHash: 'abc123', seed: i, uri: `/objects/${i}.json`, metadata: { rows: 720 },
  }));
}

/** The same rows (2 events, the state row, the step row per item) as plain multi-row INSERTs into copies of our tables. */
async function raw(url: string, schema: string, ms: Materialization[]): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  for (const t of ['events', 'partitions', 'steps']) await client.query(`create table ${schema}.raw_${t} (like ${schema}.orrery_${t} including all)`);
  const insert = async (table: string, cols: string[], rows: unknown[][]) => {
    const params: unknown[] = [];
    const tuples = rows.map((r) => `(${r.map((v) => { params.push(v); return `$${params.length}`; }).join(',')})`);
    await client.query(`insert into ${schema}.raw_${table} (${cols.join(',')}) values ${tuples.join(',')}`, params);
  };
  const t0 = performance.now();
  for (let i = 0; i < ms.length; i += BATCH) {
    const chunk = ms.slice(i, i + BATCH);
    await insert('events', ['run_id', 'type', 'asset_key', 'partition_key', 'payload'], chunk.flatMap((m) => [
      [m.runId, 'MATERIALIZATION', m.assetKey, m.partitionKey, JSON.stringify({ dataVersion: m.dataVersion, codeVersion: m.codeVersion, inputVersions: m.inputVersions, codeHash: m.codeHash, seed: m.seed, uri: m.uri, metadata: m.metadata })],
      [m.runId, 'STEP_SUCCESS', m.assetKey, m.partitionKey, '{}'],
    ]));
    await insert('partitions', ['asset_key', 'partition_key', 'status', 'data_version', 'code_version', 'input_versions', 'code_hash', 'seed', 'uri', 'run_id', 'materialized_run_id', 'materialized_at', 'updated_at', 'metadata'],
      chunk.map((m) => [m.assetKey, m.partitionKey, 'materialized', m.dataVersion, m.codeVersion, JSON.stringify(m.inputVersions), m.codeHash, m.seed, m.uri, m.runId, m.runId, new Date(), new Date(), JSON.stringify(m.metadata)]));
    await insert('steps', ['run_id', 'asset_key', 'partition_key', 'status', 'attempt', 'ended_at'], chunk.map((m) => [m.runId, m.assetKey, m.partitionKey, 'success', 1, new Date()]));
  }
  const elapsed = performance.now() - t0;
  await client.end();
  return (ms.length / elapsed) * 1000;
}

export async function run(): Promise<BenchResult> {
  const url = await testPostgresUrl();
  const schema = freshSchemaName('bench');
  const log = await openPgEventLog(url, { schema });
  try {
    const runId = 'bench-run';
    await log.createRun({ runId, kind: 'materialize', request: { selection: '*', partitions: { kind: 'all' }, skipUpToDate: true } });
    const ms = items(runId);
    const baselineRate = await raw(url, schema, ms);
    const t0 = performance.now();
    for (let i = 0; i < ms.length; i += BATCH) await log.recordMaterializations(ms.slice(i, i + BATCH));
    const rate = (ms.length / (performance.now() - t0)) * 1000;
    return { value: Math.round(rate), unit: 'materializations/s', baseline: Math.round(baselineRate), ratio: Number((rate / baselineRate).toFixed(2)), rows: N, batch: BATCH, goal: 'ratio >= 0.5' };
  } finally {
    await log.close();
    await dropSchema(url, schema);
  }
}
