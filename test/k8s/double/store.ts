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

/** One resource's objects by `namespace/name`, and their keys in list order: built on the first
 * list; then a write only notes a new key (`pending`), and the next list merges the noted keys in
 * (so writes stay O(1) and a list costs O(n + new·log new), not a full sort). Per namespace, the
 * ordered keys are derived on demand and dropped when that namespace gains a key. */
interface Bucket {
  objects: Map<string, KObject>;
  sorted?: string[];
  pending?: Set<string>;
  byNamespace?: Map<string, string[]>;
}

const order = (a: string, b: string): number => a.localeCompare(b);

/** Merges two ordered key lists. */
function merge(a: string[], b: string[]): string[] {
  const out: string[] = new Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let n = 0;
  while (i < a.length && j < b.length) out[n++] = order(a[i], b[j]) <= 0 ? a[i++] : b[j++];
  while (i < a.length) out[n++] = a[i++];
  while (j < b.length) out[n++] = b[j++];
  return out;
}

/** Removes `k` from the ordered `keys`. */
function removeSorted(keys: string[], k: string): void {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (order(keys[mid], k) < 0) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < keys.length && order(keys[i], k) <= 0; i++) {
    if (keys[i] === k) return void keys.splice(i, 1);
  }
  const i = keys.indexOf(k);
  if (i >= 0) keys.splice(i, 1);
}

const nsOfKey = (k: string): string => k.slice(0, k.indexOf('/'));

/** What a write did, for the garbage collector: the object now (or removed), and before. */
export interface WriteNote {
  key: string;
  object: KObject;
  previous?: KObject;
  removed: boolean;
}

const ownerUids = (o: KObject | undefined): string[] => (o?.metadata?.ownerReferences ?? []).map((r: KObject) => r.uid).filter((u: unknown): u is string => typeof u === 'string');

export class Store {
  private rv = 0;
  private readonly data = new Map<string, Bucket>();
  private readonly byUid = new Map<string, { key: string; ns?: string; name: string }>();
  /** Owner uid → uids of the stored objects whose ownerReferences name it. */
  private readonly dependents = new Map<string, Set<string>>();
  /** The event history window: `history[historyStart..]` (the dropped prefix is cut in chunks). */
  private history: StoreEvent[] = [];
  private historyStart = 0;
  /** resourceVersion of the newest event dropped from the history window. */
  private evictedUpTo = 0;
  private readonly watchers = new Map<string, Set<Watcher>>();
  private watcherCount = 0;
  /** Called after every write (the API layer's garbage collector follows owners with it). */
  onWrite?: (note: WriteNote) => void;

  constructor(private readonly historySize = 10_000) {}

  resourceVersion(): number {
    return this.rv;
  }

  nextRv(): number {
    return ++this.rv;
  }

  private bucket(key: string): Bucket {
    let b = this.data.get(key);
    if (!b) this.data.set(key, (b = { objects: new Map() }));
    return b;
  }

  /** Direct inspection for tests: copies of the stored objects. `version` is informational. */
  list(group: string, _version: string, plural: string, namespace?: string): KObject[] {
    return this.listKey(resourceKey(group, plural), namespace).map(clone);
  }

  get(group: string, _version: string, plural: string, namespace: string | undefined, name: string): KObject | undefined {
    return clone(this.getKey(resourceKey(group, plural), namespace, name));
  }

  /** The keys (`namespace/name`) of a resource's objects (optionally one namespace's) in list order. Read-only. */
  private orderedKeys(b: Bucket, namespace?: string): readonly string[] {
    if (b.sorted && b.pending?.size) b.sorted = b.pending.size * 8 > b.sorted.length ? undefined : merge(b.sorted, [...b.pending].sort(order));
    b.pending = undefined;
    b.sorted ??= [...b.objects.keys()].sort(order);
    if (namespace === undefined) return b.sorted;
    b.byNamespace ??= new Map();
    let keys = b.byNamespace.get(namespace);
    if (!keys) b.byNamespace.set(namespace, (keys = b.sorted.filter((k) => nsOfKey(k) === namespace)));
    return keys;
  }

  /** The stored objects of a resource (optionally one namespace), ordered by namespace/name. */
  listKey(key: string, namespace?: string): KObject[] {
    const b = this.bucket(key);
    return this.orderedKeys(b, namespace).map((k) => b.objects.get(k)!);
  }

  /** How many objects `listKey` would return, and the slice [start, end) of them (a page, without building the rest). */
  pageKey(key: string, namespace: string | undefined, start: number, end: number): { total: number; items: KObject[] } {
    const b = this.bucket(key);
    const keys = this.orderedKeys(b, namespace);
    return { total: keys.length, items: keys.slice(start, end).map((k) => b.objects.get(k)!) };
  }

  /** How many objects a resource has (all namespaces). */
  countKey(key: string): number {
    return this.data.get(key)?.objects.size ?? 0;
  }

  getKey(key: string, namespace: string | undefined, name: string): KObject | undefined {
    return this.data.get(key)?.objects.get(objKey(namespace, name));
  }

  existsUid(uid: string): boolean {
    return this.byUid.has(uid);
  }

