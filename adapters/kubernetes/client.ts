/**
 * A thin wrapper over @kubernetes/client-node: one kubeconfig, the API clients the operator uses,
 * and raw JSON access to any resource (custom resources, Jobs, Deployments, Leases) so informers
 * and reconcilers handle plain objects.
 *
 * The raw JSON calls (list/get/create/replace/patch/status/delete) go straight over node:http(s)
 * with one keep-alive agent, authenticated and configured for TLS by the kubeconfig exactly as
 * client-node does it (`applyToHTTPSOptions`, per request, so rotating tokens and certificates
 * are honoured): client-node's generated clients build a new undici Agent — a new connection,
 * and with TLS a new handshake — for every request, and run each body through their serializer,
 * which made them the operator's bottleneck. Errors are client-node's `ApiException`s, as before.
 * A cluster reached through a proxy keeps client-node's path.
 */
import { Agent as HttpAgent, STATUS_CODES, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from 'node:https';
import { ApiException, CoreV1Api, CustomObjectsApi, KubeConfig, PatchStrategy, Watch, setHeaderOptions } from '@kubernetes/client-node';
import type { KubeObject, ResourceType } from '../../operator/resources.ts';

/** A watch with no data (events or bookmarks) for this long is aborted (client-node's Watch does the same). */
const WATCH_TIMEOUT_MS = 30_000;
/**
 * A request on the raw path that gets no data for this long fails with a TimeoutError (and is
 * retried by its caller): without it one lost answer would stall a caller for good — a lease
 * never renewed, an informer never listed.
 */
export const REQUEST_TIMEOUT = { ms: 30_000 };

export interface ListResult<T> { items: T[]; metadata: { resourceVersion?: string; continue?: string } }

export const mergePatchOptions = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export class KubeClient {
  readonly custom: CustomObjectsApi;
  readonly core: CoreV1Api;
  readonly watcher: Watch;
  /** The server's base URL for the raw path; undefined when client-node's path is used (proxies). */
  private readonly direct?: URL;
  private agent?: { key: string; agent: HttpAgent };

  constructor(readonly config: KubeConfig) {
    this.custom = config.makeApiClient(CustomObjectsApi);
    this.core = config.makeApiClient(CoreV1Api);
    this.watcher = new Watch(config);
    const cluster = config.getCurrentCluster();
    if (cluster?.server && !cluster.proxyUrl) {
      const url = new URL(cluster.server);
      if (url.protocol === 'https:' || (url.protocol === 'http:' && cluster.skipTLSVerify)) this.direct = new URL(cluster.server.replace(/\/+$/, ''));
    }
  }

  /** A keep-alive agent for the TLS material the kubeconfig gives now (rebuilt when it changes). */
  private agentFor(opts: RequestOptions, https: boolean): HttpAgent {
    const tls = https ? { ca: opts.ca, cert: opts.cert, key: opts.key, pfx: opts.pfx, passphrase: opts.passphrase, rejectUnauthorized: opts.rejectUnauthorized, servername: opts.servername } : {};
    const key = Object.entries(tls).map(([k, v]) => `${k}=${Buffer.isBuffer(v) ? v.toString('base64') : String(v)}`).join('\n');
    if (this.agent?.key !== key) {
      this.agent?.agent.destroy();
      const base = { keepAlive: true, keepAliveMsecs: 30_000 };
      this.agent = { key, agent: https ? new HttpsAgent({ ...base, ...(Object.fromEntries(Object.entries(tls).filter(([, v]) => v !== undefined))) }) : new HttpAgent(base) };
    }
    return this.agent.agent;
  }

  /** One JSON request on the raw path; non-2xx answers throw an ApiException as client-node's do. */
  private async send<T>(method: string, path: string, query: Record<string, string | number | undefined>, body?: unknown, contentType = 'application/json'): Promise<T> {
    const base = this.direct!;
    const opts: RequestOptions = { headers: {} };
    await this.config.applyToHTTPSOptions(opts);
    const https = base.protocol === 'https:';
    const qs = Object.entries(query).filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join('&');
    const url = `${base.href.replace(/\/+$/, '')}${path}${qs ? `?${qs}` : ''}`;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string | number> = { ...(opts.headers as Record<string, string>), Accept: 'application/json' };
    if (payload !== undefined) {
      headers['Content-Type'] = contentType;
      headers['Content-Length'] = Buffer.byteLength(payload);
    }
    const agent = this.agentFor(opts, https);
    const { status, text, resHeaders } = await new Promise<{ status: number; text: string; resHeaders: IncomingHttpHeaders }>((resolve, reject) => {
      const req = (https ? httpsRequest : httpRequest)(url, { method, headers, agent, auth: opts.auth }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), resHeaders: res.headers }));
        res.on('error', reject);
      });
      req.setTimeout(REQUEST_TIMEOUT.ms, () => req.destroy(new DOMException(`No answer to ${method} ${path} within ${REQUEST_TIMEOUT.ms} ms`, 'TimeoutError')));
      req.on('error', reject);
      req.end(payload);
    });
    if (status >= 200 && status < 300) return (text ? JSON.parse(text) : undefined) as T;
    const h = Object.fromEntries(Object.entries(resHeaders).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)]));
    if (status === 401) throw new ApiException(status, 'Unauthorized', undefined, h);
    throw new ApiException(status, 'Unknown API Status Code!', text, h);
  }

  private objectPath(t: ResourceType, namespace: string, name?: string, subresource?: string): string {
    return `${this.collectionPath(t, namespace)}${name !== undefined ? `/${encodeURIComponent(name)}` : ''}${subresource ? `/${subresource}` : ''}`;
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
    if (this.direct) return this.send('GET', this.objectPath(t, namespace), { labelSelector: o.labelSelector, limit: o.limit, continue: o.continue });
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
    if (this.direct) return this.send('GET', this.objectPath(t, namespace, name), {});
    return (await this.custom.getNamespacedCustomObject({ ...this.ref(t, namespace), name })) as T;
  }

  async create<T extends KubeObject>(t: ResourceType, namespace: string, body: unknown): Promise<T> {
    if (this.direct) return this.send('POST', this.objectPath(t, namespace), {}, body);
    return (await this.custom.createNamespacedCustomObject({ ...this.ref(t, namespace), body })) as T;
  }

  async replace<T extends KubeObject>(t: ResourceType, namespace: string, name: string, body: unknown): Promise<T> {
    if (this.direct) return this.send('PUT', this.objectPath(t, namespace, name), {}, body);
    return (await this.custom.replaceNamespacedCustomObject({ ...this.ref(t, namespace), name, body })) as T;
  }

  async patch<T extends KubeObject>(t: ResourceType, namespace: string, name: string, body: unknown): Promise<T> {
    if (this.direct) return this.send('PATCH', this.objectPath(t, namespace, name), {}, body, PatchStrategy.MergePatch);
    return (await this.custom.patchNamespacedCustomObject({ ...this.ref(t, namespace), name, body }, mergePatchOptions)) as T;
  }

  /** Replaces the status subresource (optimistic: body carries metadata.resourceVersion). */
  async replaceStatus<T extends KubeObject>(t: ResourceType, namespace: string, name: string, body: unknown): Promise<T> {
    if (this.direct) return this.send('PUT', this.objectPath(t, namespace, name, 'status'), {}, body);
    return (await this.custom.replaceNamespacedCustomObjectStatus({ ...this.ref(t, namespace), name, body })) as T;
  }

  async patchStatus<T extends KubeObject>(t: ResourceType, namespace: string, name: string, body: unknown): Promise<T> {
    if (this.direct) return this.send('PATCH', this.objectPath(t, namespace, name, 'status'), {}, body, PatchStrategy.MergePatch);
    return (await this.custom.patchNamespacedCustomObjectStatus({ ...this.ref(t, namespace), name, body }, mergePatchOptions)) as T;
  }

  async delete(t: ResourceType, namespace: string, name: string, propagationPolicy: 'Background' | 'Foreground' | 'Orphan' = 'Background'): Promise<void> {
    if (this.direct) return void (await this.send('DELETE', this.objectPath(t, namespace, name), { propagationPolicy }));
    await this.custom.deleteNamespacedCustomObject({ ...this.ref(t, namespace), name, propagationPolicy });
  }

  /**
   * Watches a collection path, as client-node's `Watch.watch` does (same callbacks, same errors: a
   * non-200 answer is an Error with `statusCode`; 30 s without data aborts with a TimeoutError;
   * `done` is called once), on the raw path: a plain HTTP stream split into lines, instead of a
   * fetch body through web streams and readline.
   */
  async watch(path: string, params: Record<string, string | number | boolean | undefined>, callback: (phase: string, obj: any, raw: any) => void, done: (err: unknown) => void): Promise<AbortController> {
    if (!this.direct) return this.watcher.watch(path, params, callback, done);
    const controller = new AbortController();
    const query = new URLSearchParams({ watch: 'true' });
    for (const [k, v] of Object.entries(params)) if (v !== undefined) query.set(k, String(v));
    const opts: RequestOptions = { headers: {} };
    await this.config.applyToHTTPSOptions(opts);
    const https = this.direct.protocol === 'https:';
    const url = `${this.direct.href.replace(/\/+$/, '')}${path}?${query}`;
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    let doneCalled = false;
    const clearTimer = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    };
    const resetTimer = (): void => {
      clearTimer();
      timer = setTimeout(() => {
        timedOut = true;
        controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
        doneOnce(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
      }, WATCH_TIMEOUT_MS);
      timer.unref();
    };
    const doneOnce = (err: unknown): void => {
      if (doneCalled) return;
      doneCalled = true;
      clearTimer();
      controller.abort();
      done(err && timedOut ? new DOMException('The operation was aborted due to timeout', 'TimeoutError') : err);
    };
    const deliver = (line: string): void => {
      if (doneCalled || !line.trim()) return;
      try {
        const data = JSON.parse(line);
        callback(data.type, data.object, data);
      } catch {
        // ignore parse errors (as client-node does)
      }
    };
    try {
      resetTimer();
      const req = (https ? httpsRequest : httpRequest)(url, { method: 'GET', headers: { ...(opts.headers as Record<string, string>), Accept: 'application/json' }, agent: this.agentFor(opts, https), auth: opts.auth, signal: controller.signal }, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          const error = new Error(res.statusMessage || STATUS_CODES[res.statusCode ?? 500] || 'Internal Server Error') as Error & { statusCode?: number };
          error.statusCode = res.statusCode;
          return doneOnce(error);
        }
        resetTimer();
        res.setEncoding('utf8');
        let buf = '';
        res.on('data', (chunk: string) => {
          resetTimer();
          buf += chunk;
          let start = 0;
          let i: number;
          while ((i = buf.indexOf('\n', start)) >= 0) {
            deliver(buf.slice(start, i));
            start = i + 1;
          }
          buf = start ? buf.slice(start) : buf;
        });
        res.on('end', () => {
          deliver(buf);
          doneOnce(null);
        });
        res.on('error', doneOnce);
        res.on('close', () => doneOnce(null));
      });
      req.on('error', doneOnce);
      req.end();
    } catch (err) {
      doneOnce(err);
    }
    return controller;
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
