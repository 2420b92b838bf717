/**
 * The operator's throughput: 10,000 Materializations reconciled into Jobs (no pods run), against
 * the API double's raw create rate for the same 10,000 Job objects created directly by a client
 * at the same concurrency — both measured side by side in this run, on the same double (in its
 * own process, like an API server). Then apply→Job latency: Materializations applied one at a
 * time, from the create call to the Job appearing in a watch. Goal: ratio ≥ 0.5, p95 < 200 ms.
 * Like with like: the baseline's creates and the operator's requests both go through the same
 * `KubeClient` methods (its raw keep-alive JSON path over node:http), at the same concurrency.
 * ORRERY_BENCH_OPERATOR_N sets N; ORRERY_BENCH_DOUBLE_STATS=1 prints the double's request counts.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import pino from 'pino';
import { KubeClient } from '../adapters/kubernetes/client.ts';
import { MemoryKeyValue } from '../adapters/memory/key-value.ts';
import { FilesystemObjectStore } from '../adapters/object-store/filesystem.ts';
import { openPgliteEventLog } from '../adapters/postgres/event-log.ts';
import { AssetGraph } from '../core/graph/asset-graph.ts';
import { systemClock } from '../core/ports.ts';
import { Runtime } from '../core/runtime.ts';
import { buildJob } from '../operator/job-builder.ts';
import { Operator } from '../operator/main.ts';
import { API_VERSION, RESOURCES, type KubeObject, type MaterializationResource } from '../operator/resources.ts';
import { Informer } from '../operator/runtime/informer.ts';
import location from '../test/fixtures/k8s-location.ts';
import type { BenchResult } from './run.ts';

const N = Number(process.env.ORRERY_BENCH_OPERATOR_N ?? 10_000);
const CONCURRENCY = 16;
const LATENCY_SAMPLES = 200;
const REPO = resolve(import.meta.dirname, '..');

async function startDouble(): Promise<{ kubeconfig: string; stop(): void }> {
  const code = `const { startApiDouble } = await import(${JSON.stringify(join(REPO, 'test/k8s/api-double.ts'))}); const d = await startApiDouble({ historySize: 100000 }); process.stdout.write(d.kubeconfigPath + '\\n'); process.on('SIGTERM', () => { if (process.env.ORRERY_BENCH_DOUBLE_STATS) process.stderr.write('double requests: ' + JSON.stringify(d.requests.all()) + '\\n'); d.close().then(() => process.exit(0)); });`;
  // ORRERY_BENCH_CPU_PROF=DIR profiles the double's process too (node --cpu-prof).
  const prof = process.env.ORRERY_BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.ORRERY_BENCH_CPU_PROF}`] : [];
  const child = spawn(process.execPath, [...prof, '--import', 'tsx', '--input-type=module', '-e', code], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((res, rej) => {
    createInterface({ input: child.stdout! }).once('line', res);
    child.once('exit', (c) => rej(new Error(`API double exited (${c})`)));
  });
  return { kubeconfig: line.trim(), stop: () => child.kill('SIGTERM') };
}

function kubectl(kubeconfig: string, args: string[]): Promise<void> {
  return new Promise((res, rej) => {
    const c = spawn('/usr/bin/kubectl', ['--kubeconfig', kubeconfig, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
    c.on('close', (code) => (code === 0 ? res() : rej(new Error(`kubectl ${args.join(' ')} exited ${code}`))));
  });
}

/** Runs `task(i)` for i in [0, n) with `limit` in flight. */
async function pool(n: number, limit: number, task: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => { while (next < n) await task(next++); }));
}

const materialization = (name: string, i: number): MaterializationResource => ({
  apiVersion: API_VERSION, kind: 'Materialization',
  metadata: { name, namespace: 'default' },
  spec: { asset: 'prices', partitions: [`2024-${String((i % 12) + 1).padStart(2, '0')}`], maxAttempts: 1 },
});

