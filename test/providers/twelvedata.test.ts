import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OrreryError } from '../../core/errors.ts';
import {
  TWELVEDATA_MAX_OUTPUTSIZE,
  TwelveDataProvider,
  buildTimeSeriesUrl,
  formatTwelveDataDate,
  parseTimeSeriesResponse,
  parseTwelveDataDatetime,
  planWindows,
  toTwelveDataInterval,
  toTwelveDataSymbol,
} from '../../adapters/providers/twelvedata.ts';
import { SecretResolver, parseSecretRef } from '../../adapters/providers/secrets.ts';
import { FakeTwelveData, generateBars, startFakeTwelveData, ManualClock } from './fake-servers.ts';
import { caught } from '../support/rejection.ts';

const H = 3_600_000;
const env = { TWELVEDATA_API_KEY: 'test-key' };

function provider(server: FakeTwelveData, extra: Partial<ConstructorParameters<typeof TwelveDataProvider>[0]> = {}) {
  return new TwelveDataProvider({ baseUrl: server.url, secrets: new SecretResolver({ env }), timeoutMs: 2000, ...extra });
}


describe('TwelveData mapping helpers', () => {
  it('maps symbols, intervals and dates', () => {
    expect(toTwelveDataSymbol('XAUUSD')).toBe('XAU/USD');
    expect(toTwelveDataSymbol('EURUSD')).toBe('EUR/USD');
    expect(toTwelveDataSymbol('SPX500', { SPX500: 'SPX' })).toBe('SPX');
    expect(toTwelveDataSymbol('AAPL')).toBe('AAPL');
    expect(toTwelveDataInterval('15m')).toBe('15min');
    expect(toTwelveDataInterval('1h')).toBe('1h');
    expect(toTwelveDataInterval('4h')).toBe('4h');
    expect(toTwelveDataInterval('daily')).toBe('1day');
    expect(() => toTwelveDataInterval('5m')).toThrow(/Unknown timeframe/);
    expect(formatTwelveDataDate(Date.UTC(2024, 2, 1, 5))).toBe('2024-03-01 05:00:00');
    expect(parseTwelveDataDatetime('2024-03-01 05:00:00')).toBe(Date.UTC(2024, 2, 1, 5));
    expect(parseTwelveDataDatetime('2024-03-01')).toBe(Date.UTC(2024, 2, 1));
    expect(parseTwelveDataDatetime('2024-02-30 00:00:00')).toBeNaN();
    expect(parseTwelveDataDatetime('03/01/2024')).toBeNaN();
  });

  it('plans windows of at most 5000 slots that tile the range', () => {
    const start = Date.UTC(2023, 0, 1, 0, 30);
    const end = Date.UTC(2024, 2, 1);
    const w = planWindows(start, end, H, 5000);
    expect(w[0].start).toBe(Date.UTC(2023, 0, 1, 1));
    for (let i = 0; i < w.length; i++) {
      expect(w[i].slots).toBeLessThanOrEqual(5000);
      if (i > 0) expect(w[i].start).toBe(w[i - 1].end);
    }
    expect(w[w.length - 1].end).toBe(end);
  });

  it('builds the exact /time_series query', () => {
    const url = buildTimeSeriesUrl('https://api.twelvedata.com', { symbol: 'XAU/USD', interval: '1h', startMs: Date.UTC(2024, 2, 1), endMs: Date.UTC(2024, 2, 2), outputsize: 24, apikey: 'k' });
    expect(url.origin + url.pathname).toBe('https://api.twelvedata.com/time_series');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      symbol: 'XAU/USD',
      interval: '1h',
      start_date: '2024-03-01 00:00:00',
      end_date: '2024-03-01 23:59:59',
      timezone: 'UTC',
      outputsize: '24',
      order: 'ASC',
      apikey: 'k',
    });
  });

  it('parses the documented response format and error bodies', () => {
    const ctx = { sourceId: 'twelvedata', symbol: 'XAUUSD', symbolSource: 'XAU/USD', timeframe: '1h', ingestRunId: 'run-1' };
    const bars = parseTimeSeriesResponse(
      {
        meta: { symbol: 'XAU/USD', interval: '1h', currency_base: 'Gold Spot', currency_quote: 'US Dollar', type: 'Physical Currency' },
        values: [
          { datetime: '2024-03-01 06:00:00', open: '2051.0', high: '2053.5', low: '2050.2', close: '2052.9' },
          { datetime: '2024-03-01 05:00:00', open: '2050.1', high: '2051.7', low: '2049.3', close: '2051.0', volume: '1234' },
        ],
        status: 'ok',
      },
      ctx,
    );
    expect(bars).toEqual([
      expect.objectContaining({ ts_utc: '2024-03-01T05:00:00.000Z', open: 2050.1, high: 2051.7, low: 2049.3, close: 2051, volume: 1234, quality_flag: 'ok', source_id: 'twelvedata', ingest_run_id: 'run-1' }),
      expect.objectContaining({ ts_utc: '2024-03-01T06:00:00.000Z', close: 2052.9, volume: null }),
    ]);
    expect(bars[0].metadata).toMatchObject({ symbol_source: 'XAU/USD' });
    expect(parseTimeSeriesResponse({ code: 400, message: 'No data is available on the specified dates. Try setting different start/end dates.', status: 'error' }, ctx)).toEqual([]);
    const e429 = (() => {
      try {
        parseTimeSeriesResponse({ code: 429, message: 'You have run out of API credits for the current minute.', status: 'error' }, ctx);
      } catch (e) {
        return e as OrreryError & { retryable: boolean };
      }
    })();
    expect(e429?.errorId).toBe('DATA_API_RATELIMIT');
    expect(e429?.retryable).toBe(true);
    expect(() => parseTimeSeriesResponse({ code: 401, message: 'bad key', status: 'error' }, ctx)).toThrow(expect.objectContaining({ errorId: 'DATA_API_CLIENT', retryable: false }));
    expect(() => parseTimeSeriesResponse({ status: 'ok', values: [{ datetime: '2024-03-01 05:00:00', open: 'x', high: '1', low: '1', close: '1' }] }, ctx)).toThrow(
      expect.objectContaining({ errorId: 'DATA_PAYLOAD_INVALID' }),
    );
    expect(() => parseTimeSeriesResponse({ status: 'ok' }, ctx)).toThrow(expect.objectContaining({ errorId: 'DATA_PAYLOAD_INVALID' }));
    expect(() => parseTimeSeriesResponse({ meta: { symbol: 'XAG/USD' }, values: [], status: 'ok' }, ctx)).toThrow(/XAG\/USD/);
  });
});

