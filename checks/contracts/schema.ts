/**
 * Data contracts as YAML (seed 004 §4.1 `contracts/price_data.yaml`; seed 002 "契約は YAML/Schema
 * で管理"). This module is the schema of a contract FILE and its loader: a contract is checked
 * strictly (unknown keys are errors) and semantically (referenced fields exist and have a type
 * that fits the rule) before anything is compiled from it.
 *
 * Contract dialect (the §4.1 shape, with a few additions marked +):
 *   name, version (semver), description+, granularity, primary_key: [field…],
 *   time_definition: { event_time: field, processing_time?, watermark?: 1h|15m|30s|1d|… },
 *   duplicate_policy: reject | latest_wins,
 *   missing_policy?: { strategy: none | forward_fill | forward_fill_interpolate, max_gap, beyond_max_gap+?: exclude },
 *   schema: { strict+?: bool (no columns beyond the fields), coerce+?: bool (§4.2 pandera coerce=True),
 *             fields: [{ name (dotted for nested: metadata.ingest_seq), type, description?, constraints? }] },
 *   validation+?: { ohlc?: true | { open, high, low, close } }   (§4.2 PriceDataValidator.ohlc)
 * Field types: string, datetime, float, number (= float), int, bool, object.
 * Constraints: nullable (default false), required+ (default true; false = the key may be absent),
 *   pattern, enum, enum_ref+ (a named list the caller supplies, e.g. timeframe_allowed),
 *   gt / gte / ge / lt / lte / le (a number, another numeric field's name, or a list of them:
 *   `gte: open` is the cross-field rule of §4.1), tz (datetime), business_day (datetime; the
 *   caller supplies the calendar predicate).
 */
import { readFileSync } from 'node:fs';
import { IANAZone } from 'luxon';
import { parse } from 'yaml';
import { z } from 'zod';
import { ConfigError, type ConfigProblem } from '../../core/config/loader.ts';
import { ErrorIds } from '../../core/errors.ts';
import { issuesToProblems } from '../../core/config/loader.ts';

export const FIELD_TYPES = ['string', 'datetime', 'float', 'number', 'int', 'bool', 'object'] as const;
export type FieldType = (typeof FIELD_TYPES)[number];
export const NUMERIC_TYPES: ReadonlySet<FieldType> = new Set(['float', 'number', 'int']);
export const COMPARISONS = ['gt', 'gte', 'ge', 'lt', 'lte', 'le'] as const;
export type Comparison = (typeof COMPARISONS)[number];

const fieldName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/, 'a field name (dotted for a nested field)');
const boundItem = z.union([z.number(), fieldName]);
const bound = z.union([boundItem, z.array(boundItem).min(1)]);
const scalar = z.union([z.string(), z.number(), z.boolean()]);

const ConstraintsSchema = z.strictObject({
  nullable: z.boolean().optional(),
  required: z.boolean().optional(),
  pattern: z.string().min(1).optional(),
  enum: z.array(scalar).min(1).optional(),
  enum_ref: z.string().min(1).optional(),
  gt: bound.optional(),
  gte: bound.optional(),
  ge: bound.optional(),
  lt: bound.optional(),
  lte: bound.optional(),
  le: bound.optional(),
  tz: z.string().min(1).optional(),
  business_day: z.boolean().optional(),
});

const FieldSchema = z.strictObject({
  name: fieldName,
  type: z.enum(FIELD_TYPES),
  description: z.string().optional(),
  constraints: ConstraintsSchema.optional(),
});

export const DataContractSchema = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9_]*$/, 'lower_snake_case'),
  version: z.string().regex(/^\d+\.\d+\.\d+$/, 'a semantic version like 1.0.0'),
  description: z.string().optional(),
  granularity: z.string().min(1),
  primary_key: z.array(fieldName).min(1),
  time_definition: z.strictObject({
    event_time: fieldName,
    processing_time: z.string().min(1).optional(),
    watermark: z.string().regex(/^\d+(ms|s|m|h|d)$/, 'a duration like 1h, 15m, 30s, 1d').optional(),
  }).optional(),
  duplicate_policy: z.enum(['reject', 'latest_wins']),
  missing_policy: z.strictObject({
    strategy: z.enum(['none', 'forward_fill', 'forward_fill_interpolate']),
    max_gap: z.number().int().min(0),
    beyond_max_gap: z.enum(['exclude']).optional(),
  }).optional(),
  schema: z.strictObject({
    strict: z.boolean().optional(),
    coerce: z.boolean().optional(),
    fields: z.array(FieldSchema).min(1),
  }),
  validation: z.strictObject({
    ohlc: z.union([z.boolean(), z.strictObject({ open: fieldName, high: fieldName, low: fieldName, close: fieldName })]).optional(),
  }).optional(),
});

export type DataContract = z.infer<typeof DataContractSchema>;
export type ContractField = z.infer<typeof FieldSchema>;
export type FieldConstraints = z.infer<typeof ConstraintsSchema>;

/** The field names a cross-field bound refers to. */
export function boundFields(b: FieldConstraints[Comparison]): string[] {
  if (b === undefined) return [];
  return (Array.isArray(b) ? b : [b]).filter((x): x is string => typeof x === 'string');
}

