/** A faithful-enough double of the Kubernetes API server, for tests and `npm run k8s:dev`:
 * discovery, CRUD with the real metadata semantics, CRDs that become served resources,
 * structural validation, patches, watches with resumption/410/bookmarks, Table output, and
 * fault injection. node:http only, plain HTTP on loopback. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { apiGroup, apiGroupList, apiResourceList, apiVersions, openApiV3Doc, openApiV3Index, version as versionDoc } from './double/discovery.ts';
import { FaultController, type FaultPlan } from './double/faults.ts';
import { Registry } from './double/registry.ts';
import { Rest, type Ctx, type Target } from './double/rest.ts';
import { selectorMatcher } from './double/selectors.ts';
import { Store, type StoreEvent } from './double/store.ts';
import { toTable, wantsTable } from './double/table.ts';
import { ApiError, resourceKey, statusObject, type KObject } from './double/types.ts';

export { FaultController, type FaultPlan, type FaultRule, type FaultHandle } from './double/faults.ts';
export type { KObject } from './double/types.ts';
export { Store } from './double/store.ts';

export interface ApiDoubleOptions {
  port?: number;
  faults?: FaultPlan;
  /** Events kept for watch resumption (older resourceVersions get 410 Gone). Default 10,000. */
  historySize?: number;
  /** Interval of BOOKMARK events on watches that allow them. Default 1,000 ms. */
  bookmarkIntervalMs?: number;
  /** One line per request (dev mode logs to stderr). */
  log?: (line: string) => void;
}

/** Requests served, by `verb resource` (e.g. `create jobs`, `patch jobs/status`, `watch pods`). */
export class RequestCounter {
  private readonly counts = new Map<string, number>();
  add(verb: string, resource: string): void {
    const k = `${verb} ${resource}`;
    this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
  }
  /** Count for a verb, optionally for one resource (`jobs`, `jobs/status`). */
  count(verb: string, resource?: string): number {
    let n = 0;
    for (const [k, v] of this.counts) {
      const [kv, kr] = k.split(' ');
      if (kv === verb && (resource === undefined || kr === resource)) n += v;
    }
    return n;
  }
  all(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }
  reset(): void {
    this.counts.clear();
  }
}

export interface ApiDouble {
  url: string;
  kubeconfigPath: string;
  faults: FaultController;
  /** Direct inspection: store.list(group, version, plural, ns?), store.get(group, version, plural, ns, name). */
  store: Store;
  registry: Registry;
  requests: RequestCounter;
  /** Open watch streams right now. */
  openWatches(): number;
  close(): Promise<void>;
}

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  410: 'Expired',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

