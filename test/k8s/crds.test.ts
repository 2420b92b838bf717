/**
 * Orrery's CRDs (crds/), examples, RBAC and `orrery manifests`: the schemas are structural and
 * say what the contract says, every example is valid (and names real assets and partitions of
 * the code location), malformed resources are refused with messages that name the field, and the
 * manifests command emits one valid Asset per asset of the graph. With the Kubernetes API double
 * (test/k8s/api-double.ts) the same files go through the real kubectl.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadCodeGraph } from '../../cli/manifests.ts';
import type { AssetGraph } from '../../core/graph/asset-graph.ts';
import { selectAssets } from '../../core/graph/selection.ts';
import { keysInRange } from '../../core/planning/targets.ts';
import { orrery, REPO } from '../support/cli.ts';
import { startApiDouble, type ApiDouble } from './api-double.ts';
import { kubectlFor } from './kubectl.ts';

const CRDS = join(REPO, 'crds');
const EXAMPLES = join(CRDS, 'examples');
type Obj = Record<string, any>;

const readDocs = (file: string): Obj[] => parseAllDocuments(readFileSync(file, 'utf8')).map((d) => {
  if (d.errors.length) throw new Error(`${file}: ${d.errors[0].message}`);
  return d.toJS() as Obj;
});
const crdFiles = ['asset', 'materialization', 'backfill', 'sensor', 'modeldeployment'];
const crds = new Map<string, Obj>(crdFiles.map((f) => { const docs = readDocs(join(CRDS, `${f}.yaml`)); expect(docs).toHaveLength(1); return [docs[0].spec.names.kind as string, docs[0]]; }));
const examples = readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml')).sort().flatMap((f) => readDocs(join(EXAMPLES, f)).map((doc) => ({ file: f, doc })));
const schemaOf = (kind: string): Schema => crds.get(kind)!.spec.versions[0].schema.openAPIV3Schema;

/** The contract (orrery-contract.md): names and printer columns of each kind. */
const CONTRACT: Record<string, { plural: string; short: string; columns: string[]; conditions: string[] }> = {
  Asset: { plural: 'assets', short: 'oa', columns: ['Key', 'Materialized', 'Failed', 'Missing', 'Stale', 'Ready', 'Age'], conditions: ['Valid', 'Ready'] },
  Materialization: { plural: 'materializations', short: 'omat', columns: ['Asset', 'Partitions', 'Phase', 'Attempts', 'Job', 'Age'], conditions: ['Complete', 'Failed'] },
  Backfill: { plural: 'backfills', short: 'obf', columns: ['Selection', 'Total', 'Succeeded', 'Failed', 'Running', 'Phase', 'Age'], conditions: ['Complete', 'Failed'] },
  Sensor: { plural: 'sensors', short: 'osn', columns: ['Sensor', 'Enabled', 'Interval', 'Last-Tick', 'Age'], conditions: ['Ready'] },
  ModelDeployment: { plural: 'modeldeployments', short: 'omd', columns: ['Group', 'Champion', 'Challenger', 'Weight', 'Ready', 'Age'], conditions: ['Available', 'Progressing', 'RolledBack'] },
};

