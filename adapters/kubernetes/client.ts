/**
 * A thin wrapper over @kubernetes/client-node: one kubeconfig, the API clients the operator uses,
 * and raw JSON access to any /apis group resource (custom resources, Jobs, Deployments, Leases)
 * through the custom-objects endpoints, so informers and reconcilers handle plain objects.
 */
import { ApiException, AppsV1Api, BatchV1Api, CoordinationV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, PatchStrategy, Watch, setHeaderOptions } from '@kubernetes/client-node';
import type { KubeObject, ResourceType } from '../../operator/resources.ts';

export interface ListResult<T> { items: T[]; metadata: { resourceVersion?: string; continue?: string } }

export const mergePatchOptions = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export class KubeClient {
  readonly custom: CustomObjectsApi;
  readonly core: CoreV1Api;
  readonly batch: BatchV1Api;
  readonly apps: AppsV1Api;
  readonly coordination: CoordinationV1Api;
  readonly watcher: Watch;

  constructor(readonly config: KubeConfig) {
    this.custom = config.makeApiClient(CustomObjectsApi);
    this.core = config.makeApiClient(CoreV1Api);
    this.batch = config.makeApiClient(BatchV1Api);
    this.apps = config.makeApiClient(AppsV1Api);
    this.coordination = config.makeApiClient(CoordinationV1Api);
    this.watcher = new Watch(config);
  }

  /** From a kubeconfig file (`--kubeconfig`, `KUBECONFIG`), else the default lookup (in-cluster service account included). */
  static load(kubeconfigPath?: string): KubeClient {
    const kc = new KubeConfig();
    const path = kubeconfigPath ?? process.env.KUBECONFIG;
    if (path) kc.loadFromFile(path);
    else kc.loadFromDefault();
    return new KubeClient(kc);
  }

  private ref(t: ResourceType, namespace: string) {
    return { group: t.group, version: t.version, plural: t.plural, namespace };
  }

  async list<T extends KubeObject>(t: ResourceType, namespace: string, o: { labelSelector?: string; limit?: number; continue?: string } = {}): Promise<ListResult<T>> {
    return (await this.custom.listNamespacedCustomObject({ ...this.ref(t, namespace), labelSelector: o.labelSelector, limit: o.limit, _continue: o.continue })) as ListResult<T>;
  }

  /** Every page of a list, and the resourceVersion to watch from. */
  async listAll<T extends KubeObject>(t: ResourceType, namespace: string, o: { labelSelector?: string } = {}): Promise<ListResult<T>> {
    const items: T[] = [];
    let cont: string | undefined;
    let rv: string | undefined;
    do {
      const page = await this.list<T>(t, namespace, { ...o, limit: 500, continue: cont });
      items.push(...page.items);
      rv = page.metadata?.resourceVersion;
      cont = page.metadata?.continue || undefined;
    } while (cont);
    return { items, metadata: { resourceVersion: rv } };
  }

  async get<T extends KubeObject>(t: ResourceType, namespace: string, name: string): Promise<T> {
    return (await this.custom.getNamespacedCustomObject({ ...this.ref(t, namespace), name })) as T;
  }

  async create<T extends KubeObject>(t: ResourceType, namespace: string, body: unknown): Promise<T> {
    return (await this.custom.createNamespacedCustomObject({ ...this.ref(t, namespace), body })) as T;
  }

  async replace<T extends KubeObject>(t: ResourceType, namespace: string, name: string, body: unknown): Promise<T> {
    return (await this.custom.replaceNamespacedCustomObject({ ...this.ref(t, namespace), name, body })) as T;
  }

  async patch<T extends KubeObject>(t: ResourceType, namespace: string, name: string, body: unknown): Promise<T> {
    return (await this.custom.patchNamespacedCustomObject({ ...this.ref(t, namespace), name, body }, mergePatchOptions)) as T;
  }

  /** Replaces the status subresource (optimistic: body carries metadata.resourceVersion). */
  async replaceStatus<T extends KubeObject>(t: ResourceType, namespace: string, name: string, body: unknown): Promise<T> {
    return (await this.custom.replaceNamespacedCustomObjectStatus({ ...this.ref(t, namespace), name, body })) as T;
  }

  async patchStatus<T extends KubeObject>(t: ResourceType, namespace: string, name: string, body: unknown): Promise<T> {
    return (await this.custom.patchNamespacedCustomObjectStatus({ ...this.ref(t, namespace), name, body }, mergePatchOptions)) as T;
  }

  async delete(t: ResourceType, namespace: string, name: string, propagationPolicy: 'Background' | 'Foreground' | 'Orphan' = 'Background'): Promise<void> {
    await this.custom.deleteNamespacedCustomObject({ ...this.ref(t, namespace), name, propagationPolicy });
  }

  /** The watch path of a namespaced collection. */
  collectionPath(t: ResourceType, namespace: string): string {
    const base = t.group === '' ? `/api/${t.version}` : `/apis/${t.group}/${t.version}`;
    return `${base}/namespaces/${namespace}/${t.plural}`;
  }
}

/** HTTP status of a failed API call (undefined for network errors). */
export function statusOf(e: unknown): number | undefined {
  if (e instanceof ApiException) return e.code;
  const code = (e as { code?: unknown; statusCode?: unknown } | null)?.code ?? (e as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}
export const isNotFound = (e: unknown) => statusOf(e) === 404;
export const isConflict = (e: unknown) => statusOf(e) === 409;
export const isGone = (e: unknown) => statusOf(e) === 410;

/** The API server's message for a failed call (its Status.message when there is one). */
export function apiMessage(e: unknown): string {
  if (e instanceof ApiException) {
    const body = e.body as unknown;
    if (typeof body === 'string') {
      try { return (JSON.parse(body) as { message?: string }).message ?? body; } catch { return body; }
    }
    if (body && typeof body === 'object' && 'message' in body) return String((body as { message: unknown }).message);
    return e.message;
  }
  return e instanceof Error ? e.message : String(e);
}
