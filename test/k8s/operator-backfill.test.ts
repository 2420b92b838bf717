// A Backfill over 12 monthly partitions through the whole path: kubectl → API double → operator
// process → Materializations → Jobs → simulated node → `orrery execute-step` pods → Postgres.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, until, type OperatorProcess, type TestCluster } from './operator-harness.ts';

const MONTHS = Array.from({ length: 12 }, (_, i) => `2024-${String(i + 1).padStart(2, '0')}`);

describe('operator: backfill end to end', () => {
  let c: TestCluster;
  let op: OperatorProcess;
  beforeAll(async () => {
    c = await startTestCluster();
    op = c.startOperator(['--concurrency', '8']);
  }, 120_000);
  afterAll(async () => { await c?.close(); });

  it('kubectl apply → Complete; 12 materializations recorded once; kubectl get orrery; delete waits out finalizers', async () => {
    const applied = await c.kubectl(['apply', '-f', '-'], `
apiVersion: orrery.dev/v1alpha1
kind: Asset
metadata: { name: prices }
spec: { key: prices, config: { scale: 2 } }
---
apiVersion: orrery.dev/v1alpha1
kind: Backfill
metadata: { name: prices-2024 }
spec:
  selection: prices
  partitions: { from: "2024-01", to: "2024-12" }
  concurrency: { max: 6 }
`);
    expect(applied.stderr).toBe('');
    const waited = await c.kubectl(['wait', '--for=condition=Complete', 'backfill/prices-2024', '--timeout=100s']);
    if (waited.code !== 0) throw new Error(`wait failed: ${waited.stderr}\n${op.output().slice(-3000)}`);

    for (const m of MONTHS) expect(await c.eventLog.countMaterializations('prices', m)).toBe(1);
    const bf = JSON.parse((await c.kubectl(['get', 'backfill', 'prices-2024', '-o', 'json'])).stdout);
    expect(bf.status).toMatchObject({ phase: 'Complete', total: 12, succeeded: 12, failed: 0, running: 0 });
    expect(bf.status.conditions.find((x: { type: string }) => x.type === 'Complete')).toMatchObject({ status: 'True', observedGeneration: bf.metadata.generation });

    const table = await c.kubectl(['get', 'orrery']);
    expect(table.stdout).toMatch(/backfill\.orrery\.dev\/prices-2024\s+prices\s+12\s+12\s+0\s+0\s+Complete/);
    expect(table.stdout.match(/materialization\.orrery\.dev\/prices-2024-prices-\S+\s+prices\s+2024-\d\d\s+Succeeded\s+1\s+orrery-[0-9a-f]{20}/g)?.length).toBe(12);

    // Each Materialization ran exactly one Job, owned by it.
    const jobs = JSON.parse((await c.kubectl(['get', 'jobs', '-o', 'json'])).stdout).items;
    expect(jobs).toHaveLength(12);
    for (const j of jobs) expect(j.metadata.ownerReferences[0]).toMatchObject({ kind: 'Materialization', controller: true });

    // The Asset's status comes from the event log.
    await until('asset status', async () => {
      const a = JSON.parse((await c.kubectl(['get', 'asset', 'prices', '-o', 'json'])).stdout);
      return a.status?.partitions?.materialized === 12 && a.status.conditions?.find((x: { type: string }) => x.type === 'Valid')?.status === 'True' ? a : undefined;
    }, 40_000, 500);

    // Delete: finalizers hold the Backfill until its Materializations and Jobs are gone.
    const del = await c.kubectl(['delete', 'backfill', 'prices-2024', '--timeout=60s']);
    expect(del.code).toBe(0);
    expect(JSON.parse((await c.kubectl(['get', 'materializations', '-o', 'json'])).stdout).items).toHaveLength(0);
    expect(JSON.parse((await c.kubectl(['get', 'jobs', '-o', 'json'])).stdout).items).toHaveLength(0);
  }, 150_000);
});
