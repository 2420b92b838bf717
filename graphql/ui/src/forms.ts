/** The launch-backfill form's fields → the mutation's variables. Pure. */

export interface BackfillRequest {
  selection: string;
  range?: { from: string; to: string };
  keys?: string[];
  onlyMissing?: boolean;
  onlyFailed?: boolean;
}

/** The mutation's variables from the form's fields; a message instead when they do not make a request. */
export function backfillRequest(f: { selection: string; mode: string; from: string; to: string; keys: string; filter: string }): BackfillRequest | string {
  const selection = f.selection.trim();
  if (!selection) return 'Enter a selection, e.g. an asset key, key+ or *.';
  const req: BackfillRequest = { selection };
  if (f.mode === 'range') {
    const from = f.from.trim();
    const to = f.to.trim();
    if (!from || !to) return 'Enter both ends of the partition range (From and To).';
    req.range = { from, to };
  } else if (f.mode === 'keys') {
    const keys = f.keys.split(/[\s,]+/).map((k) => k.trim()).filter(Boolean);
    if (keys.length === 0) return 'Enter at least one partition key.';
    req.keys = [...new Set(keys)];
  }
  if (f.filter === 'missing') req.onlyMissing = true;
  if (f.filter === 'failed') req.onlyFailed = true;
  return req;
}
