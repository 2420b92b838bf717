/**
 * Differential tests of the ingest speed-up: the optimised DQ rules, contract checks and bar
 * storage preparation give exactly what the code before it gave (kept in ./reference/), on
 * generated inputs that include the malformed and unusual ones. "Exactly": deep equality of
 * results, the same error (class, id, message) where the reference throws, and the same calls
 * of a caller's business-day predicate.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DateTime } from 'luxon';
import { canonicalBarsText, canonicalJson, normalizeBar, normalizeBars, writeBarsPartition, type BarsPartition } from '../../adapters/clickhouse/bars-table.ts';
import { barsDataVersion } from '../../adapters/clickhouse/bars-io.ts';
import { contentHash } from '../../core/definitions/io.ts';
import type { Dwh } from '../../core/dwh.ts';
import { toTsUtc, type CanonicalBar } from '../../core/market-data.ts';
import { CONTRACT_FILES, compileContract, loadContract, type CompileOptions, type ContractRow, type DataContract } from '../../checks/contracts/index.ts';
import * as dq from '../../checks/dq/index.ts';
import { SortedWindow, clipScaleSorted as newClipScaleSorted, clippedScaleSorted as newClippedScaleSorted } from '../../checks/dq/stats.ts';
import { barChecks } from '../../checks/bar-contract.ts';
import { dateParse } from '../../checks/dq/time.ts';
import { barChecks as refBarChecks } from './reference/bar-contract.ts';
import * as refBars from './reference/bars.ts';
import { compileContract as refCompileContract } from './reference/contracts/compile.ts';
import { barKey as refBarKey, dedupeBars as refDedupeBars, sortBars as refSortBars } from './reference/dq/dedupe.ts';
import { runDq as refRunDq } from './reference/dq/pipeline.ts';
import { clipScaleSorted as refClipScaleSorted, clippedScaleSorted as refClippedScaleSorted } from './reference/dq/stats.ts';
import { canonicalTs as refCanonicalTs, checkAlignment as refCheckAlignment, parseTs as refParseTs } from './reference/dq/time.ts';

/** The outcome of `f`: its value, or the error it throws (class, message, id). */
function outcome<T>(f: () => T): { ok: T } | { threw: { name: string; message: string; errorId?: unknown } } {
  try {
    return { ok: f() };
  } catch (e) {
    const err = e as Error & { errorId?: unknown };
    return { threw: { name: err?.constructor?.name ?? typeof e, message: String(err?.message ?? e), errorId: err?.errorId } };
  }
}

const pad = (n: number, w: number) => String(n).padStart(w, '0');

/** Date-time text near RFC3339: valid, canonical, off by one field, mistyped, or noise. */
const tsText: fc.Arbitrary<string> = fc.oneof(
  // toISOString of any instant (canonical; extended years too)
  fc.integer({ min: -62_198_755_200_000, max: 253_402_300_799_999 }).map((ms) => new Date(ms).toISOString()),
  fc.integer({ min: 1_600_000_000_000, max: 1_800_000_000_000 }).map((ms) => new Date(Math.floor(ms / 3_600_000) * 3_600_000).toISOString()),
  // field by field, in and out of range
  fc.record({
    y: fc.oneof(fc.integer({ min: 0, max: 9999 }), fc.constantFrom(0, 50, 99, 100, 1900, 2000, 2024, 9999)),
    mo: fc.integer({ min: 0, max: 13 }),
    d: fc.integer({ min: 0, max: 32 }),
    h: fc.integer({ min: 0, max: 25 }),
    mi: fc.integer({ min: 0, max: 61 }),
    s: fc.integer({ min: 0, max: 61 }),
    frac: fc.oneof(fc.constant(''), fc.constant('.'), fc.stringMatching(/^\.[0-9]{1,7}$/), fc.constantFrom('.000', '.5', '.123', '.999', '.0001')),
    sep: fc.constantFrom('T', 'T', 'T', 't', ' '),
    off: fc.constantFrom('Z', 'Z', 'Z', 'z', '+00:00', '-00:00', '+05:30', '-08:00', '+24:00', '+23:59', '+00:60', '+0530', '+05', ''),
  }).map((f) => `${pad(f.y, 4)}-${pad(f.mo, 2)}-${pad(f.d, 2)}${f.sep}${pad(f.h, 2)}:${pad(f.mi, 2)}:${pad(f.s, 2)}${f.frac}${f.off}`),
  // a valid text with one character changed or dropped
  fc.tuple(fc.integer({ min: 946_684_800_000, max: 4_102_444_800_000 }), fc.nat(30), fc.constantFrom('', '0', '9', 'Z', '-', ':', '.', ' ', 'x', '\n')).map(([ms, at, c]) => {
    const s = new Date(ms).toISOString();
    const i = at % (s.length + 1);
    return s.slice(0, i) + c + s.slice(i + 1);
  }),
  fc.constantFrom('', 'Z', '2024-02-29T00:00:00.000Z', '2023-02-29T00:00:00.000Z', '2024-04-31T00:00:00.000Z', '2024-03-01T24:00:00.000Z', '2024-03-01T05:00:00Z', '2024-03-01T05:00:00.000+00:00', '0000-01-01T00:00:00.000Z', '0099-12-31T23:00:00.000Z', '2024-03-01T05:00:00.000Z\n', '２０２４-03-01T05:00:00.000Z'),
  fc.string({ maxLength: 30 }),
);

