/**
 * Validation of a `POST /predict` body, all or nothing: every problem of every row is collected
 * (up to a limit) and reported with `SERVE_INPUT_INVALID`, and nothing is scored unless the whole
 * body is valid.
 *
 *   { "rows": [ { "ts"?: string, "pair"?: string, "beta"?: number,
 *                 "features": { "<model input>": number | null, … } } ] }
 *
 * `features` must name exactly the model's inputs (feature_schema.json `model_inputs`): a missing or
 * an unknown name is refused. Values are raw (before normalisation); a value must be a finite number,
 * or null for a value the feature engine has not produced yet (a warm-up window) — the model handles
 * it as missing, as it did in training. Strings, booleans, and numbers JSON parses to ±Infinity are refused.
 */
import { ServeErrorIds, serveError } from './errors.ts';
import type { ServeRow } from './model.ts';

const MAX_PROBLEMS = 20;
const ROW_KEYS = new Set(['ts', 'pair', 'beta', 'features']);

export interface InputProblem {
  /** Row index, or null for the body itself. */
  row: number | null;
  field: string;
  problem: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

export function validatePredictBody(body: unknown, featureNames: readonly string[], o: { maxRows: number }): ServeRow[] {
  const problems: InputProblem[] = [];
  const fail = () => {
    const shown = problems.slice(0, MAX_PROBLEMS);
    const text = shown.map((p) => `${p.row === null ? '' : `rows[${p.row}]`}${p.field ? `${p.row === null ? '' : '.'}${p.field}` : ''}: ${p.problem}`).join('; ');
    throw serveError(ServeErrorIds.INPUT_INVALID, `Invalid /predict input, nothing was computed — ${text}${problems.length > shown.length ? ` (and ${problems.length - shown.length} more)` : ''}. Send { "rows": [{ "features": { ${featureNames.map((n) => `"${n}": number`).join(', ')} } }] } with raw feature values.`, { problems: shown, total_problems: problems.length, expected_features: [...featureNames] });
  };
  if (!isObject(body) || !Array.isArray(body.rows)) {
    problems.push({ row: null, field: 'rows', problem: 'the body must be a JSON object with a "rows" array' });
    fail();
  }
  const extraTop = Object.keys(body as object).filter((k) => k !== 'rows');
  if (extraTop.length) problems.push({ row: null, field: extraTop.join(', '), problem: 'unknown field(s) of the body' });
  const rows = (body as { rows: unknown[] }).rows;
  if (rows.length === 0) problems.push({ row: null, field: 'rows', problem: 'at least one row is needed' });
  if (rows.length > o.maxRows) {
    // Checked by the server before this (413); kept here so the function is safe on its own.
    problems.push({ row: null, field: 'rows', problem: `${rows.length} rows is over the limit of ${o.maxRows}` });
  }
  const known = new Set(featureNames);
  const out: ServeRow[] = [];
  for (let i = 0; i < rows.length && problems.length <= MAX_PROBLEMS; i++) {
    const r = rows[i];
    if (!isObject(r)) { problems.push({ row: i, field: '', problem: 'a row must be an object' }); continue; }
    for (const k of Object.keys(r)) if (!ROW_KEYS.has(k)) problems.push({ row: i, field: k, problem: 'unknown field (a row has ts, pair, beta, features)' });
    if (r.ts !== undefined && (typeof r.ts !== 'string' || Number.isNaN(Date.parse(r.ts)))) problems.push({ row: i, field: 'ts', problem: 'must be an ISO-8601 time' });
    if (r.pair !== undefined && typeof r.pair !== 'string') problems.push({ row: i, field: 'pair', problem: 'must be a string' });
    if (r.beta !== undefined && (typeof r.beta !== 'number' || !Number.isFinite(r.beta))) problems.push({ row: i, field: 'beta', problem: 'must be a finite number' });
    if (!isObject(r.features)) { problems.push({ row: i, field: 'features', problem: 'must be an object of feature name → number' }); continue; }
    const f = r.features;
    const features: Record<string, number | null> = {};
    for (const name of featureNames) {
      if (!Object.hasOwn(f, name)) { problems.push({ row: i, field: `features.${name}`, problem: 'missing' }); continue; }
      const v = f[name];
      if (v === null) features[name] = null;
      else if (typeof v !== 'number') problems.push({ row: i, field: `features.${name}`, problem: `must be a number (or null for a missing value), got ${typeof v}` });
      else if (!Number.isFinite(v)) problems.push({ row: i, field: `features.${name}`, problem: `must be finite, got ${v}` });
      else features[name] = v;
    }
    for (const name of Object.keys(f)) if (!known.has(name)) problems.push({ row: i, field: `features.${name}`, problem: 'unknown feature (not an input of this model)' });
    out.push({ ...(typeof r.ts === 'string' ? { ts: r.ts } : {}), ...(typeof r.pair === 'string' ? { pair: r.pair } : {}), ...(typeof r.beta === 'number' ? { beta: r.beta } : {}), features });
  }
  if (problems.length) fail();
  return out;
}
