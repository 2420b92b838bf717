/**
 * The TypeScript shapes of Orrery's custom resources (group orrery.dev, v1alpha1) as the shared
 * contract defines them, and the condition helpers every reconciler uses.
 */
export const GROUP = 'orrery.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const FINALIZER = 'orrery.dev/finalizer';
export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'orrery-operator' } as const;
export const LABEL = {
  asset: 'orrery.dev/asset',
  materialization: 'orrery.dev/materialization',
  backfill: 'orrery.dev/backfill',
  modelDeployment: 'orrery.dev/model-deployment',
  modelVersion: 'orrery.dev/model-version',
  role: 'orrery.dev/role',
} as const;
export const TRAFFIC_WEIGHT_ANNOTATION = 'orrery.dev/traffic-weight';
export const CREATED_BY_ANNOTATION = 'orrery.dev/created-by';

export type ConditionStatus = 'True' | 'False' | 'Unknown';
export interface Condition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
}
export interface OwnerReference { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean; blockOwnerDeletion?: boolean }

export interface KubeObject<Spec = unknown, Status = unknown> {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: Spec;
  status?: Status;
}

interface BaseStatus {
  observedGeneration?: number;
  conditions?: Condition[];
}

export interface Toleration { key?: string; operator?: string; value?: string; effect?: string; tolerationSeconds?: number }

export interface AssetSpec {
  key: string;
  config?: Record<string, unknown>;
  partitions?: { keys?: string[]; from?: string; to?: string };
  automation?: { policy: 'manual' | 'eager' | 'cron'; cron?: string };
  compute?: { pool?: string; resources?: { cpu?: string; memory?: string }; gpu?: number; nodeSelector?: Record<string, string>; tolerations?: Toleration[] };
}
export interface AssetStatus extends BaseStatus {
  partitions?: { total: number; materialized: number; failed: number; missing: number; stale: number; quarantined: number };
  lastMaterialization?: { partition: string; runId: string; time: string };
  checks?: { passing: number; failing: number; failingNames: string[] };
}
export type AssetResource = KubeObject<AssetSpec, AssetStatus>;

export type MaterializationPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed';
export interface MaterializationSpec {
  asset: string;
  partitions: string[];
  backfill?: string;
  runId?: string;
  pool?: string;
  config?: Record<string, unknown>;
  maxAttempts?: number;
}
export interface MaterializationStatus extends BaseStatus {
  phase?: MaterializationPhase;
  jobName?: string;
  attempts?: number;
  startTime?: string;
  completionTime?: string;
  message?: string;
  result?: { status: string; dataVersion?: string; metadata: Record<string, unknown> };
}
export type MaterializationResource = KubeObject<MaterializationSpec, MaterializationStatus>;

export type BackfillPhase = 'Pending' | 'Running' | 'Complete' | 'Failed';
export interface BackfillSpec {
  selection: string;
  partitions?: { from?: string; to?: string; keys?: string[] };
  onlyMissing?: boolean;
  onlyFailed?: boolean;
  concurrency?: { max?: number; pools?: Record<string, number> };
}
export interface BackfillStatus extends BaseStatus {
  phase?: BackfillPhase;
  total?: number;
  pending?: number;
  running?: number;
  succeeded?: number;
  failed?: number;
  failedPartitions?: string[];
}
export type BackfillResource = KubeObject<BackfillSpec, BackfillStatus>;

export interface SensorSpec { name: string; enabled?: boolean; intervalSeconds?: number }
export interface SensorStatus extends BaseStatus { lastTick?: string; cursor?: string }
export type SensorResource = KubeObject<SensorSpec, SensorStatus>;

export interface ModelDeploymentSpec {
  group: string;
  replicas?: number;
  resources?: { cpu?: string; memory?: string; gpu?: number };
  champion: { version: string };
  challenger?: { version: string; weight: 0 | 10 | 25 | 100 };
  rollback?: boolean;
  image?: string;
}
export interface ModelDeploymentStatus extends BaseStatus {
  versions?: Array<{ version: string; role: 'champion' | 'challenger'; readyReplicas: number; weight: number }>;
  currentWeights?: Record<string, number>;
}
export type ModelDeploymentResource = KubeObject<ModelDeploymentSpec, ModelDeploymentStatus>;

/** Where each kind lives in the API. */
export interface ResourceType { group: string; version: string; plural: string; kind: string; namespaced: true }
const cr = (plural: string, kind: string): ResourceType => ({ group: GROUP, version: VERSION, plural, kind, namespaced: true });
export const RESOURCES = {
  asset: cr('assets', 'Asset'),
  materialization: cr('materializations', 'Materialization'),
  backfill: cr('backfills', 'Backfill'),
  sensor: cr('sensors', 'Sensor'),
  modelDeployment: cr('modeldeployments', 'ModelDeployment'),
  job: { group: 'batch', version: 'v1', plural: 'jobs', kind: 'Job', namespaced: true },
  deployment: { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment', namespaced: true },
  lease: { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true },
} as const satisfies Record<string, ResourceType>;

export function getCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export function isConditionTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return getCondition(conditions, type)?.status === 'True';
}

/**
 * Returns the conditions with `type` set. lastTransitionTime changes only when the status flips,
 * so watchers can tell how long a state has held; reason/message/observedGeneration always update.
 */
export function setCondition(conditions: readonly Condition[] | undefined, next: { type: string; status: ConditionStatus; reason: string; message?: string; observedGeneration?: number }, now: Date = new Date()): Condition[] {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((c) => c.type === next.type);
  const previous = i >= 0 ? list[i] : undefined;
  const condition: Condition = {
    type: next.type,
    status: next.status,
    reason: next.reason,
    message: next.message ?? '',
    lastTransitionTime: previous && previous.status === next.status ? previous.lastTransitionTime : now.toISOString(),
    ...(next.observedGeneration !== undefined ? { observedGeneration: next.observedGeneration } : {}),
  };
  if (i >= 0) list[i] = condition;
  else list.push(condition);
  return list;
}

export function objectKey(o: { metadata: { namespace?: string; name: string } }): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

export function ownerReference(o: KubeObject, controller = true): OwnerReference {
  return { apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name, uid: o.metadata.uid ?? '', controller, blockOwnerDeletion: true };
}
