import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiDouble, type ApiDouble, type KObject } from './api-double.ts';
import { kubectlFor } from './kubectl.ts';
import { startSimulatedNode, type SimulatedNode } from './simulated-node.ts';

let double: ApiDouble;
let node: SimulatedNode;
let kubectl: ReturnType<typeof kubectlFor>;

async function ok(args: string[], input?: string): Promise<string> {
  const r = await kubectl(args, { input });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

function job(name: string, script: string, o: { backoffLimit?: number; gpu?: number; env?: KObject[]; ttl?: number; policy?: string; command?: string[] } = {}): KObject {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name },
    spec: {
      backoffLimit: o.backoffLimit ?? 0,
      ...(o.ttl !== undefined ? { ttlSecondsAfterFinished: o.ttl } : {}),
      template: {
        spec: {
          restartPolicy: 'Never',
          containers: [{
            name: 'main',
            image: 'orrery:dev',
            command: o.command ?? ['node', '-e', script],
            env: o.env ?? [],
            ...(o.policy ? { terminationMessagePolicy: o.policy } : {}),
            ...(o.gpu ? { resources: { limits: { 'nvidia.com/gpu': o.gpu } } } : {}),
          }],
        },
      },
    },
  };
}

const podsOf = (name: string): KObject[] => double.store.list('', 'v1', 'pods', 'default').filter((p) => p.metadata.labels?.['job-name'] === name);
const getJob = (name: string): KObject | undefined => double.store.get('batch', 'v1', 'jobs', 'default', name);

