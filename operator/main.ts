/**
 * The operator: informers on Assets, Materializations, Backfills, Sensors, ModelDeployments,
 * Jobs and Deployments feed one rate-limited work queue; only the leader's workers reconcile
 * (a standby keeps its caches warm and watches the lease); SIGTERM stops taking work, finishes
 * what is in flight and releases the lease.
 */
import { hostname } from 'node:os';
import { Registry } from 'prom-client';
import { describeError } from '../core/errors.ts';
import type { Informers, OperatorContext, ReconcileKind } from './context.ts';
import { OperatorMetrics } from './metrics.ts';
import { reconcileAsset } from './reconcilers/asset.ts';
import { reconcileBackfill } from './reconcilers/backfill.ts';
import { reconcileMaterialization } from './reconcilers/materialization.ts';
import { reconcileModelDeployment } from './reconcilers/model-deployment.ts';
import { reconcileSensor } from './reconcilers/sensor.ts';
import { objectKey, RESOURCES, type KubeObject, type MaterializationResource } from './resources.ts';
import { Informer } from './runtime/informer.ts';
import { LeaderElector } from './runtime/leader.ts';
import { WorkQueue, type HandlerResult } from './runtime/workqueue.ts';

/** What the reconcilers share comes from the caller; the rest the operator builds itself. */
export interface OperatorOptions extends Pick<OperatorContext, 'client' | 'namespace' | 'runtime' | 'eventLog' | 'resources' | 'logger' | 'jobs'> {
  /** Reconciles at once (workers). */
  concurrency?: number;
  identity?: string;
  leaderElection?: false | { leaseName?: string; leaseDurationMs?: number; renewDeadlineMs?: number; retryPeriodMs?: number };
  informer?: { watchdogMs?: number; resyncMs?: number; retryMs?: number };
  /** Where the operator's metrics register (the instance's registry, to share /metrics). */
  registry?: Registry;
}

const RECONCILERS: Record<ReconcileKind, (ctx: OperatorContext, key: string) => Promise<HandlerResult>> = {
  Asset: reconcileAsset,
  Materialization: reconcileMaterialization,
  Backfill: reconcileBackfill,
  Sensor: reconcileSensor,
  ModelDeployment: reconcileModelDeployment,
};

export class Operator {
  readonly identity: string;
  readonly metrics: OperatorMetrics;
  readonly informers: Informers;
  private queue?: WorkQueue;
  private readonly elector?: LeaderElector;
  private readonly ctx: OperatorContext;
  private acting = false;
  /** Reconciles done by this replica (tests: which replica acted). */
  reconciled = 0;

  constructor(private readonly o: OperatorOptions) {
    this.identity = o.identity ?? `${hostname()}-${process.pid}`;
    this.metrics = new OperatorMetrics(o.registry ?? new Registry());
    const io = { namespace: o.namespace, logger: o.logger, watchdogMs: o.informer?.watchdogMs, resyncMs: o.informer?.resyncMs ?? 300_000, retryMs: o.informer?.retryMs };
    this.informers = {
      assets: new Informer(o.client, RESOURCES.asset, io),
      materializations: new Informer(o.client, RESOURCES.materialization, io),
      backfills: new Informer(o.client, RESOURCES.backfill, io),
      sensors: new Informer(o.client, RESOURCES.sensor, io),
      modelDeployments: new Informer(o.client, RESOURCES.modelDeployment, io),
      jobs: new Informer(o.client, RESOURCES.job, { ...io, labelSelector: 'app.kubernetes.io/managed-by=orrery-operator' }),
      deployments: new Informer(o.client, RESOURCES.deployment, { ...io, labelSelector: 'app.kubernetes.io/managed-by=orrery-operator' }),
    };
    this.ctx = {
      client: o.client, namespace: o.namespace, runtime: o.runtime, eventLog: o.eventLog, resources: o.resources, logger: o.logger, jobs: { ...o.jobs, createdBy: this.identity }, informers: this.informers,
      enqueue: (kind, key, afterMs) => this.enqueue(kind, key, afterMs),
      jobCreated: () => this.metrics.jobsCreated.inc(),
    };
    this.wire();
    if (o.leaderElection !== false) {
      const le = o.leaderElection ?? {};
      this.elector = new LeaderElector(o.client, {
        namespace: o.namespace, name: le.leaseName ?? 'orrery-operator', identity: this.identity,
        leaseDurationMs: le.leaseDurationMs, renewDeadlineMs: le.renewDeadlineMs, retryPeriodMs: le.retryPeriodMs, logger: o.logger,
        onStartedLeading: () => this.startActing(),
        onStoppedLeading: () => void this.stopActing(),
      });
    }
  }

  get isLeader(): boolean {
    return this.acting;
  }

  get queueDepth(): number {
    return this.queue?.depth ?? 0;
  }

  /** Starts the caches, then competes for leadership (or acts at once without election). */
  async start(): Promise<void> {
    await Promise.all(Object.values(this.informers).map((i: Informer<any>) => i.start()));
    if (this.elector) this.elector.start();
    else this.startActing();
  }

