/** meta.k8s.io/v1 Table responses (what `kubectl get` prints), with the CRD's printer columns. */
import type { KObject, PrinterColumn, ResourceType } from './types.ts';

/** Evaluates the simple JSONPath forms printer columns use: `.a.b`, `.a[0].b`, `.a[*].b`,
 * `.a[?(@.type=="Ready")].status`. Returns every match. */
export function jsonPath(obj: unknown, path: string): unknown[] {
  let p = path.trim();
  if (p.startsWith('{') && p.endsWith('}')) p = p.slice(1, -1);
  if (p.startsWith('$')) p = p.slice(1);
  const steps: string[] = [];
  const re = /\.([A-Za-z0-9_\-/]+)|\[(.*?)\](?=\.|\[|$)|\['([^']+)'\]/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(p))) steps.push(m[1] !== undefined ? `.${m[1]}` : m[3] !== undefined ? `.${m[3]}` : `[${m[2]}]`);
  let cur: unknown[] = [obj];
  for (const s of steps) {
    const next: unknown[] = [];
    for (const v of cur) {
      if (v === undefined || v === null) continue;
      if (s.startsWith('.')) {
        const k = s.slice(1);
        if (typeof v === 'object' && !Array.isArray(v) && k in (v as KObject)) next.push((v as KObject)[k]);
      } else if (Array.isArray(v)) {
        const inner = s.slice(1, -1);
        const filter = /^\?\(@\.([A-Za-z0-9_.]+)\s*(==|!=)\s*["']?([^"']*)["']?\)$/.exec(inner);
        if (inner === '*') next.push(...v);
        else if (filter) {
          for (const item of v) {
            const got = jsonPath(item, `.${filter[1]}`)[0];
            if ((String(got) === filter[3]) === (filter[2] === '==')) next.push(item);
          }
        } else if (/^-?\d+$/.test(inner)) {
          const i = Number(inner);
          const x = v[i < 0 ? v.length + i : i];
          if (x !== undefined) next.push(x);
        }
      }
    }
    cur = next;
  }
  return cur;
}

