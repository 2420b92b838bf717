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
 *
 * Evaluation is compiled: each check runs a row loop generated for its rule (`Gen`: field lookups
 * as property reads, the rule's test inline, no allocation on the passing path; `test` is the
 * same rule as a closure, the definition the loop is generated from, used as is for a `rows`
 * that is not an array). Canonical UTC text (`2024-03-01T05:00:00.000Z`) is parsed without a
 * regular expression or a Date; `tz` and `business_day` ask luxon only for zones that are not
 * fixed offsets, and `business_day` once per local day of an evaluation; the primary key is
 * indexed by nested Maps rather than JSON text.
 */
import { DateTime, Info, type Zone } from 'luxon';
import type { AssetCheck, CheckOutcome } from '../../core/definitions/checks.ts';
import type { JsonObject, JsonValue } from '../../core/event-log/port.ts';
import { ErrorIds, OrreryError } from '../../core/errors.ts';
import { canonicalUtcMs } from '../../core/utc-text.ts';
import { COMPARISONS, ohlcFields, type Comparison, type ContractField, type DataContract } from './schema.ts';

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

/** What a compiled field lookup returns for an absent field (never a row's value). */
const ABSENT: unique symbol = Symbol('absent');
type Raw = unknown;
const hasOwn = Object.prototype.hasOwnProperty;

/** `getField` compiled for one name: the value, or ABSENT. */
function accessor(name: string): (row: unknown) => Raw {
  const path = name.split('.');
  if (path.length === 1) {
    const [k] = path;
    return (row) => (row !== null && typeof row === 'object' && !Array.isArray(row) && hasOwn.call(row, k) ? (row as Record<string, unknown>)[k] : ABSENT);
  }
  return (row) => {
    let cur: unknown = row;
    for (let i = 0; i < path.length; i++) {
      if (cur === null || typeof cur !== 'object' || Array.isArray(cur) || !hasOwn.call(cur, path[i])) return ABSENT;
      cur = (cur as Record<string, unknown>)[path[i]];
    }
    return cur;
  };
}

const isNull = (v: unknown) => v === null || v === undefined;

interface DateValue { ms: number; offset: number | null }

const CANONICAL_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/;