async function until<T>(fn: () => T | undefined | false, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

beforeAll(async () => {
  double = await startApiDouble();
  kubectl = kubectlFor(double.kubeconfigPath);
  node = await startSimulatedNode({
    kubeconfigPath: double.kubeconfigPath,
    gpus: 2,
    commandAliases: { greet: [process.execPath, '-e', 'require("fs").writeFileSync(process.env.ORRERY_RESULT_PATH, "hello " + process.argv.slice(1).join(" "))'] },
    env: { FROM_NODE: 'node-env' },
  });
});

afterAll(async () => {
  await node?.close();
  await double?.close();
});

describe('simulated node', () => {
  it('runs a Job to completion and captures the termination message from ORRERY_RESULT_PATH', async () => {
    const script = 'require("fs").writeFileSync(process.env.ORRERY_RESULT_PATH, JSON.stringify({ ok: true, pod: process.env.POD, ns: process.env.NS, fromNode: process.env.FROM_NODE, cm: process.env.CM }))';
    await ok(['create', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings' }, data: { level: 'debug' } }));
    const env = [
      { name: 'ORRERY_RESULT_PATH', value: '/dev/termination-log' },
      { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'CM', valueFrom: { configMapKeyRef: { name: 'settings', key: 'level' } } },
    ];
    await ok(['apply', '-f', '-'], JSON.stringify(job('ok1', script, { env })));
    await ok(['wait', '--for=condition=complete', '--timeout=20s', 'job/ok1']);
    const [pod] = podsOf('ok1');
    const j = getJob('ok1')!;
    expect(pod.metadata.ownerReferences[0]).toMatchObject({ kind: 'Job', name: 'ok1', uid: j.metadata.uid, controller: true });
    expect(pod.metadata.labels['controller-uid']).toBe(j.metadata.uid);
    expect(pod.status.phase).toBe('Succeeded');
    expect(pod.spec.nodeName).toBe('sim-node-1');
    const term = pod.status.containerStatuses[0].state.terminated;
    expect(term).toMatchObject({ exitCode: 0, reason: 'Completed' });
    expect(JSON.parse(term.message)).toEqual({ ok: true, pod: pod.metadata.name, ns: 'default', fromNode: 'node-env', cm: 'debug' });
    expect(j.status).toMatchObject({ succeeded: 1, active: 0, failed: 0 });
    expect(j.status.startTime).toBeTruthy();
    expect(j.status.conditions.map((c: KObject) => c.type)).toEqual(['SuccessCriteriaMet', 'Complete']);
    expect(await ok(['get', 'jobs', 'ok1', '--no-headers'])).toMatch(/ok1\s+Complete\s+1\/1/);
    expect(await ok(['get', 'pods', '-l', 'job-name=ok1', '--no-headers'])).toMatch(/0\/1\s+Completed\s+0/);
  });

  it('retries a failing Job up to backoffLimit, then marks it Failed with the logs as message', async () => {
    await ok(['apply', '-f', '-'], JSON.stringify(job('bad1', 'console.log("step one"); console.error("boom"); process.exit(3)', { backoffLimit: 2, policy: 'FallbackToLogsOnError' })));
    await ok(['wait', '--for=condition=failed', '--timeout=20s', 'job/bad1']);
    const pods = podsOf('bad1');
    expect(pods).toHaveLength(3); // one pod per attempt: the first try plus backoffLimit retries
    for (const p of pods) {
      expect(p.status.phase).toBe('Failed');
      const t = p.status.containerStatuses[0].state.terminated;
      expect(t).toMatchObject({ exitCode: 3, reason: 'Error' });
      expect(t.message).toContain('boom');
      expect(t.message).toContain('step one');
    }
    const j = getJob('bad1')!;
    expect(j.status).toMatchObject({ failed: 3, succeeded: 0, active: 0 });
    expect(j.status.conditions.find((c: KObject) => c.type === 'Failed')).toMatchObject({ status: 'True', reason: 'BackoffLimitExceeded' });
  });

  it('resolves command aliases', async () => {
    await ok(['apply', '-f', '-'], JSON.stringify(job('alias1', '', { command: ['greet', 'world'], env: [{ name: 'ORRERY_RESULT_PATH', value: '/dev/termination-log' }] })));
    await ok(['wait', '--for=condition=complete', '--timeout=20s', 'job/alias1']);
    expect(podsOf('alias1')[0].status.containerStatuses[0].state.terminated.message).toBe('hello world');
  });

  it('never runs more GPU pods than the node has; waiting pods are Pending/Unschedulable until capacity frees', async () => {
    const names = ['gpu-a', 'gpu-b', 'gpu-c'];
    let sawUnschedulable = false;
    const watcher = setInterval(() => {
      for (const n of names) for (const p of podsOf(n)) {
        if ((p.status?.conditions ?? []).some((c: KObject) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable')) sawUnschedulable = true;
      }
    }, 10);
    try {
      await ok(['apply', '-f', '-'], names.map((n) => JSON.stringify(job(n, 'setTimeout(() => {}, 700)', { gpu: 1 }))).join('\n'));
      await ok(['wait', '--for=condition=complete', '--timeout=30s', ...names.map((n) => `job/${n}`)]);
    } finally {
      clearInterval(watcher);
    }
    expect(node.maxConcurrentGpu()).toBe(2);
    expect(sawUnschedulable).toBe(true);
    for (const n of names) expect(getJob(n)!.status.succeeded).toBe(1);
    expect(node.gpusInUse()).toBe(0);
  });

  it('deleting a Job kills its running process; ttlSecondsAfterFinished deletes finished Jobs', async () => {
    await ok(['apply', '-f', '-'], JSON.stringify(job('long1', 'process.on("SIGTERM", () => { console.log("got SIGTERM"); process.exit(143) }); setInterval(() => {}, 1000)')));
    await until(() => podsOf('long1')[0]?.status?.phase === 'Running');
    expect(node.running()).toBe(1);
    const podName = podsOf('long1')[0].metadata.name;
    await ok(['delete', 'job', 'long1', '--wait=false']);
    await until(() => node.running() === 0, 5000);
    await until(() => podsOf('long1').length === 0, 5000); // garbage-collected with its owner
    await until(() => node.logs('default', podName).includes('got SIGTERM'), 5000);

    await ok(['apply', '-f', '-'], JSON.stringify(job('ttl1', '', { ttl: 1 })));
    await until(() => getJob('ttl1')?.status?.succeeded === 1);
    await until(() => !getJob('ttl1'), 5000);
  });

  it('keeps working across dropped and expired watches (relists)', async () => {
    double.faults.expireWatches({ times: 3 });
    expect(double.faults.dropWatches()).toBeGreaterThanOrEqual(3);
    await ok(['apply', '-f', '-'], JSON.stringify(job('after-drop', 'process.exit(0)')));
    await ok(['wait', '--for=condition=complete', '--timeout=20s', 'job/after-drop']);
    expect(podsOf('after-drop')).toHaveLength(1);
  });

  it('marks Deployments available like a deployment controller', async () => {
    const dep = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'x' }] } } } };
    await ok(['apply', '-f', '-'], JSON.stringify(dep));
    await ok(['wait', '--for=condition=available', '--timeout=10s', 'deployment/web']);
    expect(double.store.get('apps', 'v1', 'deployments', 'default', 'web')!.status).toMatchObject({ replicas: 3, readyReplicas: 3, availableReplicas: 3, observedGeneration: 1 });
    expect(await ok(['get', 'deploy', 'web', '--no-headers'])).toMatch(/web\s+3\/3/);
    expect(await ok(['get', 'nodes', '--no-headers'])).toMatch(/sim-node-1\s+Ready\s+2/);
  });
});
