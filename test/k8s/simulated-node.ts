/** A simulated node for the API double: a scheduler + kubelet + job/deployment controller in
 * one small loop that talks to the API over HTTP like the real components. Pods run their first
 * container's command as a local child process. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Informer, KubeClient, KubeError, readKubeconfig } from './double/client.ts';
import type { KObject } from './double/types.ts';

export interface SimulatedNodeOptions {
  kubeconfigPath?: string;
  url?: string;
  name?: string;
  /** nvidia.com/gpu capacity (default 0). */
  gpus?: number;
  /** CPU capacity reported on the Node object (not enforced). */
  cpu?: number;
  /** Working directory of the processes (default: this process's cwd). */
  workdir?: string;
  /** command[0] → argv prefix, e.g. `{ orrery: [process.execPath, '<repo>/bin/orrery.js'] }`. */
  commandAliases?: Record<string, string[]>;
  /** Extra environment for every process (below the pod's own env). */
  env?: Record<string, string>;
  /** Delay before a failed Job pod is replaced (the real controller backs off ~10 s). Default 0. */
  retryDelayMs?: number;
  log?: (line: string) => void;
}

export interface SimulatedNode {
  name: string;
  /** Pods whose process is running now. */
  running(): number;
  /** GPUs in use now, and the peak since start. */
  gpusInUse(): number;
  maxConcurrentGpu(): number;
  /** Captured stdout+stderr of a pod's process. */
  logs(namespace: string, pod: string): string;
  close(): Promise<void>;
}

interface Proc {
  child: ChildProcess;
  gpu: number;
  pod: KObject;
  output: string[];
  resultPath: string;
  dir: string;
}

const nowIso = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
const TERMINAL = new Set(['Succeeded', 'Failed']);
const MAX_MESSAGE = 4096;

function gpuRequest(pod: KObject): number {
  let n = 0;
  for (const c of pod.spec?.containers ?? []) {
    const v = c.resources?.limits?.['nvidia.com/gpu'] ?? c.resources?.requests?.['nvidia.com/gpu'];
    if (v !== undefined) n += Number(v);
  }
  return n;
}

function cond(type: string, status: boolean, reason?: string, message?: string): KObject {
  const c: KObject = { type, status: status ? 'True' : 'False', lastProbeTime: null, lastTransitionTime: nowIso() };
  if (reason) c.reason = reason;
  if (message) c.message = message;
  return c;
}

const podPath = (ns: string, name?: string): string => `/api/v1/namespaces/${ns}/pods${name ? `/${name}` : ''}`;
const jobPath = (ns: string, name: string): string => `/apis/batch/v1/namespaces/${ns}/jobs/${name}`;