function parseDate(v: unknown, tz: string | undefined, coerce: boolean): DateValue | null {
  if (v instanceof Date) return Number.isFinite(v.getTime()) ? { ms: v.getTime(), offset: null } : null;
  if (typeof v === 'number') return coerce && Number.isFinite(v) ? { ms: v, offset: null } : null;
  if (typeof v !== 'string') return null;
  // The canonical form (`2024-03-01T05:00:00.000Z`) needs no zone rules: the fast path for bars.
  const fast = canonicalUtcMs(v);
  if (fast === fast) return { ms: fast, offset: 0 };
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

/** The typed value of `v` for one field type (see typedValue); `undefined` when it is not one. */
type Typer = (v: unknown) => unknown;

function typerOf(f: ContractField, coerce: boolean): Typer {
  switch (f.type) {
    case 'string':
      return coerce
        ? (v) => (typeof v === 'string' ? v : (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean' ? String(v) : undefined)
        : (v) => (typeof v === 'string' ? v : undefined);
    case 'float':
    case 'number':
      return (v) => {
        if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
        if (coerce && typeof v === 'string' && NUMERIC_TEXT.test(v.trim())) return Number(v.trim());
        return undefined;
      };
    case 'int':
    case 'bool':
    case 'object':
      return (v) => typedValue(v, f, coerce);
    case 'datetime': {
      const tz = f.constraints?.tz;
      return (v) => parseDate(v, tz, coerce) ?? undefined;
    }
  }
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

/** Per evaluation of one check: state a rule may keep across the rows of that evaluation only. */
interface Pass { days?: Map<number, string> }

interface RowRule {
  name: string;
  field: string | null;
  rule: string;
  expected: JsonValue;
  description: string;
  /** The rule on one row (the definition; used as is for a `rows` that is not an array). */
  test(row: ContractRow, pass: Pass): Violation | null;
  /** The same test as JavaScript for the compiled row loop: sets `v` to the violation (see Gen). */
  code(g: Gen): string;
}

/**
 * Generated source of one rule's row loop. A compiled check runs its own function (made with
 * `new Function`), so every property access and call in it has type feedback of its own:
 * monomorphic on the rows' shape, where closures shared by all rules would dispatch through all
 * of them. Values the code needs (typers, regexes, the ABSENT marker…) are passed in, never
 * spliced into the text; field names go in as JSON string literals.
 */
class Gen {
  readonly values: unknown[] = [];
  private vars = 0;
  /** A name in the generated code that holds `value`. */
  ref(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length - 1}`;
  }
  fresh(prefix: string): string {
    return `${prefix}${this.vars++}`;
  }
  /** Code declaring `target` = getField(row, name): the value, or ABSENT. */
  access(name: string, target: string): string {
    const path = name.split('.');
    const absent = this.ref(ABSENT), hasOwn = this.ref(Object.prototype.hasOwnProperty);
    let code = `let ${target} = ${absent};\n`;
    let holder = 'row';
    let close = '';
    path.forEach((part, i) => {
      const key = JSON.stringify(part);
      code += `if (${holder} !== null && typeof ${holder} === 'object' && !Array.isArray(${holder}) && ${hasOwn}.call(${holder}, ${key})) {\n`;
      if (i === path.length - 1) code += `${target} = ${holder}[${key}];\n`;
      else { const next = this.fresh('c'); code += `const ${next} = ${holder}[${key}];\n`; holder = next; }
      close += '}';
    });
    return `${code}${close}\n`;
  }
  /** Code declaring `target` = the typed non-null value of field `raw` holds (or undefined). */
  typed(raw: string, typer: Typer, target: string): string {
    return `const ${target} = ${raw} === ${this.ref(ABSENT)} || ${raw} === null || ${raw} === undefined ? undefined : ${this.ref(typer)}(${raw});\n`;
  }
}

const SCAN_HEAD = `return function scan(rows, pass, found) {
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    if (row === undefined && !(i in rows)) continue;
    let v = null;
`;
const SCAN_TAIL = `
    if (v !== null) found(row, i, v);
  }
};`;

const CMP: Record<Comparison, { sym: string; ok: (a: number, b: number) => boolean }> = {
  gt: { sym: '>', ok: (a, b) => a > b },
  gte: { sym: '≥', ok: (a, b) => a >= b },
  ge: { sym: '≥', ok: (a, b) => a >= b },
  lt: { sym: '<', ok: (a, b) => a < b },
  lte: { sym: '≤', ok: (a, b) => a <= b },
  le: { sym: '≤', ok: (a, b) => a <= b },
};

/** luxon's bounds on epoch ms (`DateTime.fromMillis` is invalid beyond), less room for any fixed offset (≤ 99 h). */
const SAFE_MS = 8.64e15 - 10 * 86_400_000;
const DAY_MS = 86_400_000;
/** Day numbers (days since 1970-01-01) of years 1000 to 9999. */
const ISO_DAY_MIN = Date.UTC(1000, 0, 1) / DAY_MS;
const ISO_DAY_MAX = Date.UTC(9999, 11, 31) / DAY_MS;

/** The zone as luxon resolves it when it is a fixed offset (UTC, UTC+3, …), else null: ask luxon per instant. */
function fixedZone(zone: string): Zone | null {
  const z = Info.normalizeZone(zone);
  return z.isUniversal && z.isValid ? z : null;
}

type Scanner = (rows: ContractRow[], pass: Pass, found: (row: ContractRow, i: number, v: Violation) => void) => void;

/** The compiled row loop of a rule: visits what `rows.forEach` visits (holes of a sparse array are skipped). */
function rowScanner(rule: RowRule): Scanner {
  const g = new Gen();
  const body = rule.code(g);
  const params = g.values.map((_, i) => `$${i}`);
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  return new Function(...params, `${SCAN_HEAD}${body}${SCAN_TAIL}`)(...g.values) as Scanner;
}

/**
 * The first row index seen per key tuple, where two tuples are one key exactly when their JSON
 * texts are equal (as `JSON.stringify(parts)` keys would have it). Tuples of strings, numbers,
 * booleans and null go into nested Maps (for those, equal JSON is SameValueZero of every part:
 * the number parts are finite, or JSON-safe strings), any other tuple by its JSON text (it can
 * never equal a tuple of primitives).
 */
class KeyIndex {
  private readonly root = new Map<unknown, unknown>();
  private readonly byJson = new Map<string, number>();
  constructor(private readonly width: number) {}

  /** The index first seen with `parts`; undefined (and `i` recorded) when they are new. */
  firstOf(parts: readonly JsonValue[], i: number): number | undefined {
    for (let j = 0; j < this.width; j++) {
      const p = parts[j];
      if (p !== null && typeof p === 'object') {
        const key = JSON.stringify(parts);
        const prev = this.byJson.get(key);
        if (prev === undefined) this.byJson.set(key, i);
        return prev;
      }
    }
    let level = this.root;
    for (let j = 0; j < this.width - 1; j++) {
      let next = level.get(parts[j]) as Map<unknown, unknown> | undefined;
      if (next === undefined) level.set(parts[j], (next = new Map()));
      level = next;
    }
    const last = parts[this.width - 1];
    const prev = level.get(last) as number | undefined;
    if (prev === undefined) level.set(last, i);
    return prev;
  }
}

export function compileContract(contract: DataContract, options: CompileOptions = {}): AssetCheck<ContractRow[]>[] {
  const coerce = contract.schema.coerce ?? false;
  const fields = new Map(contract.schema.fields.map((f) => [f.name, f] as const));
  const severityOf = (name: string) => options.severityOverrides?.[name] ?? options.severity ?? 'ERROR';
  const pkOf = (row: ContractRow): JsonObject => Object.fromEntries(contract.primary_key.map((k) => { const g = getField(row, k); return [k, g.present ? jsonSafe(g.value) : null]; }));
  const getters = new Map(contract.schema.fields.map((f) => [f.name, accessor(f.name)] as const));
  const typers = new Map(contract.schema.fields.map((f) => [f.name, typerOf(f, coerce)] as const));
  /** The typed non-null value of a field, or undefined (absent, null or of the wrong type). */
  const typedOf = (name: string): ((row: ContractRow) => unknown) => {
    const get = getters.get(name)!, type = typers.get(name)!;
    return (row) => { const v = get(row); return v === ABSENT || v === null || v === undefined ? undefined : type(v); };
  };
  /** Code declaring `target` = typedOf(name)(row). */
  const typedCode = (g: Gen, name: string, target: string): string => {
    const raw = g.fresh('r');
    return g.access(name, raw) + g.typed(raw, typers.get(name)!, target);
  };
  const rules: RowRule[] = [];
  const add = (r: Omit<RowRule, 'name'> & { name?: string }) => rules.push({ ...r, name: r.name ?? `${contract.name}.${r.field}.${r.rule}` });

  for (const f of contract.schema.fields) {
    const k = f.constraints ?? {};
    const required = k.required ?? true;
    const nullable = k.nullable ?? false;
    const get = getters.get(f.name)!;
    const type = typers.get(f.name)!;
    const typed = typedOf(f.name);
    if (required) {
      add({
        field: f.name, rule: 'required', expected: true, description: `${f.name} is present.`,
        test: (row) => (get(row) !== ABSENT ? null : { detail: 'absent' }),
        code: (g) => `${g.access(f.name, 'x')}if (x === ${g.ref(ABSENT)}) v = { detail: 'absent' };`,
      });
    }
    if (!nullable) {
      add({
        field: f.name, rule: 'nullable', expected: false, description: `${f.name} is not null.`,
        test: (row) => { const v = get(row); return v !== ABSENT && isNull(v) ? { value: null } : null; },
        code: (g) => `${g.access(f.name, 'x')}if (x !== ${g.ref(ABSENT)} && (x === null || x === undefined)) v = { value: null };`,
      });
    }
    add({
      field: f.name, rule: 'type', expected: f.type, description: `${f.name} is a ${f.type}${coerce ? ' (coercible)' : ''}.`,
      test: (row) => { const v = get(row); return v !== ABSENT && !isNull(v) && type(v) === undefined ? { value: v } : null; },
      code: (g) => `${g.access(f.name, 'x')}if (x !== ${g.ref(ABSENT)} && x !== null && x !== undefined && ${g.ref(type)}(x) === undefined) v = { value: x };`,
    });
    if (k.pattern !== undefined) {
      const re = new RegExp(k.pattern);
      // The last text tested and its verdict (the regex has no flags: a pure function of the
      // text): constant columns (symbol, source) are tested once.
      const memo = { text: undefined as string | undefined, ok: false };
      const textOf = (v: unknown, t: unknown): string => (f.type === 'string' ? (t as string) : v instanceof Date ? v.toISOString() : String(v));
      const matches = (text: string): boolean => {
        if (text !== memo.text) { memo.ok = re.test(text); memo.text = text; }
        return memo.ok;
      };
      add({
        field: f.name, rule: 'pattern', expected: k.pattern, description: `${f.name} matches /${k.pattern}/.`,
        test: (row) => {
          const v = get(row);
          if (v === ABSENT || isNull(v)) return null;
          const t = type(v);
          if (t === undefined) return null;
          return matches(textOf(v, t)) ? null : { value: v };
        },
        code: (g) => `${g.access(f.name, 'x')}if (x !== ${g.ref(ABSENT)} && x !== null && x !== undefined) {
  const t = ${g.ref(type)}(x);
  if (t !== undefined && !${g.ref(matches)}(${f.type === 'string' ? 't' : `${g.ref(textOf)}(x, t)`})) v = { value: x };
}`,
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
        test: (row) => { const v = typed(row); return v === undefined || allowed.has(v) ? null : { value: v }; },
        code: (g) => `${typedCode(g, f.name, 't')}if (t !== undefined && !${g.ref(allowed)}.has(t)) v = { value: t };`,
      });
    }
    for (const op of COMPARISONS) {
      const b = k[op];
      if (b === undefined) continue;
      const bounds = (Array.isArray(b) ? b : [b]).map((bound) => ({ bound, value: typeof bound === 'number' ? (() => bound) : typedOf(bound) }));
      const { sym, ok } = CMP[op];
      const fail = (v: number, bound: number | string, other: number): Violation => ({ value: v, other: typeof bound === 'number' ? bound : { [bound]: other }, detail: `${v} ${sym} ${other} fails` });
      add({
        field: f.name, rule: op, expected: jsonSafe(b), description: `${f.name} ${sym} ${bounds.map((x) => x.bound).join(', ')}.`,
        test: (row) => {
          const v = typed(row);
          if (typeof v !== 'number') return null;
          for (let i = 0; i < bounds.length; i++) {
            const { bound } = bounds[i];
            const other = bounds[i].value(row);
            if (typeof other !== 'number') continue;
            if (!ok(v, other)) return fail(v, bound, other);
          }
          return null;
        },
        code: (g) => {
          const okFn = g.ref(ok), failFn = g.ref(fail);
          let code = `${typedCode(g, f.name, 't')}if (typeof t === 'number') bounds: {\n`;
          for (const { bound } of bounds) {
            const o = g.fresh('o');
            code += typeof bound === 'number'
              ? `const ${o} = ${g.ref(bound)};\n`
              : typedCode(g, bound, o);
            code += `if (typeof ${o} === 'number' && !${okFn}(t, ${o})) { v = ${failFn}(t, ${g.ref(bound)}, ${o}); break bounds; }\n`;
          }
          return `${code}}`;
        },
      });
    }
    if (k.tz !== undefined) {
      const zone = k.tz;
      const fixed = fixedZone(zone);
      const offsetAt = (ms: number): number => (fixed && Math.abs(ms) <= SAFE_MS ? fixed.offset(ms) : DateTime.fromMillis(ms, { zone }).offset);
      const check = (d: DateValue | undefined, raw: unknown): Violation | null => {
        if (!d || d.offset === null) return null;
        const want = offsetAt(d.ms);
        return d.offset === want ? null : { value: raw, detail: `offset ${d.offset} min, ${zone} has ${want} min` };
      };
      add({
        field: f.name, rule: 'tz', expected: zone, description: `${f.name} carries the UTC offset of ${zone} (or none: local ${zone} time).`,
        test: (row) => check(typed(row) as DateValue | undefined, get(row)),
        code: (g) => `${g.access(f.name, 'x')}${g.typed('x', type, 't')}if (t !== undefined) v = ${g.ref(check)}(t, x);`,
      });
    }
    if (k.business_day) {
      const pred = options.businessDay;
      if (!pred) {
        throw new OrreryError(ErrorIds.CONFIG_MISSING, `Contract ${contract.name}: field ${f.name} must fall on a business day; pass the calendar as compile option businessDay.`, { contract: contract.name, field: f.name });
      }
      const zone = k.tz ?? 'UTC';
      const fixed = fixedZone(zone);
      const localDateOf = (ms: number, pass: Pass): string => {
        if (!fixed || Math.abs(ms) > SAFE_MS) return DateTime.fromMillis(ms, { zone }).toFormat('yyyy-MM-dd');
        // A fixed offset's local date depends on the local day alone (luxon's tsToObj): ask once per day.
        const day = Math.floor(Math.trunc(ms + fixed.offset(ms) * 60_000) / DAY_MS);
        const days = (pass.days ??= new Map());
        let text = days.get(day);
        if (text === undefined) {
          // Years 1000–9999: the ISO date of the local day is the text luxon writes.
          text = day >= ISO_DAY_MIN && day <= ISO_DAY_MAX ? new Date(day * DAY_MS).toISOString().slice(0, 10) : DateTime.fromMillis(ms, { zone }).toFormat('yyyy-MM-dd');
          days.set(day, text);
        }
        return text;
      };
      const check = (d: DateValue | undefined, value: unknown, row: ContractRow, pass: Pass): Violation | null => {
        if (!d) return null;
        const localDate = localDateOf(d.ms, pass);
        return pred({ value, ms: d.ms, localDate, field: f.name, row }) ? null : { value, detail: `not a business day (${localDate})` };
      };
      add({
        field: f.name, rule: 'business_day', expected: true, description: `${f.name} falls on a business day / in session.`,
        test: (row, pass) => { const d = typed(row) as DateValue | undefined; return d ? check(d, get(row), row, pass) : null; },
        code: (g) => `${g.access(f.name, 'x')}${g.typed('x', type, 't')}if (t !== undefined) v = ${g.ref(check)}(t, x, row, pass);`,
      });
    }
  }

  if (contract.schema.strict) {
    const known = new Set(contract.schema.fields.map((f) => f.name.split('.')[0]));
    const extraKeys = (row: object): Violation | null => {
      let extra: string[] | null = null;
      const proto = Object.getPrototypeOf(row);
      if ((proto === Object.prototype || proto === null) && !Array.isArray(row)) {
        // An ordinary object's own enumerable keys in Object.keys order, without making the list
        // (for…in walks them first, from V8's enum cache; inherited ones are skipped).
        for (const key in row) if (hasOwn.call(row, key) && !known.has(key)) (extra ??= []).push(key);
      } else {
        const keys = Object.keys(row);
        for (let i = 0; i < keys.length; i++) if (!known.has(keys[i])) (extra ??= []).push(keys[i]);
      }
      return extra === null ? null : { value: extra };
    };
    rules.push({
      name: `${contract.name}.schema.strict`, field: null, rule: 'strict', expected: jsonSafe([...known]), description: 'No columns beyond the contract fields.',
      test: (row) => (row === null || typeof row !== 'object' ? null : extraKeys(row)),
      code: (g) => `if (row !== null && typeof row === 'object') v = ${g.ref(extraKeys)}(row);`,
    });
  }

  const o = ohlcFields(contract);
  if (o) {
    const [tOpen, tHigh, tLow, tClose] = [typedOf(o.open), typedOf(o.high), typedOf(o.low), typedOf(o.close)];
    const check = (O: unknown, H: unknown, L: unknown, C: unknown): Violation | null => {
      if (typeof O !== 'number' || typeof H !== 'number' || typeof L !== 'number' || typeof C !== 'number') return null;
      if (H >= Math.max(O, L, C) && L <= Math.min(O, H, C)) return null;
      return { value: { [o.open]: O, [o.high]: H, [o.low]: L, [o.close]: C } };
    };
    rules.push({
      name: `${contract.name}.ohlc`, field: null, rule: 'ohlc', expected: jsonSafe(o), description: `${o.high} ≥ max(${o.open}, ${o.low}, ${o.close}) and ${o.low} ≤ min(${o.open}, ${o.high}, ${o.close}).`,
      test: (row) => check(tOpen(row), tHigh(row), tLow(row), tClose(row)),
      code: (g) => `${typedCode(g, o.open, 'tO')}${typedCode(g, o.high, 'tH')}${typedCode(g, o.low, 'tL')}${typedCode(g, o.close, 'tC')}v = ${g.ref(check)}(tO, tH, tL, tC);`,
    });
  }

  /** Calls `visit` for every row `rows.forEach` would visit (holes of a sparse array are skipped). */
  const eachRow = (rows: ContractRow[], visit: (row: ContractRow, i: number) => void): void => {
    if (!Array.isArray(rows)) { (rows as { forEach(cb: typeof visit): void }).forEach(visit); return; }
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      if (row === undefined && !(i in rows)) continue;
      visit(row, i);
    }
  };

  const checks: AssetCheck<ContractRow[]>[] = rules.map((r) => {
    const scan = rowScanner(r);
    return {
      name: r.name,
      description: r.description,
      severity: severityOf(r.name),
      evaluate(rows: ContractRow[]): CheckOutcome {
        let violations = 0;
        const first: JsonValue[] = [];
        const pass: Pass = {};
        const found = (row: ContractRow, i: number, v: Violation) => {
          violations++;
          if (first.length < MAX_EXAMPLES) {
            const ex: JsonObject = { row: i, key: pkOf(row), value: jsonSafe(v.value) };
            if (v.other !== undefined) ex.compared_with = jsonSafe(v.other);
            if (v.detail !== undefined) ex.detail = v.detail;
            first.push(ex);
          }
        };
        if (Array.isArray(rows)) scan(rows, pass, found);
        else eachRow(rows, (row, i) => { const v = r.test(row, pass); if (v) found(row, i, v); });
        return { passed: violations === 0, metadata: { contract: contract.name, version: contract.version, field: r.field, rule: r.rule, expected: r.expected, rows_checked: rows.length, violations, first_rows: first } };
      },
    };
  });

  // Primary-key uniqueness. Rows with an absent, null or mistyped key part are left to the field rules.
  const pkName = `${contract.name}.primary_key`;
  const pkParts = contract.primary_key.map((k) => ({ typed: typedOf(k), datetime: fields.get(k)!.type === 'datetime' }));
  checks.push({
    name: pkName,
    description: `(${contract.primary_key.join(', ')}) is unique (duplicate_policy ${contract.duplicate_policy}).`,
    severity: severityOf(pkName),
    evaluate(rows: ContractRow[]): CheckOutcome {
      const seen = new KeyIndex(pkParts.length);
      let violations = 0;
      const first: JsonValue[] = [];
      const parts: JsonValue[] = new Array(pkParts.length);
      eachRow(rows, (row, i) => {
        for (let j = 0; j < pkParts.length; j++) {
          const v = pkParts[j].typed(row);
          if (v === undefined) return;
          parts[j] = pkParts[j].datetime ? (v as DateValue).ms : jsonSafe(v);
        }
        const prev = seen.firstOf(parts, i);
        if (prev === undefined) return;
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