const anyTs: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 8, arbitrary: tsText },
  { weight: 1, arbitrary: fc.constantFrom(null, undefined, 0, 1_709_269_200_000, Number.NaN, true, {}, []) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 4_102_444_800_000 }).map((ms) => new Date(ms)) },
);

describe('DQ time parsing equals the regex-based original', () => {
  it('parseTs, canonicalTs and checkAlignment', () => {
    fc.assert(fc.property(anyTs, fc.constantFrom('15m', '1h', '4h', 'daily', 'weekly'), (ts, tf) => {
      expect(dq.parseTs(ts)).toStrictEqual(refParseTs(ts));
      expect(dq.canonicalTs(ts)).toStrictEqual(refCanonicalTs(ts));
      expect(outcome(() => dq.checkAlignment(ts, tf))).toStrictEqual(outcome(() => refCheckAlignment(ts, tf)));
    }), { numRuns: 5000 });
  });
});

const barOf = (ts: unknown, i: number, extra: Partial<Record<keyof CanonicalBar, unknown>> = {}): CanonicalBar => ({
  ts_utc: ts as string, symbol: 'XAUUSD', timeframe: '1h', open: 100 + i, high: 101 + i, low: 99 + i, close: 100.5 + i,
  volume: null, quality_flag: 'ok', source_id: 'synthetic', ingest_run_id: 'run', ...extra,
} as CanonicalBar);

describe('bar contract checks equal the original', () => {
  it('dateParse is Date.parse', () => {
    fc.assert(fc.property(anyTs, (ts) => {
      expect(Object.is(dateParse(ts as string), Date.parse(ts as string))).toBe(true);
    }), { numRuns: 3000 });
  });
  it('ohlc_consistent, unique_ordered_ts, within_partition', () => {
    const march = fc.integer({ min: -48, max: 800 }).map((h) => new Date(Date.UTC(2024, 2, 1) + h * 3_600_000).toISOString());
    const item = fc.record({ ts: fc.oneof(march, anyTs), symbol: fc.constantFrom('XAUUSD', 'XAUUSD', 'XAGUSD'), timeframe: fc.constantFrom('1h', '1h', '4h'), low: fc.constantFrom(99, 0, 101, Number.NaN) });
    fc.assert(fc.property(fc.array(item, { maxLength: 20 }), (items) => {
      const bars = items.map((it, i) => barOf(it.ts, i, { symbol: it.symbol, timeframe: it.timeframe, low: it.low }));
      const ctx = { dimensions: { symbol: 'XAUUSD', timeframe: '1h' }, window: { start: new Date(Date.UTC(2024, 2, 1)), end: new Date(Date.UTC(2024, 3, 1)) } } as never;
      barChecks.forEach((c, i) => expect(c.evaluate(bars, ctx)).toStrictEqual(refBarChecks[i].evaluate(bars, ctx)));
    }), { numRuns: 2000 });
  });
});

