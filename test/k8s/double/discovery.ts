/** Discovery documents: /version, /api, /api/v1, /apis, /apis/{g}, /apis/{g}/{v}. */
import { createHash } from 'node:crypto';
import type { Registry } from './registry.ts';
import type { KObject, ResourceType } from './types.ts';

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

export function version(): KObject {
  return {
    major: '1',
    minor: '32',
    gitVersion: 'v1.32.0-orrery-double',
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '2025-01-01T00:00:00Z',
    goVersion: 'go1.23',
    compiler: 'gc',
    platform: 'linux/amd64',
  };
}

export function apiVersions(serverAddress: string): KObject {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

function groupDoc(group: string, versions: string[]): KObject {
  const gv = versions.map((v) => ({ groupVersion: `${group}/${v}`, version: v }));
  return { name: group, versions: gv, preferredVersion: gv[0] };
}

export function apiGroupList(reg: Registry): KObject {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: [...reg.groups()].map(([g, vs]) => groupDoc(g, vs)) };
}

export function apiGroup(reg: Registry, group: string): KObject | undefined {
  const vs = reg.groups().get(group);
  return vs ? { kind: 'APIGroup', apiVersion: 'v1', ...groupDoc(group, vs) } : undefined;
}

function entries(rt: ResourceType): KObject[] {
  const main: KObject = {
    name: rt.plural,
    singularName: rt.singular,
    namespaced: rt.namespaced,
    kind: rt.kind,
    verbs: VERBS,
  };
  if (rt.shortNames.length) main.shortNames = rt.shortNames;
  if (rt.categories.length) main.categories = rt.categories;
  const out = [main];
  if (rt.statusSubresource) out.push({ name: `${rt.plural}/status`, singularName: '', namespaced: rt.namespaced, kind: rt.kind, verbs: ['get', 'patch', 'update'] });
  return out;
}

export function apiResourceList(reg: Registry, group: string, version: string): KObject | undefined {
  const types = reg.inGroupVersion(group, version);
  if (types.length === 0 && !(group === '' && version === 'v1')) return undefined;
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: group ? `${group}/${version}` : version,
    resources: types.flatMap(entries),
  };
}

/** OpenAPI v3 index: one document per group-version (what kubectl's openapi3 client walks). */
export function openApiV3Index(reg: Registry): KObject {
  const paths: KObject = { 'api/v1': { serverRelativeURL: `/openapi/v3/api/v1?hash=${gvHash(reg, '', 'v1')}` } };
  for (const [g, vs] of reg.groups()) for (const v of vs) paths[`apis/${g}/${v}`] = { serverRelativeURL: `/openapi/v3/apis/${g}/${v}?hash=${gvHash(reg, g, v)}` };
  return { paths };
}

function gvHash(reg: Registry, group: string, version: string): string {
  return createHash('sha256').update(JSON.stringify(openApiV3Doc(reg, group, version))).digest('hex').slice(0, 32).toUpperCase();
}

/** A minimal per-group-version OpenAPI v3 document. It declares the PATCH operations with their
 * `fieldValidation` parameter, which is what kubectl checks before relying on server-side field
 * validation (the double validates custom resources itself), plus the CRD schemas. */
export function openApiV3Doc(reg: Registry, group: string, version: string): KObject | undefined {
  const types = reg.inGroupVersion(group, version);
  if (types.length === 0) return undefined;
  const prefix = group ? `/apis/${group}/${version}` : `/api/${version}`;
  const paths: KObject = {};
  const schemas: KObject = {};
  for (const rt of types) {
    const gvk = { group, version, kind: rt.kind };
    const params = ['dryRun', 'fieldManager', 'fieldValidation', 'force'].map((name) => ({ name, in: 'query', schema: { type: name === 'force' ? 'boolean' : 'string' }, uniqueItems: true }));
    const item = rt.namespaced ? `${prefix}/namespaces/{namespace}/${rt.plural}/{name}` : `${prefix}/${rt.plural}/{name}`;
    const op = (action: string): KObject => ({ 'x-kubernetes-action': action, 'x-kubernetes-group-version-kind': gvk, parameters: params, responses: { '200': { description: 'OK' } } });
    paths[item] = { get: op('get'), put: op('put'), patch: op('patch'), delete: op('delete') };
    const name = `${group ? group.split('.').reverse().join('.') : 'io.k8s.api.core'}.${version}.${rt.kind}`;
    const s = (rt.schemas?.[version] ?? { type: 'object' }) as KObject;
    schemas[name] = { ...s, 'x-kubernetes-group-version-kind': [gvk] };
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes', version: 'v1.32.0' }, paths, components: { schemas } };
}
