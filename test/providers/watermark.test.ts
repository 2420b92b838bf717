import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OrreryError } from '../../core/errors.ts';
import type { CanonicalBar } from '../../core/market-data.ts';
import { FsWatermarkStore, MemoryWatermarkStore, incrementalFetch } from '../../adapters/providers/watermark.ts';
import { TwelveDataProvider } from '../../adapters/providers/twelvedata.ts';
import { SecretResolver } from '../../adapters/providers/secrets.ts';
import { FakeTwelveData, generateBars, startFakeTwelveData } from './fake-servers.ts';

const H = 3_600_000;
let dir: string;
let server: FakeTwelveData;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'orrery-wm-'));
  server = await startFakeTwelveData();
});
afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});
afterEach(() => {
  server.requests.length = 0;
});

function td() {
  return new TwelveDataProvider({ baseUrl: server.url, secrets: new SecretResolver({ env: { TWELVEDATA_API_KEY: 'test-key' } }), timeoutMs: 2000 });
}

describe('FsWatermarkStore', () => {
  it('persists, never moves backwards, and leaves no temp files', async () => {
    const file = join(dir, 'a', 'watermarks.json');
    const s = new FsWatermarkStore(file);
    expect(await s.get('XAUUSD', '1h')).toBeUndefined();
    await s.advance('XAUUSD', '1h', '2024-03-01T05:00:00Z');
    await s.advance('XAUUSD', '1h', '2024-03-01T03:00:00.000Z'); // backwards: ignored
    await s.advance('XAUUSD', '4h', '2024-03-01T04:00:00.000Z');
    expect(await s.get('XAUUSD', '1h')).toBe('2024-03-01T05:00:00.000Z');
    const again = new FsWatermarkStore(file);
    expect(await again.get('XAUUSD', '1h')).toBe('2024-03-01T05:00:00.000Z');
    expect(await again.get('XAUUSD', '4h')).toBe('2024-03-01T04:00:00.000Z');
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ version: 1, watermarks: { 'XAUUSD|1h': '2024-03-01T05:00:00.000Z', 'XAUUSD|4h': '2024-03-01T04:00:00.000Z' } });
    expect((await readdir(join(dir, 'a'))).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('serialises concurrent advances and keeps the maximum', async () => {
    const s = new FsWatermarkStore(join(dir, 'b.json'));
    const ts = Array.from({ length: 20 }, (_, i) => new Date(Date.UTC(2024, 0, 1, i)).toISOString());
    await Promise.all([...ts].reverse().map((t) => s.advance('EURUSD', '1h', t)));
    expect(await s.get('EURUSD', '1h')).toBe(ts[19]);
  });

  it('refuses a corrupt file and bad input with clear errors', async () => {
    const file = join(dir, 'c.json');
    await writeFile(file, '{not json');
    const e = await new FsWatermarkStore(file).get('XAUUSD', '1h').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OrreryError);
    expect((e as OrreryError).errorId).toBe('DATA_WATERMARK_IO');
    await expect(new MemoryWatermarkStore().advance('XAUUSD', '1h', 'yesterday')).rejects.toThrow(/not an RFC3339/);
  });
});

describe('incrementalFetch', () => {
  const req = { symbol: 'XAUUSD', timeframe: '1h', start: new Date('2024-03-01T00:00:00Z'), end: new Date('2024-03-02T00:00:00Z'), ingestRunId: 'r1' };

  it('a crash between fetch and save leaves the watermark; the rerun fetches the same bars; then only new ones', async () => {
    const store = new FsWatermarkStore(join(dir, 'inc.json'));
    const provider = td();
    let firstFetch: string[] = [];
    await expect(
      incrementalFetch(provider, store, req, async (bars) => {
        firstFetch = bars.map((b) => b.ts_utc);
        throw new Error('disk full');
      }),
    ).rejects.toThrow('disk full');
    expect(firstFetch).toHaveLength(24);
    expect(await store.get('XAUUSD', '1h')).toBeUndefined();

    // rerun: the same bars again, saved, watermark = last saved bar
    const saved: CanonicalBar[] = [];
    const r1 = await incrementalFetch(provider, new FsWatermarkStore(join(dir, 'inc.json')), req, async (bars) => {
      saved.push(...bars);
    });
    expect(saved.map((b) => b.ts_utc)).toEqual(firstFetch);
    expect(r1).toMatchObject({ previousWatermark: undefined, saved: 24, watermark: '2024-03-01T23:00:00.000Z' });
    expect(await store.get('XAUUSD', '1h')).toBe('2024-03-01T23:00:00.000Z');

    // rerun over a longer range: only the bars after the watermark are asked for and saved
    server.requests.length = 0;
    const more: CanonicalBar[] = [];
    const r2 = await incrementalFetch(provider, store, { ...req, end: new Date('2024-03-05T06:00:00Z'), ingestRunId: 'r2' }, async (bars) => {
      more.push(...bars);
    });
    expect(server.requests[0].query.start_date).toBe('2024-03-02 00:00:00');
    const expected = generateBars('XAU/USD', H, Date.UTC(2024, 2, 2), Date.UTC(2024, 2, 5, 5));
    expect(more.map((b) => b.ts_utc)).toEqual(expected.map((b) => new Date(b.ts).toISOString()));
    expect(more[0].ts_utc).toBe('2024-03-04T00:00:00.000Z'); // the weekend has no bars
    expect(r2.watermark).toBe('2024-03-05T05:00:00.000Z');

    // nothing new: nothing saved, watermark unchanged
    const r3 = await incrementalFetch(provider, store, { ...req, end: new Date('2024-03-05T06:00:00Z') }, async () => {
      throw new Error('save must not be called');
    });
    expect(r3).toMatchObject({ saved: 0, watermark: '2024-03-05T05:00:00.000Z' });
  });

  it('advances page by page: a failure on page 2 keeps page 1, the rerun resumes at page 2', async () => {
    const store = new MemoryWatermarkStore();
    const provider = td();
    const pages: string[][] = [];
    let calls = 0;
    await expect(
      incrementalFetch(provider, store, { ...req, pageLimit: 10 }, async (bars) => {
        calls++;
        if (calls === 2) throw new Error('crash on page 2');
        pages.push(bars.map((b) => b.ts_utc));
      }),
    ).rejects.toThrow('crash on page 2');
    expect(pages).toHaveLength(1);
    expect(await store.get('XAUUSD', '1h')).toBe('2024-03-01T09:00:00.000Z');
    const rest: string[] = [];
    const r = await incrementalFetch(provider, store, { ...req, pageLimit: 10 }, async (bars) => {
      rest.push(...bars.map((b) => b.ts_utc));
    });
    expect(rest[0]).toBe('2024-03-01T10:00:00.000Z');
    expect([...pages[0], ...rest]).toEqual(generateBars('XAU/USD', H, Date.UTC(2024, 2, 1), Date.UTC(2024, 2, 1, 23)).map((b) => new Date(b.ts).toISOString()));
    expect(r.pages).toBe(2);
    expect(r.watermark).toBe('2024-03-01T23:00:00.000Z');
  });
});
