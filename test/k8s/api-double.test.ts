import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
// client-node 2.x (undici 8) needs Node 22 built-ins at load time; the adapter's shim supplies them.
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiDouble, type ApiDouble, type KObject } from './api-double.ts';
import { kubectlFor, KUBECTL } from './kubectl.ts';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const G = 'test.orrery.dev';
const V = 'v1alpha1';

let double: ApiDouble;
let kubectl: ReturnType<typeof kubectlFor>;
let kc: k8s.KubeConfig;
let custom: k8s.CustomObjectsApi;
let core: k8s.CoreV1Api;

async function ok(args: string[], input?: string): Promise<string> {
  const r = await kubectl(args, { input });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

const gadget = (name: string, spec: KObject = { color: 'red' }, metadata: KObject = {}): KObject => ({ apiVersion: `${G}/${V}`, kind: 'Gadget', metadata: { name, ...metadata }, spec });

async function until<T>(fn: () => T | undefined | false, ms = 3000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  double = await startApiDouble({ bookmarkIntervalMs: 100 });
  kubectl = kubectlFor(double.kubeconfigPath);
  kc = new k8s.KubeConfig();
  kc.loadFromFile(double.kubeconfigPath);
  custom = kc.makeApiClient(k8s.CustomObjectsApi);
  core = kc.makeApiClient(k8s.CoreV1Api);
  await ok(['apply', '-f', join(fixtures, 'gadget-crd.yaml'), '-f', join(fixtures, 'gizmo-crd.yaml')]);
  await ok(['wait', '--for=condition=Established', '--timeout=10s', `crd/gadgets.${G}`, `crd/gizmos.${G}`]);
});

afterAll(async () => {
  await double?.close();
});