/** Malformed resources and the field each refusal must name. */
const MALFORMED: Array<{ what: string; doc: Obj; field: string; says?: RegExp }> = [
  { what: 'a Backfill with concurrency.max 0', field: 'spec.concurrency.max', says: /greater than or equal to 1/,
    doc: { apiVersion: 'orrery.dev/v1alpha1', kind: 'Backfill', metadata: { name: 'bad-max' }, spec: { selection: 'features', concurrency: { max: 0 } } } },
  { what: 'a ModelDeployment with challenger weight 30', field: 'spec.challenger.weight', says: /Unsupported value: 30/,
    doc: { apiVersion: 'orrery.dev/v1alpha1', kind: 'ModelDeployment', metadata: { name: 'bad-weight' }, spec: { group: 'metals', champion: { version: 'a.1' }, challenger: { version: 'b.1', weight: 30 } } } },
  { what: 'an Asset with a bad key', field: 'spec.key', says: /should match/,
    doc: { apiVersion: 'orrery.dev/v1alpha1', kind: 'Asset', metadata: { name: 'bad-key' }, spec: { key: 'Canonical-Bars' } } },
  { what: 'a Backfill with from but no to', field: 'spec.partitions.from', says: /spec\.partitions\.from and spec\.partitions\.to go together/,
    doc: { apiVersion: 'orrery.dev/v1alpha1', kind: 'Backfill', metadata: { name: 'bad-range' }, spec: { selection: 'features', partitions: { from: '2025-01' } } } },
  { what: 'a Backfill with a range and keys', field: 'spec.partitions.keys', says: /either from\/to or keys/,
    doc: { apiVersion: 'orrery.dev/v1alpha1', kind: 'Backfill', metadata: { name: 'bad-both' }, spec: { selection: 'features', partitions: { from: '2025-01', to: '2025-02', keys: ['1h|XAUUSD_XAGUSD|2025-03'] } } } },
  { what: 'a Backfill with onlyMissing and onlyFailed', field: 'spec.onlyFailed', says: /spec\.onlyMissing and spec\.onlyFailed/,
    doc: { apiVersion: 'orrery.dev/v1alpha1', kind: 'Backfill', metadata: { name: 'bad-only' }, spec: { selection: 'features', onlyMissing: true, onlyFailed: true } } },
  { what: 'a Backfill with a gpu pool limit of 0', field: 'spec.concurrency.pools.gpu', says: /greater than or equal to 1/,
    doc: { apiVersion: 'orrery.dev/v1alpha1', kind: 'Backfill', metadata: { name: 'bad-pool' }, spec: { selection: 'torch_models', concurrency: { pools: { gpu: 0 } } } } },
  { what: 'a Backfill with a selection that is no selection', field: 'spec.selection', says: /should match/,
    doc: { apiVersion: 'orrery.dev/v1alpha1', kind: 'Backfill', metadata: { name: 'bad-selection' }, spec: { selection: 'features;drop table' } } },
  { what: 'an Asset on a cron policy without a schedule', field: 'spec.automation.cron', says: /spec\.automation\.cron is required when spec\.automation\.policy is cron/,
    doc: { apiVersion: 'orrery.dev/v1alpha1', kind: 'Asset', metadata: { name: 'bad-cron' }, spec: { key: 'features', automation: { policy: 'cron' } } } },
  { what: 'an Asset with a schedule but a manual policy', field: 'spec.automation.cron', says: /spec\.automation\.cron is required when spec\.automation\.policy is cron/,
    doc: { apiVersion: 'orrery.dev/v1alpha1', kind: 'Asset', metadata: { name: 'bad-cron-manual' }, spec: { key: 'features', automation: { cron: '0 * * * *' } } } },
  { what: 'an Asset asking for 9 GPUs', field: 'spec.compute.gpu', says: /less than or equal to 8/,
    doc: { apiVersion: 'orrery.dev/v1alpha1', kind: 'Asset', metadata: { name: 'bad-gpu' }, spec: { key: 'torch_models', compute: { gpu: 9 } } } },
  { what: 'an Asset with memory that is no quantity', field: 'spec.compute.resources.memory', says: /should match/,
    doc: { apiVersion: 'orrery.dev/v1alpha1', kind: 'Asset', metadata: { name: 'bad-memory' }, spec: { key: 'torch_models', compute: { resources: { memory: '16 gigs' } } } } },
  { what: 'a ModelDeployment whose challenger is its champion', field: 'spec.challenger.version', says: /spec\.challenger\.version must differ from spec\.champion\.version/,
    doc: { apiVersion: 'orrery.dev/v1alpha1', kind: 'ModelDeployment', metadata: { name: 'bad-same' }, spec: { group: 'metals', champion: { version: 'a.1' }, challenger: { version: 'a.1', weight: 10 } } } },
  { what: 'a ModelDeployment with 51 replicas', field: 'spec.replicas', says: /less than or equal to 50/,
    doc: { apiVersion: 'orrery.dev/v1alpha1', kind: 'ModelDeployment', metadata: { name: 'bad-replicas' }, spec: { group: 'metals', replicas: 51, champion: { version: 'a.1' } } } },
  { what: 'a Materialization without partitions', field: 'spec.partitions', says: /at least 1 items|Required value/,
    doc: { apiVersion: 'orrery.dev/v1alpha1', kind: 'Materialization', metadata: { name: 'bad-empty' }, spec: { asset: 'labels', partitions: [] } } },
  { what: 'a Materialization with 11 attempts', field: 'spec.maxAttempts', says: /less than or equal to 10/,
    doc: { apiVersion: 'orrery.dev/v1alpha1', kind: 'Materialization', metadata: { name: 'bad-attempts' }, spec: { asset: 'labels', partitions: ['1h|XAUUSD_XAGUSD|2025-03'], maxAttempts: 11 } } },
  { what: 'a Sensor ticking every second', field: 'spec.intervalSeconds', says: /greater than or equal to 5/,
    doc: { apiVersion: 'orrery.dev/v1alpha1', kind: 'Sensor', metadata: { name: 'bad-interval' }, spec: { name: 'new_bars', intervalSeconds: 1 } } },
];

let graph: AssetGraph;
beforeAll(async () => { graph = await loadCodeGraph({ configsDir: join(REPO, 'configs'), env: '' }); });

describe('CRDs', () => {
  it('are the five contract kinds: group, version, scope, names, category, status subresource', () => {
    expect([...crds.keys()].sort()).toEqual(Object.keys(CONTRACT).sort());
    for (const [kind, crd] of crds) {
      const c = CONTRACT[kind];
      expect(crd.apiVersion).toBe('apiextensions.k8s.io/v1');
      expect(crd.metadata.name).toBe(`${c.plural}.orrery.dev`);
      expect(crd.spec).toMatchObject({ group: 'orrery.dev', scope: 'Namespaced' });
      expect(crd.spec.names).toEqual({ plural: c.plural, singular: kind.toLowerCase(), kind, listKind: `${kind}List`, shortNames: [c.short], categories: ['orrery'] });
      expect(crd.spec.versions).toHaveLength(1);
      expect(crd.spec.versions[0]).toMatchObject({ name: 'v1alpha1', served: true, storage: true, subresources: { status: {} } });
    }
  });

  it('have structural schemas: every node typed, no properties beside additionalProperties, map lists keyed, defaults valid, rules with messages', () => {
    for (const [kind, crd] of crds) expect(structuralProblems(crd.spec.versions[0].schema.openAPIV3Schema).map((p) => `${kind} ${p.path}: ${p.message}`)).toEqual([]);
  });

  it('the structural check itself catches an untyped node, properties with additionalProperties and a rule without a message', () => {
    const broken = { type: 'object', properties: { a: { description: 'untyped' }, b: { type: 'object', properties: { x: { type: 'string' } }, additionalProperties: { type: 'string' } }, c: { type: 'string', 'x-kubernetes-validations': [{ rule: 'self != \'\'' }] } } };
    expect(structuralProblems(broken).map((p) => p.path)).toEqual(['a', 'b', 'c']);
  });

  it('carry status conditions keyed by type with the contract types, and observedGeneration', () => {
    for (const [kind, c] of Object.entries(CONTRACT)) {
      const status = schemaOf(kind).properties.status;
      expect(status.properties.observedGeneration.type).toBe('integer');
      const conditions = status.properties.conditions;
      expect(conditions).toMatchObject({ type: 'array', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] });
      expect(conditions.items.properties.type.enum).toEqual(c.conditions);
      expect(conditions.items.properties.status.enum).toEqual(['True', 'False', 'Unknown']);
      expect(Object.keys(conditions.items.properties).sort()).toEqual(['lastTransitionTime', 'message', 'observedGeneration', 'reason', 'status', 'type']);
    }
  });

  it('have the contract printer columns, each pointing at a schema field of the column type', () => {
    const typeOf = (s: Schema): string => (s.format === 'date-time' ? 'date' : s.type);
    for (const [kind, c] of Object.entries(CONTRACT)) {
      const columns = crds.get(kind)!.spec.versions[0].additionalPrinterColumns as Obj[];
      expect(columns.map((col) => col.name)).toEqual(c.columns);
      for (const col of columns) {
        const target = schemaAt(schemaOf(kind), col.jsonPath);
        expect(target, `${kind} ${col.name} ${col.jsonPath}`).toBeDefined();
        expect(typeOf(target!), `${kind} ${col.name}`).toBe(col.type);
        expect(col.priority).toBe(0);
      }
    }
    // Backfill's Complete condition is what `kubectl wait --for=condition=Complete` reads.
    expect(schemaAt(schemaOf('Backfill'), '.status.conditions[?(@.type=="Complete")].status')).toBeDefined();
    expect(schemaAt(schemaOf('Backfill'), '.status.conditions[?(@.type=="Done")].status')).toBeUndefined();
    expect(schemaAt(schemaOf('Backfill'), '.status.nope')).toBeUndefined();
  });

  it('name the field in every CEL rule message', () => {
    let rules = 0;
    const walk = (s: Schema, path: string): void => {
      for (const r of (s['x-kubernetes-validations'] ?? []) as Obj[]) {
        rules++;
        const field = `${path}${r.fieldPath ?? ''}`;
        expect(r.message, r.rule).toContain(field === '' ? 'spec' : field.split('.').slice(0, 2).join('.'));
      }
      for (const [k, sub] of Object.entries((s.properties ?? {}) as Record<string, Schema>)) walk(sub, path ? `${path}.${k}` : k);
    };
    for (const kind of crds.keys()) walk(schemaOf(kind), '');
    expect(rules).toBeGreaterThanOrEqual(8);
  });
});