export async function startSimulatedNode(opts: SimulatedNodeOptions): Promise<SimulatedNode> {
  const conn = opts.kubeconfigPath ? readKubeconfig(opts.kubeconfigPath) : { server: String(opts.url).replace(/\/$/, ''), token: undefined };
  const client = new KubeClient(conn.server, conn.token);
  const name = opts.name ?? 'sim-node-1';
  const capacity = opts.gpus ?? 0;
  const log = opts.log ?? (() => {});
  const procs = new Map<string, Proc>(); // by pod uid
  const handled = new Set<string>(); // pod uids this node has started (never start twice)
  const unschedulableNoted = new Set<string>();
  const logs = new Map<string, string>();
  const failedAt = new Map<string, number>(); // job uid → time of the last pod failure
  const timers = new Set<NodeJS.Timeout>();
  const ttlDeleted = new Set<string>();
  let peakGpu = 0;
  let closed = false;

  const inUse = (): number => [...procs.values()].reduce((n, p) => n + p.gpu, 0);

  // Everything that writes goes through one queue, so decisions never race each other.
  let chain: Promise<void> = Promise.resolve();
  let queued = false;
  const serial = (fn: () => Promise<void>): Promise<void> => {
    chain = chain.then(fn).catch((e: unknown) => log(`sim-node: ${(e as Error)?.message ?? String(e)}`));
    return chain;
  };
  const kick = (): void => {
    if (queued || closed) return;
    queued = true;
    void serial(async () => {
      queued = false;
      await reconcile();
    });
  };
  const later = (ms: number): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      kick();
    }, ms);
    timers.add(t);
  };

  const jobs = new Informer(client, '/apis/batch/v1/jobs', () => kick());
  const pods = new Informer(client, '/api/v1/pods', () => kick());
  const deployments = new Informer(client, '/apis/apps/v1/deployments', () => kick());

  async function registerNode(): Promise<void> {
    const node = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name, labels: { 'kubernetes.io/hostname': name, 'orrery.dev/simulated': 'true' } },
      status: {
        capacity: { cpu: String(opts.cpu ?? 4), 'nvidia.com/gpu': String(capacity), pods: '110' },
        allocatable: { cpu: String(opts.cpu ?? 4), 'nvidia.com/gpu': String(capacity), pods: '110' },
        conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'simulated node is ready', lastHeartbeatTime: nowIso(), lastTransitionTime: nowIso() }],
      },
    };
    try {
      await client.create('/api/v1/nodes', node);
      await client.mergePatch(`/api/v1/nodes/${name}/status`, { status: node.status });
    } catch (e) {
      if (!(e instanceof KubeError && e.code === 409)) throw e;
    }
  }

  // ---- job controller ----

  function ownedPods(job: KObject): KObject[] {
    return [...pods.cache.values()].filter((p) => (p.metadata.ownerReferences ?? []).some((r: KObject) => r.uid === job.metadata.uid));
  }

  function jobFinished(job: KObject): KObject | undefined {
    return (job.status?.conditions ?? []).find((c: KObject) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
  }

  async function createPod(job: KObject): Promise<void> {
    const tpl = job.spec.template ?? {};
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        generateName: `${job.metadata.name}-`,
        namespace: job.metadata.namespace,
        labels: { ...(tpl.metadata?.labels ?? {}), 'job-name': job.metadata.name, 'controller-uid': job.metadata.uid, 'batch.kubernetes.io/job-name': job.metadata.name, 'batch.kubernetes.io/controller-uid': job.metadata.uid },
        annotations: { ...(tpl.metadata?.annotations ?? {}) },
        ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: job.metadata.name, uid: job.metadata.uid, controller: true, blockOwnerDeletion: true }],
        finalizers: [],
      },
      spec: tpl.spec ?? {},
    };
    const created = await client.create(podPath(job.metadata.namespace), pod);
    pods.remember(created);
    log(`sim-node: job ${job.metadata.namespace}/${job.metadata.name} → pod ${created.metadata.name}`);
  }

  async function reconcileJob(job: KObject): Promise<void> {
    if (job.metadata.deletionTimestamp) return;
    const ns = job.metadata.namespace;
    const finished = jobFinished(job);
    if (finished) {
      const ttl = job.spec?.ttlSecondsAfterFinished;
      if (ttl !== undefined && ttl !== null) {
        const at = Date.parse(job.status?.completionTime ?? finished.lastTransitionTime) + ttl * 1000;
        if (Date.now() >= at) {
          if (ttlDeleted.has(job.metadata.uid)) return;
          ttlDeleted.add(job.metadata.uid);
          log(`sim-node: ttlSecondsAfterFinished: deleting job ${ns}/${job.metadata.name}`);
          await client.delete(jobPath(ns, job.metadata.name), { propagationPolicy: 'Background' }).catch(() => {});
        } else later(at - Date.now() + 5);
      }
      return;
    }
    if (job.spec?.suspend) return;
    const owned = ownedPods(job);
    const active = owned.filter((p) => !TERMINAL.has(p.status?.phase) && !p.metadata.deletionTimestamp);
    const succeeded = owned.filter((p) => p.status?.phase === 'Succeeded').length;
    const failed = owned.filter((p) => p.status?.phase === 'Failed').length;
    const completions = job.spec?.completions ?? 1;
    const backoffLimit = job.spec?.backoffLimit ?? 6;
    const startTime = job.status?.startTime ?? nowIso();
    const status: KObject = {
      startTime,
      active: active.length,
      ready: active.filter((p) => p.status?.phase === 'Running').length,
      succeeded,
      failed,
      terminating: 0,
      uncountedTerminatedPods: {},
    };
    const deadline = job.spec?.activeDeadlineSeconds;
    let failure: { reason: string; message: string } | undefined;
    if (failed > backoffLimit) failure = { reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' };
    else if (deadline && Date.now() - Date.parse(startTime) > deadline * 1000) failure = { reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' };
    if (succeeded >= completions) {
      const ts = nowIso();
      status.completionTime = ts;
      status.active = 0;
      status.ready = 0;
      status.conditions = [
        { type: 'SuccessCriteriaMet', status: 'True', reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods', lastProbeTime: ts, lastTransitionTime: ts },
        { type: 'Complete', status: 'True', reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods', lastProbeTime: ts, lastTransitionTime: ts },
      ];
    } else if (failure) {
      const ts = nowIso();
      for (const p of active) await client.delete(podPath(ns, p.metadata.name)).catch(() => {});
      status.active = 0;
      status.ready = 0;
      status.conditions = [
        { type: 'FailureTarget', status: 'True', ...failure, lastProbeTime: ts, lastTransitionTime: ts },
        { type: 'Failed', status: 'True', ...failure, lastProbeTime: ts, lastTransitionTime: ts },
      ];
    } else {
      const want = Math.min(job.spec?.parallelism ?? 1, completions - succeeded) - active.length;
      const lastFailure = failedAt.get(job.metadata.uid) ?? 0;
      const wait = lastFailure + (opts.retryDelayMs ?? 0) - Date.now();
      if (want > 0 && failed > 0 && wait > 0) later(wait);
      else for (let i = 0; i < want; i++) {
        await createPod(job);
        status.active++;
      }
    }
    const cur = job.status ?? {};
    const changed = Object.entries(status).some(([k, v]) => JSON.stringify(cur[k]) !== JSON.stringify(v));
    if (changed) {
      const updated = await client.mergePatch(`${jobPath(ns, job.metadata.name)}/status`, { status });
      jobs.remember(updated);
      if (status.conditions) log(`sim-node: job ${ns}/${job.metadata.name} ${status.conditions[1].type}`);
    }
  }

  // ---- scheduler + kubelet ----

  async function resolveEnv(pod: KObject, container: KObject): Promise<Record<string, string>> {
    const ns = pod.metadata.namespace;
    const env: Record<string, string> = {};
    const fieldRef = (path: string): string => {
      const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
      if (m) return pod.metadata[m[1]]?.[m[2]] ?? '';
      const v = path.split('.').reduce<unknown>((o, k) => (o as KObject)?.[k], pod);
      return v === undefined ? '' : String(v);
    };
    const fromSource = async (kind: 'configmaps' | 'secrets', sourceName: string): Promise<KObject | undefined> => {
      try {
        return await client.get(`/api/v1/namespaces/${ns}/${kind}/${sourceName}`);
      } catch {
        return undefined;
      }
    };
    for (const ef of container.envFrom ?? []) {
      const src = ef.configMapRef ? await fromSource('configmaps', ef.configMapRef.name) : ef.secretRef ? await fromSource('secrets', ef.secretRef.name) : undefined;
      for (const [k, v] of Object.entries(src?.data ?? {})) env[(ef.prefix ?? '') + k] = ef.secretRef ? Buffer.from(String(v), 'base64').toString() : String(v);
    }
    for (const e of container.env ?? []) {
      if (e.value !== undefined) env[e.name] = String(e.value);
      else if (e.valueFrom?.fieldRef) env[e.name] = fieldRef(e.valueFrom.fieldRef.fieldPath);
      else if (e.valueFrom?.configMapKeyRef) {
        const cm = await fromSource('configmaps', e.valueFrom.configMapKeyRef.name);
        const v = cm?.data?.[e.valueFrom.configMapKeyRef.key];
        if (v === undefined && !e.valueFrom.configMapKeyRef.optional) throw new Error(`configmap key ${e.valueFrom.configMapKeyRef.name}/${e.valueFrom.configMapKeyRef.key} not found`);
        if (v !== undefined) env[e.name] = v;
      } else if (e.valueFrom?.secretKeyRef) {
        const s = await fromSource('secrets', e.valueFrom.secretKeyRef.name);
        const v = s?.data?.[e.valueFrom.secretKeyRef.key] ?? s?.stringData?.[e.valueFrom.secretKeyRef.key];
        if (v === undefined && !e.valueFrom.secretKeyRef.optional) throw new Error(`secret key ${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key} not found`);
        if (v !== undefined) env[e.name] = s?.data?.[e.valueFrom.secretKeyRef.key] ? Buffer.from(v, 'base64').toString() : v;
      }
    }
    return env;
  }

  async function patchPodStatus(pod: KObject, status: KObject): Promise<void> {
    try {
      pods.remember(await client.mergePatch(`${podPath(pod.metadata.namespace, pod.metadata.name)}/status`, { status }));
    } catch (e) {
      if (!(e instanceof KubeError && e.code === 404)) throw e;
    }
  }

  async function failToStart(pod: KObject, reason: string, message: string): Promise<void> {
    const c = pod.spec.containers?.[0] ?? {};
    await patchPodStatus(pod, {
      phase: 'Failed',
      reason,
      message,
      containerStatuses: [{ name: c.name ?? 'main', image: c.image ?? '', imageID: '', ready: false, started: false, restartCount: 0, state: { terminated: { exitCode: 128, reason, message, startedAt: nowIso(), finishedAt: nowIso() } } }],
    });
  }

  async function startPod(pod: KObject, gpu: number): Promise<void> {
    const uid = pod.metadata.uid;
    handled.add(uid);
    const ns = pod.metadata.namespace;
    const podName = pod.metadata.name;
    if (!pod.spec.nodeName) {
      try {
        pods.remember(await client.mergePatch(podPath(ns, podName), { spec: { nodeName: name } }));
      } catch (e) {
        if (e instanceof KubeError && e.code === 404) return;
        throw e;
      }
    }
    const c = pod.spec.containers?.[0];
    const argv: string[] = [...(c?.command ?? []), ...(c?.args ?? [])];
    if (!c || argv.length === 0) return failToStart(pod, 'CreateContainerConfigError', 'the simulated node runs container commands only: set command/args');
    const alias = opts.commandAliases?.[argv[0]];
    const [cmd, ...args] = alias ? [...alias, ...argv.slice(1)] : argv;
    let podEnv: Record<string, string>;
    try {
      podEnv = await resolveEnv(pod, c);
    } catch (e) {
      return failToStart(pod, 'CreateContainerConfigError', (e as Error).message);
    }
    const dir = mkdtempSync(join(tmpdir(), 'orrery-sim-pod-'));
    const resultPath = join(dir, 'termination-log');
    writeFileSync(resultPath, '');
    const tmPath = c.terminationMessagePath ?? '/dev/termination-log';
    // The process cannot write the container's termination log path; point env at a temp file.
    for (const [k, v] of Object.entries(podEnv)) if (v === tmPath || v === '/dev/termination-log') podEnv[k] = resultPath;
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? dir, TMPDIR: tmpdir(), HOSTNAME: podName, ...(opts.env ?? {}), ...podEnv };
    const child = spawn(cmd, args, { cwd: opts.workdir ?? process.cwd(), env, stdio: ['ignore', 'pipe', 'pipe'] });
    const proc: Proc = { child, gpu, pod, output: [], resultPath, dir };
    procs.set(uid, proc);
    peakGpu = Math.max(peakGpu, inUse());
    log(`sim-node: started pod ${ns}/${podName} (${[cmd, ...args].join(' ').slice(0, 120)}) gpu=${gpu} in-use=${inUse()}/${capacity}`);
    const collect = (chunk: Buffer): void => {
      const text = chunk.toString('utf8');
      logs.set(`${ns}/${podName}`, ((logs.get(`${ns}/${podName}`) ?? '') + text).slice(-1_000_000));
      proc.output.push(...text.split('\n'));
      if (proc.output.length > 200) proc.output.splice(0, proc.output.length - 200);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    let spawnError: Error | undefined;
    child.on('error', (e) => {
      spawnError = e;
    });
    const startedAt = nowIso();
    await patchPodStatus(pod, {
      phase: 'Running',
      hostIP: '127.0.0.1',
      podIP: '127.0.0.1',
      podIPs: [{ ip: '127.0.0.1' }],
      startTime: startedAt,
      conditions: [cond('PodReadyToStartContainers', true), cond('Initialized', true), cond('Ready', true), cond('ContainersReady', true), cond('PodScheduled', true)],
      containerStatuses: [{ name: c.name, image: c.image ?? '', imageID: '', containerID: `sim://${child.pid ?? 0}`, ready: true, started: true, restartCount: 0, state: { running: { startedAt } } }],
    });
    child.on('close', (code, signal) => {
      void serial(async () => {
        procs.delete(uid);
        let message = '';
        try {
          message = readFileSync(resultPath, 'utf8');
        } catch {
          message = '';
        }
        const exitCode = spawnError ? 127 : code ?? (signal === 'SIGKILL' ? 137 : 143);
        if (spawnError) message ||= spawnError.message;
        if (!message.trim() && exitCode !== 0 && c.terminationMessagePolicy === 'FallbackToLogsOnError') {
          message = proc.output.filter((l, i, a) => !(i === a.length - 1 && l === '')).slice(-80).join('\n');
          if (message.length > 2048) message = message.slice(-2048);
        }
        if (Buffer.byteLength(message) > MAX_MESSAGE) message = message.slice(0, MAX_MESSAGE);
        rmSync(dir, { recursive: true, force: true });
        const reason = exitCode === 0 ? 'Completed' : 'Error';
        log(`sim-node: pod ${ns}/${podName} exited ${exitCode}${signal ? ` (${signal})` : ''}`);
        const finishedAt = nowIso();
        const terminated: KObject = { exitCode, reason, startedAt, finishedAt, containerID: `sim://${child.pid ?? 0}` };
        if (message) terminated.message = message;
        if (signal) terminated.signal = signal === 'SIGKILL' ? 9 : 15;
        await patchPodStatus(pod, {
          phase: exitCode === 0 ? 'Succeeded' : 'Failed',
          conditions: [cond('PodReadyToStartContainers', false), cond('Initialized', true, 'PodCompleted'), cond('Ready', false, 'PodCompleted'), cond('ContainersReady', false, 'PodCompleted'), cond('PodScheduled', true)],
          containerStatuses: [{ name: c.name, image: c.image ?? '', imageID: '', containerID: `sim://${child.pid ?? 0}`, ready: false, started: false, restartCount: 0, state: { terminated } }],
        });
        const owner = (pod.metadata.ownerReferences ?? []).find((r: KObject) => r.kind === 'Job');
        if (owner && exitCode !== 0) failedAt.set(owner.uid, Date.now());
        kick();
      });
    });
  }

  function stopProc(uid: string, why: string): void {
    const p = procs.get(uid);
    if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
    log(`sim-node: stopping pod ${p.pod.metadata.namespace}/${p.pod.metadata.name}: ${why}`);
    p.child.kill('SIGTERM');
    const grace = Math.min(Number(p.pod.spec?.terminationGracePeriodSeconds ?? 30), 5) * 1000;
    const t = setTimeout(() => p.child.kill('SIGKILL'), grace);
    t.unref();
    p.child.once('close', () => clearTimeout(t));
  }

  async function reconcilePods(): Promise<void> {
    const live = new Map<string, KObject>();
    for (const p of pods.cache.values()) live.set(p.metadata.uid, p);
    // A deleted pod (or one being deleted) loses its process, like a kubelet would kill it.
    for (const [uid] of procs) {
      const p = live.get(uid);
      if (!p) stopProc(uid, 'pod deleted');
      else if (p.metadata.deletionTimestamp) stopProc(uid, 'pod terminating');
    }
    const pending = [...pods.cache.values()]
      .filter((p) => !handled.has(p.metadata.uid) && !p.metadata.deletionTimestamp && (p.status?.phase ?? 'Pending') === 'Pending' && (!p.spec?.nodeName || p.spec.nodeName === name))
      .sort((a, b) => a.metadata.creationTimestamp.localeCompare(b.metadata.creationTimestamp) || a.metadata.name.localeCompare(b.metadata.name));
    for (const p of pending) {
      const gpu = gpuRequest(p);
      if (gpu + inUse() > capacity) {
        if (!unschedulableNoted.has(p.metadata.uid)) {
          unschedulableNoted.add(p.metadata.uid);
          const msg = `0/1 nodes are available: 1 Insufficient nvidia.com/gpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.`;
          await patchPodStatus(p, { phase: 'Pending', conditions: [cond('PodScheduled', false, 'Unschedulable', msg)] });
        }
        continue; // FIFO per pod, but a smaller pod behind may still fit
      }
      await startPod(p, gpu);
    }
  }

  async function reconcileDeployments(): Promise<void> {
    for (const d of deployments.cache.values()) {
      if (d.metadata.deletionTimestamp) continue;
      const replicas = d.spec?.replicas ?? 1;
      const s = d.status ?? {};
      if (s.observedGeneration === d.metadata.generation && s.readyReplicas === replicas && s.replicas === replicas) continue;
      const ts = nowIso();
      const status = {
        observedGeneration: d.metadata.generation,
        replicas,
        updatedReplicas: replicas,
        readyReplicas: replicas,
        availableReplicas: replicas,
        conditions: [
          { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.', lastUpdateTime: ts, lastTransitionTime: ts },
          { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', message: `ReplicaSet "${d.metadata.name}" has successfully progressed.`, lastUpdateTime: ts, lastTransitionTime: ts },
        ],
      };
      try {
        deployments.remember(await client.mergePatch(`/apis/apps/v1/namespaces/${d.metadata.namespace}/deployments/${d.metadata.name}/status`, { status }));
      } catch (e) {
        if (!(e instanceof KubeError && e.code === 404)) throw e;
      }
    }
  }

  async function reconcile(): Promise<void> {
    if (closed) return;
    for (const job of [...jobs.cache.values()]) await reconcileJob(job);
    await reconcilePods();
    await reconcileDeployments();
  }

  await registerNode();
  await Promise.all([jobs.start(), pods.start(), deployments.start()]);
  // Safety net for missed events (e.g. after a dropped watch) and for deadlines.
  const resync = setInterval(kick, 1000);
  kick();

  return {
    name,
    running: () => procs.size,
    gpusInUse: inUse,
    maxConcurrentGpu: () => peakGpu,
    logs: (ns, pod) => logs.get(`${ns}/${pod}`) ?? '',
    async close() {
      closed = true;
      clearInterval(resync);
      for (const t of timers) clearTimeout(t);
      jobs.stop();
      pods.stop();
      deployments.stop();
      const exits = [...procs.values()].map((p) => new Promise<void>((r) => {
        if (p.child.exitCode !== null || p.child.signalCode !== null) return r();
        p.child.once('close', () => r());
        p.child.kill('SIGTERM');
        setTimeout(() => p.child.kill('SIGKILL'), 2000).unref();
      }));
      await Promise.all(exits);
      await chain;
    },
  };
}
