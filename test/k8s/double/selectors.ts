/** Label and field selectors, in the query-string syntax kubectl and client libraries send. */
import { badRequest, type KObject } from './types.ts';

type Requirement =
  | { op: 'eq' | 'neq'; key: string; value: string }
  | { op: 'in' | 'notin'; key: string; values: string[] }
  | { op: 'exists' | 'notexists'; key: string };

export type Matcher = (labels: Record<string, string>) => boolean;

/** Splits on commas that are not inside parentheses (`a in (x,y),b`). */
function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((p) => p.trim()).filter((p) => p.length > 0);
}

function parseRequirement(raw: string): Requirement {
  let m = /^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(raw);
  if (m) return { op: m[2] as 'in' | 'notin', key: m[1], values: m[3].split(',').map((v) => v.trim()).filter(Boolean) };
  m = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(raw);
  if (m) return { op: m[2] === '!=' ? 'neq' : 'eq', key: m[1], value: m[3] };
  m = /^!\s*(\S+)$/.exec(raw);
  if (m) return { op: 'notexists', key: m[1] };
  if (/^[A-Za-z0-9._/-]+$/.test(raw)) return { op: 'exists', key: raw };
  throw badRequest(`unable to parse requirement: ${raw}`);
}

export function parseLabelSelector(sel: string | null | undefined): Matcher {
  if (!sel) return () => true;
  const reqs = splitTop(sel).map(parseRequirement);
  return (labels) =>
    reqs.every((r) => {
      const has = Object.prototype.hasOwnProperty.call(labels, r.key);
      const v = labels[r.key];
      switch (r.op) {
        case 'eq':
          return has && v === r.value;
        case 'neq':
          return !has || v !== r.value;
        case 'in':
          return has && r.values.includes(v);
        case 'notin':
          return !has || !r.values.includes(v);
        case 'exists':
          return has;
        case 'notexists':
          return !has;
      }
    });
}

/** Supports metadata.name / metadata.namespace and any simple dotted path (status.phase, spec.nodeName). */
export function parseFieldSelector(sel: string | null | undefined): (obj: KObject) => boolean {
  if (!sel) return () => true;
  const reqs = splitTop(sel).map((raw) => {
    const m = /^([^=!]+)(==|=|!=)(.*)$/.exec(raw);
    if (!m) throw badRequest(`invalid field selector: ${raw}`);
    return { path: m[1].trim().split('.'), neq: m[2] === '!=', value: m[3].trim() };
  });
  return (obj) =>
    reqs.every((r) => {
      let v: unknown = obj;
      for (const p of r.path) v = v && typeof v === 'object' ? (v as KObject)[p] : undefined;
      const s = v === undefined || v === null ? '' : String(v);
      return r.neq ? s !== r.value : s === r.value;
    });
}

export function selectorMatcher(labelSelector?: string | null, fieldSelector?: string | null): (obj: KObject) => boolean {
  const l = parseLabelSelector(labelSelector);
  const f = parseFieldSelector(fieldSelector);
  return (obj) => l(obj?.metadata?.labels ?? {}) && f(obj);
}
