/**
 * List + watch of one resource type in one namespace, with a cache keyed by namespace/name.
 * The watch resumes from the last resourceVersion seen; a watchdog restarts a watch that went
 * silent (client-node's watch can stop without calling back); a periodic resync relists and
 * replays every object; 410 Gone (the resourceVersion is too old) relists from scratch.
 */
import type { Logger } from 'pino';
import { isGone, statusOf, type KubeClient } from '../../adapters/kubernetes/client.ts';
import { objectKey, type KubeObject, type ResourceType } from '../resources.ts';

export interface InformerHandlers<T> {
  add?(obj: T): void;
  update?(obj: T, old: T): void;
  delete?(obj: T): void;
}

export interface InformerOptions {
  namespace: string;
  labelSelector?: string;
  /** Restart the watch when nothing (event or bookmark) arrived for this long. */
  watchdogMs?: number;
  /** Full relist interval; 0 disables. */
  resyncMs?: number;
  /** Delay before re-listing/re-watching after an error. */
  retryMs?: number;
  logger?: Logger;
}

export class Informer<T extends KubeObject> {
  private readonly cache = new Map<string, T>();
  /** The last version of each object handed to the handlers (the cache may hold a newer, assumed one). */
  private readonly delivered = new Map<string, T>();
  private readonly handlers: InformerHandlers<T>[] = [];
  private resourceVersion: string | undefined;
  private abort?: AbortController;
  private stopped = false;
  private synced = false;
  private lastSeen = Date.now();
  private watchGeneration = 0;
  private watchdog?: NodeJS.Timeout;
  private resync?: NodeJS.Timeout;
  private syncWaiters: Array<() => void> = [];
  /** Counts of restarts by cause (tests and metrics). */
  readonly restarts = { watchdog: 0, gone: 0, error: 0, closed: 0 };

  constructor(private readonly client: KubeClient, readonly type: ResourceType, private readonly o: InformerOptions) {}

  on(h: InformerHandlers<T>): this {
    this.handlers.push(h);
    return this;
  }

  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  /**
   * Puts an object this process just wrote into the cache (the watch event follows later), so
   * the next reconcile does not act on the copy from before its own write.
   */
  assume(obj: T): void {
    const key = objectKey(obj);
    const cur = this.cache.get(key);
    if (cur && newer(cur.metadata.resourceVersion, obj.metadata.resourceVersion)) return;
    obj.apiVersion ??= cur?.apiVersion ?? (this.type.group ? `${this.type.group}/${this.type.version}` : this.type.version);
    obj.kind ??= this.type.kind;
    this.cache.set(key, obj);
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.relist();
    const watchdogMs = this.o.watchdogMs ?? 60_000;
    this.watchdog = setInterval(() => {
      if (!this.stopped && Date.now() - this.lastSeen > watchdogMs) {
        this.restarts.watchdog++;
        this.o.logger?.warn({ kind: this.type.kind }, 'watch silent, restarting');
        void this.restartWatch();
      }
    }, Math.max(50, Math.min(watchdogMs / 4, 5_000)));
    this.watchdog.unref?.();
    if (this.o.resyncMs) {
      this.resync = setInterval(() => { if (!this.stopped) void this.relist().catch(() => undefined); }, this.o.resyncMs);
      this.resync.unref?.();
    }
  }