describe('TwelveDataProvider against a fake TwelveData server', () => {
  let server: FakeTwelveData;
  beforeAll(async () => {
    server = await startFakeTwelveData('test-key', [
      // a duplicate row for 2024-03-04 10:00 arriving later with another close: latest wins
      { datetime: '2024-03-04 10:00:00', open: '2000.00000', high: '2100.00000', low: '1900.00000', close: '2099.00000' },
    ]);
  });
  afterAll(async () => {
    await server.close();
  });
  afterEach(() => {
    server.requests.length = 0;
    server.faults.length = 0;
    server.persistentFault = null;
  });

  it('sends the exact query and returns canonical bars', async () => {
    const p = provider(server);
    const bars = await p.fetchTimeSeries({ symbol: 'XAUUSD', timeframe: '1h', start: new Date('2024-03-01T00:00:00Z'), end: new Date('2024-03-02T00:00:00Z'), ingestRunId: 'run-7' });
    expect(server.requests).toHaveLength(1);
    const r = server.requests[0];
    expect(r.path).toBe('/time_series');
    expect(r.query).toEqual({
      symbol: 'XAU/USD',
      interval: '1h',
      start_date: '2024-03-01 00:00:00',
      end_date: '2024-03-01 23:59:59',
      timezone: 'UTC',
      outputsize: '24',
      order: 'ASC',
      apikey: 'test-key',
    });
    expect(bars).toHaveLength(24);
    const expected = generateBars('XAU/USD', H, Date.UTC(2024, 2, 1), Date.UTC(2024, 2, 1, 23));
    bars.forEach((b, i) => {
      expect(b.ts_utc).toBe(new Date(expected[i].ts).toISOString());
      expect(b.ts_utc).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:00:00\.000Z$/);
      expect(b).toMatchObject({ symbol: 'XAUUSD', timeframe: '1h', close: expected[i].close, open: expected[i].open, volume: null, source_id: 'twelvedata', ingest_run_id: 'run-7', quality_flag: 'ok' });
      expect(b.metadata).toMatchObject({ symbol_source: 'XAU/USD' });
    });
  });

  it('maps 15m and 4h and daily intervals in the request', async () => {
    const p = provider(server);
    const start = new Date('2024-03-04T00:00:00Z');
    await p.fetchTimeSeries({ symbol: 'EURUSD', timeframe: '15m', start, end: new Date('2024-03-04T02:00:00Z'), ingestRunId: 'r' });
    await p.fetchTimeSeries({ symbol: 'EURUSD', timeframe: '4h', start, end: new Date('2024-03-05T00:00:00Z'), ingestRunId: 'r' });
    const daily = await p.fetchTimeSeries({ symbol: 'EURUSD', timeframe: 'daily', start, end: new Date('2024-03-09T00:00:00Z'), ingestRunId: 'r' });
    expect(server.requests.map((r) => [r.query.symbol, r.query.interval, r.query.outputsize])).toEqual([
      ['EUR/USD', '15min', '8'],
      ['EUR/USD', '4h', '6'],
      ['EUR/USD', '1day', '5'],
    ]);
    expect(daily.map((b) => b.ts_utc.slice(0, 10))).toEqual(['2024-03-04', '2024-03-05', '2024-03-06', '2024-03-07', '2024-03-08']);
  });

  it('pages a range of more than 5000 bars: every bar exactly once, in order', async () => {
    const p = provider(server);
    const start = Date.UTC(2023, 0, 2, 0, 30); // not aligned: the first bar is 01:00
    const end = Date.UTC(2024, 2, 1);
    const bars = await p.fetchTimeSeries({ symbol: 'XAUUSD', timeframe: '1h', start: new Date(start), end: new Date(end), ingestRunId: 'r' });
    const expected = generateBars('XAU/USD', H, start, end - 1);
    expect(expected.length).toBeGreaterThan(5000);
    expect(bars.map((b) => b.ts_utc)).toEqual(expected.map((b) => new Date(b.ts).toISOString()));
    expect(bars.map((b) => b.close)).toEqual(expected.map((b) => b.close));
    expect(server.requests.length).toBe(Math.ceil((end - Date.UTC(2023, 0, 2, 1)) / (5000 * H)));
    for (const r of server.requests) expect(Number(r.query.outputsize)).toBeLessThanOrEqual(TWELVEDATA_MAX_OUTPUTSIZE);
    // windows tile the range without overlap
    for (let i = 1; i < server.requests.length; i++) {
      const prevEnd = Date.parse(server.requests[i - 1].query.end_date.replace(' ', 'T') + 'Z') + 1000;
      expect(Date.parse(server.requests[i].query.start_date.replace(' ', 'T') + 'Z')).toBe(prevEnd);
    }
  });

  it('pages 15m bars and honours limit (the earliest bars)', async () => {
    const p = provider(server);
    const start = Date.UTC(2024, 0, 1);
    const end = Date.UTC(2024, 5, 1);
    const all = generateBars('XAU/USD', 900_000, start, end - 1);
    const limited = await p.fetchTimeSeries({ symbol: 'XAUUSD', timeframe: '15m', start: new Date(start), end: new Date(end), limit: 7000, ingestRunId: 'r' });
    expect(limited.map((b) => b.ts_utc)).toEqual(all.slice(0, 7000).map((b) => new Date(b.ts).toISOString()));
    server.requests.length = 0;
    const full = await p.fetchTimeSeries({ symbol: 'XAUUSD', timeframe: '15m', start: new Date(start), end: new Date(end), ingestRunId: 'r' });
    expect(full.length).toBe(all.length);
    expect(new Set(full.map((b) => b.ts_utc)).size).toBe(full.length);
    expect(server.requests.length).toBe(Math.ceil((end - start) / (5000 * 900_000)));
  });

  it('keeps the later of two rows with the same datetime (latest wins)', async () => {
    const p = provider(server);
    const bars = await p.fetchTimeSeries({ symbol: 'XAUUSD', timeframe: '1h', start: new Date('2024-03-04T09:00:00Z'), end: new Date('2024-03-04T12:00:00Z'), ingestRunId: 'r' });
    expect(bars.map((b) => b.ts_utc)).toEqual(['2024-03-04T09:00:00.000Z', '2024-03-04T10:00:00.000Z', '2024-03-04T11:00:00.000Z']);
    expect(bars[1].close).toBe(2099);
  });

  it('returns [] for a window without data (weekend) and only closed bars with a clock', async () => {
    const p = provider(server);
    expect(await p.fetchTimeSeries({ symbol: 'XAUUSD', timeframe: '1h', start: new Date('2024-03-02T00:00:00Z'), end: new Date('2024-03-04T00:00:00Z'), ingestRunId: 'r' })).toEqual([]);
    const clock = new ManualClock(Date.parse('2024-03-01T05:30:00Z'));
    const live = provider(server, { clock });
    const bars = await live.fetchTimeSeries({ symbol: 'XAUUSD', timeframe: '1h', start: new Date('2024-03-01T00:00:00Z'), end: new Date('2024-03-02T00:00:00Z'), ingestRunId: 'r' });
    expect(bars.map((b) => b.ts_utc.slice(11, 13))).toEqual(['00', '01', '02', '03', '04']);
  });

  it('classifies HTTP failures and never puts the key in messages', async () => {
    const p = provider(server);
    const req = { symbol: 'XAUUSD', timeframe: '1h', start: new Date('2024-03-01T00:00:00Z'), end: new Date('2024-03-01T03:00:00Z'), ingestRunId: 'r' };
    server.faults.push({ kind: 'status', status: 500 });
    const e500 = await caught(p.fetchTimeSeries(req));
    expect(e500.errorId).toBe('DATA_API_SERVER');
    expect(e500.message).not.toContain('test-key');
    expect(JSON.stringify(e500.details)).toContain('apikey=***');
    server.faults.push({ kind: 'status', status: 429, retryAfter: '3' });
    const e429 = (await caught(p.fetchTimeSeries(req))) as OrreryError & { retryAfterMs?: number };
    expect(e429.errorId).toBe('DATA_API_RATELIMIT');
    expect(e429.retryAfterMs).toBe(3000);
    server.faults.push({ kind: 'malformed' });
    expect((await caught(p.fetchTimeSeries(req))).errorId).toBe('DATA_PAYLOAD_INVALID');
    server.faults.push({ kind: 'hold' });
    expect((await caught(provider(server, { timeoutMs: 150 }).fetchTimeSeries(req))).errorId).toBe('DATA_API_TIMEOUT');
    server.faults.push({ kind: 'error-body', code: 400, message: '**symbol** not found' });
    expect((await caught(p.fetchTimeSeries(req))).errorId).toBe('DATA_API_CLIENT');
    const wrongKey = new TwelveDataProvider({ baseUrl: server.url, secrets: new SecretResolver({ env: { TWELVEDATA_API_KEY: 'nope' } }) });
    const e401 = await caught(wrongKey.fetchTimeSeries(req));
    expect(e401.errorId).toBe('DATA_API_CLIENT');
    expect(e401.message).not.toContain('nope');
  });

  it('resolves the API key from ENV:/VAULT: references only', async () => {
    const req = { symbol: 'XAUUSD', timeframe: '1h', start: new Date('2024-03-01T00:00:00Z'), end: new Date('2024-03-01T03:00:00Z'), ingestRunId: 'r' };
    const missing = new TwelveDataProvider({ baseUrl: server.url, secrets: new SecretResolver({ env: {} }) });
    const e1 = await caught(missing.fetchTimeSeries(req));
    expect(e1.errorId).toBe('DATA_SECRET_UNRESOLVED');
    expect(e1.message).toContain('TWELVEDATA_API_KEY');
    const vault = new TwelveDataProvider({ baseUrl: server.url, apiKeyRef: 'VAULT:secret/twelvedata', secrets: new SecretResolver({ env }) });
    const e2 = await caught(vault.fetchTimeSeries(req));
    expect(e2.errorId).toBe('DATA_SECRET_UNRESOLVED');
    expect(e2.message).toMatch(/Vault is not reachable/);
    const plain = new TwelveDataProvider({ baseUrl: server.url, apiKeyRef: 'abcdef123456', secrets: new SecretResolver({ env }) });
    const e3 = await caught(plain.fetchTimeSeries(req));
    expect(e3.errorId).toBe('DATA_SECRET_UNRESOLVED');
    expect(e3.message).not.toContain('abcdef');
    expect(server.requests).toHaveLength(0);
    const viaVault = new TwelveDataProvider({ baseUrl: server.url, apiKeyRef: 'VAULT:secret/twelvedata', secrets: new SecretResolver({ vault: { read: async (path) => (path === 'secret/twelvedata' ? 'test-key' : '') } }) });
    expect(await viaVault.fetchTimeSeries(req)).toHaveLength(3);
    expect(parseSecretRef('ENV:TWELVEDATA_API_KEY')).toEqual({ scheme: 'ENV', name: 'TWELVEDATA_API_KEY' });
  });

  it('reports health through /api_usage', async () => {
    expect((await provider(server).healthCheck()).status).toBe('ok');
    server.persistentFault = { kind: 'status', status: 503 };
    expect((await provider(server).healthCheck()).status).toBe('down');
  });
});
