/** The resource types the double serves: built-in kinds plus whatever established CRDs define. */
import { resourceKey, type KObject, type PrinterColumn, type ResourceType } from './types.ts';

function builtin(group: string, version: string, plural: string, kind: string, o: Partial<ResourceType> = {}): ResourceType {
  return {
    group,
    versions: [version],
    plural,
    singular: kind.toLowerCase(),
    kind,
    listKind: `${kind}List`,
    namespaced: true,
    shortNames: [],
    categories: [],
    statusSubresource: false,
    custom: false,
    ...o,
  };
}

export const BUILTINS: ResourceType[] = [
  builtin('', 'v1', 'namespaces', 'Namespace', { namespaced: false, shortNames: ['ns'], statusSubresource: true }),
  builtin('', 'v1', 'pods', 'Pod', { shortNames: ['po'], categories: ['all'], statusSubresource: true }),
  builtin('', 'v1', 'services', 'Service', { shortNames: ['svc'], categories: ['all'], statusSubresource: true }),
  builtin('', 'v1', 'events', 'Event', { shortNames: ['ev'] }),
  builtin('', 'v1', 'configmaps', 'ConfigMap', { shortNames: ['cm'] }),
  builtin('', 'v1', 'secrets', 'Secret'),
  builtin('', 'v1', 'serviceaccounts', 'ServiceAccount', { shortNames: ['sa'] }),
  builtin('', 'v1', 'nodes', 'Node', { namespaced: false, shortNames: ['no'], statusSubresource: true }),
  builtin('batch', 'v1', 'jobs', 'Job', { categories: ['all'], statusSubresource: true }),
  builtin('apps', 'v1', 'deployments', 'Deployment', { shortNames: ['deploy'], categories: ['all'], statusSubresource: true }),
  builtin('coordination.k8s.io', 'v1', 'leases', 'Lease'),
  builtin('events.k8s.io', 'v1', 'events', 'Event', { shortNames: ['ev'] }),
  builtin('rbac.authorization.k8s.io', 'v1', 'roles', 'Role'),
  builtin('rbac.authorization.k8s.io', 'v1', 'rolebindings', 'RoleBinding'),
  builtin('rbac.authorization.k8s.io', 'v1', 'clusterroles', 'ClusterRole', { namespaced: false }),
  builtin('rbac.authorization.k8s.io', 'v1', 'clusterrolebindings', 'ClusterRoleBinding', { namespaced: false }),
  builtin('apiextensions.k8s.io', 'v1', 'customresourcedefinitions', 'CustomResourceDefinition', {
    namespaced: false,
    shortNames: ['crd', 'crds'],
    categories: ['api-extensions'],
    statusSubresource: true,
  }),
];

/** What a CRD object defines, or undefined when it serves nothing. */
export function resourceTypeFromCrd(crd: KObject): ResourceType | undefined {
  const spec = crd.spec ?? {};
  const names = spec.names ?? {};
  const versions: KObject[] = (spec.versions ?? []).filter((v: KObject) => v.served !== false);
  if (!spec.group || !names.plural || !names.kind || versions.length === 0) return undefined;
  // The storage version first: that is the one objects are kept in.
  versions.sort((a, b) => Number(Boolean(b.storage)) - Number(Boolean(a.storage)));
  const schemas: Record<string, unknown> = {};
  const printerColumns: Record<string, PrinterColumn[]> = {};
  let statusSubresource = false;
  for (const v of versions) {
    schemas[v.name] = v.schema?.openAPIV3Schema;
    printerColumns[v.name] = v.additionalPrinterColumns ?? [];
    if (v.subresources?.status) statusSubresource = true;
  }
  return {
    group: spec.group,
    versions: versions.map((v) => v.name as string),
    plural: names.plural,
    singular: names.singular ?? String(names.kind).toLowerCase(),
    kind: names.kind,
    listKind: names.listKind ?? `${names.kind}List`,
    namespaced: spec.scope !== 'Cluster',
    shortNames: names.shortNames ?? [],
    categories: names.categories ?? [],
    statusSubresource,
    custom: true,
    schemas,
    printerColumns,
    crdName: crd.metadata?.name,
  };
}

export class Registry {
  private readonly types = new Map<string, ResourceType>();

  constructor() {
    for (const rt of BUILTINS) this.types.set(resourceKey(rt.group, rt.plural), rt);
  }

  all(): ResourceType[] {
    return [...this.types.values()];
  }

  find(group: string, version: string, plural: string): ResourceType | undefined {
    const rt = this.types.get(resourceKey(group, plural));
    return rt && rt.versions.includes(version) ? rt : undefined;
  }

  /** By `group/plural` (the store's key). */
  byKey(key: string): ResourceType | undefined {
    return this.types.get(key);
  }

  byKind(group: string, kind: string): ResourceType | undefined {
    return this.all().find((rt) => rt.group === group && rt.kind === kind);
  }

  /** group → versions, in a stable order (core group excluded). */
  groups(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const rt of this.types.values()) {
      if (rt.group === '') continue;
      const vs = out.get(rt.group) ?? [];
      for (const v of rt.versions) if (!vs.includes(v)) vs.push(v);
      out.set(rt.group, vs);
    }
    return out;
  }

  inGroupVersion(group: string, version: string): ResourceType[] {
    return this.all().filter((rt) => rt.group === group && rt.versions.includes(version));
  }

  defineFromCrd(crd: KObject): ResourceType | undefined {
    const rt = resourceTypeFromCrd(crd);
    if (rt) this.types.set(resourceKey(rt.group, rt.plural), rt);
    return rt;
  }

  removeCrd(crd: KObject): void {
    const spec = crd.spec ?? {};
    const key = resourceKey(spec.group, spec.names?.plural);
    if (this.types.get(key)?.custom) this.types.delete(key);
  }
}
