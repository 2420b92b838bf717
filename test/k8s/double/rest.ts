/** The REST semantics of the double: create/get/list/update/patch/delete with the real
 * server's metadata rules (uid, resourceVersion, generation, finalizers, deletion, owner
 * garbage collection), status subresources, defaulting and validation. */
import { randomUUID } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { applyPatch, deepEqual, jsonPatch, mergePatch, strategicMergePatch } from './patch.ts';
import { Registry } from './registry.ts';
import { applyDefaults, prune, validate, validateName } from './schema.ts';
import { selectorMatcher } from './selectors.ts';
import { Store, type WriteNote } from './store.ts';
import {
  alreadyExists,
  ApiError,
  badRequest,
  clone,
  conflict,
  invalid,
  notFound,
  resourceKey,
  type KObject,
  type ResourceType,
  type StatusCause,
} from './types.ts';

export interface Target {
  rt: ResourceType;
  version: string;
  namespace?: string;
  name?: string;
  subresource?: string;
}

/** Per-request extras: query parameters and the warnings to send back. */
export interface Ctx {
  query: URLSearchParams;
  warnings: string[];
}

const nowIso = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
const GEN_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
const randomSuffix = (): string => Array.from({ length: 5 }, () => GEN_ALPHABET[Math.floor(Math.random() * GEN_ALPHABET.length)]).join('');

export class Rest {
  private clusterIp = 10;
  private gcScheduled = false;
  /** Objects (uids) whose owners may all be gone now: the collector looks at these, not at everything. */
  private readonly gcDependents = new Set<string>();
  /** Owners (uids) in foreground deletion whose dependents may all be gone now. */
  private readonly gcOwners = new Set<string>();

  constructor(
    readonly store: Store,
    readonly registry: Registry,
  ) {
    store.onWrite = (note) => this.noteWrite(note);
    for (const ns of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) {
      this.create({ rt: this.coreType('namespaces'), version: 'v1' }, { metadata: { name: ns } }, { query: new URLSearchParams(), warnings: [] });
    }
  }

  private coreType(plural: string): ResourceType {
    return this.registry.find('', 'v1', plural)!;
  }

  private key(rt: ResourceType): string {
    return resourceKey(rt.group, rt.plural);
  }

  /**
   * The object as served at `version` (apiVersion/kind filled in; conversion is `None`). A
   * shallow view: it shares nested values with the stored object, so it is for serializing
   * (responses, watch events, tables), never for changing — clone it first for that.
   */
  output(rt: ResourceType, version: string, obj: KObject): KObject {
    const { apiVersion: _a, kind: _k, ...o } = obj;
    return { apiVersion: rt.group ? `${rt.group}/${version}` : version, kind: rt.kind, ...o };
  }

  private current(t: Target): KObject {
    const o = this.store.getKey(this.key(t.rt), t.rt.namespaced ? t.namespace : undefined, t.name!);
    if (!o) throw notFound(t.rt, t.name!);
    return o;
  }

  private checkNamespace(t: Target, body: KObject): void {
    if (!t.rt.namespaced) {
      if (body.metadata) delete body.metadata.namespace;
      return;
    }
    const ns = t.namespace ?? body.metadata?.namespace;
    if (!ns) throw badRequest('an empty namespace may not be set during creation');
    if (body.metadata?.namespace && body.metadata.namespace !== ns) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    body.metadata.namespace = ns;
    if (!this.store.getKey('/namespaces', undefined, ns)) throw new ApiError(404, 'NotFound', `namespaces "${ns}" not found`, { name: ns, kind: 'namespaces' });
  }

  // ---- reads ----

  get(t: Target): KObject {
    if (t.subresource && t.subresource !== 'status') throw notFound(t.rt, t.name!);
    if (t.subresource === 'status' && !t.rt.statusSubresource) throw notFound(t.rt, t.name!);
    return this.output(t.rt, t.version, this.current(t));
  }

