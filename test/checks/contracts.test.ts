/** Data contracts: the shipped YAML files, the loader's rejections, and every compiled rule. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../core/config/loader.ts';
import { isBlocking, type AssetCheck } from '../../core/definitions/checks.ts';
import type { CanonicalBar } from '../../core/market-data.ts';
import { OrreryError } from '../../core/errors.ts';
import { TseCalendar } from '../../core/partitions/calendars.ts';
import {
  CONTRACT_FILES,
  MAX_EXAMPLES,
  compileContract,
  evaluateContract,
  loadContract,
  parseContractYaml,
  type ContractRow,
  type DataContract,
} from '../../checks/contracts/index.ts';
import { bar, hours } from './helpers.ts';

const tse = new TseCalendar();
const priceOptions = { businessDay: ({ localDate }: { localDate: string }) => tse.isBusinessDay(localDate) };
const barOptions = {
  businessDay: ({ ms }: { ms: number }) => new Date(ms).getUTCDay() % 6 !== 0,
  enums: { timeframe_allowed: ['15m', '1h', '4h'] },
};

async function failing(contract: DataContract, options: Parameters<typeof compileContract>[1], rows: ContractRow[]) {
  const out = await evaluateContract(compileContract(contract, options), rows);
  return Object.fromEntries(Object.entries(out).filter(([, o]) => !o.passed));
}

function configErrorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('shipped contracts', () => {
  it('price_data.yaml is seed 004 §4.1 (plus §4.2 coerce and ohlc)', () => {
    const c = loadContract(CONTRACT_FILES.price_data);
    expect(c).toMatchObject({
      name: 'price_data',
      version: '1.0.0',
      granularity: 'daily',
      primary_key: ['ticker', 'date'],
      time_definition: { event_time: 'date', processing_time: '_ingested_at', watermark: '1h' },
      duplicate_policy: 'reject',
      missing_policy: { strategy: 'forward_fill', max_gap: 3 },
      validation: { ohlc: true },
    });
    expect(c.schema.coerce).toBe(true);
    expect(c.schema.fields).toEqual([
      { name: 'ticker', type: 'string', constraints: { pattern: '^[0-9]{4}$', nullable: false } },
      { name: 'date', type: 'datetime', constraints: { tz: 'Asia/Tokyo', nullable: false, business_day: true } },
      { name: 'open', type: 'float', constraints: { nullable: false, gt: 0 } },
      { name: 'high', type: 'float', constraints: { nullable: false, gte: 'open' } },
      { name: 'low', type: 'float', constraints: { nullable: false, lte: 'open' } },
      { name: 'close', type: 'float', constraints: { nullable: false, gt: 0 } },
      { name: 'volume', type: 'int', constraints: { nullable: false, ge: 0 } },
    ]);
  });

  it('canonical_bar.yaml has the seed 002 key, flags and policies', () => {
    const c = loadContract(CONTRACT_FILES.canonical_bar);
    expect(c.primary_key).toEqual(['symbol', 'timeframe', 'ts_utc']);
    expect(c.duplicate_policy).toBe('latest_wins');
    expect(c.missing_policy).toEqual({ strategy: 'forward_fill_interpolate', max_gap: 2, beyond_max_gap: 'exclude' });
    const flag = c.schema.fields.find((f) => f.name === 'quality_flag')!;
    expect(flag.constraints?.enum).toEqual(['ok', 'missing', 'outlier', 'resampled', 'conflict', 'stale', 'revised']);
    expect(c.schema.fields.find((f) => f.name === 'volume')!.constraints?.nullable).toBe(true);
  });

  it('every check is ERROR (blocking) by default; severity can be overridden', () => {
    const c = loadContract(CONTRACT_FILES.price_data);
    const checks = compileContract(c, priceOptions);
    const usableOnBars: AssetCheck<CanonicalBar[]>[] = compileContract(loadContract(CONTRACT_FILES.canonical_bar), barOptions); // type-level: fits defineAsset checks
    expect(usableOnBars.length).toBeGreaterThan(0);
    expect(checks.every((x) => x.severity === 'ERROR' && isBlocking(x))).toBe(true);
    const relaxed = compileContract(c, { ...priceOptions, severityOverrides: { 'price_data.date.business_day': 'WARN' } });
    const bd = relaxed.find((x) => x.name === 'price_data.date.business_day')!;
    expect(bd.severity).toBe('WARN');
    expect(isBlocking(bd)).toBe(false);
  });
});

describe('price_data rules', () => {
  const contract = loadContract(CONTRACT_FILES.price_data);
  // A week of TSE business days (2024-03-04 Mon … 03-08 Fri).
  const good = (): ContractRow[] => ['04', '05', '06', '07', '08'].map((d, i) => ({
    ticker: '7203', date: `2024-03-${d}`, open: 2000 + i, high: 2020 + i, low: 1990 + i, close: 2010 + i, volume: 1000 * (i + 1),
  }));

  it('passes clean rows, including coercible ones (§4.2 coerce=True)', async () => {
    expect(await failing(contract, priceOptions, good())).toEqual({});
    const coercible = good().map((r, i) => (i === 0 ? { ...r, ticker: 7203, open: '2000', volume: '1000', date: '2024-03-04T00:00:00+09:00' } : r));
    expect(await failing(contract, priceOptions, coercible)).toEqual({});
  });

  // Each case breaks one row of a clean set and names exactly the checks that must fail.
  const cases: Array<[string, (r: ContractRow) => void, string[]]> = [
    ['pattern', (r) => { r.ticker = '72A3'; }, ['price_data.ticker.pattern']],
    ['nullable', (r) => { r.ticker = null; }, ['price_data.ticker.nullable']],
    ['required', (r) => { delete r.close; }, ['price_data.close.required']],
    ['type (string)', (r) => { r.ticker = { code: 7203 }; }, ['price_data.ticker.type']],
    ['type (datetime)', (r) => { r.date = 'yesterday'; }, ['price_data.date.type']],
    ['type (float)', (r) => { r.open = 'abc'; }, ['price_data.open.type']],
    ['type (int)', (r) => { r.volume = 1.5; }, ['price_data.volume.type']],
    ['tz', (r) => { r.date = '2024-03-05T00:00:00+00:00'; }, ['price_data.date.tz']],
    ['business_day (weekend)', (r) => { r.date = '2024-03-09'; }, ['price_data.date.business_day']],
    ['business_day (holiday: 2024-03-20 春分の日)', (r) => { r.date = '2024-03-20'; }, ['price_data.date.business_day']],
    ['gt', (r) => { r.open = 0; r.low = 0; }, ['price_data.open.gt']],
    ['gt (close)', (r) => { r.close = -1; r.low = -2; }, ['price_data.close.gt']],
    ['gte (cross-field)', (r) => { r.high = (r.open as number) - 1; }, ['price_data.high.gte', 'price_data.ohlc']],
    ['lte (cross-field)', (r) => { r.low = (r.open as number) + 1; }, ['price_data.low.lte', 'price_data.ohlc']],
    ['ge', (r) => { r.volume = -5; }, ['price_data.volume.ge']],
    ['ohlc (§4.2)', (r) => { r.close = (r.high as number) + 5; }, ['price_data.ohlc']],
    ['primary key (duplicate_policy reject)', (r) => { r.date = '2024-03-04'; }, ['price_data.primary_key']],
  ];
  for (const [name, mutate, want] of cases) {
    it(`${name}: fails on the crafted row, names field, rule and row`, async () => {
      const rows = good();
      mutate(rows[2]);
      const bad = await failing(contract, priceOptions, rows);
      expect(Object.keys(bad).sort()).toEqual([...want].sort());
      const first = want[0];
      const meta = bad[first].metadata!;
      expect(meta.violations).toBe(1);
      expect(meta.rule).toBe(first.split('.').at(-1));
      if (!['price_data.ohlc', 'price_data.primary_key'].includes(first)) expect(meta.field).toBe(first.split('.')[1]);
      expect((meta.first_rows as Array<{ row: number }>)[0].row).toBe(2);
    });
  }

  it('lists at most 5 offending rows, with their keys and values', async () => {
    const rows = hours('2024-03-04T00:00:00.000Z', 7).map((_, i) => ({ ...good()[0], date: `2024-04-0${i + 1}`, open: -i }));
    const bad = await failing(contract, { businessDay: () => true }, rows);
    const meta = bad['price_data.open.gt'].metadata!;
    expect(meta.violations).toBe(7);
    expect(meta.first_rows).toHaveLength(MAX_EXAMPLES);
    expect((meta.first_rows as unknown[])[1]).toEqual({ row: 1, key: { ticker: '7203', date: '2024-04-02' }, value: -1, compared_with: 0, detail: '-1 > 0 fails' });
  });

  it('needs the business-day calendar when a field asks for it', () => {
    expect(() => compileContract(contract)).toThrowError(expect.objectContaining({ errorId: 'CORE_CONFIG_MISSING' }));
  });
});

describe('canonical_bar rules', () => {
  const contract = loadContract(CONTRACT_FILES.canonical_bar);
  const good = (): ContractRow[] => hours('2024-03-04T00:00:00.000Z', 6).map((ts, i) => ({
    ...bar(ts, 100 + i, { open: 99 + i, high: 101 + i, low: 98 + i }),
    metadata: { ingest_seq: i, symbol_source: 'XAU/USD', source_latency_ms: 12 },
  }));

  it('passes clean bars (volume null allowed, metadata optional)', async () => {
    const rows = good();
    rows[0].volume = null;
    delete rows[1].metadata;
    expect(await failing(contract, barOptions, rows)).toEqual({});
  });

  const cases: Array<[string, (r: ContractRow) => void, string[]]> = [
    ['enum', (r) => { r.quality_flag = 'bad'; }, ['canonical_bar.quality_flag.enum']],
    ['enum_ref (timeframe_allowed)', (r) => { r.timeframe = '2h'; }, ['canonical_bar.timeframe.enum']],
    ['pattern (symbol)', (r) => { r.symbol = 'xau/usd'; }, ['canonical_bar.symbol.pattern']],
    ['pattern (ts_utc milliseconds)', (r) => { r.ts_utc = '2024-03-04T02:00:00Z'; }, ['canonical_bar.ts_utc.pattern']],
    ['tz (UTC)', (r) => { r.ts_utc = '2024-03-04T11:00:00.000+09:00'; }, ['canonical_bar.ts_utc.tz', 'canonical_bar.ts_utc.pattern']],
    ['business_day (session)', (r) => { r.ts_utc = '2024-03-09T02:00:00.000Z'; }, ['canonical_bar.ts_utc.business_day']],
    ['gte list (high ≥ close)', (r) => { r.close = (r.high as number) + 1; }, ['canonical_bar.high.gte']],
    ['lte list (low ≤ close)', (r) => { r.close = (r.low as number) - 0.5; }, ['canonical_bar.low.lte']],
    ['nested ge (metadata.source_latency_ms)', (r) => { (r.metadata as Record<string, unknown>).source_latency_ms = -1; }, ['canonical_bar.metadata.source_latency_ms.ge']],
    ['nested type (metadata.ingest_seq)', (r) => { (r.metadata as Record<string, unknown>).ingest_seq = 'x'; }, ['canonical_bar.metadata.ingest_seq.type']],
    ['strict schema', (r) => { r.vwap = 100; }, ['canonical_bar.schema.strict']],
    ['type (no coercion)', (r) => { r.open = '99'; }, ['canonical_bar.open.type']],
    ['primary key', (r) => { r.ts_utc = '2024-03-04T00:00:00.000Z'; }, ['canonical_bar.primary_key']],
  ];
  for (const [name, mutate, want] of cases) {
    it(`${name}: fails on the crafted row only`, async () => {
      const rows = good();
      mutate(rows[2]);
      const bad = await failing(contract, barOptions, rows);
      expect(Object.keys(bad).sort()).toEqual([...want].sort());
      expect((bad[want[0]].metadata!.first_rows as Array<{ row: number }>)[0].row).toBe(2);
    });
  }

  it('needs the enum it refers to', () => {
    expect(() => compileContract(contract, { businessDay: () => true })).toThrowError(expect.objectContaining({ errorId: 'CORE_CONFIG_MISSING' }));
  });
});

describe('malformed contracts are rejected with an error id', () => {
  const base = `name: t
version: 1.0.0
granularity: daily
primary_key: [k]
duplicate_policy: reject
schema:
  fields:
    - { name: k, type: string }
    - { name: x, type: float, constraints: { gt: 0 } }
`;
  const cases: Array<[string, string, string, string]> = [
    ['YAML syntax', 'name: [unclosed\n', 'CORE_CONFIG_INVALID', '(file)'],
    ['not a mapping', '- 1\n- 2\n', 'CORE_CONFIG_INVALID', '(root)'],
    ['unknown top-level key', `${base}owner: me\n`, 'CORE_CONFIG_UNKNOWN', 'owner'],
    ['unknown constraint', base.replace('{ gt: 0 }', '{ gtt: 0 }'), 'CORE_CONFIG_UNKNOWN', 'schema.fields.1.constraints.gtt'],
    ['missing key', base.replace('primary_key: [k]\n', ''), 'CORE_CONFIG_MISSING', 'primary_key'],
    ['unknown type', base.replace('type: float', 'type: decimal'), 'CORE_CONFIG_INVALID', 'schema.fields.1.type'],
    ['bad duplicate policy', base.replace('reject', 'keep_first'), 'CORE_CONFIG_INVALID', 'duplicate_policy'],
    ['bad version', base.replace('1.0.0', 'one'), 'CORE_CONFIG_INVALID', 'version'],
    ['value of the wrong type', base.replace('granularity: daily', 'granularity: [daily]'), 'CORE_CONFIG_INVALID', 'granularity'],
    ['cross-field to an unknown field', base.replace('{ gt: 0 }', '{ gte: open }'), 'CORE_CONFIG_INVALID', 'schema.fields.1.constraints.gte'],
    ['comparison on a string field', base.replace('{ name: k, type: string }', '{ name: k, type: string, constraints: { gt: 0 } }'), 'CORE_CONFIG_INVALID', 'schema.fields.0.constraints.gt'],
    ['invalid pattern', base.replace('{ name: k, type: string }', '{ name: k, type: string, constraints: { pattern: "([" } }'), 'CORE_CONFIG_INVALID', 'schema.fields.0.constraints.pattern'],
    ['invalid tz', base.replace('{ name: k, type: string }', '{ name: k, type: datetime, constraints: { tz: "Mars/Olympus" } }'), 'CORE_CONFIG_INVALID', 'schema.fields.0.constraints.tz'],
    ['primary key not a field', base.replace('[k]', '[k, z]'), 'CORE_CONFIG_INVALID', 'primary_key.1'],
    ['duplicate field', base.replace('name: x', 'name: k'), 'CORE_CONFIG_INVALID', 'schema.fields.1.name'],
    ['nested field without an object parent', base.replace('name: x', 'name: meta.x'), 'CORE_CONFIG_INVALID', 'schema.fields.1.name'],
  ];
  for (const [name, text, id, path] of cases) {
    it(`${name} → ${id}`, () => {
      const e = configErrorOf(() => parseContractYaml(text, 'bad.yaml'));
      expect(e).toBeInstanceOf(OrreryError);
      expect(e.errorId).toBe(id);
      expect(e.problems.map((p) => [p.errorId, p.path])).toContainEqual([id, path]);
      expect(e.problems.every((p) => p.file === 'bad.yaml')).toBe(true);
    });
  }

  it('the base of those cases is itself valid', () => {
    expect(parseContractYaml(base).name).toBe('t');
  });

  it('loadContract: a missing file is CORE_CONFIG_MISSING; a bad file names its path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'orrery-contract-'));
    expect(configErrorOf(() => loadContract(join(dir, 'nope.yaml'))).errorId).toBe('CORE_CONFIG_MISSING');
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, `${base}extra: 1\n`);
    const e = configErrorOf(() => loadContract(file));
    expect(e.problems[0]).toMatchObject({ file, path: 'extra', errorId: 'CORE_CONFIG_UNKNOWN' });
  });
});
