/**
 * ModelDeployment → one Deployment + Service per served version. The champion serves alone, or
 * beside a challenger taking 10 → 25 % of the traffic; weight 100 promotes the challenger (it
 * becomes the only served version); rollback drops it. Children of versions no longer served
 * are deleted. The split is recorded on each Service and in status.currentWeights.
 */
import { isConflict, isNotFound, mergePatchOptions } from '../../adapters/kubernetes/client.ts';
import { recordEvent, withFreshRetry, writeStatus, type OperatorContext } from '../context.ts';
import { labelValue, modelChildName } from '../names.ts';
import { LABEL, MANAGED_BY, ownerReference, RESOURCES, setCondition, TRAFFIC_WEIGHT_ANNOTATION, type KubeObject, type ModelDeploymentResource, type ModelDeploymentStatus } from '../resources.ts';

interface Served { version: string; role: 'champion' | 'challenger'; weight: number }

export function servedVersions(md: ModelDeploymentResource): Served[] {
  const { champion, challenger, rollback } = md.spec;
  if (!challenger || rollback || challenger.weight === 0) return [{ version: champion.version, role: 'champion', weight: 100 }];
  if (challenger.weight >= 100) return [{ version: challenger.version, role: 'champion', weight: 100 }];
  return [{ version: champion.version, role: 'champion', weight: 100 - challenger.weight }, { version: challenger.version, role: 'challenger', weight: challenger.weight }];
}

export async function reconcileModelDeployment(ctx: OperatorContext, key: string) {
  return withFreshRetry(ctx, RESOURCES.modelDeployment, ctx.informers.modelDeployments.get(key), (md) => sync(ctx, md));
}

async function sync(ctx: OperatorContext, md: ModelDeploymentResource): Promise<void> {
  if (md.metadata.deletionTimestamp) return; // children go with their owner (garbage collection)
  const ns = md.metadata.namespace ?? ctx.namespace;
  const served = servedVersions(md);
  const image = md.spec.image ?? ctx.jobs.image;
  const replicas = md.spec.replicas ?? 1;
  const gpu = md.spec.resources?.gpu ?? 0;
  for (const s of served) {
    const name = modelChildName(md.metadata.name, s.version);
    const labels = { ...MANAGED_BY, [LABEL.modelDeployment]: labelValue(md.metadata.name), [LABEL.modelVersion]: labelValue(s.version), [LABEL.role]: s.role };
    const selector = { [LABEL.modelDeployment]: labels[LABEL.modelDeployment], [LABEL.modelVersion]: labels[LABEL.modelVersion] };
    const limits: Record<string, string> = {};
    const requests: Record<string, string> = {};
    if (gpu > 0) limits['nvidia.com/gpu'] = String(gpu);
    if (md.spec.resources?.cpu) requests.cpu = md.spec.resources.cpu;
    if (md.spec.resources?.memory) { requests.memory = md.spec.resources.memory; limits.memory = md.spec.resources.memory; }
    const deployment = {
      apiVersion: 'apps/v1', kind: 'Deployment',
      metadata: { name, namespace: ns, labels, ownerReferences: [ownerReference(md, true)] },
      spec: {
        replicas,
        selector: { matchLabels: selector },
        template: {
          metadata: { labels },
          spec: {
            containers: [{
              name: 'serve', image, command: ['orrery', 'serve', '--group', md.spec.group, '--version', s.version],
              ports: [{ name: 'http', containerPort: 8080 }],
              // `orrery serve`: ready only once the signed bundle is loaded and verified; alive while it loads.
              readinessProbe: { httpGet: { path: '/readyz', port: 'http' }, periodSeconds: 5, failureThreshold: 3 },
              livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, initialDelaySeconds: 10, periodSeconds: 10, failureThreshold: 3 },
              env: [...Object.entries(ctx.jobs.stepEnv).map(([k, value]) => ({ name: k, value })), { name: 'ORRERY_MODEL_VERSION', value: s.version }, { name: 'ORRERY_MODEL_GROUP', value: md.spec.group }],
              resources: { ...(Object.keys(limits).length ? { limits } : {}), ...(Object.keys(requests).length ? { requests } : {}) },
            }],
          },
        },
      },
    };
    await upsert(ctx, RESOURCES.deployment, ns, name, deployment, (cur) => JSON.stringify(cur.spec?.replicas) !== JSON.stringify(replicas) || JSON.stringify(cur.metadata.labels) !== JSON.stringify(labels) || cur.spec?.template?.spec?.containers?.[0]?.image !== image || JSON.stringify(cur.spec?.template?.spec?.containers?.[0]?.resources ?? {}) !== JSON.stringify(deployment.spec.template.spec.containers[0].resources));
    const service = {
      apiVersion: 'v1', kind: 'Service',
      metadata: { name, namespace: ns, labels, annotations: { [TRAFFIC_WEIGHT_ANNOTATION]: String(s.weight) }, ownerReferences: [ownerReference(md, true)] },
      spec: { selector, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
    };
    await upsertService(ctx, ns, name, service);
  }
  // Versions no longer served: their children go.
  const keep = new Set(served.map((s) => modelChildName(md.metadata.name, s.version)));
  const mine = ctx.informers.deployments.list().filter((d) => d.metadata.namespace === ns && d.metadata.labels?.[LABEL.modelDeployment] === labelValue(md.metadata.name));
  for (const d of mine) {
    if (keep.has(d.metadata.name)) continue;
    await ctx.client.delete(RESOURCES.deployment, ns, d.metadata.name).catch((e) => { if (!isNotFound(e)) throw e; });
    await ctx.client.core.deleteNamespacedService({ namespace: ns, name: d.metadata.name }).catch((e) => { if (!isNotFound(e)) throw e; });
    recordEvent(ctx, md, 'Normal', 'VersionRemoved', `No longer serving ${d.metadata.labels?.[LABEL.modelVersion] ?? d.metadata.name}`);
  }

  const gen = md.metadata.generation;
  const versions = served.map((s) => {
    const d = ctx.informers.deployments.get(`${ns}/${modelChildName(md.metadata.name, s.version)}`);
    return { version: s.version, role: s.role, weight: s.weight, readyReplicas: Number(d?.status?.readyReplicas ?? 0) };
  });
  const ready = versions.every((v) => v.readyReplicas >= replicas);
  const status: ModelDeploymentStatus = { ...structuredClone(md.status ?? {}), versions, currentWeights: Object.fromEntries(served.map((s) => [s.version, s.weight])), observedGeneration: gen };
  status.conditions = setCondition(status.conditions, { type: 'Available', status: ready ? 'True' : 'False', reason: ready ? 'ReplicasReady' : 'ReplicasNotReady', message: versions.map((v) => `${v.version}: ${v.readyReplicas}/${replicas}`).join(', '), observedGeneration: gen });
  const progressing = served.length > 1;
  status.conditions = setCondition(status.conditions, { type: 'Progressing', status: progressing ? 'True' : 'False', reason: progressing ? 'CanaryInProgress' : 'Stable', message: progressing ? `challenger ${served[1].version} at ${served[1].weight}%` : `serving ${served[0].version}`, observedGeneration: gen });
  const rolledBack = !!md.spec.rollback && !!md.spec.challenger;
  status.conditions = setCondition(status.conditions, { type: 'RolledBack', status: rolledBack ? 'True' : 'False', reason: rolledBack ? 'RollbackRequested' : 'NoRollback', message: rolledBack ? `challenger ${md.spec.challenger!.version} dropped` : '', observedGeneration: gen });
  const before = md.status?.conditions?.find((c) => c.type === 'RolledBack')?.status;
  await writeStatus(ctx, RESOURCES.modelDeployment, md, status);
  if (rolledBack && before !== 'True') recordEvent(ctx, md, 'Warning', 'RolledBack', `challenger ${md.spec.challenger!.version} dropped`);
}

