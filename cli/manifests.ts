/**
 * `orrery manifests`: the code location's assets as Kubernetes `Asset` resources (a multi-document
 * YAML stream on stdout), optionally preceded by the CRDs and the operator's RBAC, ready for
 * `kubectl apply -f -`.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import { Document, isSeq, parseAllDocuments, type Document as YamlDocument } from 'yaml';
import { codeLocation, type CodeLocation } from '../assets/index.ts';
import { loadPolicies } from '../assets/policies/index.ts';
import { clickhouseBarsIO } from '../adapters/clickhouse/bars-io.ts';
import { clickhouseFeaturesIO } from '../adapters/clickhouse/features-io.ts';
import type { AssetDefinition } from '../core/definitions/asset.ts';
import { ErrorIds, OrreryError } from '../core/errors.ts';
import { AssetGraph } from '../core/graph/asset-graph.ts';
import { selectAssets } from '../core/graph/selection.ts';

export const ManifestErrorIds = {
  /** An asset key the Asset CRD cannot hold (it allows `^[a-z][a-z0-9_]*$`, no `/` segments). */
  KEY: 'K8S_MANIFEST_KEY',
} as const;

export const CRD_DIR = resolve(import.meta.dirname, '..', 'crds');
const CRD_FILES = ['asset.yaml', 'materialization.yaml', 'backfill.yaml', 'sensor.yaml', 'modeldeployment.yaml'];
const CRD_KEY = /^[a-z][a-z0-9_]*$/;
const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * The asset graph of the code location alone: policies and definitions, without opening the
 * event log or the DWH (manifests need neither). Same sources as `openInstance`.
 */
export async function loadCodeGraph(o: { configsDir?: string; env?: string; codeLocationModule?: string } = {}): Promise<AssetGraph> {
  const policies = loadPolicies(resolve(o.configsDir ?? process.env.ORRERY_CONFIGS ?? 'configs'), o.env ?? process.env.ORRERY_ENV);
  const location = codeLocation(policies, { bars: clickhouseBarsIO(), features: clickhouseFeaturesIO() });
  const modulePath = o.codeLocationModule ?? process.env.ORRERY_CODE_LOCATION;
  if (!modulePath) return new AssetGraph(location.assets);
  const pick = (await import(pathToFileURL(resolve(modulePath)).href)).default as (loc: CodeLocation) => AssetDefinition<any, any, any>[];
  return new AssetGraph(pick(location));
}

/** A DNS-subdomain resource name for an asset key (`torch_models` → `torch-models`). */
export function resourceName(key: string): string {
  return key.replace(/_/g, '-').replace(/-+$/, '');
}

const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
// A group or key that is no valid label value (spaces, > 63 characters) stays in the annotations only.
function labelIfValid(name: string, value: string): Record<string, string> {
  return LABEL_VALUE.test(value) ? { [name]: value } : {};
}

/** One `Asset` resource for a definition: all partitions, manual automation, its compute. */
export function assetResource(d: AssetDefinition<any, any, any>, namespace?: string): Record<string, unknown> {
  const compute: Record<string, unknown> = { pool: d.pool };
  if (typeof d.compute === 'object') {
    const r = d.compute.resources ?? {};
    if (r.gpu) compute.gpu = r.gpu;
    const res = { ...(r.cpu !== undefined ? { cpu: r.cpu } : {}), ...(r.memory !== undefined ? { memory: r.memory } : {}) };
    if (Object.keys(res).length) compute.resources = res;
    if (d.compute.nodeSelector && Object.keys(d.compute.nodeSelector).length) compute.nodeSelector = d.compute.nodeSelector;
  }
  return {
    apiVersion: 'orrery.dev/v1alpha1',
    kind: 'Asset',
    metadata: {
      name: resourceName(d.key),
      ...(namespace ? { namespace } : {}),
      labels: { 'app.kubernetes.io/part-of': 'orrery', ...labelIfValid('orrery.dev/asset', d.key), ...labelIfValid('orrery.dev/group', d.group) },
      annotations: { ...(d.description ? { 'orrery.dev/description': d.description } : {}), 'orrery.dev/group': d.group, 'orrery.dev/code-version': d.codeVersion },
    },
    spec: { key: d.key, automation: { policy: 'manual' }, compute },
  };
}