describe('API double with the real kubectl', () => {
  it('serves discovery for the CRD (short names, categories) and the aggregated-discovery Accept falls back', async () => {
    const out = await ok(['api-resources', `--api-group=${G}`, '-o', 'wide']);
    expect(out).toMatch(/gadgets\s+gd\s+test\.orrery\.dev\/v1alpha1\s+true\s+Gadget\s+create,delete,deletecollection,get,list,patch,update,watch\s+orrery/);
    const res = await fetch(`${double.url}/apis`, { headers: { Accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json' } });
    expect(res.headers.get('content-type')).toBe('application/json');
    const groups = ((await res.json()) as KObject).groups.map((g: KObject) => g.name);
    expect(groups).toEqual(expect.arrayContaining(['batch', 'apps', 'coordination.k8s.io', 'events.k8s.io', 'apiextensions.k8s.io', G]));
    const crd = await ok(['get', `crd/gadgets.${G}`, '-o', 'jsonpath={.status.conditions[?(@.type=="NamesAccepted")].status}']);
    expect(crd).toBe('True');
  });

  it('applies a custom resource with defaults; kubectl get shows the printer columns; the category lists every kind', async () => {
    expect(await ok(['apply', '-f', join(fixtures, 'gadget-red.yaml')])).toContain('gadget.test.orrery.dev/red-one created');
    await ok(['apply', '-f', '-'], JSON.stringify({ apiVersion: `${G}/${V}`, kind: 'Gizmo', metadata: { name: 'giz' }, spec: { anything: { goes: 1 } } }));
    const table = await ok(['get', 'gadgets']);
    const [header, row] = table.trim().split('\n');
    expect(header.split(/\s+/)).toEqual(['NAME', 'COLOR', 'MAX', 'READY', 'AGE']);
    expect(row).toMatch(/^red-one\s+red\s+3\s+\d+s$/);
    const defaults = JSON.parse(await ok(['get', 'gd', 'red-one', '-o', 'json']));
    expect(defaults.spec).toMatchObject({ onlyMissing: false, onlyFailed: false, concurrency: { max: 3 } });
    expect(defaults.metadata).toMatchObject({ generation: 1, namespace: 'default' });
    const all = await ok(['get', 'orrery']);
    expect(all).toContain('gadget.test.orrery.dev/red-one');
    expect(all).toContain('gizmo.test.orrery.dev/giz');
  });

  it('rejects invalid custom resources naming the field (422 Invalid, causes[].field)', async () => {
    const r = await kubectl(['apply', '-f', '-'], { input: JSON.stringify(gadget('bad', { color: 'red', concurrency: { max: 0 } })) });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('spec.concurrency.max: Invalid value: 0: should be greater than or equal to 1');
    const r2 = await kubectl(['apply', '-f', '-'], { input: JSON.stringify(gadget('bad', { color: 'purple', key: 'Bad', from: 'a', sizes: [] })) });
    expect(r2.stderr).toContain('spec.color: Unsupported value: "purple"');
    expect(r2.stderr).toContain(`spec.key: Invalid value: "Bad": should match '^[a-z][a-z0-9_]*$'`);
    expect(r2.stderr).toContain('spec.sizes: Invalid value: 0: should have at least 1 items');
    expect(r2.stderr).toContain('from and to must be set together');
    const strict = await kubectl(['apply', '-f', '-'], { input: JSON.stringify(gadget('bad', { color: 'red', bogus: 1 })) });
    expect(strict.stderr).toContain('unknown field "spec.bogus"');
    const e = await custom.createNamespacedCustomObject({ group: G, version: V, namespace: 'default', plural: 'gadgets', body: gadget('bad', { color: 'red', onlyMissing: true, onlyFailed: true }) }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(k8s.ApiException);
    const status = JSON.parse((e as k8s.ApiException<string>).body);
    expect((e as k8s.ApiException<string>).code).toBe(422);
    expect(status).toMatchObject({ kind: 'Status', reason: 'Invalid', code: 422, details: { kind: 'Gadget', group: G, causes: [{ field: 'spec', message: expect.stringContaining('onlyMissing and onlyFailed are exclusive') }] } });
    expect(status.message).toBe('Gadget.test.orrery.dev "bad" is invalid: spec: Invalid value: "object": onlyMissing and onlyFailed are exclusive');
    expect(double.store.get(G, V, 'gadgets', 'default', 'bad')).toBeUndefined();
  });

  it('patches: merge, json, status subresource; strategic merge on a custom resource is 415', async () => {
    await ok(['apply', '-f', '-'], JSON.stringify(gadget('patchy', { color: 'red' })));
    await ok(['patch', 'gadget', 'patchy', '--type', 'merge', '-p', '{"spec":{"color":"blue"}}']);
    await ok(['patch', 'gadget', 'patchy', '--type', 'json', '-p', '[{"op":"test","path":"/spec/color","value":"blue"},{"op":"add","path":"/spec/concurrency","value":{"max":5}},{"op":"add","path":"/metadata/labels","value":{"tier":"a"}}]']);
    let o = double.store.get(G, V, 'gadgets', 'default', 'patchy')!;
    expect(o.spec.color).toBe('blue');
    expect(o.spec.concurrency.max).toBe(5);
    expect(o.metadata.generation).toBe(3); // two spec changes; the label rode along with one
    await ok(['patch', 'gadget', 'patchy', '--type', 'merge', '-p', '{"metadata":{"labels":{"tier":"b"}}}']);
    await ok(['patch', 'gadget', 'patchy', '--subresource', 'status', '--type', 'merge', '-p', '{"status":{"conditions":[{"type":"Ready","status":"True"}]},"spec":{"color":"green"}}']);
    o = double.store.get(G, V, 'gadgets', 'default', 'patchy')!;
    expect(o.metadata.generation).toBe(3); // metadata-only and status changes never bump it
    expect(o.spec.color).toBe('blue'); // /status ignores everything but status
    expect(o.status.conditions[0].status).toBe('True');
    expect(await ok(['get', 'gadget', 'patchy', '--no-headers'])).toMatch(/patchy\s+blue\s+5\s+True/);
    await ok(['patch', 'gadget', 'patchy', '--type', 'merge', '-p', '{"spec":{"key":"first"}}']);
    const immutable = await kubectl(['patch', 'gadget', 'patchy', '--type', 'merge', '-p', '{"spec":{"key":"second"}}']);
    expect(immutable.stderr).toContain('spec.key: Invalid value: "second": key is immutable'); // a CEL transition rule (oldSelf)
    const sm = await kubectl(['patch', 'gadget', 'patchy', '-p', '{"spec":{"color":"green"}}']);
    expect(sm.code).not.toBe(0);
    expect(sm.stderr).toContain('application/strategic-merge-patch+json is not supported');
    expect(sm.stderr).toContain('the body of the request was in an unknown format');
  });

  it('server-side apply creates when absent and merges otherwise', async () => {
    const doc = gadget('ssa', { color: 'green', key: 'one' });
    expect(await ok(['apply', '--server-side', '-f', '-'], JSON.stringify(doc))).toContain('serverside-applied');
    expect(double.store.get(G, V, 'gadgets', 'default', 'ssa')!.spec.key).toBe('one');
    await ok(['apply', '--server-side', '--force-conflicts', '-f', '-'], JSON.stringify(gadget('ssa', { color: 'blue', key: 'one' })));
    const o = double.store.get(G, V, 'gadgets', 'default', 'ssa')!;
    expect(o.spec).toMatchObject({ color: 'blue', key: 'one' });
    expect(o.metadata.generation).toBe(2);
    const noManager = await fetch(`${double.url}/apis/${G}/${V}/namespaces/default/gadgets/ssa`, { method: 'PATCH', headers: { 'Content-Type': 'application/apply-patch+yaml' }, body: 'spec: {color: red}' });
    expect(noManager.status).toBe(400);
  });

  it('delete with a finalizer waits until the finalizer is removed', async () => {
    await ok(['apply', '-f', '-'], JSON.stringify(gadget('held', { color: 'red' }, { finalizers: ['test.orrery.dev/hold'] })));
    await ok(['delete', 'gadget', 'held', '--wait=false']);
    const o = double.store.get(G, V, 'gadgets', 'default', 'held')!;
    expect(o.metadata.deletionTimestamp).toBeTruthy();
    expect(o.metadata.deletionGracePeriodSeconds).toBe(0);
    await ok(['patch', 'gadget', 'held', '--type', 'json', '-p', '[{"op":"remove","path":"/metadata/finalizers"}]']);
    const r = await kubectl(['get', 'gadget', 'held']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('gadgets.test.orrery.dev "held" not found');
  });

  it('kubectl get -w streams updates (Table watch)', async () => {
    await ok(['apply', '-f', '-'], JSON.stringify(gadget('watched', { color: 'red' })));
    const child = spawn(KUBECTL, ['--kubeconfig', double.kubeconfigPath, 'get', 'gadgets', 'watched', '-w', '--no-headers']);
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    try {
      await until(() => out.includes('watched'), 5000);
      await custom.patchNamespacedCustomObject({ group: G, version: V, namespace: 'default', plural: 'gadgets', name: 'watched', body: { spec: { color: 'green' } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
      await until(() => /watched\s+green/.test(out), 5000);
    } finally {
      child.kill();
    }
  });
});

describe('API double through @kubernetes/client-node', () => {
  const path = `/apis/${G}/${V}/namespaces/default/gadgets`;

  function collect(query: Record<string, string | number | boolean>): { events: { type: string; obj: KObject }[]; done: Promise<unknown>; stop: () => void } {
    const events: { type: string; obj: KObject }[] = [];
    let controller: AbortController | undefined;
    let resolveDone!: (e: unknown) => void;
    const done = new Promise((r) => (resolveDone = r));
    void new k8s.Watch(kc).watch(path, query, (type, obj) => events.push({ type, obj }), (err) => resolveDone(err ?? 'closed')).then((c) => (controller = c));
    return { events, done, stop: () => controller?.abort() };
  }

  it('watch resumes from a resourceVersion, in order, with selectors applied', async () => {
    const created = (await custom.createNamespacedCustomObject({ group: G, version: V, namespace: 'default', plural: 'gadgets', body: gadget('w1', { color: 'red' }, { labels: { app: 'w' } }) })) as KObject;
    const rv = created.metadata.resourceVersion;
    await custom.patchNamespacedCustomObject({ group: G, version: V, namespace: 'default', plural: 'gadgets', name: 'w1', body: { spec: { color: 'blue' } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
    await custom.createNamespacedCustomObject({ group: G, version: V, namespace: 'default', plural: 'gadgets', body: gadget('w2', { color: 'red' }) });
    await custom.deleteNamespacedCustomObject({ group: G, version: V, namespace: 'default', plural: 'gadgets', name: 'w1' });
    const w = collect({ resourceVersion: rv, labelSelector: 'app=w' });
    await until(() => w.events.length >= 2);
    w.stop();
    expect(w.events.map((e) => `${e.type} ${e.obj.metadata.name} ${e.obj.spec.color}`)).toEqual(['MODIFIED w1 blue', 'DELETED w1 blue']);
    expect(Number(w.events[1].obj.metadata.resourceVersion)).toBeGreaterThan(Number(rv));
  });

  it('watch from a compacted resourceVersion gets ERROR 410 Expired; bookmarks carry the current resourceVersion', async () => {
    const list = (await custom.listNamespacedCustomObject({ group: G, version: V, namespace: 'default', plural: 'gadgets' })) as KObject;
    const old = list.metadata.resourceVersion;
    await custom.createNamespacedCustomObject({ group: G, version: V, namespace: 'default', plural: 'gadgets', body: gadget('w3') });
    double.store.compact();
    const w = collect({ resourceVersion: old });
    await w.done;
    expect(w.events).toHaveLength(1);
    expect(w.events[0].type).toBe('ERROR');
    expect(w.events[0].obj).toMatchObject({ kind: 'Status', code: 410, reason: 'Expired' });
    const b = collect({ allowWatchBookmarks: true, resourceVersion: String(double.store.resourceVersion()) });
    await until(() => b.events.some((e) => e.type === 'BOOKMARK'));
    b.stop();
    expect(b.events.find((e) => e.type === 'BOOKMARK')!.obj.metadata.resourceVersion).toBe(String(double.store.resourceVersion()));
  });

  it('stale PUT is 409 Conflict; POST of an existing name is 409 AlreadyExists; generateName works', async () => {
    const o = (await custom.createNamespacedCustomObject({ group: G, version: V, namespace: 'default', plural: 'gadgets', body: gadget('c1') })) as KObject;
    const fresh = (await custom.replaceNamespacedCustomObject({ group: G, version: V, namespace: 'default', plural: 'gadgets', name: 'c1', body: { ...o, spec: { color: 'blue' } } })) as KObject;
    expect(fresh.metadata.generation).toBe(2);
    const e = await custom.replaceNamespacedCustomObject({ group: G, version: V, namespace: 'default', plural: 'gadgets', name: 'c1', body: { ...o, spec: { color: 'green' } } }).catch((x: unknown) => x as k8s.ApiException<string>);
    expect((e as k8s.ApiException<string>).code).toBe(409);
    expect(JSON.parse((e as k8s.ApiException<string>).body)).toMatchObject({ reason: 'Conflict', details: { name: 'c1', group: G, kind: 'gadgets' } });
    const dup = await custom.createNamespacedCustomObject({ group: G, version: V, namespace: 'default', plural: 'gadgets', body: gadget('c1') }).catch((x: unknown) => x as k8s.ApiException<string>);
    expect(JSON.parse((dup as k8s.ApiException<string>).body).reason).toBe('AlreadyExists');
    const gen = (await custom.createNamespacedCustomObject({ group: G, version: V, namespace: 'default', plural: 'gadgets', body: { ...gadget(''), metadata: { generateName: 'gen-' } } })) as KObject;
    expect(gen.metadata.name).toMatch(/^gen-[a-z0-9]{5}$/);
    // PUT on the main resource ignores status; PUT on /status ignores spec.
    const put = (await custom.replaceNamespacedCustomObject({ group: G, version: V, namespace: 'default', plural: 'gadgets', name: 'c1', body: { ...fresh, status: { observedGeneration: 9 } } })) as KObject;
    expect(put.status).toBeUndefined();
    expect(put.metadata.resourceVersion).toBe(fresh.metadata.resourceVersion); // a no-op write
    const st = (await custom.replaceNamespacedCustomObjectStatus({ group: G, version: V, namespace: 'default', plural: 'gadgets', name: 'c1', body: { ...fresh, spec: { color: 'red' }, status: { observedGeneration: 2 } } })) as KObject;
    expect(st.status.observedGeneration).toBe(2);
    expect(st.spec.color).toBe('blue');
    expect(st.metadata.generation).toBe(2);
  });

  it('garbage-collects dependents of a deleted owner, respecting their finalizers', async () => {
    const owner = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'owner' } } });
    const ref = { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata!.uid!, controller: true, blockOwnerDeletion: true };
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'child-a', ownerReferences: [ref] } } });
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'child-held', ownerReferences: [ref], finalizers: ['test/hold'] } } });
    const other = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'other-owner' } } });
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'child-two-owners', ownerReferences: [ref, { ...ref, name: 'other-owner', uid: other.metadata!.uid! }] } } });
    await core.deleteNamespacedConfigMap({ name: 'owner', namespace: 'default' });
    await until(() => !double.store.get('', 'v1', 'configmaps', 'default', 'child-a'));
    expect(double.store.get('', 'v1', 'configmaps', 'default', 'child-held')!.metadata.deletionTimestamp).toBeTruthy();
    expect(double.store.get('', 'v1', 'configmaps', 'default', 'child-two-owners')!.metadata.deletionTimestamp).toBeUndefined();
    // Foreground: the owner stays (with deletionTimestamp) until its dependents are gone.
    const fg = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'fg-owner' } } });
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'fg-child', ownerReferences: [{ ...ref, name: 'fg-owner', uid: fg.metadata!.uid! }] } } });
    await core.deleteNamespacedConfigMap({ name: 'fg-owner', namespace: 'default', propagationPolicy: 'Foreground' });
    await until(() => !double.store.get('', 'v1', 'configmaps', 'default', 'fg-owner'));
    expect(double.store.get('', 'v1', 'configmaps', 'default', 'fg-child')).toBeUndefined();
  });

  it('lists with label/field selectors and limit/continue; Tables for built-ins', async () => {
    for (const [n, l] of [['s1', { tier: 'a', env: 'x' }], ['s2', { tier: 'b' }], ['s3', { env: 'y' }]] as const) {
      await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: n, labels: { sel: 't', ...l } } } });
    }
    const names = async (q: Record<string, string>): Promise<string[]> => {
      const r = await fetch(`${double.url}/api/v1/namespaces/default/configmaps?${new URLSearchParams(q)}`);
      return ((await r.json()) as KObject).items.map((i: KObject) => i.metadata.name);
    };
    expect(await names({ labelSelector: 'sel=t,tier in (a,b)' })).toEqual(['s1', 's2']);
    expect(await names({ labelSelector: 'sel==t,tier notin (a)' })).toEqual(['s2', 's3']);
    expect(await names({ labelSelector: 'sel=t,!tier' })).toEqual(['s3']);
    expect(await names({ labelSelector: 'sel=t,env,tier!=b' })).toEqual(['s1', 's3']);
    expect(await names({ fieldSelector: 'metadata.name=s2,metadata.namespace=default' })).toEqual(['s2']);
    const page1 = (await core.listNamespacedConfigMap({ namespace: 'default', labelSelector: 'sel=t', limit: 2 }));
    expect(page1.items.map((i) => i.metadata!.name)).toEqual(['s1', 's2']);
    const page2 = await core.listNamespacedConfigMap({ namespace: 'default', labelSelector: 'sel=t', limit: 2, _continue: page1.metadata!._continue });
    expect(page2.items.map((i) => i.metadata!.name)).toEqual(['s3']);
    expect(page2.metadata!._continue).toBeUndefined();
    const job = { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'tbl' }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'x' }] } } } };
    await ok(['apply', '-f', '-'], JSON.stringify(job));
    const t = (await (await fetch(`${double.url}/apis/batch/v1/namespaces/default/jobs`, { headers: { Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' } })).json()) as KObject;
    expect(t.kind).toBe('Table');
    expect(t.columnDefinitions.map((c: KObject) => c.name)).toEqual(['Name', 'Status', 'Completions', 'Duration', 'Age']);
    expect(t.rows[0].cells.slice(0, 3)).toEqual(['tbl', 'Running', '0/1']);
    const stored = double.store.get('batch', 'v1', 'jobs', 'default', 'tbl')!;
    expect(stored.spec).toMatchObject({ backoffLimit: 6, completions: 1, parallelism: 1 });
    expect(stored.spec.template.metadata.labels['controller-uid']).toBe(stored.metadata.uid);
  });

  it('stores core v1 Events that kubectl lists', async () => {
    await core.createNamespacedEvent({ namespace: 'default', body: { metadata: { generateName: 'red-one.' }, involvedObject: { kind: 'Gadget', name: 'red-one', namespace: 'default' }, reason: 'Reconciled', message: 'all good', type: 'Normal', source: { component: 'orrery-operator' } } });
    expect(await ok(['get', 'events', '--no-headers'])).toMatch(/Normal\s+Reconciled\s+gadget\/red-one\s+all good/);
  });

  it('faults: injected errors, delays, dropped and expired watches', async () => {
    const h = double.faults.inject({ method: 'POST', path: /\/configmaps$/, status: 500, times: 1 });
    const e = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'f1' } } }).catch((x: unknown) => x as k8s.ApiException<string>);
    expect((e as k8s.ApiException<string>).code).toBe(500);
    expect(h.hits).toBe(1);
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'f1' } } });
    double.faults.inject({ method: 'PUT', status: 409, times: 1 });
    const c = await core.readNamespacedConfigMap({ name: 'f1', namespace: 'default' });
    const e2 = await core.replaceNamespacedConfigMap({ name: 'f1', namespace: 'default', body: c }).catch((x: unknown) => x as k8s.ApiException<string>);
    expect((e2 as k8s.ApiException<string>).code).toBe(409);
    double.faults.delay({ path: /\/configmaps\/f1$/, ms: 150 });
    const t0 = Date.now();
    await core.readNamespacedConfigMap({ name: 'f1', namespace: 'default' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);

    const w = collect({ resourceVersion: String(double.store.resourceVersion()) });
    await until(() => double.openWatches() > 0);
    expect(double.faults.dropWatches()).toBeGreaterThanOrEqual(1);
    await w.done;
    double.faults.expireWatches();
    const w2 = collect({ resourceVersion: String(double.store.resourceVersion()) });
    await w2.done;
    expect(w2.events[0]).toMatchObject({ type: 'ERROR', obj: { code: 410 } });
    expect(double.requests.count('create', 'configmaps')).toBeGreaterThanOrEqual(2);
    expect(double.requests.count('watch', 'gadgets')).toBeGreaterThanOrEqual(2);
  });
});