  list(t: Target, ctx: Ctx): { items: KObject[]; metadata: KObject } {
    const labelSelector = ctx.query.get('labelSelector');
    const fieldSelector = ctx.query.get('fieldSelector');
    const match = selectorMatcher(labelSelector, fieldSelector);
    const metadata: KObject = { resourceVersion: String(this.store.resourceVersion()) };
    const limit = Number(ctx.query.get('limit') ?? 0);
    const cont = ctx.query.get('continue');
    let start = 0;
    if (cont) {
      try {
        start = JSON.parse(Buffer.from(cont, 'base64url').toString()).offset;
      } catch {
        throw badRequest('invalid continue token');
      }
    }
    const ns = t.rt.namespaced ? t.namespace : undefined;
    let items: KObject[];
    let total: number; // matching objects from `start` on
    if (!labelSelector && !fieldSelector && Number.isInteger(start) && start >= 0) {
      // No selector: a page is a slice of the ordered keys, the rest is never built.
      const page = this.store.pageKey(this.key(t.rt), ns, start, limit > 0 ? start + limit : Infinity);
      items = page.items;
      total = Math.max(0, page.total - start);
    } else {
      items = this.store.listKey(this.key(t.rt), ns).filter(match).slice(start);
      total = items.length;
    }
    if (limit > 0 && total > limit) {
      metadata.continue = Buffer.from(JSON.stringify({ offset: start + limit })).toString('base64url');
      metadata.remainingItemCount = total - limit;
      items = items.slice(0, limit);
    }
    return { items: items.map((o) => this.output(t.rt, t.version, o)), metadata };
  }

  listObject(t: Target, ctx: Ctx): KObject {
    const { items, metadata } = this.list(t, ctx);
    return { kind: t.rt.listKind, apiVersion: t.rt.group ? `${t.rt.group}/${t.version}` : t.version, metadata, items };
  }

  // ---- writes ----

  create(t: Target, body: KObject, ctx: Ctx): KObject {
    if (t.subresource) throw new ApiError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('the request body must be a JSON object');
    // The body is the caller's to give away (a parsed request, or a patch result built on a copy).
    const obj = { ...body };
    obj.metadata = { ...(obj.metadata ?? {}) };
    this.checkNamespace(t, obj);
    const key = this.key(t.rt);
    const m = obj.metadata;
    if (!m.name && m.generateName) {
      do m.name = `${m.generateName}${randomSuffix()}`;
      while (this.store.getKey(key, m.namespace, m.name));
    }
    const nameErrs = validateName(m.name);
    if (nameErrs.length) throw invalid(t.rt, String(m.name ?? ''), nameErrs);
    if (this.store.getKey(key, m.namespace, m.name)) throw alreadyExists(t.rt, m.name);
    for (const f of ['resourceVersion', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'managedFields', 'selfLink']) delete m[f];
    m.uid = randomUUID();
    m.creationTimestamp = nowIso();
    m.generation = 1;
    // POST on the main resource never sets status when there is a status subresource.
    if (t.rt.statusSubresource) delete obj.status;
    this.defaultBuiltin(t.rt, obj);
    this.admit(t.rt, t.version, obj, undefined, ctx);
    if (ctx.query.get('dryRun')) return this.output(t.rt, t.version, obj);
    m.resourceVersion = String(this.store.nextRv());
    this.store.put(key, obj, 'ADDED');
    // Dependents whose owners are all gone already are collected, as the real GC would (the
    // store's write note schedules that).
    this.afterWrite(t.rt, obj);
    return this.output(t.rt, t.version, obj);
  }