export async function run(): Promise<BenchResult> {
  const double = await startDouble();
  try {
    await kubectl(double.kubeconfig, ['apply', ...['asset', 'materialization', 'backfill', 'sensor', 'modeldeployment'].flatMap((k) => ['-f', join(REPO, 'crds', `${k}.yaml`)])]);
    const client = KubeClient.load(double.kubeconfig);
    const dir = mkdtempSync(join(tmpdir(), 'orrery-bench-op-'));
    const eventLog = await openPgliteEventLog(undefined);
    const resources = { objectStore: new FilesystemObjectStore(join(dir, 'objects')), keyValue: new MemoryKeyValue(), clock: systemClock };
    const logger = pino({ level: 'silent' });
    const runtime = new Runtime({ graph: new AssetGraph(location()), eventLog, logger, resources });
    const jobs = { image: 'orrery:bench', stepEnv: { DATABASE_URL: 'postgres://bench' }, ttlSecondsAfterFinished: 3600 };

    // Baseline: the same Job objects, created directly (in another namespace) at the same concurrency.
    // Their owner exists (one Materialization in that namespace), so the double's garbage
    // collector keeps them, as it keeps the operator's.
    const names = Array.from({ length: N }, (_, i) => `bench-${i}`);
    const owner = await client.create<MaterializationResource>(RESOURCES.materialization, 'kube-public', { ...materialization('owner', 0), metadata: { name: 'owner', namespace: 'kube-public' } });
    const bodies = names.map((n, i) => {
      const m = { ...materialization(n, i), metadata: { name: n, namespace: 'kube-public', uid: owner.metadata.uid } };
      return buildJob(m, runtime.graph, resources, jobs, undefined);
    });
    const t0 = performance.now();
    await pool(N, CONCURRENCY, (i) => client.create(RESOURCES.job, 'kube-public', bodies[i]));
    const baselineS = (performance.now() - t0) / 1000;
    const baseline = N / baselineS;
    process.stderr.write(`baseline: ${N} Jobs created directly in ${baselineS.toFixed(1)} s (${baseline.toFixed(0)}/s)\n`);

    // The operator: the Materializations exist first (applied while it is down), then it starts
    // and turns every one into a Job; timed from start until the 10,000th Job is seen.
    await pool(N, CONCURRENCY, (i) => client.create(RESOURCES.materialization, 'default', materialization(names[i], i)));
    const operator = new Operator({ client, namespace: 'default', runtime, eventLog, resources, logger, jobs, concurrency: CONCURRENCY, leaderElection: false });
    const t1 = performance.now();
    await operator.start();
    const syncedS = (performance.now() - t1) / 1000;
    while (operator.informers.jobs.list().length < N) await new Promise((r) => setTimeout(r, 20));
    const operatorS = (performance.now() - t1) / 1000;
    const value = N / operatorS;
    process.stderr.write(`operator: ${N} Materializations → Jobs in ${operatorS.toFixed(1)} s (${value.toFixed(0)}/s; caches synced after ${syncedS.toFixed(2)} s)\n`);
    await operator.idle();

    // Latency: one Materialization at a time, create call → its Job in a watch.
    const seen = new Map<string, number>();
    const watch = new Informer<KubeObject>(client, RESOURCES.job, { namespace: 'default', labelSelector: 'app.kubernetes.io/managed-by=orrery-operator' });
    watch.on({ add: (j) => { const owner = j.metadata.ownerReferences?.[0]?.name; if (owner) seen.set(owner, performance.now()); } });
    await watch.start();
    const latencies: number[] = [];
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
      const name = `latency-${i}`;
      const start = performance.now();
      await client.create(RESOURCES.materialization, 'default', materialization(name, i));
      while (!seen.has(name)) await new Promise((r) => setTimeout(r, 1));
      latencies.push(seen.get(name)! - start);
    }
    watch.stop();
    latencies.sort((a, b) => a - b);
    const p95 = latencies[Math.floor(latencies.length * 0.95)];
    const p50 = latencies[Math.floor(latencies.length * 0.5)];
    await operator.stop();
    await eventLog.close();
    return {
      value: Math.round(value),
      unit: 'jobs/s',
      baseline: Math.round(baseline),
      ratio: Number((value / baseline).toFixed(2)),
      p95_ms: Math.round(p95),
      p50_ms: Math.round(p50),
      materializations: N,
      concurrency: CONCURRENCY,
      goal: 'ratio >= 0.5 and p95_ms < 200',
    };
  } finally {
    double.stop();
  }
}
