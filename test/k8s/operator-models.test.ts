// ModelDeployment canary steps and rollback, Sensor status, and the CLI's Kubernetes executor.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, until, type TestCluster } from './operator-harness.ts';

type Obj = { metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> }; spec: any; status?: any };

describe('operator: model deployments, sensors, cluster executor', () => {
  let c: TestCluster;
  const items = async (what: string): Promise<Obj[]> => JSON.parse((await c.kubectl(['get', what, '-o', 'json'])).stdout).items;
  const one = async (what: string): Promise<Obj> => JSON.parse((await c.kubectl(['get', what, '-o', 'json'])).stdout);
  const served = async () => (await items('deployments')).filter((d) => d.metadata.labels?.['orrery.dev/model-deployment'] === 'metals').map((d) => d.metadata.name).sort();
  const patch = (body: unknown) => c.kubectl(['patch', 'modeldeployment', 'metals', '--type=merge', '-p', JSON.stringify(body)]);
  beforeAll(async () => { c = await startTestCluster(); c.startOperator(['--identity', 'op-models']); }, 120_000);
  afterAll(async () => { await c?.close(); });

  it('serves the champion, steps a challenger 10 → 25 → 100 (promotion), and rolls back', async () => {
    await c.kubectl(['apply', '-f', '-'], 'apiVersion: orrery.dev/v1alpha1\nkind: ModelDeployment\nmetadata: { name: metals }\nspec: { group: metals, replicas: 2, champion: { version: v1 } }\n');
    await until('champion ready', async () => (await one('modeldeployment/metals')).status?.versions?.[0]?.readyReplicas === 2 || undefined, 30_000);
    expect(await served()).toEqual(['omd-metals-v1']);
    const svc = await one('service/omd-metals-v1');
    expect(svc.metadata.annotations?.['orrery.dev/traffic-weight']).toBe('100');
    expect(svc.metadata.labels?.['orrery.dev/role']).toBe('champion');

    await patch({ spec: { challenger: { version: 'v2', weight: 10 } } });
    await until('canary 10', async () => (await one('modeldeployment/metals')).status?.currentWeights?.v2 === 10 || undefined, 30_000);
    expect(await served()).toEqual(['omd-metals-v1', 'omd-metals-v2']);
    expect((await one('service/omd-metals-v1')).metadata.annotations?.['orrery.dev/traffic-weight']).toBe('90');
    expect((await one('service/omd-metals-v2')).metadata.labels?.['orrery.dev/role']).toBe('challenger');

    await patch({ spec: { challenger: { version: 'v2', weight: 25 } } });
    await until('canary 25', async () => (await one('service/omd-metals-v2')).metadata.annotations?.['orrery.dev/traffic-weight'] === '25' || undefined, 30_000);

    await patch({ spec: { challenger: { version: 'v2', weight: 100 } } });
    await until('promoted', async () => JSON.stringify(await served()) === '["omd-metals-v2"]' || undefined, 30_000);
    const promoted = await one('modeldeployment/metals');
    expect(promoted.status.currentWeights).toEqual({ v2: 100 });
    expect(promoted.status.versions).toEqual([expect.objectContaining({ version: 'v2', role: 'champion', weight: 100 })]);

    await patch({ spec: { champion: { version: 'v2' }, challenger: { version: 'v3', weight: 25 } } });
    await until('v3 canary', async () => (await served()).includes('omd-metals-v3') || undefined, 30_000);
    await patch({ spec: { rollback: true } });
    await until('rolled back', async () => { const md = await one('modeldeployment/metals'); return md.status?.conditions?.find((x: { type: string }) => x.type === 'RolledBack')?.status === 'True' || undefined; }, 30_000);
    await until('v3 children gone', async () => JSON.stringify(await served()) === '["omd-metals-v2"]' || undefined, 30_000);
    expect((await one('modeldeployment/metals')).status.currentWeights).toEqual({ v2: 100 });
  }, 120_000);

  it('reflects a Sensor into status', async () => {
    await c.kubectl(['apply', '-f', '-'], 'apiVersion: orrery.dev/v1alpha1\nkind: Sensor\nmetadata: { name: bars }\nspec: { name: new_bars, enabled: false, intervalSeconds: 60 }\n');
    const s = await until('sensor Ready', async () => { const o = await one('sensor/bars'); return o.status?.conditions?.length ? o : undefined; }, 30_000);
    expect(s.status.conditions[0]).toMatchObject({ type: 'Ready', status: 'True', reason: 'Disabled' });
  }, 60_000);

  it('orrery materialize --executor kubernetes --wait creates a Materialization and follows it', async () => {
    const r = await c.orrery(['materialize', '--executor', 'kubernetes', '--select', 'prices', '--partition', '2024-02', '--wait']);
    expect(r.code, r.stderr).toBe(0);
    const name = r.stdout.trim().replace(/^materialization\//, '');
    const m = await one(`materialization/${name}`);
    expect(m.status.phase).toBe('Succeeded');
    expect(await c.eventLog.countMaterializations('prices', '2024-02')).toBe(1);
    const b = await c.orrery(['backfill', '--executor', 'kubernetes', '--select', 'prices', '--from', '2024-02', '--to', '2024-03', '--json']);
    expect(b.code, b.stderr).toBe(0);
    expect(JSON.parse(b.stdout)).toMatchObject({ kind: 'Backfill' });
  }, 90_000);
});