  update(t: Target, body: KObject, ctx: Ctx): KObject {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('the request body must be a JSON object');
    if (body.metadata?.name && body.metadata.name !== t.name) {
      throw badRequest(`the name of the object (${body.metadata.name}) does not match the name on the URL (${t.name})`);
    }
    const old = this.current(t);
    if (t.subresource === 'status' && !t.rt.statusSubresource) throw notFound(t.rt, t.name!);
    if (t.subresource && t.subresource !== 'status') throw notFound(t.rt, t.name!);
    const rv = body.metadata?.resourceVersion;
    if (rv !== undefined && rv !== '' && rv !== old.metadata.resourceVersion) throw conflict(t.rt, t.name!);
    let next: KObject;
    if (t.subresource === 'status') {
      // /status changes nothing but status.
      next = { ...clone(old), status: clone(body.status) };
      if (body.status === undefined) delete next.status;
    } else {
      next = clone(body);
      next.metadata = { ...(next.metadata ?? {}) };
      if (t.rt.statusSubresource) {
        if (old.status === undefined) delete next.status;
        else next.status = clone(old.status);
      }
    }
    const m = next.metadata;
    // Fields the server owns.
    for (const f of ['uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'namespace', 'name', 'generation']) {
      if (old.metadata[f] === undefined) delete m[f];
      else m[f] = old.metadata[f];
    }
    delete m.managedFields;
    if (old.metadata.deletionTimestamp) {
      // No new finalizers once deletion started (the real server rejects them; dropping is close enough).
      const before: string[] = old.metadata.finalizers ?? [];
      m.finalizers = (m.finalizers ?? []).filter((f: string) => before.includes(f));
      if (m.finalizers.length === 0) delete m.finalizers;
    }
    this.defaultBuiltin(t.rt, next, old);
    this.admit(t.rt, t.version, next, old, ctx);
    m.resourceVersion = old.metadata.resourceVersion;
    if (this.specChanged(t.rt, old, next)) m.generation = (old.metadata.generation ?? 1) + 1;
    if (deepEqual(old, next)) return this.output(t.rt, t.version, old); // no-op: no new resourceVersion, no event
    if (ctx.query.get('dryRun')) return this.output(t.rt, t.version, next);
    if (m.deletionTimestamp && (m.finalizers ?? []).length === 0) {
      return this.output(t.rt, t.version, this.removeNow(t.rt, next));
    }
    m.resourceVersion = String(this.store.nextRv());
    this.store.put(this.key(t.rt), next, 'MODIFIED');
    this.afterWrite(t.rt, next);
    return this.output(t.rt, t.version, next);
  }

  /** Returns the result and whether it was created (server-side apply of an absent object). */
  patch(t: Target, raw: string, contentType: string, ctx: Ctx): { object: KObject; created: boolean } {
    const type = contentType.split(';')[0].trim();
    let parsed: unknown;
    try {
      parsed = type === 'application/apply-patch+yaml' ? parseYaml(raw) : JSON.parse(raw);
    } catch (e) {
      throw badRequest(`error decoding patch: ${(e as Error).message}`);
    }
    if (type === 'application/strategic-merge-patch+json' && t.rt.custom) {
      throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`);
    }
    const existing = this.store.getKey(this.key(t.rt), t.rt.namespaced ? t.namespace : undefined, t.name!);
    if (type === 'application/apply-patch+yaml') {
      if (!ctx.query.get('fieldManager')) throw badRequest('PATCH, application/apply-patch+yaml requires fieldManager to be set');
      if (!existing) {
        if (t.subresource) throw notFound(t.rt, t.name!);
        const body = (parsed ?? {}) as KObject;
        body.metadata = { ...(body.metadata ?? {}), name: t.name };
        return { object: this.create({ ...t, subresource: undefined }, body, ctx), created: true };
      }
    }
    if (!existing) throw notFound(t.rt, t.name!);
    const base = clone(this.output(t.rt, t.version, existing));
    let patched: unknown;
    switch (type) {
      case 'application/merge-patch+json':
        patched = mergePatch(base, parsed);
        break;
      case 'application/json-patch+json':
        patched = jsonPatch(base, parsed);
        break;
      case 'application/strategic-merge-patch+json':
        patched = strategicMergePatch(base, parsed);
        break;
      case 'application/apply-patch+yaml':
        patched = applyPatch(base, parsed);
        break;
      default:
        throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`);
    }
    const obj = patched as KObject;
    if (typeof obj !== 'object' || obj === null) throw badRequest('patch produced a non-object');
    // A resourceVersion the patch set (rather than kept) is a precondition, as with PUT.
    const patchedRv = obj.metadata?.resourceVersion;
    if (patchedRv !== undefined && patchedRv !== existing.metadata.resourceVersion && type !== 'application/apply-patch+yaml') {
      throw conflict(t.rt, t.name!);
    }
    obj.metadata = { ...(obj.metadata ?? {}), resourceVersion: existing.metadata.resourceVersion };
    return { object: this.update(t, obj, ctx), created: false };
  }