/** Like the apiserver's human-readable durations: 5s, 3m20s, 10m, 5h, 3d, 2y. */
export function humanAge(ts: string | undefined, now = Date.now()): string {
  if (!ts) return '<unknown>';
  const s = Math.max(0, Math.floor((now - Date.parse(ts)) / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  if (d < 8) return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
  if (d < 365 * 2) return `${d}d`;
  return `${Math.floor(d / 365)}y`;
}

type Column = { name: string; type: string; format: string; description: string; priority: number; cell: (o: KObject) => unknown };

const nameCol: Column = { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.', priority: 0, cell: (o) => o.metadata?.name };
const ageCol: Column = { name: 'Age', type: 'string', format: '', description: 'CreationTimestamp of the object.', priority: 0, cell: (o) => humanAge(o.metadata?.creationTimestamp) };

function col(name: string, cell: (o: KObject) => unknown, type = 'string', priority = 0): Column {
  return { name, type, format: '', description: name, priority, cell };
}

function podStatus(p: KObject): string {
  if (p.metadata?.deletionTimestamp) return 'Terminating';
  const t = p.status?.containerStatuses?.[0]?.state;
  if (t?.terminated?.reason && p.status?.phase !== 'Running') return t.terminated.reason;
  if (t?.waiting?.reason) return t.waiting.reason;
  return p.status?.phase ?? 'Pending';
}

function jobStatus(j: KObject): string {
  const conds: KObject[] = j.status?.conditions ?? [];
  const has = (type: string): boolean => conds.some((c) => c.type === type && c.status === 'True');
  if (has('Complete')) return 'Complete';
  if (has('Failed')) return 'Failed';
  if (j.metadata?.deletionTimestamp) return 'Terminating';
  if (j.spec?.suspend) return 'Suspended';
  return 'Running';
}

const BUILTIN_COLUMNS: Record<string, Column[]> = {
  pods: [
    col('Ready', (p) => {
      const cs: KObject[] = p.status?.containerStatuses ?? [];
      const total = p.spec?.containers?.length ?? cs.length;
      return `${cs.filter((c) => c.ready).length}/${total}`;
    }),
    col('Status', podStatus),
    col('Restarts', (p) => (p.status?.containerStatuses ?? []).reduce((n: number, c: KObject) => n + (c.restartCount ?? 0), 0), 'integer'),
    col('Node', (p) => p.spec?.nodeName ?? '<none>', 'string', 1),
  ],
  jobs: [
    col('Status', jobStatus),
    col('Completions', (j) => `${j.status?.succeeded ?? 0}/${j.spec?.completions ?? 1}`),
    col('Duration', (j) => (j.status?.startTime ? humanAge(j.status.startTime, j.status.completionTime ? Date.parse(j.status.completionTime) : Date.now()) : '')),
  ],
  deployments: [
    col('Ready', (d) => `${d.status?.readyReplicas ?? 0}/${d.spec?.replicas ?? 1}`),
    col('Up-to-date', (d) => d.status?.updatedReplicas ?? 0, 'integer'),
    col('Available', (d) => d.status?.availableReplicas ?? 0, 'integer'),
  ],
  services: [col('Type', (s) => s.spec?.type ?? 'ClusterIP'), col('Cluster-IP', (s) => s.spec?.clusterIP ?? '<none>'), col('Ports', (s) => (s.spec?.ports ?? []).map((p: KObject) => `${p.port}/${p.protocol ?? 'TCP'}`).join(',') || '<none>')],
  namespaces: [col('Status', (n) => n.status?.phase ?? 'Active')],
  configmaps: [col('Data', (c) => Object.keys(c.data ?? {}).length + Object.keys(c.binaryData ?? {}).length, 'integer')],
  secrets: [col('Type', (s) => s.type ?? 'Opaque'), col('Data', (s) => Object.keys(s.data ?? {}).length, 'integer')],
  customresourcedefinitions: [col('Created At', (c) => c.metadata?.creationTimestamp, 'date')],
  events: [col('Type', (e) => e.type ?? ''), col('Reason', (e) => e.reason ?? ''), col('Object', (e) => (e.involvedObject ? `${String(e.involvedObject.kind ?? '').toLowerCase()}/${e.involvedObject.name}` : '')), col('Message', (e) => e.message ?? e.note ?? '')],
  nodes: [col('Status', (n) => ((n.status?.conditions ?? []).some((c: KObject) => c.type === 'Ready' && c.status === 'True') ? 'Ready' : 'NotReady')), col('GPUs', (n) => n.status?.allocatable?.['nvidia.com/gpu'] ?? '0')],
  leases: [col('Holder', (l) => l.spec?.holderIdentity ?? '')],
};

function customColumns(cols: PrinterColumn[]): Column[] {
  return cols.map((c) => ({
    name: c.name,
    type: c.type,
    format: c.format ?? '',
    description: c.description ?? '',
    priority: c.priority ?? 0,
    cell: (o: KObject) => {
      const v = jsonPath(o, c.jsonPath);
      if (v.length === 0) return null;
      const x = v.length === 1 ? v[0] : v.join(',');
      // The real server renders date columns as ages.
      if (c.type === 'date' && typeof x === 'string') return humanAge(x);
      if (typeof x === 'object' && x !== null) return JSON.stringify(x);
      return x;
    },
  }));
}

export function columnsFor(rt: ResourceType, version: string): Column[] {
  if (rt.custom) {
    const cols = rt.printerColumns?.[version] ?? [];
    // Like the real server: Name first; Age last unless the CRD already defines it.
    const out = [nameCol, ...customColumns(cols)];
    if (cols.length === 0) out.push(ageCol);
    return out;
  }
  const extra = BUILTIN_COLUMNS[rt.plural] ?? [];
  return extra.some((c) => c.name === 'Age') ? [nameCol, ...extra] : [nameCol, ...extra, ageCol];
}

function rowObject(o: KObject, include: string): unknown {
  if (include === 'None') return undefined;
  if (include === 'Object') return o;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata };
}

export function toTable(rt: ResourceType, version: string, objects: KObject[], listMeta: KObject, includeObject = 'Metadata', withHeaders = true): KObject {
  const cols = columnsFor(rt, version);
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: listMeta,
    columnDefinitions: withHeaders ? cols.map(({ cell: _c, ...d }) => d) : [],
    rows: objects.map((o) => ({ cells: cols.map((c) => c.cell(o) ?? null), object: rowObject(o, includeObject) })),
  };
}

export function wantsTable(accept: string | undefined): boolean {
  return !!accept && /as=Table/.test(accept) && /g=meta\.k8s\.io/.test(accept);
}