  /** Resolves once the first list has filled the cache. */
  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((r) => this.syncWaiters.push(r));
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.watchdog);
    clearInterval(this.resync);
    this.abort?.abort();
  }

  /** Lists everything, reconciles the cache with it (adds, updates, deletes) and re-watches from its resourceVersion. */
  private async relist(): Promise<void> {
    while (!this.stopped) {
      try {
        const result = await this.client.listAll<T>(this.type, this.o.namespace, { labelSelector: this.o.labelSelector });
        this.lastSeen = Date.now();
        const seen = new Set<string>();
        for (const item of result.items) {
          item.apiVersion ??= this.type.group ? `${this.type.group}/${this.type.version}` : this.type.version;
          item.kind ??= this.type.kind;
          const key = objectKey(item);
          seen.add(key);
          this.upsert(key, item, true);
        }
        for (const [key, old] of this.cache) if (!seen.has(key)) { this.cache.delete(key); this.delivered.delete(key); for (const h of this.handlers) h.delete?.(old); }
        this.resourceVersion = result.metadata.resourceVersion;
        if (!this.synced) {
          this.synced = true;
          for (const w of this.syncWaiters.splice(0)) w();
        }
        await this.restartWatch();
        return;
      } catch (e) {
        this.restarts.error++;
        this.o.logger?.warn({ kind: this.type.kind, status: statusOf(e), err: String(e) }, 'list failed, retrying');
        await new Promise((r) => setTimeout(r, this.o.retryMs ?? 1000));
      }
    }
  }

  private upsert(key: string, obj: T, fromList: boolean): void {
    const cached = this.cache.get(key);
    // Handlers follow the watch stream; an assumed write may have put a newer copy in the cache.
    const old = this.delivered.get(key);
    this.delivered.set(key, obj);
    if (!cached || !newer(cached.metadata.resourceVersion, obj.metadata.resourceVersion)) this.cache.set(key, obj);
    if (!old) for (const h of this.handlers) h.add?.(obj);
    // A resync replays objects even when unchanged, so missed work is picked up again.
    else if (fromList || old.metadata.resourceVersion !== obj.metadata.resourceVersion) for (const h of this.handlers) h.update?.(obj, old);
  }

  private async restartWatch(): Promise<void> {
    if (this.stopped) return;
    this.abort?.abort();
    const generation = ++this.watchGeneration;
    this.lastSeen = Date.now();
    const current = () => generation === this.watchGeneration && !this.stopped;
    try {
      this.abort = await this.client.watch(
        this.client.collectionPath(this.type, this.o.namespace),
        { resourceVersion: this.resourceVersion, allowWatchBookmarks: true, labelSelector: this.o.labelSelector },
        (phase, obj: T & { code?: number }) => {
          if (!current()) return;
          this.lastSeen = Date.now();
          if (phase === 'ERROR') {
            // A Status object: 410 means our resourceVersion expired.
            if (obj?.code === 410) { this.restarts.gone++; this.watchGeneration++; void this.relist(); }
            return;
          }
          if (!obj?.metadata) return;
          if (obj.metadata.resourceVersion) this.resourceVersion = obj.metadata.resourceVersion;
          if (phase === 'BOOKMARK') return;
          obj.apiVersion ??= this.type.group ? `${this.type.group}/${this.type.version}` : this.type.version;
          obj.kind ??= this.type.kind;
          const key = objectKey(obj);
          if (phase === 'DELETED') {
            const old = this.cache.get(key);
            this.cache.delete(key);
            this.delivered.delete(key);
            for (const h of this.handlers) h.delete?.(old ?? obj);
          } else this.upsert(key, obj, false);
        },
        (err) => {
          if (!current()) return;
          if (err && isGone(err)) { this.restarts.gone++; void this.relist(); return; }
          if (err) this.restarts.error++;
          else this.restarts.closed++;
          // The server closes watches routinely: resume from the last resourceVersion.
          setTimeout(() => { if (current()) void this.restartWatch(); }, err ? this.o.retryMs ?? 1000 : 0).unref?.();
        },
      );
    } catch (e) {
      if (!current()) return;
      if (isGone(e)) { this.restarts.gone++; void this.relist(); return; }
      this.restarts.error++;
      setTimeout(() => { if (current()) void this.restartWatch(); }, this.o.retryMs ?? 1000).unref?.();
    }
  }
}

/** true when resourceVersion `a` is newer than `b` (numeric where both are; opaque otherwise). */
function newer(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return false;
  return a.length !== b.length ? a.length > b.length : a > b;
}