describe('toTsUtc equals toISOString', () => {
  it('on whole and fractional ms, in and out of 1970–9999, and Dates', () => {
    const t = fc.oneof(
      fc.integer({ min: 0, max: 253_402_300_799_999 }),
      fc.integer({ min: 1_600_000_000_000, max: 1_800_000_000_000 }).map((x) => Math.floor(x / 900_000) * 900_000),
      fc.integer({ min: -8.64e15, max: 8.64e15 }),
      fc.double({ min: -1e13, max: 1e13, noNaN: true }),
      fc.constantFrom(0, -1, 253_402_300_800_000, 253_402_300_799_999, 86_399_999, -0),
    );
    fc.assert(fc.property(t, fc.boolean(), (x, asDate) => {
      const want = outcome(() => new Date(x).toISOString());
      expect(outcome(() => toTsUtc(asDate ? new Date(x) : x))).toStrictEqual(want);
    }), { numRuns: 5000 });
  });
});

describe('dedupe and ordering equal the original', () => {
  it('barKey, dedupeBars, sortBars', () => {
    const hourly = fc.integer({ min: 0, max: 30 }).map((h) => new Date(Date.UTC(2024, 2, 1, h)).toISOString());
    const ts = fc.oneof(hourly, hourly.map((t) => t.replace('.000Z', 'Z')), hourly.map((t) => t.replace('Z', '+00:00')), tsText);
    const item = fc.record({ ts, seq: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }), symbol: fc.constantFrom('XAUUSD', 'XAGUSD') });
    fc.assert(fc.property(fc.array(item, { maxLength: 40 }), (items) => {
      const bars = items.map((it, i) => barOf(it.ts, i, { symbol: it.symbol, metadata: it.seq === undefined ? { id: i } : { id: i, ingest_seq: it.seq } }));
      for (const b of bars) expect(dq.barKey(b)).toBe(refBarKey(b));
      expect(dq.dedupeBars(bars)).toStrictEqual(refDedupeBars(bars));
      expect(dq.sortBars(bars)).toStrictEqual(refSortBars(bars));
    }), { numRuns: 1000 });
  });
});

describe('robust scale equals the original', () => {
  const value = fc.oneof(
    { weight: 10, arbitrary: fc.integer({ min: -50, max: 50 }).map((x) => x / 1000) },
    { weight: 10, arbitrary: fc.double({ min: -1, max: 1, noNaN: true }) },
    { weight: 1, arbitrary: fc.constantFrom(0, -0, 1e-300, -1e-300, 5, -5, Infinity, -Infinity) },
  );
  it('clipScaleSorted / clippedScaleSorted, and SortedWindow.clippedScale on the window', () => {
    fc.assert(fc.property(fc.array(value, { maxLength: 60 }), fc.constantFrom(0.5, 1, 3, 8, 12, -1), fc.array(fc.oneof(value, fc.constant(Number.NaN)), { maxLength: 12 }), (xs, k, raw) => {
      const sorted = Float64Array.from(xs).sort();
      expect(newClipScaleSorted(sorted)).toStrictEqual(refClipScaleSorted(sorted));
      expect(newClippedScaleSorted(sorted, k)).toStrictEqual(refClippedScaleSorted(sorted, k));
      // The exported functions on anything (unsorted, NaN): as before, whatever that gives.
      expect(newClippedScaleSorted(raw, k)).toStrictEqual(refClippedScaleSorted(raw, k));
      expect(newClipScaleSorted(raw)).toStrictEqual(refClipScaleSorted(raw));
      const w = new SortedWindow(4);
      for (const x of xs) w.insert(x);
      expect(w.clippedScale(k)).toStrictEqual(refClippedScaleSorted(w.sorted(), k));
    }), { numRuns: 3000 });
  });
});

const thresholds = fc.record({
  missing_fill_max_run: fc.integer({ min: 0, max: 3 }),
  outlier_sigma: fc.constantFrom(2, 3, 8),
  outlier_window_bars: fc.integer({ min: 3, max: 40 }),
  dq_spike_k: fc.constantFrom(2, 5, 12),
  dq_spike_window_bars: fc.integer({ min: 3, max: 40 }),
  dq_min_periods: fc.integer({ min: 1, max: 10 }),
  missing_rate_max: fc.constant(0.05),
  outlier_rate_max: fc.constant(0.08),
});

