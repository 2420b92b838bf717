// GPU steps: 8 training partitions in pool gpu limited to 2 by the Backfill, on a 2-GPU node.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from './operator-harness.ts';

describe('operator: GPU pool limits', () => {
  let c: TestCluster;
  beforeAll(async () => {
    c = await startTestCluster({ gpus: 2, stepMs: 300 });
    c.startOperator();
  }, 120_000);
  afterAll(async () => { await c?.close(); });

  it('never runs more than pools.gpu Jobs at once, each asking for nvidia.com/gpu, and completes all 8', async () => {
    await c.kubectl(['apply', '-f', '-'], `
apiVersion: orrery.dev/v1alpha1
kind: Backfill
metadata: { name: train }
spec:
  selection: training
  partitions: { from: "2024-01", to: "2024-08" }
  concurrency: { max: 8, pools: { gpu: 2 } }
`);
    // Sample the operator's own view: Materializations not yet finished never exceed the pool.
    let maxActive = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const r = await c.kubectl(['get', 'materializations', '-o', 'json']);
        if (r.code === 0) {
          const active = JSON.parse(r.stdout).items.filter((m: { status?: { phase?: string } }) => !['Succeeded', 'Failed'].includes(m.status?.phase ?? '')).length;
          maxActive = Math.max(maxActive, active);
        }
        await new Promise((res) => setTimeout(res, 150));
      }
    })();
    const waited = await c.kubectl(['wait', '--for=condition=Complete', 'backfill/train', '--timeout=110s']);
    sampling = false;
    await sampler;
    expect(waited.code, waited.stderr).toBe(0);
    expect(maxActive).toBeGreaterThan(0);
    expect(maxActive).toBeLessThanOrEqual(2);
    expect(c.node.maxConcurrentGpu()).toBeLessThanOrEqual(2);
    expect(c.node.maxConcurrentGpu()).toBe(2); // the two slots were used in parallel

    const jobs = JSON.parse((await c.kubectl(['get', 'jobs', '-o', 'json'])).stdout).items;
    expect(jobs).toHaveLength(8);
    for (const j of jobs) {
      const spec = j.spec.template.spec;
      expect(spec.containers[0].resources.limits['nvidia.com/gpu']).toBe('1');
      expect(spec.tolerations).toContainEqual(expect.objectContaining({ key: 'nvidia.com/gpu' }));
      expect(j.spec.backoffLimit).toBe(1); // training retries: maxAttempts 2
      expect(spec.containers[0].terminationMessagePolicy).toBe('FallbackToLogsOnError');
    }
    for (let m = 1; m <= 8; m++) expect(await c.eventLog.countMaterializations('training', `2024-0${m}`)).toBe(1);
    const mats = JSON.parse((await c.kubectl(['get', 'materializations', '-o', 'json'])).stdout).items;
    expect(mats.every((m: { spec: { pool: string }; status: { result: { metadata: { auc: number } } } }) => m.spec.pool === 'gpu' && m.status.result.metadata.auc === 0.61)).toBe(true);
  }, 150_000);
});
