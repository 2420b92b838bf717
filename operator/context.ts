/**
 * What every reconciler shares: the API client, the informer caches, the kernel runtime (graph,
 * planner, event log), the Job settings, and helpers for events, finalizers and status writes.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { apiMessage, isConflict, isNotFound, type KubeClient } from '../adapters/kubernetes/client.ts';
import type { Resources } from '../core/definitions/resources.ts';
import type { EventLog } from '../core/event-log/port.ts';
import type { Runtime } from '../core/runtime.ts';
import { FINALIZER, type KubeObject, type ResourceType } from './resources.ts';
import type { Informer } from './runtime/informer.ts';
import type { AssetResource, BackfillResource, MaterializationResource, ModelDeploymentResource, SensorResource } from './resources.ts';

export interface JobSettings {
  /** The project image pods run (`ORRERY_IMAGE`). */
  image: string;
  /** Environment every step pod gets (DATABASE_URL, CLICKHOUSE_URL, ORRERY_CODE_LOCATION, …). */
  stepEnv: Record<string, string>;
  ttlSecondsAfterFinished: number;
  serviceAccountName?: string;
  /** The operator replica creating children (annotation orrery.dev/created-by: who acted). */
  createdBy?: string;
}

export interface Informers {
  assets: Informer<AssetResource>;
  materializations: Informer<MaterializationResource>;
  backfills: Informer<BackfillResource>;
  sensors: Informer<SensorResource>;
  modelDeployments: Informer<ModelDeploymentResource>;
  jobs: Informer<KubeObject<any, any>>;
  deployments: Informer<KubeObject<any, any>>;
}

export interface OperatorContext {
  client: KubeClient;
  namespace: string;
  runtime: Runtime;
  eventLog: EventLog;
  resources: Resources;
  logger: Logger;
  jobs: JobSettings;
  informers: Informers;
  /** Queue a key of a kind for reconciliation. */
  enqueue(kind: ReconcileKind, key: string, afterMs?: number): void;
  /** Counts a Job this replica created (operator_jobs_created_total). */
  jobCreated(): void;
}

export type ReconcileKind = 'Asset' | 'Materialization' | 'Backfill' | 'Sensor' | 'ModelDeployment';

/** Records a Kubernetes Event on an object (best effort: an event never fails a reconcile). */
export function recordEvent(ctx: OperatorContext, obj: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): void {
  const now = new Date().toISOString();
  ctx.client.core.createNamespacedEvent({
    namespace: obj.metadata.namespace ?? ctx.namespace,
    body: {
      metadata: { name: `${obj.metadata.name}.${randomBytes(6).toString('hex')}`, namespace: obj.metadata.namespace ?? ctx.namespace },
      involvedObject: { apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name, namespace: obj.metadata.namespace, uid: obj.metadata.uid, resourceVersion: obj.metadata.resourceVersion },
      reason, message, type, count: 1,
      firstTimestamp: new Date(now), lastTimestamp: new Date(now),
      source: { component: 'orrery-operator' },
      reportingComponent: 'orrery-operator',
    },
  }).catch((e) => ctx.logger.debug({ err: apiMessage(e) }, 'event not recorded'));
}

/** The informer of a type, to put what we just wrote into its cache. */
export function informerOf(ctx: OperatorContext, type: ResourceType): Informer<any> | undefined {
  const i = ctx.informers;
  return ({ assets: i.assets, materializations: i.materializations, backfills: i.backfills, sensors: i.sensors, modeldeployments: i.modelDeployments, jobs: i.jobs, deployments: i.deployments } as Record<string, Informer<any>>)[type.plural];
}

function assumed<T extends KubeObject>(ctx: OperatorContext, type: ResourceType, obj: T): T {
  informerOf(ctx, type)?.assume(obj);
  return obj;
}

/** Adds our finalizer (optimistically: the write carries the resourceVersion). Returns the updated object. */
export async function ensureFinalizer<T extends KubeObject>(ctx: OperatorContext, type: ResourceType, obj: T): Promise<T> {
  if (obj.metadata.finalizers?.includes(FINALIZER)) return obj;
  return assumed(ctx, type, await ctx.client.patch<T>(type, obj.metadata.namespace ?? ctx.namespace, obj.metadata.name, { metadata: { finalizers: [...(obj.metadata.finalizers ?? []), FINALIZER], resourceVersion: obj.metadata.resourceVersion } }));
}

export async function removeFinalizer<T extends KubeObject>(ctx: OperatorContext, type: ResourceType, obj: T): Promise<void> {
  if (!obj.metadata.finalizers?.includes(FINALIZER)) return;
  try {
    await ctx.client.patch<T>(type, obj.metadata.namespace ?? ctx.namespace, obj.metadata.name, { metadata: { finalizers: obj.metadata.finalizers.filter((f) => f !== FINALIZER), resourceVersion: obj.metadata.resourceVersion } });
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
}

/** Writes the status subresource with the object's resourceVersion; returns the stored object. */
export async function writeStatus<T extends KubeObject>(ctx: OperatorContext, type: ResourceType, obj: T, status: T['status']): Promise<T> {
  if (JSON.stringify(obj.status ?? {}) === JSON.stringify(status ?? {})) return obj;
  return assumed(ctx, type, await ctx.client.replaceStatus<T>(type, obj.metadata.namespace ?? ctx.namespace, obj.metadata.name, { ...obj, status }));
}

/**
 * Runs `sync` on the cached object; on a 409 (our copy was stale) runs it once more on a fresh
 * read from the API server. Missing objects are done.
 */
export async function withFreshRetry<T extends KubeObject>(ctx: OperatorContext, type: ResourceType, cached: T | undefined, sync: (obj: T) => Promise<void | { requeueAfterMs: number }>): Promise<void | { requeueAfterMs: number }> {
  if (!cached) return;
  try {
    return await sync(cached);
  } catch (e) {
    if (!isConflict(e)) throw e;
    let fresh: T;
    try {
      fresh = await ctx.client.get<T>(type, cached.metadata.namespace ?? ctx.namespace, cached.metadata.name);
    } catch (g) {
      if (isNotFound(g)) return;
      throw g;
    }
    fresh.apiVersion ??= cached.apiVersion;
    fresh.kind ??= cached.kind;
    return sync(fresh);
  }
}