function sendJson(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseBody(raw: string, contentType: string | undefined): KObject {
  if (/protobuf/.test(contentType ?? '')) {
    // Typed kubectl commands (`kubectl create job|deployment|configmap …`) send protobuf for
    // built-in kinds; the double only speaks JSON/YAML (`kubectl create -f`/`apply -f` work).
    throw new ApiError(415, 'UnsupportedMediaType', 'the API double accepts application/json and YAML bodies only, not protobuf (use kubectl create -f / kubectl apply -f)');
  }
  if (raw.trim() === '') return {};
  try {
    return /yaml/.test(contentType ?? '') ? parseYaml(raw) : JSON.parse(raw);
  } catch (e) {
    throw new ApiError(400, 'BadRequest', `error decoding request body: ${(e as Error).message}`);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type Route =
  | { doc: KObject }
  | { target: Target; collection: boolean; watch: boolean };

export async function startApiDouble(opts: ApiDoubleOptions = {}): Promise<ApiDouble> {
  const store = new Store(opts.historySize ?? 10_000);
  const registry = new Registry();
  const rest = new Rest(store, registry);
  const faults = new FaultController(opts.faults ?? []);
  const requests = new RequestCounter();
  const bookmarkMs = opts.bookmarkIntervalMs ?? 1000;
  const watchSockets = new Set<{ socket: Socket; stop: () => void }>();
  faults.dropper = () => {
    const n = watchSockets.size;
    for (const w of [...watchSockets]) {
      w.stop();
      w.socket.destroy();
    }
    watchSockets.clear();
    return n;
  };
  let serverAddress = '127.0.0.1:0';

  const notFoundPage = (): ApiError => new ApiError(404, 'NotFound', 'the server could not find the requested resource');

  function route(pathname: string, query: URLSearchParams): Route {
    const segs = pathname.split('/').filter(Boolean);
    if (segs[0] === 'version' && segs.length === 1) return { doc: versionDoc() };
    if (segs[0] === 'openapi' && segs[1] === 'v3') {
      if (segs.length === 2) return { doc: openApiV3Index(registry) };
      const doc = segs[2] === 'api' ? openApiV3Doc(registry, '', segs[3]) : openApiV3Doc(registry, segs[3], segs[4]);
      if (!doc) throw notFoundPage();
      return { doc };
    }
    let group: string;
    let version: string;
    let rest_: string[];
    if (segs[0] === 'api') {
      if (segs.length === 1) return { doc: apiVersions(serverAddress) };
      if (segs[1] !== 'v1') throw notFoundPage();
      group = '';
      version = 'v1';
      rest_ = segs.slice(2);
    } else if (segs[0] === 'apis') {
      if (segs.length === 1) return { doc: apiGroupList(registry) };
      if (segs.length === 2) {
        const g = apiGroup(registry, segs[1]);
        if (!g) throw notFoundPage();
        return { doc: g };
      }
      group = segs[1];
      version = segs[2];
      rest_ = segs.slice(3);
    } else throw notFoundPage();
    if (rest_.length === 0) {
      const doc = apiResourceList(registry, group, version);
      if (!doc) throw notFoundPage();
      return { doc };
    }
    let watch = query.get('watch') === 'true' || query.get('watch') === '1';
    if (rest_[0] === 'watch') {
      watch = true;
      rest_ = rest_.slice(1);
    }
    let namespace: string | undefined;
    if (rest_[0] === 'namespaces' && rest_.length >= 3 && registry.find(group, version, rest_[2])?.namespaced) {
      namespace = rest_[1];
      rest_ = rest_.slice(2);
    }
    const [plural, name, subresource, ...extra] = rest_;
    const rt = registry.find(group, version, plural);
    if (!rt || extra.length) throw notFoundPage();
    if (rt.namespaced && name !== undefined && namespace === undefined) throw notFoundPage();
    return { target: { rt, version, namespace, name, subresource }, collection: name === undefined, watch };
  }

  function serveWatch(req: IncomingMessage, res: ServerResponse, t: Target, query: URLSearchParams): void {
    const key = resourceKey(t.rt.group, t.rt.plural);
    const table = wantsTable(req.headers.accept);
    const includeObject = query.get('includeObject') ?? 'Metadata';
    const fieldSelector = [query.get('fieldSelector'), t.name ? `metadata.name=${t.name}` : null].filter(Boolean).join(',');
    const match = selectorMatcher(query.get('labelSelector'), fieldSelector);
    const inNs = (o: KObject): boolean => !t.rt.namespaced || t.namespace === undefined || o.metadata?.namespace === t.namespace;
    const visible = (o: KObject | undefined): boolean => !!o && inNs(o) && match(o);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
    res.flushHeaders();
    let first = true;
    const write = (type: string, obj: KObject): void => {
      let object = type === 'ERROR' || type === 'BOOKMARK' ? obj : rest.output(t.rt, t.version, obj);
      if (table && type !== 'ERROR' && type !== 'BOOKMARK') {
        object = toTable(t.rt, t.version, [object], { resourceVersion: object.metadata?.resourceVersion }, includeObject, first);
        first = false;
      }
      res.write(JSON.stringify({ type, object }) + '\n');
    };
    const deliver = (ev: StoreEvent): void => {
      const now = visible(ev.object);
      const before = ev.type === 'MODIFIED' ? visible(ev.previous) : now;
      if (ev.type === 'MODIFIED' && now && !before) write('ADDED', ev.object);
      else if (ev.type === 'MODIFIED' && !now && before) write('DELETED', ev.object);
      else if (now) write(ev.type, ev.object);
    };
    const rvParam = query.get('resourceVersion');
    const bookmarks = query.get('allowWatchBookmarks') === 'true';
    const expire = (rv: string): void => {
      write('ERROR', statusObject(410, 'Expired', `too old resource version: ${rv} (${store.resourceVersion()})`));
      res.end();
    };
    if (rvParam && rvParam !== '0') {
      const past = faults.takeWatchExpiry() ? 'expired' : store.since(key, Number(rvParam));
      if (past === 'expired') return expire(rvParam);
      for (const ev of past) deliver(ev);
    } else {
      for (const o of store.listKey(key, t.rt.namespaced ? t.namespace : undefined)) if (visible(o)) write('ADDED', o);
      if (query.get('sendInitialEvents') === 'true') {
        write('BOOKMARK', { kind: t.rt.kind, apiVersion: t.rt.group ? `${t.rt.group}/${t.version}` : t.version, metadata: { resourceVersion: String(store.resourceVersion()), annotations: { 'k8s.io/initial-events-end': 'true' } } });
      }
    }
    const unsubscribe = store.subscribe({ key, deliver });
    const timers: NodeJS.Timeout[] = [];
    if (bookmarks) {
      timers.push(setInterval(() => write('BOOKMARK', { kind: t.rt.kind, apiVersion: t.rt.group ? `${t.rt.group}/${t.version}` : t.version, metadata: { resourceVersion: String(store.resourceVersion()) } }), bookmarkMs));
    }
    const timeout = Number(query.get('timeoutSeconds') ?? 0);
    const entry = { socket: req.socket, stop: () => stop() };
    const stop = (): void => {
      unsubscribe();
      for (const tm of timers) clearTimeout(tm);
      watchSockets.delete(entry);
    };
    if (timeout > 0) timers.push(setTimeout(() => {
      stop();
      res.end();
    }, timeout * 1000));
    watchSockets.add(entry);
    res.on('close', stop);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://double');
    const method = req.method ?? 'GET';
    const query = url.searchParams;
    const pathname = url.pathname;
    if (['/healthz', '/livez', '/readyz'].includes(pathname)) {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ok');
      return;
    }
    const r = route(pathname, query);
    if ('doc' in r) {
      if (method !== 'GET') throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
      // Plain JSON even when aggregated discovery is asked for: clients fall back on the content type.
      return sendJson(res, 200, r.doc);
    }
    const { target: t, collection, watch } = r;
    const verb =
      method === 'GET' ? (watch ? 'watch' : collection ? 'list' : 'get')
      : method === 'POST' ? 'create'
      : method === 'PUT' ? 'update'
      : method === 'PATCH' ? 'patch'
      : method === 'DELETE' ? (collection ? 'deletecollection' : 'delete')
      : 'unknown';
    requests.add(verb, t.rt.plural + (t.subresource ? `/${t.subresource}` : ''));
    const fault = faults.match(method, pathname, watch);
    if (fault.delayMs) await sleep(fault.delayMs);
    if (fault.status) {
      const reason = REASONS[fault.status] ?? 'InternalError';
      return sendJson(res, fault.status, statusObject(fault.status, reason, `injected fault: ${fault.status} ${reason}`, fault.status === 429 ? { retryAfterSeconds: 1 } : undefined), fault.status === 429 ? { 'Retry-After': '1' } : {});
    }
    const ctx: Ctx = { query, warnings: [] };
    const warn = (): Record<string, string> => (ctx.warnings.length ? { Warning: ctx.warnings.map((w) => `299 - ${JSON.stringify(w)}`).join(', ') } : {});
    const table = wantsTable(req.headers.accept);
    switch (verb) {
      case 'watch':
        return serveWatch(req, res, t, query);
      case 'list': {
        const list = rest.listObject(t, ctx);
        return sendJson(res, 200, table ? toTable(t.rt, t.version, list.items, list.metadata, query.get('includeObject') ?? 'Metadata') : list);
      }
      case 'get': {
        const o = rest.get(t);
        return sendJson(res, 200, table ? toTable(t.rt, t.version, [o], { resourceVersion: o.metadata.resourceVersion }, query.get('includeObject') ?? 'Metadata') : o);
      }
      case 'create': {
        if (!collection) throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
        const o = rest.create(t, parseBody(await readBody(req), req.headers['content-type']), ctx);
        return sendJson(res, 201, o, warn());
      }
      case 'update': {
        const o = rest.update(t, parseBody(await readBody(req), req.headers['content-type']), ctx);
        return sendJson(res, 200, o, warn());
      }
      case 'patch': {
        const { object, created } = rest.patch(t, await readBody(req), req.headers['content-type'] ?? '', ctx);
        return sendJson(res, created ? 201 : 200, object, warn());
      }
      case 'delete': {
        const { object, gone } = rest.delete(t, parseBody(await readBody(req), req.headers['content-type']), ctx);
        return sendJson(res, gone ? 200 : 202, object);
      }
      case 'deletecollection':
        return sendJson(res, 200, rest.deleteCollection(t, parseBody(await readBody(req), req.headers['content-type']), ctx));
      default:
        throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    }
  }

  const server = createServer((req, res) => {
    const started = Date.now();
    res.on('finish', () => opts.log?.(`${req.method} ${req.url} ${res.statusCode} ${Date.now() - started}ms`));
    handle(req, res).catch((e: unknown) => {
      const err = e instanceof ApiError ? e : new ApiError(500, 'InternalError', `Internal error occurred: ${(e as Error)?.message ?? String(e)}`);
      if (!(e instanceof ApiError)) opts.log?.(`internal error: ${(e as Error)?.stack ?? String(e)}`);
      if (res.headersSent) res.end();
      else sendJson(res, err.code, err.toStatus());
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  serverAddress = `127.0.0.1:${port}`;
  const url = `http://127.0.0.1:${port}`;
  const dir = mkdtempSync(join(tmpdir(), 'orrery-k8s-double-'));
  const kubeconfigPath = join(dir, 'kubeconfig.yaml');
  writeFileSync(kubeconfigPath, kubeconfigYaml(url));

  return {
    url,
    kubeconfigPath,
    faults,
    store,
    registry,
    requests,
    openWatches: () => watchSockets.size,
    async close() {
      faults.dropWatches();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A kubeconfig for the double: plain HTTP, a dummy token, namespace `default`. */
export function kubeconfigYaml(url: string): string {
  return stringifyYaml({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'orrery-double', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'orrery-double', user: { token: 'orrery-double-token' } }],
    contexts: [{ name: 'orrery-double', context: { cluster: 'orrery-double', user: 'orrery-double', namespace: 'default' } }],
    'current-context': 'orrery-double',
    preferences: {},
  });
}