  /** Graceful: stop taking work, finish in-flight reconciles, release the lease, stop watching. */
  async stop(): Promise<void> {
    await this.stopActing();
    await this.elector?.stop(true);
    for (const i of Object.values(this.informers) as Informer<any>[]) i.stop();
  }

  /** Resolves when the queue is empty and nothing is in flight (tests, benchmarks). */
  async idle(): Promise<void> {
    await this.queue?.idle();
  }

  private startActing(): void {
    if (this.acting) return;
    this.acting = true;
    this.metrics.leader.set(1);
    const queue = new WorkQueue({ concurrency: this.o.concurrency ?? 4, onDepth: (d) => this.metrics.queueDepth.set(d) });
    this.queue = queue;
    queue.run((item) => this.process(item), (item, e) => {
      const d = describeError(e);
      this.o.logger.warn({ item, errorId: d.errorId, retries: queue.numRequeues(item) }, `reconcile failed: ${d.message}`);
    });
    // Everything cached gets a first look: what changed while we were not leading.
    for (const [kind, inf] of [['Asset', this.informers.assets], ['Materialization', this.informers.materializations], ['Backfill', this.informers.backfills], ['Sensor', this.informers.sensors], ['ModelDeployment', this.informers.modelDeployments]] as const) {
      for (const obj of (inf as Informer<KubeObject>).list()) this.enqueue(kind, objectKey(obj));
    }
  }

  private async stopActing(): Promise<void> {
    if (!this.acting) return;
    this.acting = false;
    this.metrics.leader.set(0);
    const q = this.queue;
    this.queue = undefined;
    await q?.shutdown();
  }

  private enqueue(kind: ReconcileKind, key: string, afterMs?: number): void {
    if (!this.acting || !this.queue) return;
    if (afterMs) this.queue.addAfter(`${kind}|${key}`, afterMs);
    else this.queue.add(`${kind}|${key}`);
  }

  private async process(item: string): Promise<HandlerResult> {
    const bar = item.indexOf('|');
    const kind = item.slice(0, bar) as ReconcileKind;
    const key = item.slice(bar + 1);
    const end = this.metrics.duration.startTimer({ kind });
    try {
      const r = await RECONCILERS[kind](this.ctx, key);
      this.reconciled++;
      this.metrics.reconciles.inc({ kind, result: r ? 'requeue' : 'success' });
      return r;
    } catch (e) {
      this.metrics.reconciles.inc({ kind, result: 'error' });
      throw e;
    } finally {
      end();
    }
  }

  private wire(): void {
    const { informers } = this;
    const simple = (kind: ReconcileKind) => ({ add: (o: KubeObject) => this.enqueue(kind, objectKey(o)), update: (o: KubeObject) => this.enqueue(kind, objectKey(o)), delete: (o: KubeObject) => this.enqueue(kind, objectKey(o)) });
    informers.assets.on(simple('Asset'));
    informers.backfills.on(simple('Backfill'));
    informers.sensors.on(simple('Sensor'));
    informers.modelDeployments.on(simple('ModelDeployment'));
    const onMaterialization = (m: MaterializationResource, old?: MaterializationResource) => {
      // Our own status writes need no reconcile of the Materialization; spec, deletion, finalizer
      // changes and resyncs (same resourceVersion) do.
      const relevant = !old || old.metadata.resourceVersion === m.metadata.resourceVersion || old.metadata.generation !== m.metadata.generation
        || !!m.metadata.deletionTimestamp !== !!old.metadata.deletionTimestamp || (old.metadata.finalizers ?? []).join() !== (m.metadata.finalizers ?? []).join();
      if (relevant) this.enqueue('Materialization', objectKey(m));
      // The owning Backfill moves on when a step's phase changes (or it appears or goes).
      if (m.spec.backfill && m.status?.phase !== old?.status?.phase) this.enqueue('Backfill', `${m.metadata.namespace}/${m.spec.backfill}`);
      if (m.status?.phase === 'Succeeded' && old?.status?.phase !== 'Succeeded') {
        for (const a of informers.assets.list()) if (a.spec.key === m.spec.asset && a.metadata.namespace === m.metadata.namespace) this.enqueue('Asset', objectKey(a));
      }
    };
    informers.materializations.on({
      add: (m) => onMaterialization(m),
      update: (m, old) => onMaterialization(m, old),
      delete: (m) => { if (m.spec.backfill) this.enqueue('Backfill', `${m.metadata.namespace}/${m.spec.backfill}`); },
    });
    const toOwner = (kind: ReconcileKind, ownerKind: string) => (o: KubeObject) => {
      const owner = o.metadata.ownerReferences?.find((r) => r.controller && r.kind === ownerKind);
      if (owner) this.enqueue(kind, `${o.metadata.namespace}/${owner.name}`);
    };
    const job = toOwner('Materialization', 'Materialization');
    informers.jobs.on({ add: job, update: job, delete: job });
    const dep = toOwner('ModelDeployment', 'ModelDeployment');
    informers.deployments.on({ add: dep, update: dep, delete: dep });
  }
}
