// Reference: checks/contracts/compile.ts as of commit 5b2be95, before the ingest speed-up; test/checks/equivalence.test.ts holds the optimised code to it. Do not edit.
/**
 * Compiles a data contract (schema.ts) into asset checks over rows (`Record<string, unknown>[]`).
 *
 * One check per (field, rule), named `<contract>.<field>.<rule>` (`price_data.high.gte`), plus
 * `<contract>.primary_key`, `<contract>.schema.strict` and `<contract>.ohlc` where the contract asks
 * for them. Each check's metadata names the contract, field, rule and expected value, counts the
 * violations and lists the first offending rows (at most 5: row index, primary-key values, the
 * offending value and, for a cross-field rule, the value it was compared with).
 *
 * A value is judged by one rule only: `required` looks at absent keys, `nullable` at null, `type`
 * at the type of non-null values, and every other rule only at non-null values of the right type
 * (a cross-field comparison is skipped when the other field is null or of the wrong type). So a
 * bad value fails exactly the rule it breaks, not a cascade.
 *
 * Types: string; float/number (finite numbers); int (safe integers); bool; object (a plain
 * mapping); datetime (an ISO-8601 string — with or without offset; without one it is local time
 * in the field's `tz`, or UTC — or a Date). With `schema.coerce` (§4.2 pandera `coerce=True`):
 * numeric strings pass as float/int, numbers and booleans as string, 'true'/'false' as bool,
 * epoch milliseconds as datetime; rules then see the coerced value.
 */
import { DateTime } from 'luxon';
import type { AssetCheck, CheckOutcome } from '../../../../core/definitions/checks.ts';
import type { JsonObject, JsonValue } from '../../../../core/event-log/port.ts';
import { ErrorIds, OrreryError } from '../../../../core/errors.ts';
import { COMPARISONS, ohlcFields, type Comparison, type ContractField, type DataContract } from '../../../../checks/contracts/schema.ts';

export type ContractRow = Record<string, unknown>;

export interface BusinessDayInfo {
  /** The field's value as given. */
  value: unknown;
  /** The instant, epoch milliseconds. */
  ms: number;
  /** The calendar date (YYYY-MM-DD) of the instant in the field's `tz` (UTC without one). */
  localDate: string;
  field: string;
  row: ContractRow;
}

export interface CompileOptions {
  /** The calendar behind `business_day: true` (e.g. TseCalendar / SessionCalendar); required when a field has it. */
  businessDay?: (info: BusinessDayInfo) => boolean;
  /** Lists for `enum_ref` (e.g. `{ timeframe_allowed: ['15m', '1h', '4h'] }`); required for every name a contract refers to. */
  enums?: Record<string, readonly (string | number | boolean)[]>;
  /** Severity of every check (default 'ERROR': blocking). */
  severity?: 'ERROR' | 'WARN';
  /** Per check name, e.g. `{ 'price_data.date.business_day': 'WARN' }`. */
  severityOverrides?: Record<string, 'ERROR' | 'WARN'>;
}

/** At most this many offending rows are listed in a check's metadata. */
export const MAX_EXAMPLES = 5;

const NUMERIC_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const INT_TEXT = /^[+-]?\d+$/;
const EXPLICIT_OFFSET = /T.*(Z|[+-]\d{2}(:?\d{2})?)$/i;

type Lookup = { present: false } | { present: true; value: unknown };

/** `row[a][b]…` for a dotted name; absent when any step is missing or not a mapping. */
const PATHS = new Map<string, string[]>();

export function getField(row: unknown, name: string): Lookup {
  let path = PATHS.get(name);
  if (!path) PATHS.set(name, (path = name.split('.')));
  let cur: unknown = row;
  for (const part of path) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur) || !Object.prototype.hasOwnProperty.call(cur, part)) return { present: false };
    cur = (cur as Record<string, unknown>)[part];
  }
  return { present: true, value: cur };
}

const isNull = (v: unknown) => v === null || v === undefined;

interface DateValue { ms: number; offset: number | null }

const CANONICAL_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/;