describe('examples', () => {
  it('cover every kind and validate against their CRD', () => {
    expect(new Set(examples.map((e) => e.doc.kind))).toEqual(new Set(crds.keys()));
    for (const { file, doc } of examples) expect(validateResource(crds.get(doc.kind)!, doc).map((p) => `${file}: ${p.message}`)).toEqual([]);
  });

  it('name real assets and partitions of the code location', () => {
    const partitionsOf = (asset: string, p: Obj | undefined): string[] => {
      const def = graph.get(asset).partitions;
      if (!p) return def ? [...def.keys()] : [''];
      if (p.keys) { for (const k of p.keys) expect(def?.has(k), `${asset} ${k}`).toBe(true); return p.keys; }
      return keysInRange(def, p.from, p.to);
    };
    const byName = new Map(examples.map((e) => [`${e.doc.kind}/${e.doc.metadata.name}`, e.doc]));
    for (const { doc } of examples) {
      if (doc.kind === 'Asset') expect(partitionsOf(doc.spec.key, doc.spec.partitions).length).toBeGreaterThan(0);
      if (doc.kind === 'Materialization') for (const k of doc.spec.partitions) expect(graph.get(doc.spec.asset).partitions?.has(k), k).toBe(true);
      if (doc.kind === 'Backfill') for (const a of selectAssets(graph, doc.spec.selection)) expect(partitionsOf(a, doc.spec.partitions).length, `${doc.metadata.name} ${a}`).toBeGreaterThan(0);
    }
    // Twelve months of features: 12 months × 3 timeframes × 2 pairs.
    expect(keysInRange(graph.get('features').partitions, byName.get('Backfill/features-2025')!.spec.partitions.from, byName.get('Backfill/features-2025')!.spec.partitions.to)).toHaveLength(72);
    const torch = byName.get('Backfill/torch-models-metals')!;
    expect(torch.spec.concurrency.pools).toEqual({ gpu: 2 });
    expect(graph.get('torch_models').pool).toBe('gpu');
    expect(keysInRange(graph.get('torch_models').partitions, torch.spec.partitions.from, torch.spec.partitions.to)).toHaveLength(11);
    expect(byName.get('ModelDeployment/metals')!.spec.challenger.weight).toBe(10);
  });

  it('defaulting fills what the contract defaults', () => {
    const md = applyDefaults(schemaOf('ModelDeployment'), { spec: { group: 'metals', champion: { version: 'a' } } }) as Obj;
    expect(md.spec).toMatchObject({ replicas: 1, rollback: false });
    const s = applyDefaults(schemaOf('Sensor'), { spec: { name: 'x' } }) as Obj;
    expect(s.spec).toMatchObject({ enabled: true, intervalSeconds: 30 });
    const m = applyDefaults(schemaOf('Materialization'), { spec: { asset: 'labels', partitions: ['x'] } }) as Obj;
    expect(m.spec.maxAttempts).toBe(3);
    const a = applyDefaults(schemaOf('Asset'), { spec: { key: 'features' } }) as Obj;
    expect(a.spec.automation).toEqual({ policy: 'manual' });
  });

  it.each(MALFORMED)('refuse $what, naming $field', ({ doc, field, says }) => {
    const problems = validateResource(crds.get(doc.kind)!, doc);
    expect(problems.length, JSON.stringify(doc)).toBeGreaterThan(0);
    expect(problems.some((p) => p.path === field && p.message.startsWith(`${field}:`) && (!says || says.test(p.message))), problems.map((p) => p.message).join('\n')).toBe(true);
  });

  it('keep a Materialization\'s asset and partitions fixed once created', () => {
    const base = examples.find((e) => e.doc.kind === 'Materialization')!.doc;
    const crd = crds.get('Materialization')!;
    expect(validateResource(crd, { ...base, status: { phase: 'Running' } }, base)).toEqual([]);
    const moved = validateResource(crd, { ...base, spec: { ...base.spec, asset: 'features' } }, base);
    expect(moved.map((p) => p.message)).toEqual([expect.stringContaining('spec.asset is immutable')]);
  });
});

