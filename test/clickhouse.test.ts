/**
 * The DWH port and canonical-bars storage, run twice with the same suite: embedded chDB through
 * `@clickhouse/client` + `chdb/connection`, and `@clickhouse/client` over HTTP against a loopback
 * server that runs each query in chDB (test/support/clickhouse-http.ts).
 *
 * chDB binds one data directory per process, so the two backends run one after the other, each
 * on its own temp directory, and each closes (and drains) before the next opens.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { barsDataVersion, clickhouseBarsIO } from '../adapters/clickhouse/bars-io.ts';
import {
  BARS_TABLE, canonicalBarsText, canonicalJson, ensureBarsTable, normalizeBars, parseBarsPartition, readBarsPartition, replaceBarsPartition, stageBarsPartition,
  STAGING, releaseStagingTables, replacePartition, type BarsPartition,
} from '../adapters/clickhouse/bars-table.ts';
import { openEmbeddedDwh, openHttpDwh } from '../adapters/clickhouse/client.ts';
import { contentHash, type IOContext } from '../core/definitions/io.ts';
import type { Resources } from '../core/definitions/resources.ts';
import { requireDwh, type Dwh } from '../core/dwh.ts';
import { isOrreryError } from '../core/errors.ts';
import type { CanonicalBar } from '../core/market-data.ts';
import { startClickHouseHttpServer, type ClickHouseHttpServer } from './support/clickhouse-http.ts';

const HOUR = 3_600_000;

/** `n` hourly bars of `p` from the 1st of its month, with awkward floats, null volumes and metadata. */
function makeBars(p: BarsPartition, n: number, seed = 1): CanonicalBar[] {
  let s = seed;
  const rnd = () => ((s = (s * 16807) % 2147483647) / 2147483647);
  const start = Date.parse(`${p.month}-01T00:00:00.000Z`);
  const tricky = [0.1 + 0.2, 1e-300, 5e-324, 1.7976931348623157e308, 123456789.12345679, 2 / 3];
  return Array.from({ length: n }, (_, i) => {
    const base = 1000 + rnd() * 1000;
    const bar: CanonicalBar = {
      ts_utc: new Date(start + i * HOUR).toISOString(),
      symbol: p.symbol,
      timeframe: p.timeframe,
      open: i < tricky.length ? tricky[i] : base,
      high: base + rnd(),
      low: base - rnd(),
      close: base + rnd() - 0.5,
      volume: i % 3 === 0 ? null : rnd() * 1e6,
      quality_flag: i % 7 === 0 ? 'resampled' : 'ok',
      source_id: 'synthetic',
      ingest_run_id: `run-${seed}`,
    };
    if (i % 2 === 0) bar.metadata = { ingest_seq: i, provider_version: 'v1', note: `quote ' and "double" \\ and 日本語`, nested: { b: 2, a: [1, 2.5, null] } };
    return bar;
  });
}

async function expectError(p: Promise<unknown>, errorId: string): Promise<Error> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e, `expected ${errorId}`).toBeDefined();
  expect(isOrreryError(e) ? e.errorId : e).toBe(errorId);
  return e as Error;
}

function ioCtx(dwh: Dwh, partitionKey: string): IOContext {
  return { assetKey: 'canonical_bars', partitionKey, resources: { dwh } as unknown as Resources };
}

const counts = (dwh: Dwh, p: BarsPartition) =>
  dwh.query<{ n: string }>(
    'SELECT count() AS n FROM canonical_bars WHERE symbol = {s:String} AND timeframe = {tf:String} AND toYYYYMM(ts) = {m:UInt32}',
    { s: p.symbol, tf: p.timeframe, m: Number(p.month.replace('-', '')) },
  ).then((r) => Number(r[0].n));

/** The staging tables of canonical_bars (`canonical_bars__stage_…`) with their row counts. */
const stagingTables = (dwh: Dwh) =>
  dwh.query<{ name: string; rows: string }>(
    `SELECT name, toString(total_rows) AS rows FROM system.tables WHERE database = currentDatabase() AND startsWith(name, 'canonical_bars__stage_') ORDER BY name`,
  );

type Backend = { name: string; open(dir: string): Promise<{ dwh: Dwh; server?: ClickHouseHttpServer }> };