describe('runDq equals the original', () => {
  it('on series with gaps, outliers, spikes, duplicates, misaligned and off-calendar bars, and a lookback', () => {
    const slot = fc.record({
      kind: fc.constantFrom('ok', 'ok', 'ok', 'ok', 'ok', 'missing', 'jump', 'spike', 'dup', 'short', 'offset', 'offgrid', 'ohlc', 'offcal'),
      move: fc.integer({ min: -20, max: 20 }),
    });
    fc.assert(fc.property(fc.array(slot, { minLength: 1, maxLength: 120 }), fc.integer({ min: 0, max: 30 }), thresholds, fc.boolean(), (slots, nLookback, t, flat) => {
      const start = Date.UTC(2024, 2, 4);
      const expected: string[] = [];
      const bars: CanonicalBar[] = [];
      const lookback: CanonicalBar[] = [];
      let price = 100;
      for (let i = -nLookback; i < slots.length; i++) {
        const s = slots[(i + slots.length * 40) % slots.length];
        const ms = start + i * 3_600_000;
        const ts = new Date(ms).toISOString();
        price = flat ? price : Math.max(1, price * (1 + s.move / 2000));
        const close = s.kind === 'jump' ? price * 1.5 : s.kind === 'spike' ? price * 1.02 : price;
        const b = barOf(ts, i, { open: close, high: close * 1.001, low: close * 0.999, close, metadata: { n: i } });
        const out = i < 0 ? lookback : bars;
        if (i >= 0 && s.kind !== 'offcal') expected.push(ts);
        if (s.kind === 'missing') continue;
        if (s.kind === 'dup') out.push({ ...b, close: close * 1.01, high: close * 1.02, metadata: { ingest_seq: 1 } }, { ...b, ts_utc: i % 2 ? ts : ts.replace('.000Z', 'Z'), metadata: { ingest_seq: 0 } });
        else if (s.kind === 'short') out.push({ ...b, ts_utc: ts.replace('.000Z', 'Z') });
        else if (s.kind === 'offset') out.push({ ...b, ts_utc: ts.replace('Z', '+00:00') });
        else if (s.kind === 'offgrid') out.push({ ...b, ts_utc: i % 3 ? new Date(ms + 60_000).toISOString() : ts.replace('.000Z', '.0001Z') });
        else if (s.kind === 'ohlc') out.push({ ...b, low: close * 1.1 });
        else if (s.kind === 'offcal' && i < 0) out.push({ ...b, ts_utc: i % 2 ? 'not a time' : (new Date(ms) as unknown as string) });
        else out.push(b);
      }
      const input = { symbol: 'XAUUSD', timeframe: '1h', bars: bars.reverse(), expected, lookback: nLookback % 2 ? lookback.reverse() : lookback };
      expect(outcome(() => dq.runDq(input, t))).toStrictEqual(outcome(() => refRunDq(input, t)));
    }), { numRuns: 400 });
  });
});

// --- contracts ----------------------------------------------------------------------------------

/** A row of canonical_bar / price_data with any field absent, null, mistyped or odd. */
function rowArb(): fc.Arbitrary<unknown> {
  const num = fc.oneof(
    { weight: 6, arbitrary: fc.double({ min: -10, max: 200, noNaN: true }) },
    { weight: 1, arbitrary: fc.constantFrom(0, -0, 1, 100, Number.NaN, Infinity, -Infinity, 2 ** 53, 1.5) },
    { weight: 1, arbitrary: fc.constantFrom('12', ' 7 ', '1e3', 'abc', '', '0x10', '-3', '4.5') },
    { weight: 1, arbitrary: fc.constantFrom(null, undefined, true, 'true', {}, [1], new Date(0)) },
  );
  const str = fc.oneof(fc.constantFrom('XAUUSD', 'xauusd', 'EUR/USD', '', ' ', '1h', '15m', '4h', 'daily', 'ok', 'outlier', 'bad', '1301', '130', 'synthetic'), fc.string({ maxLength: 6 }), num);
  const ts = fc.oneof({ weight: 6, arbitrary: anyTs }, { weight: 1, arbitrary: fc.integer({ min: -1e16, max: 1e16 }) }, { weight: 1, arbitrary: fc.constantFrom('2024-03-04', '2024-03-04T09:00:00', '2024-03-04T09:00:00+09:00', '2024-03-02T09:00:00+09:00', '2024-03-04T00:00:00.000Z', '2024-03-04T09:00:00+01:00') });
  const meta = fc.oneof(
    fc.constantFrom(undefined, null, 'x', [], new Date(0)),
    fc.record({ symbol_source: str, source_latency_ms: num, provider_version: str, ingest_seq: num, extra: str }, { requiredKeys: [] }),
  );
  const field = <T>(a: fc.Arbitrary<T>) => fc.oneof({ weight: 10, arbitrary: a.map((v) => ({ v })) }, { weight: 1, arbitrary: fc.constant(null) });
  return fc.record({
    ts_utc: field(ts), symbol: field(str), timeframe: field(str), open: field(num), high: field(num), low: field(num), close: field(num), volume: field(num),
    quality_flag: field(str), source_id: field(str), ingest_run_id: field(str), metadata: field(meta),
    ticker: field(str), date: field(ts), extra: fc.option(str, { nil: undefined, freq: 8 }),
  }).map((r) => {
    const row: Record<string, unknown> = {};
    for (const [k, f] of Object.entries(r)) {
      if (k === 'extra') { if (f !== undefined) row.unexpected = f; continue; }
      if (f !== null) row[k] = (f as { v: unknown }).v; // null: the key is absent
    }
    return row;
  });
}

