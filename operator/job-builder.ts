/**
 * Builds the batch/v1 Job of a Materialization: the project image running
 * `orrery execute-step` for in-process assets, or the asset's own container speaking the step
 * protocol; GPU limits, node selection, retries (backoffLimit), TTL, and the termination message
 * as the result channel.
 */
import type { AssetDefinition } from '../core/definitions/asset.ts';
import { ioOf } from '../core/definitions/io.ts';
import type { Resources } from '../core/definitions/resources.ts';
import { StepEnv, stepEnvironment, type StepLaunch } from '../core/execution/step-protocol.ts';
import { stepSeed } from '../core/execution/provenance.ts';
import type { AssetGraph } from '../core/graph/asset-graph.ts';
import { MultiPartitions } from '../core/partitions/definitions.ts';
import type { JobSettings } from './context.ts';
import { jobName, labelValue } from './names.ts';
import { CREATED_BY_ANNOTATION, LABEL, MANAGED_BY, ownerReference, type AssetResource, type MaterializationResource, type Toleration } from './resources.ts';

export const TERMINATION_LOG = '/dev/termination-log';

export interface JobPlacement {
  gpu: number;
  cpu?: string;
  memory?: string;
  nodeSelector?: Record<string, string>;
  tolerations?: Toleration[];
}

/** GPU count and placement: the Asset CR's compute override first, then the definition. */
export function placementOf(def: AssetDefinition, assetCr: AssetResource | undefined): JobPlacement {
  const compute = typeof def.compute === 'object' ? def.compute : undefined;
  const override = assetCr?.spec.compute;
  const declaredGpu = compute?.resources?.gpu ?? (typeof def.metadata.gpu === 'number' ? def.metadata.gpu : undefined) ?? (def.pool === 'gpu' ? 1 : 0);
  return {
    gpu: override?.gpu ?? declaredGpu,
    cpu: override?.resources?.cpu ?? compute?.resources?.cpu,
    memory: override?.resources?.memory ?? compute?.resources?.memory,
    nodeSelector: override?.nodeSelector ?? compute?.nodeSelector,
    tolerations: override?.tolerations,
  };
}

/** The pool a step counts against: the Asset CR's, the definition's (gpu when it asks for one). */
export function poolOf(def: AssetDefinition, assetCr: AssetResource | undefined): string {
  return assetCr?.spec.compute?.pool ?? (def.pool !== 'cpu' ? def.pool : placementOf(def, assetCr).gpu > 0 ? 'gpu' : def.pool);
}

export function runIdOf(m: MaterializationResource): string {
  return m.spec.runId ?? m.metadata.uid ?? m.metadata.name;
}

function dimensionsOf(def: AssetDefinition, partitionKey: string): Record<string, string> {
  return def.partitions instanceof MultiPartitions ? def.partitions.split(partitionKey) : {};
}

export function buildJob(m: MaterializationResource, graph: AssetGraph, resources: Resources, settings: JobSettings, assetCr: AssetResource | undefined) {
  const namespace = m.metadata.namespace!;
  const name = jobName(namespace, m.metadata.name);
  const def = graph.get(m.spec.asset);
  const runId = runIdOf(m);
  const partition = m.spec.partitions[0];
  const placement = placementOf(def, assetCr);
  const maxAttempts = m.spec.maxAttempts ?? def.retry.maxAttempts ?? 3;
  const labels: Record<string, string> = {
    ...MANAGED_BY,
    [LABEL.asset]: labelValue(m.spec.asset),
    [LABEL.materialization]: labelValue(m.metadata.name),
    ...(m.spec.backfill ? { [LABEL.backfill]: labelValue(m.spec.backfill) } : {}),
  };
  const config = m.spec.config ?? assetCr?.spec.config ?? {};

  let image = settings.image;
  let command: string[];
  let env: Record<string, string>;
  if (typeof def.compute === 'function') {
    command = ['orrery', 'execute-step', '--asset', m.spec.asset, ...m.spec.partitions.flatMap((p) => ['--partition', p]), '--run-id', runId];
    env = {
      ...settings.stepEnv,
      [StepEnv.PROTOCOL]: '1', [StepEnv.RUN_ID]: runId, [StepEnv.ASSET_KEY]: m.spec.asset, [StepEnv.PARTITION_KEY]: partition,
      [StepEnv.CONFIG]: JSON.stringify(config), [StepEnv.RESULT_PATH]: TERMINATION_LOG,
      ORRERY_MATERIALIZATION: m.metadata.name,
    };
  } else {
    // A container step reads its inputs by URI and writes its output where the operator adopts it.
    const inputs: StepLaunch['inputs'] = {};
    for (const e of graph.upstreamEdges(def.key)) {
      if (!e.input) continue;
      const up = graph.get(e.from);
      inputs[e.input] = e.mapping.upstreamKeys(partition, def.partitions, up.partitions).map((k) => ({ partitionKey: k, uri: ioOf(up).uri({ assetKey: e.from, partitionKey: k, resources }) }));
    }
    image = def.compute.image;
    command = def.compute.command;
    env = stepEnvironment({
      runId, assetKey: def.key, partitionKey: partition, dimensions: dimensionsOf(def, partition), config, inputs,
      outputUri: outputUriOf(m, resources), seed: stepSeed(def.key, partition), image, command, env: { ...settings.stepEnv, ...def.compute.env },
    }, TERMINATION_LOG);
  }

  const limits: Record<string, string> = {};
  const requests: Record<string, string> = {};
  if (placement.gpu > 0) limits['nvidia.com/gpu'] = String(placement.gpu);
  if (placement.cpu) requests.cpu = placement.cpu;
  if (placement.memory) { requests.memory = placement.memory; limits.memory = placement.memory; }

  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace, labels, ...(settings.createdBy ? { annotations: { [CREATED_BY_ANNOTATION]: settings.createdBy } } : {}), ownerReferences: [ownerReference(m, true)] },
    spec: {
      backoffLimit: Math.max(0, maxAttempts - 1),
      ttlSecondsAfterFinished: settings.ttlSecondsAfterFinished,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          ...(settings.serviceAccountName ? { serviceAccountName: settings.serviceAccountName } : {}),
          ...(placement.nodeSelector ? { nodeSelector: placement.nodeSelector } : {}),
          ...(placement.tolerations ? { tolerations: placement.tolerations } : placement.gpu > 0 ? { tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }] } : {}),
          containers: [{
            name: 'step',
            image,
            command,
            env: Object.entries(env).map(([k, value]) => ({ name: k, value })),
            resources: { ...(Object.keys(limits).length ? { limits } : {}), ...(Object.keys(requests).length ? { requests } : {}) },
            terminationMessagePath: TERMINATION_LOG,
            terminationMessagePolicy: 'FallbackToLogsOnError',
          }],
        },
      },
    },
  };
}

/** Where a container step of this Materialization writes its output (adopted by the operator). */
export function outputUriOf(m: MaterializationResource, resources: Resources): string {
  return resources.objectStore.scratchUri(`k8s-${m.metadata.name}`);
}