/** The four OHLC field names of `validation.ohlc`, or null when it is off. */
export function ohlcFields(c: DataContract): { open: string; high: string; low: string; close: string } | null {
  const o = c.validation?.ohlc;
  if (!o) return null;
  return o === true ? { open: 'open', high: 'high', low: 'low', close: 'close' } : o;
}

function semanticProblems(c: DataContract, file: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const bad = (path: string, message: string) => problems.push({ file, path, errorId: ErrorIds.CONFIG_INVALID, message });
  const byName = new Map<string, ContractField>();
  c.schema.fields.forEach((f, i) => {
    if (byName.has(f.name)) bad(`schema.fields.${i}.name`, `duplicate field "${f.name}"`);
    byName.set(f.name, f);
  });
  const numeric = (n: string) => { const f = byName.get(n); return f !== undefined && NUMERIC_TYPES.has(f.type); };
  c.schema.fields.forEach((f, i) => {
    const at = `schema.fields.${i}`;
    const dot = f.name.lastIndexOf('.');
    if (dot > 0) {
      const parent = byName.get(f.name.slice(0, dot));
      if (!parent || parent.type !== 'object') bad(`${at}.name`, `nested field "${f.name}" needs a field "${f.name.slice(0, dot)}" of type object`);
    }
    const k = f.constraints;
    if (!k) return;
    if (k.pattern !== undefined) {
      if (f.type !== 'string' && f.type !== 'datetime') bad(`${at}.constraints.pattern`, `pattern applies to string or datetime fields, not ${f.type}`);
      try { new RegExp(k.pattern); } catch (e) { bad(`${at}.constraints.pattern`, `not a valid regular expression: ${(e as Error).message}`); }
    }
    if (k.enum !== undefined && k.enum_ref !== undefined) bad(`${at}.constraints`, 'use enum or enum_ref, not both');
    for (const op of COMPARISONS) {
      const b = k[op];
      if (b === undefined) continue;
      if (!NUMERIC_TYPES.has(f.type)) bad(`${at}.constraints.${op}`, `${op} applies to numeric fields (float, number, int), not ${f.type}`);
      for (const ref of boundFields(b)) {
        if (ref === f.name) bad(`${at}.constraints.${op}`, `a field cannot be compared with itself`);
        else if (!numeric(ref)) bad(`${at}.constraints.${op}`, `"${ref}" is not a numeric field of this contract`);
      }
    }
    if (k.gte !== undefined && k.ge !== undefined) bad(`${at}.constraints`, 'gte and ge are the same rule; use one');
    if (k.lte !== undefined && k.le !== undefined) bad(`${at}.constraints`, 'lte and le are the same rule; use one');
    if (k.tz !== undefined) {
      if (f.type !== 'datetime') bad(`${at}.constraints.tz`, 'tz applies to datetime fields');
      if (!IANAZone.isValidZone(k.tz)) bad(`${at}.constraints.tz`, `"${k.tz}" is not an IANA time zone`);
    }
    if (k.business_day && f.type !== 'datetime') bad(`${at}.constraints.business_day`, 'business_day applies to datetime fields');
  });
  c.primary_key.forEach((n, i) => {
    if (!byName.has(n)) bad(`primary_key.${i}`, `"${n}" is not a field of this contract`);
    else if (byName.get(n)!.constraints?.nullable) bad(`primary_key.${i}`, `primary-key field "${n}" cannot be nullable`);
  });
  if (new Set(c.primary_key).size !== c.primary_key.length) bad('primary_key', 'a field appears twice');
  if (c.time_definition) {
    const f = byName.get(c.time_definition.event_time);
    if (!f || f.type !== 'datetime') bad('time_definition.event_time', `"${c.time_definition.event_time}" is not a datetime field of this contract`);
  }
  const o = ohlcFields(c);
  if (o) for (const [role, n] of Object.entries(o)) if (!numeric(n)) bad(`validation.ohlc.${role}`, `"${n}" is not a numeric field of this contract`);
  return problems;
}

/** Validates a parsed contract document; throws ConfigError listing every problem (`CORE_CONFIG_*`). */
export function parseContract(doc: unknown, file = '(contract)'): DataContract {
  const r = DataContractSchema.safeParse(doc);
  if (!r.success) throw new ConfigError(issuesToProblems(r.error, doc, file));
  const problems = semanticProblems(r.data, file);
  if (problems.length > 0) throw new ConfigError(problems);
  return r.data;
}

/** Parses contract YAML text. */
export function parseContractYaml(text: string, file = '(contract)'): DataContract {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw new ConfigError([{ file, path: '(file)', errorId: ErrorIds.CONFIG_INVALID, message: `not valid YAML: ${(e as Error).message.split('\n')[0]}` }]);
  }
  return parseContract(doc, file);
}

/** Reads and validates a contract file (`CORE_CONFIG_MISSING` when it cannot be read). */
export function loadContract(path: string): DataContract {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError([{ file: path, path: '(file)', errorId: ErrorIds.CONFIG_MISSING, message: `cannot read the contract: ${(e as Error).message}` }]);
  }
  return parseContractYaml(text, path);
}