/** A realistic row that passes canonical_bar, or one value off. */
function barRowArb(): fc.Arbitrary<unknown> {
  return fc.tuple(fc.integer({ min: 0, max: 2000 }), fc.constantFrom('none', 'none', 'none', 'low', 'ts', 'tf', 'meta', 'sym', 'row', 'hole')).map(([h, bad]) => {
    const ms = Date.UTC(2024, 0, 1) + h * 3_600_000;
    const b: Record<string, unknown> = { ...barOf(new Date(ms).toISOString(), h % 50), metadata: { provider_version: 'v1', ingest_seq: h } };
    if (bad === 'low') b.low = 1000;
    if (bad === 'ts') b.ts_utc = new Date(ms).toISOString().replace('.000Z', '+01:00');
    if (bad === 'tf') b.timeframe = '2h';
    if (bad === 'meta') b.metadata = { source_latency_ms: -1 };
    if (bad === 'sym') b.symbol = 'xau/usd';
    if (bad === 'row') return null;
    return bad === 'hole' ? undefined : b;
  });
}

describe('compiled contracts equal the original', () => {
  const barContract = loadContract(CONTRACT_FILES.canonical_bar);
  const priceContract = loadContract(CONTRACT_FILES.price_data);
  const variants: Array<[string, DataContract]> = [
    ['canonical_bar', barContract],
    ['price_data', priceContract],
    ['canonical_bar, coerce', { ...barContract, schema: { ...barContract.schema, coerce: true } }],
    ['price_data, strict, no coerce', { ...priceContract, schema: { ...priceContract.schema, coerce: false, strict: true } }],
    ['price_data, tz UTC+3', { ...priceContract, schema: { ...priceContract.schema, fields: priceContract.schema.fields.map((f) => (f.name === 'date' ? { ...f, constraints: { ...f.constraints, tz: 'UTC+3' } } : f)) } }],
    ['canonical_bar, business_day in Europe/London', { ...barContract, schema: { ...barContract.schema, fields: barContract.schema.fields.map((f) => (f.name === 'ts_utc' ? { ...f, constraints: { nullable: false, business_day: true, tz: 'Europe/London' } } : f)) } }],
  ];

  /** Compiles with a predicate that records its calls and answers from the local date and instant. */
  function compiled(compile: typeof compileContract, contract: DataContract) {
    const calls: unknown[] = [];
    const options: CompileOptions = {
      enums: { timeframe_allowed: ['15m', '1h', '4h'] },
      businessDay: (info) => {
        calls.push({ ...info, row: undefined, localDate: info.localDate, ms: info.ms });
        return !info.localDate.endsWith('5') && info.ms % 7 !== 3;
      },
      severityOverrides: { [`${contract.name}.ohlc`]: 'WARN' },
    };
    return { checks: compile(contract, options), calls };
  }

  for (const [name, contract] of variants) {
    it(name, async () => {
      const mine = compiled(compileContract, contract);
      const ref = compiled(refCompileContract as typeof compileContract, contract);
      expect(mine.checks.map((c) => [c.name, c.severity, c.description])).toStrictEqual(ref.checks.map((c) => [c.name, c.severity, c.description]));
      const rows = fc.oneof({ weight: 3, arbitrary: fc.array(rowArb(), { maxLength: 25 }) }, { weight: 2, arbitrary: fc.array(barRowArb(), { maxLength: 60 }) });
      await fc.assert(fc.asyncProperty(rows, fc.boolean(), async (list, sparse) => {
        const input = list as ContractRow[];
        if (sparse && input.length > 2) delete input[1];
        for (let i = 0; i < mine.checks.length; i++) {
          mine.calls.length = 0;
          ref.calls.length = 0;
          const a = outcome(() => mine.checks[i].evaluate(input, undefined as never));
          const b = outcome(() => ref.checks[i].evaluate(input, undefined as never));
          expect(a, mine.checks[i].name).toStrictEqual(b);
          expect(mine.calls).toStrictEqual(ref.calls);
        }
      }), { numRuns: 300 });
    });
  }
});

