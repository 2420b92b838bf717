// Informer and leader election against the Kubernetes API double (real HTTP, real client-node).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient, REQUEST_TIMEOUT } from '../../adapters/kubernetes/client.ts';
import { RESOURCES, type KubeObject } from '../../operator/resources.ts';
import { Informer } from '../../operator/runtime/informer.ts';
import { LeaderElector } from '../../operator/runtime/leader.ts';
import { startApiDouble, type ApiDouble } from './api-double.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) { if (Date.now() > end) throw new Error('timed out waiting'); await sleep(20); }
}
const lease = (client: KubeClient) => client.get<KubeObject<any>>(RESOURCES.lease, 'default', 'test-lease');
const dep = (name: string, replicas = 1) => ({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: 'default', labels: { app: 'x' } }, spec: { replicas, selector: { matchLabels: { app: 'x' } }, template: { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'c', image: 'i' }] } } } });

describe('operator runtime against the API double', () => {
  let api: ApiDouble;
  let client: KubeClient;
  beforeAll(async () => {
    api = await startApiDouble({ bookmarkIntervalMs: 200 });
    client = KubeClient.load(api.kubeconfigPath);
  });
  afterAll(async () => { await api?.close(); });

  it('informer: lists, follows watch events, survives dropped watches and 410 Gone', async () => {
    const events: string[] = [];
    const inf = new Informer<KubeObject<any, any>>(client, RESOURCES.deployment, { namespace: 'default', watchdogMs: 1000, retryMs: 50 });
    await client.create(RESOURCES.deployment, 'default', dep('before'));
    inf.on({ add: (o) => events.push(`add ${o.metadata.name}`), update: (o) => events.push(`update ${o.metadata.name}`), delete: (o) => events.push(`delete ${o.metadata.name}`) });
    await inf.start();
    expect(inf.get('default/before')).toBeDefined();
    await client.create(RESOURCES.deployment, 'default', dep('after'));
    await until(() => !!inf.get('default/after'));
    await client.patch(RESOURCES.deployment, 'default', 'after', { spec: { replicas: 3 } });
    await until(() => inf.get('default/after')?.spec.replicas === 3);

    // A dropped connection: the watch resumes from the last resourceVersion, missing nothing.
    api.faults.dropWatches();
    await client.create(RESOURCES.deployment, 'default', dep('while-dropped'));
    await until(() => !!inf.get('default/while-dropped'));

    // 410 Gone on resume: a relist; a delete that happened meanwhile is noticed.
    api.faults.expireWatches({ times: 1 });
    api.faults.dropWatches();
    await client.delete(RESOURCES.deployment, 'default', 'before');
    await until(() => !inf.get('default/before'));
    expect(inf.restarts.gone + inf.restarts.closed + inf.restarts.error).toBeGreaterThan(0);
    expect(events).toContain('delete before');
    expect(events).toContain('add while-dropped');
    inf.stop();
  });

  it('informer: the watchdog restarts a watch that went silent', async () => {
    const inf = new Informer<KubeObject<any, any>>(client, RESOURCES.job, { namespace: 'default', watchdogMs: 300, retryMs: 50 });
    // Watches answer after a long delay (a hung connection); no bookmarks arrive on it.
    const slow = api.faults.delay({ method: 'GET', path: /\/jobs$/, ms: 1_500, times: Infinity, watch: true });
    await inf.start();
    await until(() => inf.restarts.watchdog > 0, 5_000);
    slow.cancel();
    await client.create(RESOURCES.job, 'default', { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j1', namespace: 'default' }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'i' }] } } } });
    await until(() => !!inf.get('default/j1'), 8_000);
    inf.stop();
  });

  it('leader election: one leader at a time, takeover after expiry, release on stop', async () => {
    const timing = { leaseDurationMs: 1000, renewDeadlineMs: 700, retryPeriodMs: 100 };
    const state: Record<string, boolean> = {};
    const mk = (id: string) => new LeaderElector(client, { namespace: 'default', name: 'test-lease', identity: id, ...timing, onStartedLeading: () => (state[id] = true), onStoppedLeading: () => (state[id] = false) });
    const a = mk('a'), b = mk('b');
    a.start();
    await until(() => a.isLeader);
    b.start();
    // Over several lease periods, b stays a standby while a renews.
    for (let i = 0; i < 20; i++) { await sleep(100); expect(a.isLeader && b.isLeader).toBe(false); }
    expect(b.isLeader).toBe(false);
    expect((await lease(client)).spec.holderIdentity).toBe('a');

    // a stops renewing without releasing (a crash): b takes over only after the lease expires.
    const crashedAt = Date.now();
    await a.stop(false);
    await until(() => b.isLeader, 5_000);
    expect(Date.now() - crashedAt).toBeGreaterThanOrEqual(800);
    expect((await lease(client)).spec.leaseTransitions).toBeGreaterThanOrEqual(1);

    // A graceful stop releases the lease: a new candidate takes it at once.
    const c = mk('c');
    await b.stop(true);
    expect((await lease(client)).spec.holderIdentity).toBeFalsy();
    const t = Date.now();
    c.start();
    await until(() => c.isLeader, 3_000);
    expect(Date.now() - t).toBeLessThan(800);
    await c.stop();
  });

  it('leader election: 409 and 500 on lease writes do not make two leaders', async () => {
    const timing = { leaseDurationMs: 800, renewDeadlineMs: 600, retryPeriodMs: 50 };
    const ids = ['x', 'y', 'z'];
    const electors = ids.map((id) => new LeaderElector(client, { namespace: 'default', name: 'contended', identity: id, ...timing }));
    api.faults.inject({ method: 'PUT', path: /leases\/contended$/, status: 409, times: 5 });
    api.faults.inject({ method: 'PUT', path: /leases\/contended$/, status: 500, times: 5 });
    electors.forEach((e) => e.start());
    let sawLeader = false;
    for (let i = 0; i < 60; i++) {
      await sleep(50);
      const n = electors.filter((e) => e.isLeader).length;
      expect(n).toBeLessThanOrEqual(1);
      if (n === 1) sawLeader = true;
    }
    expect(sawLeader).toBe(true);
    await Promise.all(electors.map((e) => e.stop()));
  });

  it('a request that gets no answer fails with a TimeoutError, and a lease whose answer was lost is still won', async () => {
    const ms = REQUEST_TIMEOUT.ms;
    REQUEST_TIMEOUT.ms = 300;
    try {
      // The answer comes after the timeout: the call fails instead of waiting for good.
      api.faults.delay({ method: 'GET', path: /leases\/silent$/, ms: 2_000, times: 1 });
      const t0 = Date.now();
      await expect(client.get(RESOURCES.lease, 'default', 'silent')).rejects.toMatchObject({ name: 'TimeoutError' });
      expect(Date.now() - t0).toBeLessThan(1_500);
      // The elector's first lease read is lost the same way; it retries and leads.
      api.faults.delay({ method: 'GET', path: /leases\/lost-answer$/, ms: 2_000, times: 1 });
      let led = false;
      const e = new LeaderElector(client, { namespace: 'default', name: 'lost-answer', identity: 'solo', leaseDurationMs: 800, renewDeadlineMs: 600, retryPeriodMs: 50, onStartedLeading: () => (led = true) });
      e.start();
      await until(() => led, 5_000);
      await e.stop();
    } finally {
      REQUEST_TIMEOUT.ms = ms;
    }
  });
});