function fileDocuments(path: string): YamlDocument[] {
  const docs = parseAllDocuments(readFileSync(path, 'utf8'));
  for (const d of docs) if (!(d instanceof Document) || d.errors.length) throw new OrreryError(ErrorIds.CONFIG_INVALID, `${path} is not valid YAML: ${'errors' in d ? d.errors.map((e) => e.message).join('; ') : ''}`, { path });
  return docs as YamlDocument[];
}

/** The RBAC documents of crds/rbac/ moved to `namespace` (metadata and the binding's subjects). */
function rbacDocuments(namespace: string): YamlDocument[] {
  const dir = join(CRD_DIR, 'rbac');
  const docs = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort().flatMap((f) => fileDocuments(join(dir, f)));
  for (const d of docs) {
    if (d.hasIn(['metadata', 'namespace'])) d.setIn(['metadata', 'namespace'], namespace);
    const subjects = d.get('subjects', true);
    if (isSeq(subjects)) for (let i = 0; i < subjects.items.length; i++) d.setIn(['subjects', i, 'namespace'], namespace);
  }
  return docs;
}

export interface ManifestOptions { namespace?: string; select?: string; crds?: boolean; rbac?: boolean }

/** The YAML stream: CRDs, RBAC, then one Asset per selected asset (topological order). */
export function renderManifests(graph: AssetGraph, o: ManifestOptions): { yaml: string; assets: string[] } {
  if (o.namespace !== undefined && (!NAMESPACE.test(o.namespace) || o.namespace.length > 63)) {
    throw new OrreryError(ErrorIds.CLI_USAGE, `--namespace "${o.namespace}" is not a Kubernetes namespace name (lowercase letters, digits and "-", at most 63).`, { namespace: o.namespace });
  }
  if (o.rbac && !o.namespace) throw new OrreryError(ErrorIds.CLI_USAGE, '--rbac needs --namespace: the RoleBinding names the namespace of the operator\'s service account.', {});
  const keys = selectAssets(graph, o.select ?? '*');
  const bad = keys.filter((k) => !CRD_KEY.test(k) || resourceName(k).length === 0);
  if (bad.length) throw new OrreryError(ManifestErrorIds.KEY, `Asset key(s) ${bad.join(', ')} do not fit the Asset resource (^[a-z][a-z0-9_]*$); leave them out with --select.`, { keys: bad });
  const names = new Map<string, string>();
  for (const k of keys) {
    const clash = names.get(resourceName(k));
    if (clash) throw new OrreryError(ManifestErrorIds.KEY, `Asset keys ${clash} and ${k} map to the same resource name ${resourceName(k)}; leave one out with --select.`, { keys: [clash, k] });
    names.set(resourceName(k), k);
  }
  const docs: YamlDocument[] = [];
  if (o.crds) for (const f of CRD_FILES) docs.push(...fileDocuments(join(CRD_DIR, f)));
  if (o.rbac) docs.push(...rbacDocuments(o.namespace!));
  for (const k of keys) docs.push(new Document(assetResource(graph.get(k), o.namespace)));
  const yaml = docs.map((d) => d.toString({ lineWidth: 0 })).join('---\n');
  return { yaml, assets: keys };
}

export function registerManifestCommands(program: Command): void {
  program
    .command('manifests')
    .description('Kubernetes manifests of the code location: one Asset resource per asset (YAML stream on stdout), for kubectl apply -f -.')
    .option('-n, --namespace <namespace>', 'namespace of the resources (kubectl\'s current one when omitted)')
    .option('-s, --select <selection>', 'assets: key, +key, key+, *, comma for union', '*')
    .option('--crds', 'prepend the CustomResourceDefinitions')
    .option('--rbac', 'include the operator\'s ServiceAccount, Role and RoleBinding (needs --namespace)')
    .action(async (o: ManifestOptions) => {
      const graph = await loadCodeGraph();
      const { yaml, assets } = renderManifests(graph, o);
      process.stdout.write(yaml);
      process.stderr.write(`${assets.length} Asset resource(s)${o.crds ? ' with the CRDs' : ''}${o.rbac ? ' and RBAC' : ''}\n`);
    });
}
