// Reliability: malformed resources rejected by field; SIGKILL of the operator mid-backfill;
// two replicas with exactly one acting; injected API faults. One cluster, steps in sequence.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, until, type OperatorProcess, type TestCluster } from './operator-harness.ts';

type Obj = { metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> }; spec: any; status?: any };
const months = (n: number) => Array.from({ length: n }, (_, i) => `2024-${String(i + 1).padStart(2, '0')}`);

describe('operator: reliability', () => {
  let c: TestCluster;
  const get = async (what: string): Promise<Obj[]> => JSON.parse((await c.kubectl(['get', what, '-o', 'json'])).stdout).items;
  const getOne = async (what: string): Promise<Obj> => JSON.parse((await c.kubectl(['get', what, '-o', 'json'])).stdout);
  const backfill = (name: string, selection: string, n: number, extra = '') => c.kubectl(['apply', '-f', '-'], `
apiVersion: orrery.dev/v1alpha1
kind: Backfill
metadata: { name: ${name} }
spec:
  selection: ${selection}
  partitions: { from: "2024-01", to: "2024-${String(n).padStart(2, '0')}" }
  concurrency: { max: 4${extra} }
`);
  const waitComplete = async (name: string, op: OperatorProcess) => {
    const w = await c.kubectl(['wait', '--for=condition=Complete', `backfill/${name}`, '--timeout=100s']);
    if (w.code !== 0) throw new Error(`${name} did not complete: ${w.stderr}\n${JSON.stringify((await getOne(`backfill/${name}`)).status)}\n${op.output().slice(-2000)}`);
  };
  const jobsOf = async (bf: string) => (await get('jobs')).filter((j) => j.metadata.labels?.['orrery.dev/backfill'] === bf);

  beforeAll(async () => { c = await startTestCluster({ gpus: 2 }); }, 120_000);
  afterAll(async () => { await c?.close(); });

  it('rejects malformed resources with a message naming the field; flags invalid config on the Asset', async () => {
    const both = await c.kubectl(['apply', '-f', '-'], 'apiVersion: orrery.dev/v1alpha1\nkind: Backfill\nmetadata: { name: bad }\nspec: { selection: prices, onlyMissing: true, onlyFailed: true }\n');
    expect(both.code).not.toBe(0);
    expect(both.stderr).toMatch(/spec\.onlyFailed|onlyMissing/);
    const key = await c.kubectl(['apply', '-f', '-'], 'apiVersion: orrery.dev/v1alpha1\nkind: Asset\nmetadata: { name: bad-key }\nspec: { key: Bad-Key }\n');
    expect(key.code).not.toBe(0);
    expect(key.stderr).toMatch(/spec\.key/);
    expect(await get('backfills')).toHaveLength(0);

    // Schema-valid but wrong for the definition: the operator says which field.
    const op = c.startOperator(['--identity', 'op-validate']);
    await c.kubectl(['apply', '-f', '-'], 'apiVersion: orrery.dev/v1alpha1\nkind: Asset\nmetadata: { name: prices }\nspec: { key: prices, config: { scale: -1 } }\n---\napiVersion: orrery.dev/v1alpha1\nkind: Asset\nmetadata: { name: ghost }\nspec: { key: ghost }\n');
    const valid = (a: Obj) => a.status?.conditions?.find((x: { type: string }) => x.type === 'Valid');
    const prices = await until('prices Valid condition', async () => { const a = await getOne('asset/prices'); return valid(a) ? a : undefined; }, 40_000);
    expect(valid(prices)).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
    expect(valid(prices).message).toMatch(/spec\.config\.scale/);
    const ghost = await until('ghost Valid condition', async () => { const a = await getOne('asset/ghost'); return valid(a) ? a : undefined; });
    expect(valid(ghost).message).toMatch(/spec\.key: asset "ghost"/);
    await c.kubectl(['delete', 'asset', 'prices', 'ghost']);
    await op.stop('SIGTERM');
  }, 90_000);

  it('SIGKILL mid-backfill and restart: no duplicate Jobs, every partition recorded once, converges', async () => {
    const op1 = c.startOperator(['--identity', 'op-1']);
    await backfill('crash', 'prices', 8);
    await until('some progress', async () => ((await getOne('backfill/crash')).status?.succeeded ?? 0) >= 2, 90_000);
    op1.child.kill('SIGKILL');
    await op1.exited;
    const op2 = c.startOperator(['--identity', 'op-2']);
    await waitComplete('crash', op2);
    const mats = (await get('materializations')).filter((m) => m.spec.backfill === 'crash');
    const jobs = await jobsOf('crash');
    expect(mats).toHaveLength(8);
    expect(jobs).toHaveLength(8);
    for (const m of mats) expect(jobs.filter((j) => j.metadata.labels?.['orrery.dev/materialization'] === m.metadata.name)).toHaveLength(1);
    for (const m of months(8)) expect(await c.eventLog.countMaterializations('prices', m)).toBe(1);
    await op2.stop('SIGTERM');
  }, 150_000);

  it('two replicas: exactly one leader acts; on SIGTERM it releases the lease and the standby finishes', async () => {
    const a = c.startOperator(['--identity', 'op-a']);
    const holder = async () => (await getOne('lease/orrery-operator')).spec?.holderIdentity;
    await until('op-a leads', async () => (await holder()) === 'op-a', 30_000);
    const b = c.startOperator(['--identity', 'op-b']);
    await backfill('pair', 'returns', 4);
    await waitComplete('pair', a);
    const acted = new Set([...(await jobsOf('pair')), ...(await get('materializations')).filter((m) => m.spec.backfill === 'pair')].map((o) => o.metadata.annotations?.['orrery.dev/created-by']));
    expect([...acted]).toEqual(['op-a']);
    expect(await holder()).toBe('op-a');

    const t = Date.now();
    expect(await a.stop('SIGTERM')).toBe(0);
    await until('op-b leads', async () => (await holder()) === 'op-b', 10_000, 100);
    // Released, not expired: the standby took over well within one lease duration (3 s) + retry.
    expect(Date.now() - t).toBeLessThan(3_000 + 1_000);
    await backfill('after', 'returns', 6);
    await waitComplete('after', b);
    const after = await jobsOf('after');
    expect(after).toHaveLength(2); // 2024-05 and 2024-06 (the rest is up to date)
    expect(after.every((j) => j.metadata.annotations?.['orrery.dev/created-by'] === 'op-b')).toBe(true);
    await b.stop('SIGTERM');
  }, 150_000);

  it('converges through injected 500s, 409s, dropped watches and 410 Gone', async () => {
    const op = c.startOperator(['--identity', 'op-faults']);
    const f = c.api.faults;
    const create500 = f.inject({ method: 'POST', path: /\/jobs$/, status: 500, times: 3 });
    const status409 = f.inject({ method: 'PUT', path: /\/materializations\/[^/]+\/status$/, status: 409, times: 4 });
    const mat500 = f.inject({ method: 'POST', path: /\/materializations$/, status: 500, times: 2 });
    await backfill('faulty', 'training', 3, ', pools: { gpu: 2 }');
    await until('a Job exists', async () => (await jobsOf('faulty')).length > 0, 60_000);
    f.dropWatches();
    f.expireWatches({ times: 2 });
    f.dropWatches();
    await waitComplete('faulty', op);
    expect(create500.hits).toBe(3);
    expect(status409.hits).toBe(4);
    expect(mat500.hits).toBe(2);
    expect(await jobsOf('faulty')).toHaveLength(3);
    for (const m of months(3)) expect(await c.eventLog.countMaterializations('training', m)).toBe(1);
    await op.stop('SIGTERM');
  }, 150_000);
});