  /** Returns the object and whether it is gone (false: waiting on finalizers → 202). */
  delete(t: Target, options: KObject, ctx: Ctx): { object: KObject; gone: boolean } {
    const obj = this.current(t);
    if (t.rt.group === '' && t.rt.plural === 'namespaces' && ['default', 'kube-system', 'kube-public'].includes(obj.metadata.name)) {
      throw new ApiError(403, 'Forbidden', `namespaces "${obj.metadata.name}" is forbidden: this namespace may not be deleted`, { name: obj.metadata.name, kind: 'namespaces' });
    }
    const pre = options.preconditions ?? {};
    if (pre.uid && pre.uid !== obj.metadata.uid) throw new ApiError(409, 'Conflict', `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${obj.metadata.uid}`);
    if (pre.resourceVersion && pre.resourceVersion !== obj.metadata.resourceVersion) throw conflict(t.rt, t.name!);
    const policy: string = options.propagationPolicy ?? ctx.query.get('propagationPolicy') ?? (options.orphanDependents ? 'Orphan' : 'Background');
    if (ctx.query.get('dryRun')) return { object: this.output(t.rt, t.version, obj), gone: true };
    if (policy === 'Orphan') this.orphanDependents(obj.metadata.uid);
    const finalizers: string[] = [...(obj.metadata.finalizers ?? [])];
    if (policy === 'Foreground' && this.store.hasDependents(obj.metadata.uid) && !finalizers.includes('foregroundDeletion')) finalizers.push('foregroundDeletion');
    if (finalizers.length === 0) return { object: this.output(t.rt, t.version, this.removeNow(t.rt, obj)), gone: true };
    if (obj.metadata.deletionTimestamp && deepEqual(finalizers, obj.metadata.finalizers)) return { object: this.output(t.rt, t.version, obj), gone: false };
    const next = clone(obj);
    next.metadata.deletionTimestamp ??= nowIso();
    next.metadata.deletionGracePeriodSeconds ??= 0;
    next.metadata.finalizers = finalizers;
    next.metadata.resourceVersion = String(this.store.nextRv());
    this.store.put(this.key(t.rt), next, 'MODIFIED');
    return { object: this.output(t.rt, t.version, next), gone: false };
  }

  deleteCollection(t: Target, options: KObject, ctx: Ctx): KObject {
    const { items } = this.list(t, ctx);
    for (const o of items) {
      try {
        this.delete({ ...t, namespace: o.metadata.namespace, name: o.metadata.name }, options, ctx);
      } catch (e) {
        if (!(e instanceof ApiError && e.code === 404)) throw e;
      }
    }
    return { kind: t.rt.listKind, apiVersion: t.rt.group ? `${t.rt.group}/${t.version}` : t.version, metadata: { resourceVersion: String(this.store.resourceVersion()) }, items };
  }

  // ---- internals ----

  /** Spec-ish change: anything but metadata (and status, where status is a subresource). */
  private specChanged(rt: ResourceType, a: KObject, b: KObject): boolean {
    const strip = (o: KObject): KObject => {
      const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = o;
      return rt.statusSubresource ? rest : { ...rest, status: o.status };
    };
    return !deepEqual(strip(a), strip(b));
  }