function parseDate(v: unknown, tz: string | undefined, coerce: boolean): DateValue | null {
  if (v instanceof Date) return Number.isFinite(v.getTime()) ? { ms: v.getTime(), offset: null } : null;
  if (typeof v === 'number') return coerce && Number.isFinite(v) ? { ms: v, offset: null } : null;
  if (typeof v !== 'string') return null;
  // The canonical form (`2024-03-01T05:00:00.000Z`) needs no zone rules: the fast path for bars.
  if (CANONICAL_UTC.test(v)) {
    const ms = Date.parse(v);
    if (Number.isFinite(ms) && new Date(ms).toISOString().slice(0, v.length - 1) === v.slice(0, -1)) return { ms, offset: 0 };
  }
  if (EXPLICIT_OFFSET.test(v)) {
    const d = DateTime.fromISO(v, { setZone: true });
    return d.isValid ? { ms: d.toMillis(), offset: d.offset } : null;
  }
  const d = DateTime.fromISO(v, { zone: tz ?? 'UTC' });
  return d.isValid ? { ms: d.toMillis(), offset: null } : null;
}

/** The value as the field's type, or `undefined` when it is not one (null stays out: callers check it first). */
export function typedValue(v: unknown, f: ContractField, coerce: boolean): unknown {
  switch (f.type) {
    case 'string':
      if (typeof v === 'string') return v;
      if (coerce && ((typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean')) return String(v);
      return undefined;
    case 'float':
    case 'number':
      if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
      if (coerce && typeof v === 'string' && NUMERIC_TEXT.test(v.trim())) return Number(v.trim());
      return undefined;
    case 'int':
      if (typeof v === 'number') return Number.isSafeInteger(v) ? v : undefined;
      if (coerce && typeof v === 'string' && INT_TEXT.test(v.trim()) && Number.isSafeInteger(Number(v.trim()))) return Number(v.trim());
      return undefined;
    case 'bool':
      if (typeof v === 'boolean') return v;
      if (coerce && (v === 'true' || v === 'false')) return v === 'true';
      return undefined;
    case 'object':
      return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date) ? v : undefined;
    case 'datetime': {
      const d = parseDate(v, f.constraints?.tz, coerce);
      return d ?? undefined;
    }
  }
}

/** A JSON-safe rendering of any value for check metadata. */
export function jsonSafe(v: unknown): JsonValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (v instanceof Date) return Number.isFinite(v.getTime()) ? v.toISOString() : 'Invalid Date';
  if (typeof v === 'bigint') return v.toString();
  try {
    return JSON.parse(JSON.stringify(v)) as JsonValue;
  } catch {
    return String(v);
  }
}

interface Violation { value?: unknown; other?: unknown; detail?: string }

interface RowRule {
  name: string;
  field: string | null;
  rule: string;
  expected: JsonValue;
  description: string;
  test(row: ContractRow): Violation | null;
}

const CMP: Record<Comparison, { sym: string; ok: (a: number, b: number) => boolean }> = {
  gt: { sym: '>', ok: (a, b) => a > b },
  gte: { sym: '≥', ok: (a, b) => a >= b },
  ge: { sym: '≥', ok: (a, b) => a >= b },
  lt: { sym: '<', ok: (a, b) => a < b },
  lte: { sym: '≤', ok: (a, b) => a <= b },
  le: { sym: '≤', ok: (a, b) => a <= b },
};

export function compileContract(contract: DataContract, options: CompileOptions = {}): AssetCheck<ContractRow[]>[] {
  const coerce = contract.schema.coerce ?? false;
  const fields = new Map(contract.schema.fields.map((f) => [f.name, f] as const));
  const severityOf = (name: string) => options.severityOverrides?.[name] ?? options.severity ?? 'ERROR';
  const pkOf = (row: ContractRow): JsonObject => Object.fromEntries(contract.primary_key.map((k) => { const g = getField(row, k); return [k, g.present ? jsonSafe(g.value) : null]; }));
  /** The typed non-null value of a field, or undefined (absent, null or of the wrong type). */
  const typed = (row: ContractRow, name: string): unknown => {
    const g = getField(row, name);
    if (!g.present || isNull(g.value)) return undefined;
    return typedValue(g.value, fields.get(name)!, coerce);
  };
  const rules: RowRule[] = [];
  const add = (r: Omit<RowRule, 'name'> & { name?: string }) => rules.push({ ...r, name: r.name ?? `${contract.name}.${r.field}.${r.rule}` });

  for (const f of contract.schema.fields) {
    const k = f.constraints ?? {};
    const required = k.required ?? true;
    const nullable = k.nullable ?? false;
    if (required) add({ field: f.name, rule: 'required', expected: true, description: `${f.name} is present.`, test: (row) => (getField(row, f.name).present ? null : { detail: 'absent' }) });
    if (!nullable) {
      add({ field: f.name, rule: 'nullable', expected: false, description: `${f.name} is not null.`, test: (row) => { const g = getField(row, f.name); return g.present && isNull(g.value) ? { value: null } : null; } });
    }
    add({
      field: f.name, rule: 'type', expected: f.type, description: `${f.name} is a ${f.type}${coerce ? ' (coercible)' : ''}.`,
      test: (row) => { const g = getField(row, f.name); return g.present && !isNull(g.value) && typedValue(g.value, f, coerce) === undefined ? { value: g.value } : null; },
    });
    if (k.pattern !== undefined) {
      const re = new RegExp(k.pattern);
      add({
        field: f.name, rule: 'pattern', expected: k.pattern, description: `${f.name} matches /${k.pattern}/.`,
        test: (row) => {
          const g = getField(row, f.name);
          if (!g.present || isNull(g.value) || typedValue(g.value, f, coerce) === undefined) return null;
          const text = f.type === 'string' ? (typedValue(g.value, f, coerce) as string) : g.value instanceof Date ? g.value.toISOString() : String(g.value);
          return re.test(text) ? null : { value: g.value };
        },
      });
    }
    const enumList = k.enum ?? (k.enum_ref !== undefined ? options.enums?.[k.enum_ref] : undefined);
    if (k.enum_ref !== undefined && enumList === undefined) {
      throw new OrreryError(ErrorIds.CONFIG_MISSING, `Contract ${contract.name}: field ${f.name} takes its values from "${k.enum_ref}"; pass it in compile options enums.`, { contract: contract.name, field: f.name, enum_ref: k.enum_ref });
    }
    if (enumList !== undefined) {
      const allowed = new Set<unknown>(enumList);
      add({
        field: f.name, rule: 'enum', expected: jsonSafe([...enumList]), description: `${f.name} is one of ${enumList.join(', ')}${k.enum_ref ? ` (${k.enum_ref})` : ''}.`,
        test: (row) => { const v = typed(row, f.name); return v === undefined || allowed.has(v) ? null : { value: v }; },
      });
    }
    for (const op of COMPARISONS) {
      const b = k[op];
      if (b === undefined) continue;
      const bounds = Array.isArray(b) ? b : [b];
      add({
        field: f.name, rule: op, expected: jsonSafe(b), description: `${f.name} ${CMP[op].sym} ${bounds.join(', ')}.`,
        test: (row) => {
          const v = typed(row, f.name);
          if (typeof v !== 'number') return null;
          for (const bound of bounds) {
            const other = typeof bound === 'number' ? bound : typed(row, bound);
            if (typeof other !== 'number') continue;
            if (!CMP[op].ok(v, other)) return { value: v, other: typeof bound === 'number' ? bound : { [bound]: other }, detail: `${v} ${CMP[op].sym} ${other} fails` };
          }
          return null;
        },
      });
    }
    if (k.tz !== undefined) {
      const zone = k.tz;
      add({
        field: f.name, rule: 'tz', expected: zone, description: `${f.name} carries the UTC offset of ${zone} (or none: local ${zone} time).`,
        test: (row) => {
          const d = typed(row, f.name) as DateValue | undefined;
          if (!d || d.offset === null) return null;
          const want = DateTime.fromMillis(d.ms, { zone }).offset;
          return d.offset === want ? null : { value: (getField(row, f.name) as { value: unknown }).value, detail: `offset ${d.offset} min, ${zone} has ${want} min` };
        },
      });
    }
    if (k.business_day) {
      const pred = options.businessDay;
      if (!pred) {
        throw new OrreryError(ErrorIds.CONFIG_MISSING, `Contract ${contract.name}: field ${f.name} must fall on a business day; pass the calendar as compile option businessDay.`, { contract: contract.name, field: f.name });
      }
      const zone = k.tz ?? 'UTC';
      add({
        field: f.name, rule: 'business_day', expected: true, description: `${f.name} falls on a business day / in session.`,
        test: (row) => {
          const d = typed(row, f.name) as DateValue | undefined;
          if (!d) return null;
          const localDate = DateTime.fromMillis(d.ms, { zone }).toFormat('yyyy-MM-dd');
          const value = (getField(row, f.name) as { value: unknown }).value;
          return pred({ value, ms: d.ms, localDate, field: f.name, row }) ? null : { value, detail: `not a business day (${localDate})` };
        },
      });
    }
  }

  if (contract.schema.strict) {
    const known = new Set(contract.schema.fields.map((f) => f.name.split('.')[0]));
    rules.push({
      name: `${contract.name}.schema.strict`, field: null, rule: 'strict', expected: jsonSafe([...known]), description: 'No columns beyond the contract fields.',
      test: (row) => {
        if (row === null || typeof row !== 'object') return null;
        const extra = Object.keys(row).filter((k) => !known.has(k));
        return extra.length === 0 ? null : { value: extra };
      },
    });
  }

  const o = ohlcFields(contract);
  if (o) {
    rules.push({
      name: `${contract.name}.ohlc`, field: null, rule: 'ohlc', expected: jsonSafe(o), description: `${o.high} ≥ max(${o.open}, ${o.low}, ${o.close}) and ${o.low} ≤ min(${o.open}, ${o.high}, ${o.close}).`,
      test: (row) => {
        const [op, hi, lo, cl] = [typed(row, o.open), typed(row, o.high), typed(row, o.low), typed(row, o.close)];
        if (![op, hi, lo, cl].every((x) => typeof x === 'number')) return null;
        const [O, H, L, C] = [op, hi, lo, cl] as number[];
        if (H >= Math.max(O, L, C) && L <= Math.min(O, H, C)) return null;
        return { value: { [o.open]: O, [o.high]: H, [o.low]: L, [o.close]: C } };
      },
    });
  }

  const checks: AssetCheck<ContractRow[]>[] = rules.map((r) => ({
    name: r.name,
    description: r.description,
    severity: severityOf(r.name),
    evaluate(rows: ContractRow[]): CheckOutcome {
      let violations = 0;
      const first: JsonValue[] = [];
      rows.forEach((row, i) => {
        const v = r.test(row);
        if (!v) return;
        violations++;
        if (first.length < MAX_EXAMPLES) {
          const ex: JsonObject = { row: i, key: pkOf(row), value: jsonSafe(v.value) };
          if (v.other !== undefined) ex.compared_with = jsonSafe(v.other);
          if (v.detail !== undefined) ex.detail = v.detail;
          first.push(ex);
        }
      });
      return { passed: violations === 0, metadata: { contract: contract.name, version: contract.version, field: r.field, rule: r.rule, expected: r.expected, rows_checked: rows.length, violations, first_rows: first } };
    },
  }));

  // Primary-key uniqueness. Rows with an absent, null or mistyped key part are left to the field rules.
  const pkName = `${contract.name}.primary_key`;
  checks.push({
    name: pkName,
    description: `(${contract.primary_key.join(', ')}) is unique (duplicate_policy ${contract.duplicate_policy}).`,
    severity: severityOf(pkName),
    evaluate(rows: ContractRow[]): CheckOutcome {
      const seen = new Map<string, number>();
      let violations = 0;
      const first: JsonValue[] = [];
      rows.forEach((row, i) => {
        const parts: JsonValue[] = [];
        for (const k of contract.primary_key) {
          const v = typed(row, k);
          if (v === undefined) return;
          parts.push(fields.get(k)!.type === 'datetime' ? (v as DateValue).ms : jsonSafe(v));
        }
        const key = JSON.stringify(parts);
        const prev = seen.get(key);
        if (prev === undefined) { seen.set(key, i); return; }
        violations++;
        if (first.length < MAX_EXAMPLES) first.push({ row: i, key: pkOf(row), duplicate_of_row: prev });
      });
      return {
        passed: violations === 0,
        metadata: { contract: contract.name, version: contract.version, field: contract.primary_key.join(','), rule: 'primary_key', expected: [...contract.primary_key], duplicate_policy: contract.duplicate_policy, rows_checked: rows.length, violations, first_rows: first },
      };
    },
  });
  return checks;
}

/** Runs every check of a compiled contract (convenience for tests and CLIs): name → outcome. */
export async function evaluateContract(checks: readonly AssetCheck<ContractRow[]>[], rows: ContractRow[]): Promise<Record<string, CheckOutcome>> {
  const out: Record<string, CheckOutcome> = {};
  for (const c of checks) out[c.name] = await c.evaluate(rows, undefined as never);
  return out;
}