describe('RBAC and the operator Deployment', () => {
  const rbac = readdirSync(join(CRDS, 'rbac')).sort().flatMap((f) => readDocs(join(CRDS, 'rbac', f)));
  const role = rbac.find((d) => d.kind === 'Role')!;
  const can = (group: string, resource: string, verb: string): boolean => (role.rules as Obj[]).some((r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb));

  it('grant the operator what it does and nothing more, in its namespace', () => {
    expect(rbac.map((d) => d.kind).sort()).toEqual(['Role', 'RoleBinding', 'ServiceAccount']);
    for (const d of rbac) expect(d.metadata.namespace).toBe('orrery');
    const binding = rbac.find((d) => d.kind === 'RoleBinding')!;
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata.name });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'orrery-operator', namespace: 'orrery' }]);
    for (const r of role.rules as Obj[]) for (const x of [...r.verbs, ...r.resources, ...r.apiGroups]) expect(x).not.toBe('*');
    for (const p of Object.values(CONTRACT).map((c) => c.plural)) {
      for (const v of ['get', 'list', 'watch', 'update', 'patch']) expect(can('orrery.dev', p, v), `${p} ${v}`).toBe(true);
      expect(can('orrery.dev', p, 'create') || can('orrery.dev', p, 'delete'), p).toBe(p === 'materializations');
      expect(can('orrery.dev', `${p}/status`, 'update') && can('orrery.dev', `${p}/status`, 'patch')).toBe(true);
      expect(can('orrery.dev', `${p}/finalizers`, 'update')).toBe(true);
    }
    expect(['get', 'list', 'watch', 'create', 'delete'].every((v) => can('batch', 'jobs', v))).toBe(true);
    expect(can('batch', 'jobs', 'update') || can('batch', 'jobs', 'patch')).toBe(false);
    expect(['get', 'list', 'watch'].every((v) => can('', 'pods', v)) && can('', 'pods/log', 'get')).toBe(true);
    expect(can('', 'pods', 'create') || can('', 'pods', 'delete') || can('', 'secrets', 'get')).toBe(false);
    for (const v of ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete']) expect(can('apps', 'deployments', v) && can('', 'services', v)).toBe(true);
    expect(can('', 'events', 'create') && can('', 'events', 'patch')).toBe(true);
    expect(['get', 'create', 'update'].every((v) => can('coordination.k8s.io', 'leases', v)) && !can('coordination.k8s.io', 'leases', 'delete')).toBe(true);
  });

  it('runs two non-root replicas of `orrery operator` with the database URL from a Secret and health probes', () => {
    const [dep] = readDocs(join(CRDS, 'operator.yaml'));
    expect(dep).toMatchObject({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { namespace: 'orrery' }, spec: { replicas: 2 } });
    const pod = dep.spec.template.spec;
    expect(pod.serviceAccountName).toBe('orrery-operator');
    expect(dep.spec.selector.matchLabels).toEqual(Object.fromEntries(Object.entries(dep.spec.template.metadata.labels).filter(([k]) => k in dep.spec.selector.matchLabels)));
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    const [c] = pod.containers;
    expect(c.command).toEqual(['orrery', 'operator', '--identity', '$(POD_NAME)']);
    // $(POD_NAME) expands only when the container declares it (from the pod's own name).
    expect(c.env.find((e: Obj) => e.name === 'POD_NAME').valueFrom.fieldRef.fieldPath).toBe('metadata.name');
    expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(c.env.find((e: Obj) => e.name === 'DATABASE_URL').valueFrom.secretKeyRef).toMatchObject({ name: expect.any(String), key: expect.any(String) });
    for (const probe of [c.livenessProbe, c.readinessProbe]) {
      expect(probe.httpGet.path).toBe('/healthz');
      expect(c.ports.map((p: Obj) => p.name)).toContain(probe.httpGet.port);
    }
    expect(c.ports.map((p: Obj) => p.name)).toContain('metrics');
    // Everything the container writes has a volume: the root filesystem is read-only.
    for (const m of c.volumeMounts) expect(pod.volumes.map((v: Obj) => v.name)).toContain(m.name);
  });
});