// --- bars storage ---------------------------------------------------------------------------------

/** Plain data, and the odd values JSON.stringify treats specially. */
const jsonish: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(null, undefined, true, false, 0, -0, 1.5, 1e21, 5e-324, Number.NaN, Infinity, 'x', '"quote" \\ \n', '日本語', '\ud800', ''),
    fc.string({ maxLength: 5 }),
    fc.double(),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(fc.string({ maxLength: 4 }), fc.constantFrom('0', '1', '10', '9', '__proto__', 'a', 'B', '-1', '01')), tie('value'), { maxKeys: 5 }),
    fc.constantFrom(new Date(0), () => 1, Symbol('s'), { toJSON: () => 'j' }, Object.create(null) as object, [undefined, () => 1], new Number(3), new String('s'), new Map([[1, 2]])),
  ),
})).value;

describe('canonical JSON equals the original', () => {
  it('canonicalJson', () => {
    fc.assert(fc.property(jsonish, (v) => {
      expect(outcome(() => canonicalJson(v))).toStrictEqual(outcome(() => refBars.canonicalJson(v)));
    }), { numRuns: 5000 });
  });
  it('is idempotent through JSON.parse (what the stored text relies on)', () => {
    fc.assert(fc.property(jsonish, (v) => {
      const t = refBars.canonicalJson(v);
      if (typeof t === 'string') expect(canonicalJson(JSON.parse(t))).toBe(t);
    }), { numRuns: 3000 });
  });
});

/** A DWH that records statements and answers SHOW CREATE: the write path without ClickHouse. */
function recordingDwh(): Dwh & { sql: string[] } {
  const sql: string[] = [];
  return {
    sql,
    async command(s: string) { sql.push(s); },
    async query<T>(s: string) { sql.push(s); return (s.startsWith('SHOW CREATE') ? [{ statement: 'CREATE TABLE default.t (`ts` DateTime64(3))' }] : []) as T[]; },
    async insert() { throw new Error('not used'); },
    async close() {},
  };
}

const P: BarsPartition = { timeframe: '1h', symbol: 'XAUUSD', month: '2024-03' };

/** Bars of March 2024 (shuffled, with odd and wrong values mixed in). */
const barsArb: fc.Arbitrary<CanonicalBar[]> = fc.array(fc.record({
  h: fc.integer({ min: 0, max: 800 }),
  ts: fc.constantFrom('canonical', 'canonical', 'canonical', 'canonical', 'short', 'offset', 'date', 'junk'),
  price: fc.oneof({ weight: 20, arbitrary: fc.double({ min: 0.001, max: 1e6, noNaN: true }) }, { weight: 1, arbitrary: fc.constantFrom(Number.NaN, Infinity, -0, '1.5', null, undefined) }),
  volume: fc.constantFrom(null, undefined, 0, 12.5, Number.NaN, '3'),
  meta: fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 4, arbitrary: fc.constant({ provider_version: 'synthetic-1' }) }, { weight: 2, arbitrary: jsonish }),
  flag: fc.constantFrom('ok', 'ok', 'resampled', 7),
  symbol: fc.constantFrom('XAUUSD', 'XAUUSD', 'XAUUSD', 'XAUUSD', 'XAUUSD', 'XAUUSD', 'XAGUSD'),
}), { maxLength: 30 }).map((items) => items.map((it) => {
  const ms = Date.UTC(2024, 2, 1) + it.h * 3_600_000;
  const iso = new Date(ms).toISOString();
  const ts = it.ts === 'canonical' ? iso : it.ts === 'short' ? iso.replace('.000Z', 'Z') : it.ts === 'offset' ? iso.replace('Z', '+00:00') : it.ts === 'date' ? new Date(ms + 123) : 'junk';
  const b = barOf(ts, it.h, { open: it.price, close: it.price, volume: it.volume, quality_flag: it.flag, symbol: it.symbol });
  if (it.meta !== undefined) b.metadata = it.meta as Record<string, unknown>;
  return b;
})) as fc.Arbitrary<CanonicalBar[]>;