async function upsert(ctx: OperatorContext, type: typeof RESOURCES.deployment, ns: string, name: string, body: KubeObject<any, any>, differs: (cur: KubeObject<any, any>) => boolean): Promise<void> {
  const cur = ctx.informers.deployments.get(`${ns}/${name}`);
  if (!cur) {
    try { await ctx.client.create(type, ns, body); return; } catch (e) { if (!isConflict(e)) throw e; }
    const fresh = await ctx.client.get<KubeObject<any, any>>(type, ns, name);
    if (differs(fresh)) await ctx.client.replace(type, ns, name, { ...body, metadata: { ...body.metadata, resourceVersion: fresh.metadata.resourceVersion } });
    return;
  }
  if (differs(cur)) await ctx.client.replace(type, ns, name, { ...body, metadata: { ...body.metadata, resourceVersion: cur.metadata.resourceVersion } });
}

async function upsertService(ctx: OperatorContext, ns: string, name: string, body: any): Promise<void> {
  try {
    const cur = await ctx.client.core.readNamespacedService({ namespace: ns, name });
    if (cur.metadata?.annotations?.[TRAFFIC_WEIGHT_ANNOTATION] === body.metadata.annotations[TRAFFIC_WEIGHT_ANNOTATION] && cur.metadata?.labels?.[LABEL.role] === body.metadata.labels[LABEL.role]) return;
    await ctx.client.core.patchNamespacedService({ namespace: ns, name, body: { metadata: { labels: body.metadata.labels, annotations: body.metadata.annotations } } }, mergePatchOptions);
  } catch (e) {
    if (!isNotFound(e)) throw e;
    await ctx.client.core.createNamespacedService({ namespace: ns, body });
  }
}
