/** Deterministic names of what the operator creates: a retried reconcile finds, never duplicates. */
import { createHash } from 'node:crypto';

const sha = (s: string, n: number) => createHash('sha256').update(s).digest('hex').slice(0, n);

/** A DNS-label-safe slug (lower case, digits, dashes), at most `max` characters. */
export function slug(s: string, max = 63): string {
  return s.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/-+/g, '-').slice(0, max).replace(/^-+|-+$/g, '') || 'x';
}

/** A label value (≤ 63 chars of [A-Za-z0-9-_.]); asset keys with `/` become `.`. */
export function labelValue(s: string): string {
  const v = s.replace(/[^A-Za-z0-9_.-]/g, '.');
  return v.length <= 63 ? v : `${v.slice(0, 52)}.${sha(s, 10)}`;
}

/** `orrery-<sha256 of namespace/materialization + attempt>`: 7 + 20 chars. */
export function jobName(namespace: string, materialization: string, attempt = 1): string {
  return `orrery-${sha(`${namespace}/${materialization}#${attempt}`, 20)}`;
}

/** One Materialization per backfill step: backfill name + asset + partition hash (≤ 63 chars, a label value). */
export function materializationName(backfill: string, asset: string, partition: string): string {
  return `${slug(backfill, 28)}-${slug(asset, 22)}-${sha(`${asset}\u0000${partition}`, 10)}`;
}

/** Children of a ModelDeployment per served version. */
export function modelChildName(deployment: string, version: string): string {
  const base = `omd-${slug(deployment, 30)}-${slug(version, 30)}`;
  return base.length <= 63 ? base : `${base.slice(0, 52)}-${sha(version, 10)}`;
}
