/** Object storage of the double: one global resourceVersion counter, a bounded event history
 * (for watch resumption) and the fan-out of events to open watches. */
import { clone, resourceKey, type KObject } from './types.ts';

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  rv: number;
  type: EventType;
  key: string; // group/plural
  object: KObject;
  /** The object before a MODIFIED (to move objects in and out of a selector's view). */
  previous?: KObject;
}

export interface Watcher {
  key: string;
  namespace?: string;
  deliver(ev: StoreEvent): void;
}

const objKey = (ns: string | undefined, name: string): string => `${ns ?? ''}/${name}`;

export class Store {
  private rv = 0;
  private readonly data = new Map<string, Map<string, KObject>>();
  private readonly byUid = new Map<string, { key: string; ns?: string; name: string }>();
  private history: StoreEvent[] = [];
  /** resourceVersion of the newest event dropped from the history window. */
  private evictedUpTo = 0;
  private readonly watchers = new Set<Watcher>();

  constructor(private readonly historySize = 10_000) {}

  resourceVersion(): number {
    return this.rv;
  }

  nextRv(): number {
    return ++this.rv;
  }

  private bucket(key: string): Map<string, KObject> {
    let b = this.data.get(key);
    if (!b) this.data.set(key, (b = new Map()));
    return b;
  }

  /** Direct inspection for tests: copies of the stored objects. `version` is informational. */
  list(group: string, _version: string, plural: string, namespace?: string): KObject[] {
    return this.listKey(resourceKey(group, plural), namespace).map(clone);
  }

  get(group: string, _version: string, plural: string, namespace: string | undefined, name: string): KObject | undefined {
    return clone(this.getKey(resourceKey(group, plural), namespace, name));
  }

  listKey(key: string, namespace?: string): KObject[] {
    const out = [...this.bucket(key).values()].filter((o) => namespace === undefined || o.metadata?.namespace === namespace);
    return out.sort((a, b) => `${a.metadata.namespace ?? ''}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace ?? ''}/${b.metadata.name}`));
  }

  getKey(key: string, namespace: string | undefined, name: string): KObject | undefined {
    return this.bucket(key).get(objKey(namespace, name));
  }

  existsUid(uid: string): boolean {
    return this.byUid.has(uid);
  }

  findUid(uid: string): { key: string; object: KObject } | undefined {
    const loc = this.byUid.get(uid);
    const o = loc && this.getKey(loc.key, loc.ns, loc.name);
    return loc && o ? { key: loc.key, object: o } : undefined;
  }

  allKeys(): string[] {
    return [...this.data.keys()];
  }

  /** Writes an object (its resourceVersion must already be set from nextRv()). */
  put(key: string, obj: KObject, type: 'ADDED' | 'MODIFIED'): void {
    const k = objKey(obj.metadata.namespace, obj.metadata.name);
    const previous = this.bucket(key).get(k);
    this.bucket(key).set(k, obj);
    this.byUid.set(obj.metadata.uid, { key, ns: obj.metadata.namespace, name: obj.metadata.name });
    this.emit({ rv: Number(obj.metadata.resourceVersion), type, key, object: obj, previous });
  }

  remove(key: string, obj: KObject): KObject {
    const final = { ...obj, metadata: { ...obj.metadata, resourceVersion: String(this.nextRv()) } };
    this.bucket(key).delete(objKey(obj.metadata.namespace, obj.metadata.name));
    this.byUid.delete(obj.metadata.uid);
    this.emit({ rv: Number(final.metadata.resourceVersion), type: 'DELETED', key, object: final });
    return final;
  }

  private emit(ev: StoreEvent): void {
    this.history.push(ev);
    if (this.history.length > this.historySize) {
      const drop = this.history.length - this.historySize;
      this.evictedUpTo = this.history[drop - 1].rv;
      this.history = this.history.slice(drop);
    }
    for (const w of [...this.watchers]) if (w.key === ev.key) w.deliver(ev);
  }

  /** Events after `rv` for a resource, or 'expired' when the window no longer covers them. */
  since(key: string, rv: number): StoreEvent[] | 'expired' {
    if (rv < this.evictedUpTo) return 'expired';
    return this.history.filter((e) => e.rv > rv && e.key === key);
  }

  subscribe(w: Watcher): () => void {
    this.watchers.add(w);
    return () => this.watchers.delete(w);
  }

  openWatches(): number {
    return this.watchers.size;
  }

  /** Shrinks the history window (tests use it to make a resourceVersion "too old"). */
  compact(keepLast = 0): void {
    const drop = Math.max(0, this.history.length - keepLast);
    if (drop > 0) {
      this.evictedUpTo = this.history[drop - 1].rv;
      this.history = this.history.slice(drop);
    }
    if (this.history.length === 0) this.evictedUpTo = this.rv;
  }
}