  findUid(uid: string): { key: string; object: KObject } | undefined {
    const loc = this.byUid.get(uid);
    const o = loc && this.getKey(loc.key, loc.ns, loc.name);
    return loc && o ? { key: loc.key, object: o } : undefined;
  }

  /** The stored objects whose ownerReferences name `uid` (from the owner index: no scan). */
  dependentsOf(uid: string): { key: string; object: KObject }[] {
    const out: { key: string; object: KObject }[] = [];
    for (const d of this.dependents.get(uid) ?? []) {
      const f = this.findUid(d);
      if (f) out.push(f);
    }
    return out;
  }

  hasDependents(uid: string): boolean {
    return (this.dependents.get(uid)?.size ?? 0) > 0;
  }

  allKeys(): string[] {
    return [...this.data.keys()];
  }

  private index(uid: string, before: string[], after: string[]): void {
    for (const o of before) {
      if (after.includes(o)) continue;
      const s = this.dependents.get(o);
      if (s && s.delete(uid) && s.size === 0) this.dependents.delete(o);
    }
    for (const o of after) {
      let s = this.dependents.get(o);
      if (!s) this.dependents.set(o, (s = new Set()));
      s.add(uid);
    }
  }

  /** Writes an object (its resourceVersion must already be set from nextRv()). */
  put(key: string, obj: KObject, type: 'ADDED' | 'MODIFIED'): void {
    const k = objKey(obj.metadata.namespace, obj.metadata.name);
    const b = this.bucket(key);
    const previous = b.objects.get(k);
    b.objects.set(k, obj);
    if (!previous && b.sorted) {
      (b.pending ??= new Set()).add(k);
      b.byNamespace?.delete(nsOfKey(k));
    }
    const uid = obj.metadata.uid;
    if (previous && previous.metadata?.uid !== uid) this.index(previous.metadata?.uid, ownerUids(previous), []);
    this.index(uid, previous && previous.metadata?.uid === uid ? ownerUids(previous) : [], ownerUids(obj));
    this.byUid.set(uid, { key, ns: obj.metadata.namespace, name: obj.metadata.name });
    this.emit({ rv: Number(obj.metadata.resourceVersion), type, key, object: obj, previous });
    this.onWrite?.({ key, object: obj, previous, removed: false });
  }

  remove(key: string, obj: KObject): KObject {
    const final = { ...obj, metadata: { ...obj.metadata, resourceVersion: String(this.nextRv()) } };
    const b = this.bucket(key);
    const k = objKey(obj.metadata.namespace, obj.metadata.name);
    if (b.objects.delete(k) && b.sorted) {
      if (!b.pending?.delete(k)) removeSorted(b.sorted, k);
      const nsKeys = b.byNamespace?.get(nsOfKey(k));
      if (nsKeys) removeSorted(nsKeys, k);
    }
    this.byUid.delete(obj.metadata.uid);
    this.index(obj.metadata.uid, ownerUids(obj), []);
    this.emit({ rv: Number(final.metadata.resourceVersion), type: 'DELETED', key, object: final });
    this.onWrite?.({ key, object: obj, removed: true });
    return final;
  }

  private emit(ev: StoreEvent): void {
    this.history.push(ev);
    const size = this.history.length - this.historyStart;
    if (size > this.historySize) {
      const drop = size - this.historySize;
      this.historyStart += drop;
      this.evictedUpTo = this.history[this.historyStart - 1].rv;
      // Cut the dropped prefix in chunks, not on every event.
      if (this.historyStart >= Math.max(1024, this.historySize)) {
        this.history = this.history.slice(this.historyStart);
        this.historyStart = 0;
      }
    }
    const ws = this.watchers.get(ev.key);
    if (ws) for (const w of [...ws]) w.deliver(ev);
  }

  /** Events after `rv` for a resource, or 'expired' when the window no longer covers them. */
  since(key: string, rv: number): StoreEvent[] | 'expired' {
    if (rv < this.evictedUpTo) return 'expired';
    // The history is in resourceVersion order: find the first event after rv.
    let lo = this.historyStart;
    let hi = this.history.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.history[mid].rv > rv) hi = mid;
      else lo = mid + 1;
    }
    const out: StoreEvent[] = [];
    for (let i = lo; i < this.history.length; i++) if (this.history[i].rv > rv && this.history[i].key === key) out.push(this.history[i]);
    return out;
  }

  subscribe(w: Watcher): () => void {
    let ws = this.watchers.get(w.key);
    if (!ws) this.watchers.set(w.key, (ws = new Set()));
    if (!ws.has(w)) {
      ws.add(w);
      this.watcherCount++;
    }
    return () => {
      const set = this.watchers.get(w.key);
      if (set?.delete(w)) {
        this.watcherCount--;
        if (set.size === 0) this.watchers.delete(w.key);
      }
    };
  }

  openWatches(): number {
    return this.watcherCount;
  }

  /** Shrinks the history window (tests use it to make a resourceVersion "too old"). */
  compact(keepLast = 0): void {
    const drop = Math.max(0, this.history.length - this.historyStart - keepLast);
    if (drop > 0) {
      this.evictedUpTo = this.history[this.historyStart + drop - 1].rv;
      this.history = this.history.slice(this.historyStart + drop);
      this.historyStart = 0;
    }
    if (this.history.length - this.historyStart === 0) this.evictedUpTo = this.rv;
  }
}