describe('bar storage equals the original', () => {
  it('the insert body (rows checked as toRows did) and the canonical text of the data version', async () => {
    await fc.assert(fc.asyncProperty(barsArb, async (bars) => {
      const rows = outcome(() => refBars.toRows(P, bars).map((r) => JSON.stringify(r)).join('\n'));
      const dwh = recordingDwh();
      let text: string | undefined;
      const written = await writeBarsPartition(dwh, P, bars, (t) => { text = t; }).then(() => undefined, (e: Error & { errorId?: unknown }) => ({ name: e.constructor.name, message: e.message, errorId: e.errorId }));
      const insert = dwh.sql.find((s) => s.startsWith('INSERT INTO'));
      if ('threw' in rows) {
        expect(written).toStrictEqual(rows.threw);
        expect(dwh.sql.filter((s) => !s.startsWith('SHOW'))).toEqual([]); // refused before anything was sent
        return;
      }
      // As before: the partition is replaced, then the data version is computed (and may throw).
      expect(bars.length === 0 ? '' : insert!.slice(insert!.indexOf('\n') + 1)).toBe(rows.ok);
      expect(dwh.sql.some((s) => /^ALTER TABLE canonical_bars (REPLACE|DROP) PARTITION \(202403, 'XAUUSD', '1h'\)/.test(s))).toBe(true);
      const version = outcome(() => refBars.canonicalJson(refBars.normalizeBars(bars)));
      if ('ok' in version) expect(text).toBe(version.ok);
      else expect(written).toStrictEqual(version.threw);
    }), { numRuns: 1500 });
  });

  it('canonicalBarsText / barsDataVersion / normalizeBar(s) on any bars', () => {
    fc.assert(fc.property(barsArb, (bars) => {
      const want = outcome(() => refBars.canonicalJson(refBars.normalizeBars(bars)));
      expect(outcome(() => canonicalBarsText(bars))).toStrictEqual(want);
      if ('ok' in want) expect(barsDataVersion(bars)).toBe(contentHash(want.ok));
      expect(outcome(() => normalizeBars(bars))).toStrictEqual(outcome(() => refBars.normalizeBars(bars)));
      for (const b of bars) expect(outcome(() => normalizeBar(b))).toStrictEqual(outcome(() => refBars.normalizeBar(b)));
    }), { numRuns: 1500 });
  });

  it('a bar that is not an object, or a hole, is refused before anything is sent', async () => {
    const good = barOf('2024-03-01T00:00:00.000Z', 0);
    const holey = [good, good];
    delete (holey as unknown[])[1];
    for (const bars of [holey, [good, null], [good, 5]] as unknown as CanonicalBar[][]) {
      const dwh = recordingDwh();
      const e = await writeBarsPartition(dwh, P, bars, () => 0).then(() => undefined, (x: unknown) => x);
      expect(e).toBeDefined();
      expect(dwh.sql.filter((s) => !s.startsWith('SHOW'))).toEqual([]);
    }
  });
});

describe('luxon facts the compiled business_day rule relies on', () => {
  it('in a fixed-offset zone, instants of one shifted UTC day have one local date', () => {
    fc.assert(fc.property(fc.integer({ min: -8.6e15, max: 8.6e15 }), fc.integer({ min: 0, max: 86_399_999 }), fc.constantFrom('UTC', 'utc', 'UTC+3', 'UTC-11', 'UTC+14:30'), (ms, within, zone) => {
      const a = DateTime.fromMillis(ms, { zone });
      const day = Math.floor(Math.trunc(ms + a.offset * 60_000) / 86_400_000);
      const other = day * 86_400_000 - a.offset * 60_000 + within;
      expect(DateTime.fromMillis(other, { zone }).toFormat('yyyy-MM-dd')).toBe(a.toFormat('yyyy-MM-dd'));
    }), { numRuns: 500 });
  });
});