  /** Defaulting, pruning and validation of custom resources against the CRD's schema. */
  private admit(rt: ResourceType, version: string, obj: KObject, old: KObject | undefined, ctx: Ctx): void {
    if (rt.kind === 'CustomResourceDefinition') {
      const spec = obj.spec ?? {};
      const expected = `${spec.names?.plural}.${spec.group}`;
      if (obj.metadata.name !== expected) throw invalid(rt, obj.metadata.name, [{ field: 'metadata.name', message: `Invalid value: "${obj.metadata.name}": must be spec.names.plural+"."+spec.group` }]);
      if (!Array.isArray(spec.versions) || spec.versions.length === 0) throw invalid(rt, obj.metadata.name, [{ field: 'spec.versions', reason: 'FieldValueRequired', message: 'Invalid value: null: must have exactly one version marked as storage version' }]);
      return;
    }
    if (!rt.custom) return;
    const schema = rt.schemas?.[version] as KObject | undefined;
    if (!schema) return;
    applyDefaults(schema, obj);
    const unknown = prune(schema, obj);
    const fv = ctx.query.get('fieldValidation') ?? 'Warn';
    if (unknown.length && fv === 'Strict') {
      const msg = unknown.map((f) => `unknown field "${f}"`).join(', ');
      throw badRequest(`strict decoding error: ${msg}`);
    }
    if (unknown.length && fv === 'Warn') ctx.warnings.push(...unknown.map((f) => `unknown field "${f}"`));
    const { metadata: _m, apiVersion: _a, kind: _k, ...body } = obj;
    const props: Record<string, KObject> = schema.properties ?? {};
    const causes: StatusCause[] = [];
    for (const [k, v] of Object.entries(body)) if (props[k]) causes.push(...validate(props[k], v, k, old?.[k]));
    for (const req of (schema.required ?? []) as string[]) if (req !== 'metadata' && obj[req] === undefined) causes.push({ reason: 'FieldValueRequired', field: req, message: 'Required value' });
    if (causes.length) throw invalid(rt, obj.metadata.name, causes);
  }

