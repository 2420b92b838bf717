import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GenericRestProvider, fillTemplate } from '../../adapters/providers/generic-rest.ts';
import { SecretResolver } from '../../adapters/providers/secrets.ts';
import { FakeGenericRest, generateBars, startFakeGenericRest } from './fake-servers.ts';

const H = 3_600_000;

describe('GenericRestProvider (default contract)', () => {
  let server: FakeGenericRest;
  beforeAll(async () => {
    server = await startFakeGenericRest();
  });
  afterAll(async () => {
    await server.close();
  });
  afterEach(() => {
    server.requests.length = 0;
  });

  it('builds the default request and pages by cursor', async () => {
    const p = new GenericRestProvider({ id: 'secondary_x', baseUrl: server.url, pageSize: 100 });
    const start = Date.UTC(2024, 2, 1);
    const end = Date.UTC(2024, 2, 15);
    const bars = await p.fetchTimeSeries({ symbol: 'XAUUSD', timeframe: '1h', start: new Date(start), end: new Date(end), ingestRunId: 'g' });
    const expected = generateBars('XAU/USD', H, start, end - 1);
    expect(bars.map((b) => b.ts_utc)).toEqual(expected.map((b) => new Date(b.ts).toISOString()));
    expect(bars.map((b) => b.close)).toEqual(expected.map((b) => b.close));
    expect(bars[0]).toMatchObject({ source_id: 'secondary_x', volume: null, quality_flag: 'ok', ingest_run_id: 'g' });
    expect(server.requests[0].path).toBe('/bars');
    expect(server.requests[0].query).toEqual({ symbol: 'XAUUSD', timeframe: '1h', start: '2024-03-01T00:00:00.000Z', end: '2024-03-15T00:00:00.000Z', limit: '100' });
    expect(server.requests.length).toBe(Math.ceil(expected.length / 100));
    expect(server.requests[1].query.start).toBe(new Date(expected[99].ts + H).toISOString());
  });
});

describe('GenericRestProvider (custom template, field map, auth)', () => {
  let srv: Server;
  let url = '';
  const seen: Array<{ url: string; auth: string | undefined }> = [];
  beforeAll(async () => {
    srv = createServer((req, res) => {
      seen.push({ url: req.url ?? '', auth: req.headers['x-api-key'] as string | undefined });
      const u = new URL(req.url ?? '/', 'http://127.0.0.1');
      const from = Number(u.searchParams.get('from')) * 1000;
      const to = Number(u.searchParams.get('to')) * 1000;
      const rows = [];
      for (let t = from; t < to; t += 4 * H) rows.push({ t: t / 1000, px: { o: '1.1', h: '1.2', l: '1.0', c: String(1.1 + t / 1e15) } });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ data: { candles: rows } }));
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/api/`;
  });
  afterAll(async () => {
    srv.closeAllConnections();
    await new Promise<void>((r) => srv.close(() => r()));
  });

  it('fills placeholders, maps fields and sends the key header', async () => {
    const p = new GenericRestProvider({
      baseUrl: url,
      pathTemplate: '/v2/{source_symbol}/candles/{interval}?from={start_s}&to={end_s}&n={limit}',
      symbolMap: { EURUSD: 'EUR-USD' },
      intervalMap: { '4h': 'H4' },
      fields: { items: 'data.candles', ts: 't', open: 'px.o', high: 'px.h', low: 'px.l', close: 'px.c', volume: 'vol' },
      tsFormat: 'epoch_s',
      apiKeyRef: 'ENV:SECONDARY_KEY',
      apiKeyHeader: 'x-api-key',
      apiKeyPrefix: '',
      secrets: new SecretResolver({ env: { SECONDARY_KEY: 's3cret' } }),
    });
    const bars = await p.fetchTimeSeries({ symbol: 'EURUSD', timeframe: '4h', start: new Date('2024-03-01T00:00:00Z'), end: new Date('2024-03-02T00:00:00Z'), ingestRunId: 'g' });
    expect(seen[0].url).toBe(`/api/v2/EUR-USD/candles/H4?from=${Date.UTC(2024, 2, 1) / 1000}&to=${Date.UTC(2024, 2, 2) / 1000}&n=1000`);
    expect(seen[0].auth).toBe('s3cret');
    expect(bars).toHaveLength(6);
    expect(bars[0]).toMatchObject({ ts_utc: '2024-03-01T00:00:00.000Z', open: 1.1, high: 1.2, low: 1, volume: null });
    expect(bars[0].metadata).toMatchObject({ symbol_source: 'EUR-USD' });
  });

  it('rejects unknown placeholders', () => {
    expect(() => fillTemplate('/x/{nope}', { symbol: 'A' })).toThrow(/unknown placeholder \{nope\}/);
    expect(() => new GenericRestProvider({ baseUrl: 'http://127.0.0.1:1', pathTemplate: '/{sym}' })).toThrow(/unknown placeholder/);
  });
});