describe('orrery manifests', { timeout: 120_000 }, () => {
  const env: NodeJS.ProcessEnv = { ...process.env, ORRERY_CONFIGS: join(REPO, 'configs'), ORRERY_ENV: '' };
  delete env.ORRERY_CODE_LOCATION;

  it('emits one valid Asset per asset of the graph, in graph order', async () => {
    const r = await orrery(['manifests'], env);
    expect(r.code, r.stderr).toBe(0);
    const docs = parseAllDocuments(r.stdout).map((d) => d.toJS() as Obj);
    expect(docs.every((d) => d.kind === 'Asset')).toBe(true);
    expect(docs.map((d) => d.spec.key)).toEqual(graph.order);
    expect(docs.map((d) => d.spec.key)).toEqual(['canonical_bars', 'features', 'labels', 'training_sets', 'models', 'torch_models', 'theta', 'backtests', 'published_models']);
    for (const d of docs) {
      expect(validateResource(crds.get('Asset')!, d).map((p) => p.message)).toEqual([]);
      const def = graph.get(d.spec.key);
      expect(d.metadata.annotations['orrery.dev/description']).toBe(def.description);
      expect(d.spec.partitions).toBeUndefined();
      expect(d.spec.automation).toEqual({ policy: 'manual' });
      expect(d.spec.compute.pool).toBe(def.pool);
      expect(d.metadata.namespace).toBeUndefined();
    }
    const torch = docs.find((d) => d.spec.key === 'torch_models')!;
    expect(torch.metadata.name).toBe('torch-models');
    expect(torch.spec.compute).toEqual({ pool: 'gpu', gpu: 1, resources: { cpu: '4', memory: '16Gi' } });
    expect(docs.find((d) => d.spec.key === 'features')!.spec.compute).toEqual({ pool: 'cpu' });
  });

  it('--select, --namespace, --crds and --rbac', async () => {
    const r = await orrery(['manifests', '--select', 'theta+', '--namespace', 'quant', '--crds', '--rbac'], env);
    expect(r.code, r.stderr).toBe(0);
    const docs = parseAllDocuments(r.stdout).map((d) => d.toJS() as Obj);
    const crdDocs = docs.filter((d) => d.kind === 'CustomResourceDefinition');
    expect(crdDocs).toEqual([...crds.values()]);
    expect(docs.slice(0, 5).map((d) => d.kind)).toEqual(Array(5).fill('CustomResourceDefinition'));
    expect(docs.filter((d) => ['ServiceAccount', 'Role', 'RoleBinding'].includes(d.kind)).map((d) => d.metadata.namespace)).toEqual(['quant', 'quant', 'quant']);
    expect(docs.find((d) => d.kind === 'RoleBinding')!.subjects[0].namespace).toBe('quant');
    const assets = docs.filter((d) => d.kind === 'Asset');
    expect(assets.map((d) => d.spec.key)).toEqual(selectAssets(graph, 'theta+'));
    expect(assets.map((d) => d.spec.key)).toEqual(['theta', 'backtests', 'published_models']);
    expect(assets.every((d) => d.metadata.namespace === 'quant')).toBe(true);
  });

  it('refuses an unknown asset and --rbac without a namespace, writing nothing on stdout', async () => {
    const unknown = await orrery(['manifests', '--select', 'nope'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('CORE_SELECT_UNKNOWN');
    expect(unknown.stdout).toBe('');
    const rbac = await orrery(['manifests', '--rbac'], env);
    expect(rbac.code).toBe(2);
    expect(rbac.stderr).toContain('--rbac needs --namespace');
    expect(rbac.stdout).toBe('');
  });
});

// kubectl needs discovery even for --dry-run=client (it maps kinds to resources through the
// server), so the files go through the API double rather than through kubectl alone.
describe('with kubectl and the API double', { timeout: 120_000 }, () => {
  let api: ApiDouble;
  let run: ReturnType<typeof kubectlFor>;
  const kubectl = (args: string[], input?: string) => run(args, { input });
  beforeAll(async () => {
    api = await startApiDouble();
    run = kubectlFor(api.kubeconfigPath);
  });
  afterAll(async () => { await api?.close(); });

  it('installs the CRDs, then takes every example (dry run first) and lists them under `kubectl get orrery`', async () => {
    const files = crdFiles.map((f) => ['-f', join(CRDS, `${f}.yaml`)]).flat();
    const crd = await kubectl(['apply', ...files]);
    expect(crd.code, crd.stderr).toBe(0);
    expect(crd.stdout.trim().split('\n').sort()).toEqual(crdFiles.map((f) => `customresourcedefinition.apiextensions.k8s.io/${CONTRACT[crds.get([...crds.keys()][crdFiles.indexOf(f)])!.spec.names.kind].plural}.orrery.dev created`).sort());
    const dry = await kubectl(['apply', '--dry-run=client', '-f', EXAMPLES]);
    expect(dry.code, dry.stderr).toBe(0);
    const server = await kubectl(['apply', '--dry-run=server', '-f', EXAMPLES]);
    expect(server.code, server.stderr).toBe(0);
    expect((await kubectl(['get', 'orrery', '-o', 'name'])).stdout.trim()).toBe('');
    const applied = await kubectl(['apply', '-f', EXAMPLES]);
    expect(applied.code, applied.stderr).toBe(0);
    const listed = await kubectl(['get', 'orrery', '-o', 'name']);
    expect(listed.code, listed.stderr).toBe(0);
    const singular = (kind: string) => `${kind.toLowerCase()}.orrery.dev`;
    expect(listed.stdout.trim().split('\n').sort()).toEqual(examples.map((e) => `${singular(e.doc.kind)}/${e.doc.metadata.name}`).sort());
    const short = await kubectl(['get', 'obf', '-o', 'name']);
    expect(short.stdout.trim().split('\n').sort()).toEqual(['backfill.orrery.dev/features-2025', 'backfill.orrery.dev/torch-models-metals']);
  });

  it('prints the contract columns', async () => {
    for (const [kind, c] of Object.entries(CONTRACT)) {
      const table = await kubectl(['get', c.plural]);
      expect(table.code, table.stderr).toBe(0);
      expect(table.stdout.split('\n')[0].trim().split(/\s+/), kind).toEqual(['NAME', ...c.columns.map((x) => x.toUpperCase())]);
    }
    const md = await kubectl(['get', 'omd', 'metals', '--no-headers']);
    expect(md.stdout.trim().split(/\s+/).slice(0, 5)).toEqual(['metals', 'metals', 'metals.1h.2026-09.3f9a1c2b7d.5be21a90', 'metals.1h.2026-10.8e41d0a6c5.c07e3d14', '10']);
  });

  it.each(MALFORMED)('refuses $what, naming $field', async ({ doc, field }) => {
    const r = await kubectl(['create', '-f', '-'], JSON.stringify(doc));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(field);
  });

  it('applies the RBAC and the operator Deployment into their namespace', async () => {
    const ns = await kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'orrery' } }));
    expect(ns.code, ns.stderr).toBe(0);
    const rbac = await kubectl(['apply', '-f', join(CRDS, 'rbac'), '-f', join(CRDS, 'operator.yaml')]);
    expect(rbac.code, rbac.stderr).toBe(0);
    const sa = await kubectl(['-n', 'orrery', 'get', 'deployment', 'orrery-operator', '-o', 'jsonpath={.spec.template.spec.serviceAccountName}']);
    expect(sa.stdout).toBe('orrery-operator');
  });

  it('keeps status conditions, so `kubectl wait --for=condition=Complete` works on a Backfill', async () => {
    const status = { status: { phase: 'Complete', total: 72, succeeded: 72, failed: 0, running: 0, pending: 0, observedGeneration: 1, conditions: [{ type: 'Complete', status: 'True', reason: 'AllSucceeded', message: '72 of 72', lastTransitionTime: '2026-01-01T00:00:00Z', observedGeneration: 1 }] } };
    const patched = await kubectl(['patch', 'backfill', 'features-2025', '--subresource=status', '--type=merge', '-p', JSON.stringify(status)]);
    expect(patched.code, patched.stderr).toBe(0);
    const waited = await kubectl(['wait', '--for=condition=Complete', 'backfill/features-2025', '--timeout=10s']);
    expect(waited.code, waited.stderr).toBe(0);
    const row = await kubectl(['get', 'backfill', 'features-2025', '--no-headers']);
    expect(row.stdout.trim().split(/\s+/).slice(0, 7)).toEqual(['features-2025', 'features', '72', '72', '0', '0', 'Complete']);
    const bad = await kubectl(['patch', 'backfill', 'features-2025', '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { phase: 'Done' } })]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('status.phase');
  });
});

