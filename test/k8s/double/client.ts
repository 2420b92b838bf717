/** A small Kubernetes REST client over fetch/node:http (what the simulated node uses), with an
 * informer: list, then watch from the list's resourceVersion, relist on 410 or errors. */
import { readFileSync } from 'node:fs';
import { request as httpRequest, type ClientRequest } from 'node:http';
import { parse as parseYaml } from 'yaml';
import type { KObject } from './types.ts';

export class KubeError extends Error {
  constructor(
    readonly code: number,
    readonly status: KObject | undefined,
    message: string,
  ) {
    super(message);
  }
}

/** The current context's server URL and bearer token from a kubeconfig file. */
export function readKubeconfig(path: string): { server: string; token?: string } {
  const kc = parseYaml(readFileSync(path, 'utf8'));
  const ctx = (kc.contexts ?? []).find((c: KObject) => c.name === kc['current-context'])?.context ?? kc.contexts?.[0]?.context;
  const cluster = (kc.clusters ?? []).find((c: KObject) => c.name === ctx?.cluster)?.cluster ?? kc.clusters?.[0]?.cluster;
  const user = (kc.users ?? []).find((u: KObject) => u.name === ctx?.user)?.user;
  return { server: String(cluster.server).replace(/\/$/, ''), token: user?.token };
}

export class KubeClient {
  constructor(
    readonly server: string,
    private readonly token?: string,
  ) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { Accept: 'application/json', ...(this.token ? { Authorization: `Bearer ${this.token}` } : {}), ...extra };
  }

  async request(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<KObject> {
    const res = await fetch(this.server + path, {
      method,
      headers: this.headers(body === undefined ? {} : { 'Content-Type': contentType }),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: KObject | undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!res.ok) throw new KubeError(res.status, parsed, `${method} ${path}: ${res.status} ${parsed?.message ?? text}`);
    return parsed ?? {};
  }

  get(path: string): Promise<KObject> {
    return this.request('GET', path);
  }
  create(path: string, obj: KObject): Promise<KObject> {
    return this.request('POST', path, obj);
  }
  mergePatch(path: string, patch: KObject): Promise<KObject> {
    return this.request('PATCH', path, patch, 'application/merge-patch+json');
  }
  delete(path: string, options: KObject = {}): Promise<KObject> {
    return this.request('DELETE', path, options);
  }

  /** Streams watch events until the server ends the stream; resolves when it ends. */
  watch(path: string, params: Record<string, string>, onEvent: (type: string, obj: KObject) => void): { done: Promise<void>; stop(): void } {
    const u = new URL(this.server + path);
    for (const [k, v] of Object.entries({ watch: 'true', ...params })) u.searchParams.set(k, v);
    let req: ClientRequest | undefined;
    let stopped = false;
    const done = new Promise<void>((resolve, reject) => {
      req = httpRequest(u, { headers: this.headers() }, (res) => {
        if ((res.statusCode ?? 500) >= 300) {
          res.resume();
          reject(new KubeError(res.statusCode ?? 500, undefined, `watch ${path}: ${res.statusCode}`));
          return;
        }
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          let i: number;
          while ((i = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, i).trim();
            buf = buf.slice(i + 1);
            if (!line) continue;
            try {
              const ev = JSON.parse(line);
              onEvent(ev.type, ev.object);
            } catch (e) {
              reject(e);
            }
          }
        });
        res.on('end', () => resolve());
        res.on('error', (e) => (stopped ? resolve() : reject(e)));
        res.on('aborted', () => (stopped ? resolve() : reject(new Error('watch aborted'))));
      });
      req.on('error', (e) => (stopped ? resolve() : reject(e)));
      req.end();
    });
    return {
      done,
      stop() {
        stopped = true;
        req?.destroy();
      },
    };
  }
}

const objKey = (o: KObject): string => `${o.metadata?.namespace ?? ''}/${o.metadata?.name}`;

/** List+watch cache of one collection path (e.g. `/apis/batch/v1/jobs`). */
export class Informer {
  readonly cache = new Map<string, KObject>();
  private stopped = false;
  private current?: { stop(): void };
  private ready!: Promise<void>;

  constructor(
    private readonly client: KubeClient,
    private readonly path: string,
    private readonly onChange: (type: string, obj: KObject) => void,
  ) {}

  start(): Promise<void> {
    let markReady!: () => void;
    this.ready = new Promise((r) => (markReady = r));
    void this.loop(markReady);
    return this.ready;
  }

  private async loop(markReady: () => void): Promise<void> {
    let rv: string | undefined;
    while (!this.stopped) {
      try {
        if (rv === undefined) {
          const list = await this.client.get(this.path);
          this.cache.clear();
          for (const o of list.items ?? []) this.cache.set(objKey(o), o);
          rv = list.metadata?.resourceVersion;
          markReady();
          this.onChange('SYNC', {});
        }
        let expired = false;
        const w = this.client.watch(this.path, { resourceVersion: rv!, allowWatchBookmarks: 'true' }, (type, obj) => {
          if (type === 'ERROR') {
            expired = true; // 410 Gone: relist
            return;
          }
          if (obj?.metadata?.resourceVersion) rv = obj.metadata.resourceVersion;
          if (type === 'BOOKMARK') return;
          if (type === 'DELETED') this.cache.delete(objKey(obj));
          else this.cache.set(objKey(obj), obj);
          this.onChange(type, obj);
        });
        this.current = w;
        await w.done;
        if (expired) rv = undefined;
      } catch {
        if (this.stopped) return;
        rv = undefined;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  /** Records a write we made before its watch event arrives (avoids acting twice). */
  remember(obj: KObject): void {
    this.cache.set(objKey(obj), obj);
  }

  stop(): void {
    this.stopped = true;
    this.current?.stop();
  }
}
