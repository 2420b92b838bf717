import type { Writable } from 'node:stream';
import type { Instance } from '../adapters/instance.ts';
import { ErrorIds, OrreryError } from '../core/errors.ts';
import { ioOf } from '../core/definitions/io.ts';

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * The rows a value exports as: an array is its rows; an object with `rows` (features, labels)
 * exports those, limited to `ts_utc` plus its schema's names when it has a schema.
 */
function tableOf(value: unknown): { rows: Record<string, unknown>[]; columns: string[] } {
  const v = value as { rows?: unknown; schema?: { names?: unknown } };
  const rows = Array.isArray(value) ? (value as Record<string, unknown>[]) : Array.isArray(v?.rows) ? (v.rows as Record<string, unknown>[]) : [value as Record<string, unknown>];
  if (!Array.isArray(value) && Array.isArray(v?.schema?.names)) return { rows, columns: ['ts_utc', ...(v.schema.names as string[])] };
  return { rows, columns: rows.length ? Object.keys(rows[0]).filter((c) => c !== 'metadata') : [] };
}

/** Writes one materialized partition: rows as CSV (header from the first row) or JSON. */
export async function exportPartition(i: Instance, assetKey: string, partitionKey: string, format: 'csv' | 'json', to: Writable): Promise<void> {
  const def = i.runtime.graph.get(assetKey);
  if (def.partitions && !def.partitions.has(partitionKey)) {
    throw new OrreryError(ErrorIds.PARTITION_UNKNOWN, `"${partitionKey}" is not a partition of ${assetKey}.`, { assetKey, partitionKey });
  }
  const state = (await i.eventLog.partitionStatesFor(assetKey, [partitionKey])).get(partitionKey);
  if (!state?.dataVersion) throw new OrreryError(ErrorIds.PARTITION_UNKNOWN, `${assetKey} ${partitionKey} is not materialized; run \`orrery materialize --select ${assetKey} --partition '${partitionKey}'\`.`, { assetKey, partitionKey });
  const io = ioOf(def);
  const value = await io.read({ assetKey, partitionKey, resources: i.resources });
  if (format === 'json') { to.write(`${JSON.stringify(value)}\n`); return; }
  const { rows, columns } = tableOf(value);
  to.write(`${columns.join(',')}\n`);
  for (const r of rows) to.write(`${columns.map((c) => csvCell(r[c])).join(',')}\n`);
}