// --- What the API server does with a CRD schema, enough to test ours without a cluster: the
// structural-schema rules, defaulting, OpenAPI validation with the API server's error wording
// (`spec.x: Invalid value: …`), and the small CEL subset our x-kubernetes-validations use. ---

type Schema = { [k: string]: any };
interface Problem { path: string; message: string }

const at = (path: string, field: string): string => (path ? `${path}.${field}` : field);
const show = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : typeof v === 'object' && v !== null ? (Array.isArray(v) ? '"array"' : '"object"') : String(v));
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Structural-schema violations (apiextensions' rules), each with its schema path. */
function structuralProblems(s: Schema, path = '', inValueValidation = false): Problem[] {
  const out: Problem[] = [];
  const intOrString = s['x-kubernetes-int-or-string'] === true;
  if (inValueValidation) {
    for (const k of ['type', 'description', 'default', 'additionalProperties', 'nullable']) if (k in s) out.push({ path, message: `${k} must not be set inside anyOf/allOf/oneOf/not` });
  } else if (!s.type && !intOrString) out.push({ path, message: 'type must not be empty' });
  if (s.properties && s.additionalProperties !== undefined) out.push({ path, message: 'properties and additionalProperties are mutually exclusive' });
  if (s['x-kubernetes-preserve-unknown-fields'] === true && s.type !== 'object') out.push({ path, message: 'x-kubernetes-preserve-unknown-fields needs type object' });
  for (const key of ['anyOf', 'allOf', 'oneOf']) {
    if (!s[key]) continue;
    const intOrStringPair = intOrString && key === 'anyOf' && isDeepStrictEqual(s.anyOf, [{ type: 'integer' }, { type: 'string' }]);
    if (!intOrStringPair) for (const [i, sub] of (s[key] as Schema[]).entries()) out.push(...structuralProblems(sub, `${path}.${key}[${i}]`, true));
  }
  if (s.not) out.push(...structuralProblems(s.not, `${path}.not`, true));
  for (const [name, sub] of Object.entries((s.properties ?? {}) as Record<string, Schema>)) out.push(...structuralProblems(sub, at(path, name)));
  if (s.additionalProperties && typeof s.additionalProperties === 'object') out.push(...structuralProblems(s.additionalProperties, `${path}.additionalProperties`));
  if (s.items) out.push(...structuralProblems(s.items, `${path}[*]`));
  if (s.type === 'array' && !s.items) out.push({ path, message: 'an array needs items' });
  if (s['x-kubernetes-list-type'] === 'map') {
    const keys = (s['x-kubernetes-list-map-keys'] ?? []) as string[];
    if (s.items?.type !== 'object' || keys.length === 0) out.push({ path, message: 'list-type map needs object items and list-map-keys' });
    for (const k of keys) {
      const p = s.items?.properties?.[k];
      if (!p || !['string', 'integer', 'boolean'].includes(p.type)) out.push({ path, message: `map key ${k} must be a scalar property` });
      if (!(s.items?.required ?? []).includes(k) && p?.default === undefined) out.push({ path, message: `map key ${k} must be required or defaulted` });
    }
  }
  if (s.default !== undefined) for (const p of validate(s, s.default, `${path}(default)`)) out.push(p);
  if (typeof s.pattern === 'string') { try { new RegExp(s.pattern, 'u'); } catch (e) { out.push({ path, message: `pattern does not compile: ${(e as Error).message}` }); } }
  for (const e of (s.enum ?? []) as unknown[]) if (!typeMatches(s, e)) out.push({ path, message: `enum value ${show(e)} is not of type ${s.type}` });
  for (const [i, r] of ((s['x-kubernetes-validations'] ?? []) as Array<{ rule: string; message?: string }>).entries()) {
    if (!r.message) out.push({ path, message: `x-kubernetes-validations[${i}] has no message` });
    try { parseCel(r.rule); } catch (e) { out.push({ path, message: `rule ${r.rule}: ${(e as Error).message}` }); }
  }
  return out;
}

function typeMatches(s: Schema, v: unknown): boolean {
  if (s['x-kubernetes-int-or-string']) return typeof v === 'string' || Number.isInteger(v);
  switch (s.type) {
    case 'object': return typeof v === 'object' && v !== null && !Array.isArray(v);
    case 'array': return Array.isArray(v);
    case 'string': return typeof v === 'string';
    case 'integer': return Number.isInteger(v);
    case 'number': return typeof v === 'number';
    case 'boolean': return typeof v === 'boolean';
    default: return true;
  }
}

/** Structural defaulting: absent properties with a default get it, nested defaults apply after. */
function applyDefaults(s: Schema, v: unknown): unknown {
  if (Array.isArray(v)) return s.items ? v.map((x) => applyDefaults(s.items, x)) : v;
  if (typeof v !== 'object' || v === null) return v;
  const o: Record<string, unknown> = { ...(v as Record<string, unknown>) };
  for (const [name, sub] of Object.entries((s.properties ?? {}) as Record<string, Schema>)) {
    if (o[name] === undefined && sub.default !== undefined) o[name] = structuredClone(sub.default);
    if (o[name] !== undefined) o[name] = applyDefaults(sub, o[name]);
  }
  if (s.additionalProperties && typeof s.additionalProperties === 'object') {
    for (const k of Object.keys(o)) if (!(k in (s.properties ?? {}))) o[k] = applyDefaults(s.additionalProperties, o[k]);
  }
  return o;
}

/**
 * Validates a (defaulted) value like the API server: OpenAPI keywords, unknown fields (strict
 * field validation), then the node's CEL rules; `old` enables transition rules (updates).
 */
function validate(s: Schema, v: unknown, path = '', old?: unknown): Problem[] {
  const out: Problem[] = [];
  const bad = (message: string) => out.push({ path, message: `${path}: ${message}` });
  if (!typeMatches(s, v)) {
    bad(`Invalid value: ${show(v)}: ${path} in body must be of type ${s['x-kubernetes-int-or-string'] ? 'integer or string' : s.type}: ${show(v)}`);
    return out;
  }
  if (s.enum && !(s.enum as unknown[]).some((e) => isDeepStrictEqual(e, v))) bad(`Unsupported value: ${show(v)}: supported values: ${(s.enum as unknown[]).map((e) => `"${e}"`).join(', ')}`);
  if (typeof v === 'string') {
    const n = [...v].length;
    if (s.minLength !== undefined && n < s.minLength) bad(`Invalid value: ${show(v)}: ${path} in body should be at least ${s.minLength} chars long`);
    if (s.maxLength !== undefined && n > s.maxLength) bad(`Too long: may not be more than ${s.maxLength} bytes`);
    if (s.pattern && !new RegExp(s.pattern, 'u').test(v)) bad(`Invalid value: ${show(v)}: ${path} in body should match '${s.pattern}'`);
    if (s.format === 'date-time' && !RFC3339.test(v)) bad(`Invalid value: ${show(v)}: ${path} in body must be of type date-time: ${show(v)}`);
  }
  if (typeof v === 'number') {
    if (s.minimum !== undefined && v < s.minimum) bad(`Invalid value: ${v}: ${path} in body should be greater than or equal to ${s.minimum}`);
    if (s.maximum !== undefined && v > s.maximum) bad(`Invalid value: ${v}: ${path} in body should be less than or equal to ${s.maximum}`);
  }
  if (Array.isArray(v)) {
    if (s.minItems !== undefined && v.length < s.minItems) bad(`Invalid value: ${v.length}: ${path} in body should have at least ${s.minItems} items`);
    if (s.maxItems !== undefined && v.length > s.maxItems) bad(`Too many: ${v.length}: must have at most ${s.maxItems} items`);
    const listType = s['x-kubernetes-list-type'];
    if (listType === 'set' || listType === 'map') {
      const ids = v.map((x) => JSON.stringify(listType === 'map' ? (s['x-kubernetes-list-map-keys'] as string[]).map((k) => (x as Record<string, unknown>)?.[k]) : x));
      ids.forEach((id, i) => { if (ids.indexOf(id) !== i) out.push({ path: `${path}[${i}]`, message: `${path}[${i}]: Duplicate value: ${id}` }); });
    }
    v.forEach((x, i) => out.push(...validate(s.items, x, `${path}[${i}]`)));
  } else if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    const props = (s.properties ?? {}) as Record<string, Schema>;
    for (const r of (s.required ?? []) as string[]) if (o[r] === undefined) out.push({ path: at(path, r), message: `${at(path, r)}: Required value` });
    if (s.maxProperties !== undefined && Object.keys(o).length > s.maxProperties) bad(`Too many: ${Object.keys(o).length}: must have at most ${s.maxProperties} items`);
    for (const [k, x] of Object.entries(o)) {
      const oldChild = typeof old === 'object' && old !== null ? (old as Record<string, unknown>)[k] : undefined;
      if (props[k]) out.push(...validate(props[k], x, at(path, k), oldChild));
      else if (s.additionalProperties && typeof s.additionalProperties === 'object') out.push(...validate(s.additionalProperties, x, at(path, k), oldChild));
      // metadata and preserve-unknown-fields objects keep what they are given.
      else if (!s['x-kubernetes-preserve-unknown-fields'] && !(path === '' && k === 'metadata') && path !== 'metadata') out.push({ path: at(path, k), message: `unknown field "${at(path, k)}"` });
    }
  }
  if (out.length === 0) {
    for (const r of (s['x-kubernetes-validations'] ?? []) as Array<{ rule: string; message?: string; fieldPath?: string }>) {
      const transition = /\boldSelf\b/.test(r.rule);
      if (transition && old === undefined) continue;
      let ok: unknown;
      try { ok = evalCel(parseCel(r.rule), { self: v, oldSelf: old }); } catch (e) { ok = e as Error; }
      if (ok !== true) {
        const at = r.fieldPath ? `${path}${r.fieldPath}` : path;
        out.push({ path: at, message: `${at}: Invalid value: ${show(v)}: ${r.message ?? `failed rule: ${r.rule}`}${ok instanceof Error ? ` (${ok.message})` : ''}` });
      }
    }
  }
  return out;
}