const backends: Backend[] = [
  { name: 'embedded chDB', open: async (dir) => ({ dwh: await openEmbeddedDwh(join(dir, 'dwh')) }) },
  {
    name: 'HTTP to a loopback ClickHouse (chDB)',
    open: async (dir) => {
      const server = await startClickHouseHttpServer({ dataDir: join(dir, 'server') });
      return { dwh: await openHttpDwh(server.url), server };
    },
  },
];

const timings: Record<string, number[]> = {};

describe.each(backends)('DWH on $name', (backend) => {
  let dir: string;
  let dwh: Dwh;
  let server: ClickHouseHttpServer | undefined;
  const xau: BarsPartition = { timeframe: '1h', symbol: 'XAUUSD', month: '2024-03' };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'orrery-ch-'));
    ({ dwh, server } = await backend.open(dir));
    await ensureBarsTable(dwh, { retentionMonths: 600 });
  });

  afterAll(async () => {
    await dwh?.close();
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('creates canonical_bars partitioned by month × symbol × timeframe, ordered, with the retention TTL', async () => {
    await ensureBarsTable(dwh, { retentionMonths: 600 }); // idempotent
    const [{ statement }] = await dwh.query<{ statement: string }>('SHOW CREATE TABLE canonical_bars');
    expect(statement).toContain('ENGINE = MergeTree');
    expect(statement).toContain('PARTITION BY (toYYYYMM(ts), symbol, timeframe)');
    expect(statement).toContain('ORDER BY (symbol, timeframe, ts)');
    expect(statement).toMatch(/TTL toDateTime\(ts\) \+ toIntervalMonth\(600\)/);
    expect(statement).toContain('ttl_only_drop_parts = 1');
    expect(statement).toContain("`ts` DateTime64(3, 'UTC')");
    expect(statement).toContain('`volume` Nullable(Float64)');
  });

  it('round-trips a partition exactly: floats, null volume, metadata JSON, ts_utc text', async () => {
    const bars = makeBars(xau, 720);
    await replaceBarsPartition(dwh, xau, [...bars].reverse());
    const back = await readBarsPartition(dwh, xau);
    expect(back).toHaveLength(720);
    expect(back).toEqual(normalizeBars(bars));
    expect(back[0].ts_utc).toBe('2024-03-01T00:00:00.000Z');
    expect(back[5].ts_utc).toBe('2024-03-01T05:00:00.000Z');
    for (let i = 0; i < 6; i++) expect(Object.is(back[i].open, bars[i].open)).toBe(true);
    expect(back[0].volume).toBeNull();
    expect(back[0].metadata).toEqual(bars[0].metadata);
    expect('metadata' in back[1]).toBe(false);
  });

  it('replacing one symbol’s month leaves other symbols, timeframes and months untouched', async () => {
    const others: BarsPartition[] = [
      { timeframe: '1h', symbol: 'XAGUSD', month: '2024-03' },
      { timeframe: '1h', symbol: 'XAUUSD', month: '2024-04' },
      { timeframe: '4h', symbol: 'XAUUSD', month: '2024-03' },
    ];
    for (const [i, p] of others.entries()) await replaceBarsPartition(dwh, p, makeBars(p, 50 + i, 10 + i));
    const before = await Promise.all(others.map((p) => readBarsPartition(dwh, p)));

    await replaceBarsPartition(dwh, xau, makeBars(xau, 100, 99));
    expect(await readBarsPartition(dwh, xau)).toEqual(normalizeBars(makeBars(xau, 100, 99)));
    expect(await Promise.all(others.map((p) => readBarsPartition(dwh, p)))).toEqual(before);
  });

  it('replaces atomically: a concurrent reader sees the old count or the new one, never in between', async () => {
    const big = makeBars(xau, 720, 3);
    const small = makeBars(xau, 500, 4);
    await replaceBarsPartition(dwh, xau, big);
    const seen = new Set<number>();
    let reads = 0;
    let stop = false;
    const reader = (async () => {
      while (!stop) { seen.add(await counts(dwh, xau)); reads++; }
    })();
    const ms: number[] = [];
    try {
      for (let i = 0; i < 6; i++) {
        const t0 = performance.now();
        await replaceBarsPartition(dwh, xau, i % 2 === 0 ? small : big);
        ms.push(performance.now() - t0);
      }
    } finally {
      stop = true;
      await reader;
    }
    timings[backend.name] = ms;
    expect([...seen].every((n) => n === 720 || n === 500), `counts seen: ${[...seen].join(', ')}`).toBe(true);
    expect(reads).toBeGreaterThan(3);
    expect(seen.has(500) && seen.has(720), 'the reader ran across the swaps').toBe(true);
    expect(await counts(dwh, xau)).toBe(720);
    // Staging tables are not piled up: each write of the same month drops the one holding its
    // old rows (one, or two when one was being checked in the background). Released, none is left.
    const used = await stagingTables(dwh);
    expect(used.length).toBeGreaterThanOrEqual(1);
    expect(used.length).toBeLessThanOrEqual(2);
    await releaseStagingTables(dwh);
    expect(await stagingTables(dwh)).toEqual([]);
  });

  it('staging tables are reused across writes, keep at most maxHeld swapped months, and never mix a month\'s old rows into its new ones', async () => {
    await releaseStagingTables(dwh);
    const maxHeld = STAGING.maxHeld;
    STAGING.maxHeld = 3;
    try {
      const ps = ['2023-01', '2023-02', '2023-03', '2023-04', '2023-05', '2023-06'].map((month): BarsPartition => ({ timeframe: '1h', symbol: 'AUDUSD', month }));
      for (const p of ps) await replaceBarsPartition(dwh, p, makeBars(p, 40));
      for (const p of ps) await replaceBarsPartition(dwh, p, makeBars(p, 30, 2)); // the same partitions again
      await replaceBarsPartition(dwh, ps[5], makeBars(ps[5], 20, 3)); // right after its own last write
      for (const p of ps.slice(0, 5)) expect(await readBarsPartition(dwh, p)).toEqual(normalizeBars(makeBars(p, 30, 2)));
      expect(await readBarsPartition(dwh, ps[5])).toEqual(normalizeBars(makeBars(ps[5], 20, 3)));
      const used = await stagingTables(dwh);
      expect(used.length).toBeGreaterThanOrEqual(1);
      expect(used.length).toBeLessThanOrEqual(2);
      // What a staging table keeps is bounded: fewer than maxHeld swapped months (≤ 40 bars each) per table.
      for (const t of await stagingTables(dwh)) expect(Number(t.rows)).toBeLessThan(3 * 40);
    } finally {
      STAGING.maxHeld = maxHeld;
    }
    await releaseStagingTables(dwh);
    expect(await stagingTables(dwh)).toEqual([]);
  });

  it('concurrent writes: the same partition never shares a staging table (one whole version wins), others are independent', async () => {
    const p: BarsPartition = { timeframe: '1h', symbol: 'NZDUSD', month: '2023-07' };
    const versions = [makeBars(p, 100, 1), makeBars(p, 200, 2), makeBars(p, 300, 3), makeBars(p, 150, 4)];
    const others = ['2023-08', '2023-09', '2023-10'].map((month): BarsPartition => ({ timeframe: '1h', symbol: 'NZDUSD', month }));
    await Promise.all([
      ...versions.map((bars) => replaceBarsPartition(dwh, p, bars)),
      ...others.map((q, i) => replaceBarsPartition(dwh, q, makeBars(q, 50 + i, 9))),
    ]);
    const back = await readBarsPartition(dwh, p);
    expect(versions.map((v) => normalizeBars(v)).some((v) => JSON.stringify(v) === JSON.stringify(back)), `stored ${back.length} bars: not exactly one version`).toBe(true);
    for (const [i, q] of others.entries()) expect(await readBarsPartition(dwh, q)).toEqual(normalizeBars(makeBars(q, 50 + i, 9)));
    expect((await stagingTables(dwh)).length).toBeLessThanOrEqual(versions.length + others.length + 1); // one per write at once
    await releaseStagingTables(dwh);
  });

  it('a staging table made before a TTL change is not used after it (here or, once checked, in another process)', async () => {
    const p: BarsPartition = { timeframe: '1h', symbol: 'USDCAD', month: '2024-03' };
    const ttlOf = async () => {
      const [r] = await dwh.query<{ ttl: string }>(
        `SELECT toString(max(delete_ttl_info_max)) AS ttl FROM system.parts WHERE database = currentDatabase() AND table = 'canonical_bars' AND active AND partition_id = (SELECT any(_partition_id) FROM canonical_bars WHERE symbol = 'USDCAD')`,
      );
      return r.ttl;
    };
    await replaceBarsPartition(dwh, p, makeBars(p, 24)); // leaves staging tables made under 600 months
    expect(await ttlOf()).toMatch(/^2074-03/);
    // This process changes the retention: its staging tables are retired at once.
    await ensureBarsTable(dwh, { retentionMonths: 300 });
    await replaceBarsPartition(dwh, p, makeBars(p, 24, 2));
    expect(await ttlOf()).toMatch(/^2049-03/);
    // Another process changes it (a plain ALTER here): seen at the next check of the definition.
    await dwh.command('ALTER TABLE canonical_bars MODIFY TTL toDateTime(ts) + INTERVAL 400 MONTH DELETE');
    const verifyMs = STAGING.verifyMs;
    STAGING.verifyMs = 0;
    try {
      await replaceBarsPartition(dwh, p, makeBars(p, 24, 3));
    } finally {
      STAGING.verifyMs = verifyMs;
    }
    expect(await ttlOf()).toMatch(/^2057-07/);
    expect(await readBarsPartition(dwh, p)).toEqual(normalizeBars(makeBars(p, 24, 3)));
    await ensureBarsTable(dwh, { retentionMonths: 600 });
    await releaseStagingTables(dwh);
  });

  it('a staging table dropped behind its back (another process\'s crash cleanup) is replaced, and the write goes through', async () => {
    const p: BarsPartition = { timeframe: '1h', symbol: 'USDCHF', month: '2024-03' };
    await replaceBarsPartition(dwh, p, makeBars(p, 24));
    await replaceBarsPartition(dwh, p, makeBars(p, 25)); // two staging tables now exist, both idle soon
    for (const t of await stagingTables(dwh)) await dwh.command(`DROP TABLE IF EXISTS ${t.name} SYNC`);
    await replaceBarsPartition(dwh, p, makeBars(p, 26, 2));
    expect(await readBarsPartition(dwh, p)).toEqual(normalizeBars(makeBars(p, 26, 2)));
    await releaseStagingTables(dwh);
  });

  it('a staged write changes nothing a reader sees until commit; discarded, nothing of it remains', async () => {
    const p: BarsPartition = { timeframe: '1h', symbol: 'AUDNZD', month: '2024-06' };
    const old = makeBars(p, 48, 1);
    await replaceBarsPartition(dwh, p, old);
    const dropped = stageBarsPartition(dwh, p, makeBars(p, 30, 2), () => 'digest');
    expect(await readBarsPartition(dwh, p)).toEqual(normalizeBars(old));
    await dropped.discard();
    expect(await readBarsPartition(dwh, p)).toEqual(normalizeBars(old));
    const kept = stageBarsPartition(dwh, p, makeBars(p, 20, 3), (text) => text.length);
    expect(await readBarsPartition(dwh, p)).toEqual(normalizeBars(old));
    expect(await kept.commit()).toBe(canonicalBarsText(makeBars(p, 20, 3)).length);
    expect(await readBarsPartition(dwh, p)).toEqual(normalizeBars(makeBars(p, 20, 3)));
    // Bars of another month are refused before anything is sent.
    expect(() => stageBarsPartition(dwh, p, [{ ...old[0], ts_utc: '2024-07-01T00:00:00.000Z' }], () => 0)).toThrow(expect.objectContaining({ errorId: 'DATA_STORAGE_ROWINVALID' }));
    await releaseStagingTables(dwh);
    expect(await stagingTables(dwh)).toEqual([]);
  });

  it('an empty replace clears the partition (and only it)', async () => {
    const p: BarsPartition = { timeframe: '1h', symbol: 'EURUSD', month: '2024-02' };
    const q: BarsPartition = { timeframe: '1h', symbol: 'GBPUSD', month: '2024-02' };
    await replaceBarsPartition(dwh, p, makeBars(p, 30));
    await replaceBarsPartition(dwh, q, makeBars(q, 30));
    await replaceBarsPartition(dwh, p, []);
    expect(await readBarsPartition(dwh, p)).toEqual([]);
    expect(await counts(dwh, q)).toBe(30);
    await replaceBarsPartition(dwh, p, []); // clearing an empty partition is fine
    expect(await counts(dwh, p)).toBe(0);
  });

  it('a failing insert leaves the previous partition intact', async () => {
    const good = makeBars(xau, 240, 5);
    await replaceBarsPartition(dwh, xau, good);
    const [row] = await dwh.query<Record<string, unknown>>('SELECT * FROM canonical_bars WHERE symbol = {s:String} LIMIT 1', { s: 'XAUUSD' });

    // Rejected by ClickHouse (a string where a Float64 goes), through the generic staging path.
    const e = await expectError(
      replacePartition(dwh, { table: BARS_TABLE, partition: "(202403, 'XAUUSD', '1h')", rows: [row, { ...row, ts: '2024-03-02 00:00:00.000', open: 'not-a-number' }] }),
      'DATA_STORAGE_INSERT',
    );
    expect(e.message).toMatch(/canonical_bars__stage_/);
    // Rows of another month smuggled past the bars checks: caught in staging before the swap.
    await expectError(
      replacePartition(dwh, { table: BARS_TABLE, partition: "(202403, 'XAUUSD', '1h')", rows: [row, { ...row, ts: '2024-04-02 00:00:00.000' }] }),
      'DATA_STORAGE_ROWINVALID',
    );
    // Refused before anything is sent: wrong month, NaN price, duplicate ts.
    const wrongMonth = { ...good[0], ts_utc: '2024-04-01T00:00:00.000Z' };
    await expectError(replaceBarsPartition(dwh, xau, [...good.slice(1), wrongMonth]), 'DATA_STORAGE_ROWINVALID');
    await expectError(replaceBarsPartition(dwh, xau, [{ ...good[0], close: Number.NaN }]), 'DATA_STORAGE_ROWINVALID');
    await expectError(replaceBarsPartition(dwh, xau, [good[0], good[0]]), 'DATA_STORAGE_ROWINVALID');

    expect(await readBarsPartition(dwh, xau)).toEqual(normalizeBars(good));
    // The failed writes dropped their staging tables; released, none is left.
    await releaseStagingTables(dwh, BARS_TABLE);
    expect(await stagingTables(dwh)).toEqual([]);
  });

  it('IOManager: write/read/uri, and the same data version whether written or adopted', async () => {
    const io = clickhouseBarsIO();
    const key = '1h|EURUSD|2024-05';
    const p = parseBarsPartition(key);
    const bars = makeBars(p, 100, 7);
    const ctx = ioCtx(dwh, key);

    const w1 = await io.write(ctx, bars);
    expect(w1.uri).toBe('clickhouse://canonical_bars/1h|EURUSD|2024-05');
    expect(io.uri(ctx)).toBe(w1.uri);
    expect(w1.dataVersion).toMatch(/^[0-9a-f]{64}$/);
    const back = await io.read(ctx);
    expect(back).toEqual(normalizeBars(bars));
    expect(w1.dataVersion).toBe(contentHash(canonicalJson(back)));

    // A container step's file: same bars, other order, other key order.
    const file = join(dir, 'step-output.json');
    const shuffled = [...bars].reverse().map((b) => Object.fromEntries(Object.entries(b).reverse()));
    await writeFile(file, JSON.stringify(shuffled));
    const w2 = await io.adopt(ctx, file);
    expect(w2).toEqual(w1);
    expect(await io.read(ctx)).toEqual(back);

    const w3 = await io.write(ctx, bars.slice(1));
    expect(w3.dataVersion).not.toBe(w1.dataVersion);
    expect(w3.dataVersion).toBe(barsDataVersion(bars.slice(1)));
    const w4 = await io.write(ctx, bars);
    expect(w4.dataVersion).toBe(w1.dataVersion);

    await writeFile(file, '{"not":"an array"}');
    await expectError(io.adopt(ctx, file), 'CORE_STEP_PROTOCOL');
    await expectError(io.write(ioCtx(dwh, '1h|EURUSD'), bars), 'CORE_PART_INVALID');
    await expectError(io.read({ ...ctx, resources: {} as Resources }), 'CORE_STORAGE_NODWH');
  });

  it('errors carry ids and say what to do', async () => {
    const e1 = await expectError(dwh.query('SELECT * FROM no_such_table'), 'DATA_STORAGE_QUERY');
    expect(e1.message).toMatch(/no_such_table/);
    expect(e1.message).toMatch(/Fix the SQL/);
    expect((e1 as unknown as { details: Record<string, unknown> }).details.clickhouseCode).toBe(60);
    await expectError(dwh.command('CREATE TABLEE oops'), 'DATA_STORAGE_QUERY');
    await expectError(dwh.insert('canonical_bars', [{ ts: 'yesterday-ish', symbol: 'X' }]), 'DATA_STORAGE_INSERT');
    await expectError(dwh.insert('bad name; DROP', [{}]), 'DATA_STORAGE_QUERY');
    // Parameters are bound, not spliced.
    const [r] = await dwh.query<{ s: string; n: number | null }>('SELECT {s:String} AS s, {n:Nullable(Float64)} AS n', { s: "it's a \\ \t\n test", n: null });
    expect(r).toEqual({ s: "it's a \\ \t\n test", n: null });
  });

  it('a retention change updates the TTL, and expired months go whole', async () => {
    const old: BarsPartition = { timeframe: '1h', symbol: 'USDJPY', month: '2020-01' };
    await replaceBarsPartition(dwh, old, makeBars(old, 48));
    expect(await counts(dwh, old)).toBe(48);
    await ensureBarsTable(dwh, { retentionMonths: 36, graceDays: 3 });
    const [{ statement }] = await dwh.query<{ statement: string }>('SHOW CREATE TABLE canonical_bars');
    expect(statement).toMatch(/TTL \(?toDateTime\(ts\) \+ toIntervalMonth\(36\)\)? \+ toIntervalDay\(3\)/);
    await dwh.command('OPTIMIZE TABLE canonical_bars FINAL');
    expect(await counts(dwh, old)).toBe(0);
  });

  it('really went through the backend under test', async () => {
    if (server) {
      expect(server.log.some((l) => /REPLACE PARTITION/.test(l.sql))).toBe(true);
      expect(server.log.some((l) => /^INSERT INTO canonical_bars__stage_\w+ (SETTINGS [^\n]* )?FORMAT JSONEachRow\n\{/.test(l.sql))).toBe(true);
      expect(server.log.some((l) => Object.keys(l.params).length > 0)).toBe(true);
      // The loopback server itself, driven by the plain client: per-query settings, errors, ping.
      const raw = createClient({ url: server.url, log: { level: ClickHouseLogLevel.OFF } });
      try {
        const setting = "SELECT toString(getSetting('max_block_size')) AS v";
        const withSetting = await raw.query({ query: setting, format: 'JSONEachRow', clickhouse_settings: { max_block_size: '1234' } });
        expect(await withSetting.json()).toEqual([{ v: '1234' }]);
        const without = await raw.query({ query: setting, format: 'JSONEachRow' });
        expect(await without.json()).not.toEqual([{ v: '1234' }]); // settings hold for one query only
        const err = await raw.command({ query: 'SELECT throwIf(1)' }).then(() => undefined, (x: unknown) => x);
        expect(err).toMatchObject({ code: '395', type: 'FUNCTION_THROW_IF_VALUE_IS_NON_ZERO' });
        expect((await raw.ping()).success).toBe(true);
      } finally {
        await raw.close();
      }
    } else {
      // Embedded: chDB binds one data directory per process; another one is refused with an id.
      await expectError(openEmbeddedDwh(join(dir, 'elsewhere')), 'CORE_STORAGE_CONNFAIL');
      const again = await openEmbeddedDwh(join(dir, 'dwh')); // the same directory is fine
      expect(await again.query('SELECT 1 AS ok')).toEqual([{ ok: 1 }]);
      await again.close();
    }
  });

  it('a closed DWH says so', async () => {
    const other = backend.name.startsWith('embedded') ? await openEmbeddedDwh(join(dir, 'dwh')) : await openHttpDwh(server!.url);
    await other.close();
    await other.close(); // idempotent
    await expectError(other.query('SELECT 1'), 'CORE_STORAGE_CONNFAIL');
  });
});

describe('DWH connection failures', () => {
  it('an unreachable server is CORE_STORAGE_CONNFAIL with a hint', async () => {
    const e = await expectError(openHttpDwh('http://127.0.0.1:1'), 'CORE_STORAGE_CONNFAIL');
    expect(e.message).toMatch(/CLICKHOUSE_URL/);
    await expectError(openHttpDwh('not a url'), 'CORE_STORAGE_CONNFAIL');
  });

  it('a step without a dwh resource gets CORE_STORAGE_NODWH', () => {
    expect(() => requireDwh({})).toThrow(/no `dwh` resource/);
  });

  it('reports replace timings', () => {
    for (const [name, ms] of Object.entries(timings)) {
      const sorted = [...ms].sort((a, b) => a - b);
      console.log(`[clickhouse] ${name}: replace of a 500/720-row partition under a polling reader, ms: median ${sorted[Math.floor(sorted.length / 2)].toFixed(1)}, max ${sorted[sorted.length - 1].toFixed(1)}`);
    }
  });
});