  /** What the real server's defaulting and PrepareForCreate do for the built-in kinds we serve. */
  private defaultBuiltin(rt: ResourceType, obj: KObject, old?: KObject): void {
    if (rt.custom) return;
    const podSpec = (spec: KObject | undefined, jobPod: boolean): void => {
      if (!spec) return;
      spec.restartPolicy ??= jobPod ? undefined : 'Always';
      spec.dnsPolicy ??= 'ClusterFirst';
      spec.schedulerName ??= 'default-scheduler';
      spec.terminationGracePeriodSeconds ??= 30;
      for (const c of spec.containers ?? []) {
        c.terminationMessagePath ??= '/dev/termination-log';
        c.terminationMessagePolicy ??= 'File';
        c.imagePullPolicy ??= String(c.image ?? '').endsWith(':latest') || !String(c.image ?? '').includes(':') ? 'Always' : 'IfNotPresent';
      }
    };
    switch (rt.plural) {
      case 'namespaces':
        obj.status = { phase: old?.status?.phase ?? 'Active', ...(obj.status ?? {}) };
        break;
      case 'pods':
        podSpec(obj.spec, false);
        if (!old) obj.status = { phase: 'Pending', qosClass: 'BestEffort' };
        break;
      case 'jobs': {
        const s = (obj.spec ??= {});
        s.backoffLimit ??= 6;
        s.completions ??= 1;
        s.parallelism ??= 1;
        s.completionMode ??= 'NonIndexed';
        s.suspend ??= false;
        s.manualSelector ??= undefined;
        if (s.manualSelector === undefined) delete s.manualSelector;
        const uid = old?.metadata.uid ?? obj.metadata.uid;
        if (!old) {
          const tpl = (s.template ??= {});
          tpl.metadata = { ...(tpl.metadata ?? {}) };
          tpl.metadata.labels = {
            ...(tpl.metadata.labels ?? {}),
            'batch.kubernetes.io/controller-uid': uid,
            'batch.kubernetes.io/job-name': obj.metadata.name,
            'controller-uid': uid,
            'job-name': obj.metadata.name,
          };
          s.selector ??= { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } };
          obj.status = {};
          const rp = tpl.spec?.restartPolicy;
          if (rp !== 'Never' && rp !== 'OnFailure') {
            throw invalid(rt, obj.metadata.name, [{ reason: 'FieldValueNotSupported', field: 'spec.template.spec.restartPolicy', message: `Unsupported value: ${JSON.stringify(rp ?? '')}: supported values: "OnFailure", "Never"` }]);
          }
        }
        podSpec(s.template?.spec, true);
        break;
      }
      case 'deployments':
        obj.spec ??= {};
        obj.spec.replicas ??= 1;
        podSpec(obj.spec.template?.spec, false);
        if (!old) obj.status = {};
        break;
      case 'services':
        obj.spec ??= {};
        obj.spec.type ??= 'ClusterIP';
        if (!old && !obj.spec.clusterIP) {
          const n = this.clusterIp++;
          obj.spec.clusterIP = `10.96.${Math.floor(n / 250)}.${n % 250}`;
          obj.spec.clusterIPs = [obj.spec.clusterIP];
        } else if (old) {
          obj.spec.clusterIP = old.spec?.clusterIP;
          obj.spec.clusterIPs = old.spec?.clusterIPs;
        }
        for (const p of obj.spec.ports ?? []) {
          p.protocol ??= 'TCP';
          p.targetPort ??= p.port;
        }
        if (!old) obj.status = { loadBalancer: {} };
        break;
      case 'customresourcedefinitions':
        if (!old) obj.status = {};
        break;
    }
  }

  private afterWrite(rt: ResourceType, obj: KObject): void {
    if (rt.kind !== 'CustomResourceDefinition' || rt.custom) return;
    if (obj.metadata.deletionTimestamp) return;
    this.registry.defineFromCrd(obj);
    const conds: KObject[] = obj.status?.conditions ?? [];
    if (conds.some((c) => c.type === 'Established' && c.status === 'True')) return;
    // The real apiextensions controller accepts names and establishes asynchronously; doing it
    // at once keeps `kubectl wait --for=condition=Established` honest and fast.
    const names = { ...obj.spec.names };
    names.singular ??= String(names.kind).toLowerCase();
    names.listKind ??= `${names.kind}List`;
    const ts = nowIso();
    const next = clone(obj);
    next.status = {
      acceptedNames: names,
      storedVersions: [(obj.spec.versions.find((v: KObject) => v.storage) ?? obj.spec.versions[0]).name],
      conditions: [
        { type: 'NamesAccepted', status: 'True', reason: 'NoConflicts', message: 'no conflicts found', lastTransitionTime: ts },
        { type: 'Established', status: 'True', reason: 'InitialNamesAccepted', message: 'the initial names have been accepted', lastTransitionTime: ts },
      ],
    };
    next.metadata.resourceVersion = String(this.store.nextRv());
    this.store.put(this.key(rt), next, 'MODIFIED');
  }

  /** Takes an object out of the store for good, with the cascades the real server runs. */
  private removeNow(rt: ResourceType, obj: KObject): KObject {
    const final = this.store.remove(this.key(rt), obj);
    if (rt.kind === 'CustomResourceDefinition' && !rt.custom) {
      const crt = this.registry.all().find((x) => x.custom && x.crdName === obj.metadata.name);
      if (crt) for (const o of this.store.listKey(this.key(crt))) this.store.remove(this.key(crt), o);
      this.registry.removeCrd(obj);
    }
    if (rt.plural === 'namespaces' && rt.group === '') {
      for (const t of this.registry.all().filter((x) => x.namespaced)) {
        for (const o of this.store.listKey(this.key(t), obj.metadata.name)) this.store.remove(this.key(t), o);
      }
    }
    return final;
  }

  private typeOf(key: string): ResourceType | undefined {
    return this.registry.byKey(key);
  }

  private dependentsOf(uid: string): { rt: ResourceType; obj: KObject }[] {
    const out: { rt: ResourceType; obj: KObject }[] = [];
    for (const { key, object } of this.store.dependentsOf(uid)) {
      const rt = this.typeOf(key);
      if (rt) out.push({ rt, obj: object });
    }
    return out;
  }

  private orphanDependents(uid: string): void {
    for (const { rt, obj } of this.dependentsOf(uid)) {
      const next = clone(obj);
      next.metadata.ownerReferences = next.metadata.ownerReferences.filter((r: KObject) => r.uid !== uid);
      if (next.metadata.ownerReferences.length === 0) delete next.metadata.ownerReferences;
      next.metadata.resourceVersion = String(this.store.nextRv());
      this.store.put(this.key(rt), next, 'MODIFIED');
    }
  }

  /**
   * Every store write tells the collector what may have changed: an object with owners (are they
   * still alive?), an owner that went or entered foreground deletion (its dependents), and owners
   * a removed or re-owned dependent no longer holds back. Work is proportional to those, not to
   * everything stored.
   */
  private noteWrite({ object, previous, removed }: WriteNote): void {
    const uid: string = object.metadata?.uid;
    if (!uid) return;
    let dirty = false;
    const refs: KObject[] = removed ? [] : (object.metadata.ownerReferences ?? []);
    if (refs.length) {
      this.gcDependents.add(uid);
      dirty = true;
    }
    // Owners this object no longer depends on may be waiting on it (foreground deletion).
    const before: KObject[] = removed ? (object.metadata.ownerReferences ?? []) : previous?.metadata?.uid === uid ? (previous.metadata.ownerReferences ?? []) : [];
    for (const r of before) {
      if (refs.some((x) => x.uid === r.uid)) continue;
      this.gcOwners.add(r.uid);
      dirty = true;
    }
    const fgNow = !removed && isForeground(object);
    if (removed || fgNow !== (previous?.metadata?.uid === uid && isForeground(previous))) {
      // The owner went, or its liveness for the collector changed: look at its dependents.
      for (const { object: d } of this.store.dependentsOf(uid)) {
        this.gcDependents.add(d.metadata.uid);
        dirty = true;
      }
    }
    if (fgNow) {
      this.gcOwners.add(uid);
      dirty = true;
    }
    if (dirty) this.scheduleGc();
  }

  /** The garbage collector runs asynchronously, like the real one. */
  private scheduleGc(): void {
    if (this.gcScheduled) return;
    this.gcScheduled = true;
    setImmediate(() => {
      this.gcScheduled = false;
      this.collectGarbage();
    });
  }

  private collectGarbage(): void {
    const ctx: Ctx = { query: new URLSearchParams(), warnings: [] };
    const candidates = [...this.gcDependents];
    this.gcDependents.clear();
    for (const uid of candidates) {
      const found = this.store.findUid(uid);
      if (!found) continue;
      const rt = this.typeOf(found.key);
      const obj = found.object;
      if (!rt) continue;
      const refs: KObject[] = obj.metadata.ownerReferences ?? [];
      if (refs.length === 0 || obj.metadata.deletionTimestamp) continue;
      const ownerAlive = refs.some((r) => this.store.existsUid(r.uid) && !this.inForegroundDeletion(r.uid));
      if (!ownerAlive) {
        try {
          this.delete({ rt, version: rt.versions[0], namespace: obj.metadata.namespace, name: obj.metadata.name }, {}, ctx);
        } catch (e) {
          if (!(e instanceof ApiError && e.code === 404)) throw e;
        }
      }
    }
    // Foreground deletion: the owner goes once its dependents are gone.
    const owners = [...this.gcOwners];
    this.gcOwners.clear();
    for (const uid of owners) {
      const found = this.store.findUid(uid);
      if (!found) continue;
      const rt = this.typeOf(found.key);
      const obj = found.object;
      if (!rt || !isForeground(obj)) continue;
      if (this.store.hasDependents(uid)) continue;
      const next = clone(obj);
      next.metadata.finalizers = next.metadata.finalizers.filter((f: string) => f !== 'foregroundDeletion');
      this.update({ rt, version: rt.versions[0], namespace: obj.metadata.namespace, name: obj.metadata.name }, this.output(rt, rt.versions[0], next), ctx);
    }
  }

  private inForegroundDeletion(uid: string): boolean {
    const o = this.store.findUid(uid)?.object;
    return !!o && isForeground(o);
  }
}

function isForeground(o: KObject): boolean {
  return !!o.metadata?.deletionTimestamp && (o.metadata.finalizers ?? []).includes('foregroundDeletion');
}