/** Validates a whole resource against the served version's schema, defaulting it first. */
function validateResource(crd: Schema, resource: Record<string, unknown>, old?: Record<string, unknown>): Problem[] {
  const version = (crd.spec.versions as Schema[]).find((v) => v.served && v.storage)!;
  const schema = version.schema.openAPIV3Schema as Schema;
  const problems: Problem[] = [];
  const [group, apiVersion] = String(resource.apiVersion).split('/');
  if (group !== crd.spec.group || apiVersion !== version.name || resource.kind !== crd.spec.names.kind) problems.push({ path: 'apiVersion', message: `apiVersion/kind ${resource.apiVersion} ${resource.kind} is not this CRD's` });
  const meta = resource.metadata as { name?: string } | undefined;
  if (!meta?.name || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(meta.name) || meta.name.length > 253) problems.push({ path: 'metadata.name', message: `metadata.name: Invalid value: ${show(meta?.name)}: a lowercase RFC 1123 subdomain` });
  problems.push(...validate(schema, applyDefaults(schema, resource), '', old ? applyDefaults(schema, old) : undefined));
  return problems;
}

/** The schema node a printer column's jsonPath points at (filters `[?(@.type=="X")]` and `[0]` step into items). */
function schemaAt(root: Schema, jsonPath: string): Schema | undefined {
  if (jsonPath === '.metadata.creationTimestamp') return { type: 'string', format: 'date-time' };
  const steps = jsonPath.match(/\.[A-Za-z0-9_-]+|\[[^\]]+\]/g) ?? [];
  if (steps.join('') !== jsonPath) return undefined;
  let s: Schema | undefined = root;
  for (const step of steps) {
    if (!s) return undefined;
    if (step.startsWith('.')) s = s.properties?.[step.slice(1)];
    else {
      if (s.type !== 'array') return undefined;
      const filter = /^\[\?\(@\.([A-Za-z0-9_]+)=="([^"]*)"\)\]$/.exec(step);
      if (filter) {
        const prop = s.items?.properties?.[filter[1]];
        if (!prop || (prop.enum && !prop.enum.includes(filter[2]))) return undefined;
      } else if (!/^\[\d+\]$/.test(step)) return undefined;
      s = s.items;
    }
  }
  return s;
}

