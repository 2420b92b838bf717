/**
 * The kernel's Kubernetes executor, client side: in cluster mode `orrery materialize` and
 * `orrery backfill` create a Materialization or Backfill resource for the operator to run, and
 * can follow it until it is Complete or Failed.
 */
import { randomBytes } from 'node:crypto';
import type { PartitionSpec } from '../../core/event-log/port.ts';
import { OrreryError } from '../../core/errors.ts';
import { API_VERSION, isConditionTrue, RESOURCES, type BackfillResource, type KubeObject, type MaterializationResource, type ResourceType } from '../../operator/resources.ts';
import { slug } from '../../operator/names.ts';
import { apiMessage, KubeClient } from './client.ts';

export const K8S_SUBMIT_FAILED = 'K8S_API_SUBMIT';
export const K8S_WAIT_TIMEOUT = 'K8S_WAIT_TIMEOUT';

export interface Submission { kind: 'Materialization' | 'Backfill'; name: string; namespace: string }

const suffix = () => randomBytes(3).toString('hex');
const SINGLE_KEY = /^[a-z][a-z0-9_]*(\/[a-z][a-z0-9_]*)*$/;

export class ClusterExecutor {
  constructor(readonly client: KubeClient, readonly namespace: string) {}

  static fromEnv(o: { kubeconfig?: string; namespace?: string } = {}): ClusterExecutor {
    return new ClusterExecutor(KubeClient.load(o.kubeconfig), o.namespace ?? process.env.ORRERY_NAMESPACE ?? 'default');
  }

  /**
   * `materialize`: one asset and explicit partitions become a Materialization; anything wider (a
   * selection with +, *, commas, a range or all partitions) becomes a Backfill.
   */
  async materialize(selection: string, partitions: PartitionSpec, config?: Record<string, unknown>): Promise<Submission> {
    if (SINGLE_KEY.test(selection) && partitions.kind === 'keys' && partitions.keys.length > 0) {
      const body: MaterializationResource = {
        apiVersion: API_VERSION, kind: 'Materialization',
        metadata: { name: `${slug(selection, 40)}-${suffix()}`, namespace: this.namespace },
        spec: { asset: selection, partitions: partitions.keys, ...(config && Object.keys(config).length ? { config } : {}) },
      };
      return this.create(RESOURCES.materialization, body);
    }
    return this.backfill(selection, partitions, {});
  }

  async backfill(selection: string, partitions: PartitionSpec, o: { onlyMissing?: boolean; onlyFailed?: boolean; concurrency?: number }): Promise<Submission> {
    const body: BackfillResource = {
      apiVersion: API_VERSION, kind: 'Backfill',
      metadata: { name: `backfill-${slug(selection.replace(/[+*,]/g, '-'), 30)}-${suffix()}`, namespace: this.namespace },
      spec: {
        selection,
        ...(partitions.kind === 'keys' ? { partitions: { keys: partitions.keys } } : partitions.kind === 'range' ? { partitions: { from: partitions.from, to: partitions.to } } : {}),
        ...(o.onlyMissing ? { onlyMissing: true } : {}),
        ...(o.onlyFailed ? { onlyFailed: true } : {}),
        ...(o.concurrency ? { concurrency: { max: o.concurrency } } : {}),
      },
    };
    return this.create(RESOURCES.backfill, body);
  }

  private async create(type: ResourceType, body: KubeObject): Promise<Submission> {
    try {
      await this.client.create(type, this.namespace, body);
    } catch (e) {
      throw new OrreryError(K8S_SUBMIT_FAILED, `Could not create ${body.kind} ${body.metadata.name}: ${apiMessage(e)}. Are the CRDs installed (orrery manifests | kubectl apply -f -)?`, { name: body.metadata.name });
    }
    return { kind: body.kind as Submission['kind'], name: body.metadata.name, namespace: this.namespace };
  }

  /** Follows the resource until its Complete or Failed condition is True; returns its final state. */
  async wait(s: Submission, o: { timeoutMs?: number; pollMs?: number; onUpdate?: (obj: KubeObject<any, any>) => void } = {}): Promise<{ ok: boolean; object: KubeObject<any, any> }> {
    const type = s.kind === 'Backfill' ? RESOURCES.backfill : RESOURCES.materialization;
    const deadline = Date.now() + (o.timeoutMs ?? 24 * 3_600_000);
    let last = '';
    for (;;) {
      const obj = await this.client.get<KubeObject<any, any>>(type, s.namespace, s.name);
      const state = JSON.stringify(obj.status ?? {});
      if (state !== last) { last = state; o.onUpdate?.(obj); }
      const conditions = obj.status?.conditions;
      if (isConditionTrue(conditions, 'Complete')) return { ok: true, object: obj };
      if (isConditionTrue(conditions, 'Failed')) return { ok: false, object: obj };
      if (Date.now() > deadline) throw new OrreryError(K8S_WAIT_TIMEOUT, `${s.kind} ${s.name} did not finish in time; it keeps running: kubectl get ${type.plural} ${s.name}.`, { name: s.name });
      await new Promise((r) => setTimeout(r, o.pollMs ?? 1000));
    }
  }
}