// --- the CEL subset: ||, &&, !, ==, !=, (), has(a.b), paths from self/oldSelf, string/int/bool literals ---
type Cel =
  | { op: 'or' | 'and' | 'eq' | 'ne'; l: Cel; r: Cel }
  | { op: 'not'; e: Cel }
  | { op: 'has'; path: string[] }
  | { op: 'path'; path: string[] }
  | { op: 'lit'; value: unknown };

function parseCel(src: string): Cel {
  const tokens = src.match(/\s*(\|\||&&|==|!=|!|\(|\)|'[^']*'|"[^"]*"|[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*|\d+)\s*/gy);
  if (!tokens || tokens.join('') !== src) throw new Error('outside the CEL subset this test evaluates');
  const t = tokens.map((x) => x.trim());
  let i = 0;
  const peek = () => t[i];
  const take = (want?: string) => { const x = t[i++]; if (want && x !== want) throw new Error(`expected ${want}, got ${x}`); return x; };
  const or = (): Cel => { let l = and(); while (peek() === '||') { take(); l = { op: 'or', l, r: and() }; } return l; };
  const and = (): Cel => { let l = eq(); while (peek() === '&&') { take(); l = { op: 'and', l, r: eq() }; } return l; };
  const eq = (): Cel => { const l = unary(); if (peek() === '==' || peek() === '!=') { const op = take() === '==' ? 'eq' : 'ne'; return { op, l, r: unary() }; } return l; };
  const unary = (): Cel => (peek() === '!' ? (take(), { op: 'not', e: unary() }) : primary());
  const primary = (): Cel => {
    const x = take();
    if (x === undefined) throw new Error('unexpected end');
    if (x === '(') { const e = or(); take(')'); return e; }
    if (x === 'has') { take('('); const p = take().split('.'); take(')'); if (p.length < 2) throw new Error('has() needs a field'); return { op: 'has', path: p }; }
    if (x === 'true' || x === 'false') return { op: 'lit', value: x === 'true' };
    if (/^\d+$/.test(x)) return { op: 'lit', value: Number(x) };
    if (/^['"]/.test(x)) return { op: 'lit', value: x.slice(1, -1) };
    const p = x.split('.');
    if (p[0] !== 'self' && p[0] !== 'oldSelf') throw new Error(`unknown identifier ${p[0]}`);
    return { op: 'path', path: p };
  };
  const e = or();
  if (i !== t.length) throw new Error(`trailing ${t.slice(i).join(' ')}`);
  return e;
}

function evalCel(e: Cel, vars: Record<string, unknown>): unknown {
  const walk = (path: string[], strict: boolean): unknown => {
    let v: unknown = vars[path[0]];
    for (const f of path.slice(1)) {
      if (typeof v !== 'object' || v === null || (v as Record<string, unknown>)[f] === undefined) {
        if (strict) throw new Error(`no such key: ${f}`);
        return undefined;
      }
      v = (v as Record<string, unknown>)[f];
    }
    return v;
  };
  switch (e.op) {
    case 'or': return evalCel(e.l, vars) === true || evalCel(e.r, vars) === true;
    case 'and': return evalCel(e.l, vars) === true && evalCel(e.r, vars) === true;
    case 'eq': return isDeepStrictEqual(evalCel(e.l, vars), evalCel(e.r, vars));
    case 'ne': return !isDeepStrictEqual(evalCel(e.l, vars), evalCel(e.r, vars));
    case 'not': return evalCel(e.e, vars) !== true;
    case 'has': return walk(e.path, false) !== undefined;
    case 'path': return walk(e.path, true);
    case 'lit': return e.value;
  }
}
