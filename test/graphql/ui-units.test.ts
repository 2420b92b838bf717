/** The lineage UI's pure pieces (no browser): health strip, virtual list and cursor paging, series, metadata, SSE, routes, form, bundle. */
import { describe, expect, it } from 'vitest';
import { backfillRequest } from '../../graphql/ui/src/forms.ts';
import { describeHealth, healthStrip, segmentCounts } from '../../graphql/ui/src/health.ts';
import { structureHash } from '../../graphql/ui/src/layout-hash.ts';
import { formatValue, metadataSections } from '../../graphql/ui/src/metadata.ts';
import { href, parseRoute, takeToken } from '../../graphql/ui/src/route.ts';
import { downsample, findSeries, linePath } from '../../graphql/ui/src/series.ts';
import { SseParser } from '../../graphql/ui/src/sse.ts';
import { CursorPager, MAX_SCROLL_PX, visibleWindow, type Page } from '../../graphql/ui/src/virtual.ts';
import { uiBundle } from '../../graphql/ui/serve.ts';

const stats = (o: Partial<Record<'total' | 'materialized' | 'failed' | 'missing' | 'stale' | 'quarantined', number>>) =>
  ({ total: 0, materialized: 0, failed: 0, missing: 0, stale: 0, quarantined: 0, ...o });

describe('health strip', () => {
  it('splits the width proportionally, carving stale out of materialized, and sums exactly to the width', () => {
    const segs = healthStrip(stats({ total: 100, materialized: 60, stale: 10, failed: 20, missing: 20 }), 200);
    expect(segs.map((s) => [s.kind, s.count, s.x, s.width])).toEqual([
      ['fresh', 50, 0, 99],
      ['stale', 10, 99, 21],
      ['failed', 20, 120, 40],
      ['missing', 20, 160, 40],
    ]);
    // Largest remainders: 1 px of minimum each, the rest 196 px shared 50:10:20:20.
    expect(segs.reduce((a, s) => a + s.width, 0)).toBe(200);
  });

  it('keeps one failed partition among a million visible, and draws nothing for no partitions', () => {
    const segs = healthStrip(stats({ total: 1_000_000, materialized: 999_999, failed: 1 }), 196);
    expect(segs.find((s) => s.kind === 'failed')?.width).toBe(1);
    expect(segs.reduce((a, s) => a + s.width, 0)).toBe(196);
    expect(healthStrip(stats({}), 196)).toEqual([]);
  });

  it('never counts more stale than materialized, and says it in words', () => {
    expect(segmentCounts(stats({ materialized: 3, stale: 5, missing: 2 }))).toEqual({ fresh: 0, stale: 3, failed: 0, quarantined: 0, missing: 2 });
    expect(describeHealth(stats({ total: 12, materialized: 3, missing: 9 }))).toBe('12 partitions: 3 materialized, 9 missing');
    expect(describeHealth(stats({ total: 1_200_000, materialized: 1_000_000, stale: 1, quarantined: 200_000 }))).toBe('1,200,000 partitions: 999,999 materialized, 1 stale, 200,000 quarantined');
  });
});

describe('virtual list windowing', () => {
  it('renders the visible rows plus overscan, positioned where they belong', () => {
    const w = visibleWindow({ scrollTop: 28 * 100 + 5, viewportHeight: 280, rowHeight: 28, total: 1000, overscan: 4 });
    expect(w).toEqual({ spacerHeight: 28_000, start: 96, end: 115, top: 96 * 28, firstVisible: 100, lastVisible: 110 });
    expect(visibleWindow({ scrollTop: 0, viewportHeight: 280, rowHeight: 28, total: 0 })).toEqual({ spacerHeight: 0, start: 0, end: 0, top: 0, firstVisible: 0, lastVisible: -1 });
    // Fewer rows than fit: all of them.
    expect(visibleWindow({ scrollTop: 0, viewportHeight: 280, rowHeight: 28, total: 3 })).toMatchObject({ start: 0, end: 3, firstVisible: 0, lastVisible: 2 });
  });

  it('caps the spacer for a million rows and still reaches the first and the last row', () => {
    const base = { viewportHeight: 280, rowHeight: 28, total: 1_000_000, overscan: 0 };
    const top = visibleWindow({ ...base, scrollTop: 0 });
    expect(top.spacerHeight).toBe(MAX_SCROLL_PX);
    expect([top.start, top.top]).toEqual([0, 0]);
    const bottom = visibleWindow({ ...base, scrollTop: MAX_SCROLL_PX - 280 });
    expect(bottom.end).toBe(1_000_000);
    expect([bottom.firstVisible, bottom.lastVisible]).toEqual([999_990, 999_999]);
    // The last row's bottom edge meets the viewport's bottom edge.
    expect(bottom.top + (1_000_000 - bottom.start) * 28).toBeCloseTo(MAX_SCROLL_PX, 6);
    const middle = visibleWindow({ ...base, scrollTop: (MAX_SCROLL_PX - 280) / 2 });
    expect(middle.start).toBeGreaterThan(499_990);
    expect(middle.start).toBeLessThan(500_000);
    // Rendered rows stay within the viewport's reach of the scroll position.
    expect(Math.abs(middle.top - (MAX_SCROLL_PX - 280) / 2)).toBeLessThan(28);
  });
});

/** A cursor connection over n rows; its cursors are opaque strings that only it can read. */
function fakeConnection(n: number) {
  const calls: Array<string | null> = [];
  const fetch = async (after: string | null, first: number): Promise<Page<number>> => {
    calls.push(after);
    const start = after === null ? 0 : Number(Buffer.from(after, 'base64url').toString()) + 1;
    const rows = Array.from({ length: Math.max(0, Math.min(first, n - start)) }, (_, i) => start + i);
    const end = rows.at(-1);
    return { rows, endCursor: end === undefined ? null : Buffer.from(String(end)).toString('base64url'), hasNextPage: start + rows.length < n };
  };
  return { fetch, calls };
}

describe('cursor pager', () => {
  it('walks the cursors to a far row once, keeps memory bounded, and refetches an evicted page directly', async () => {
    const conn = fakeConnection(1_000_000);
    const pager = new CursorPager(conn.fetch, 200, 8);
    await pager.ensure(0, 30);
    expect(pager.fetches).toBe(1);
    expect(pager.row(199)).toBe(199);
    expect(pager.row(200)).toBeUndefined();
    await pager.ensure(10_000, 10_400);
    expect(pager.fetches).toBe(52);
    expect(pager.row(10_007)).toBe(10_007);
    expect(pager.row(10_399)).toBe(10_399);
    expect(pager.loadedPages().length).toBeLessThanOrEqual(8);
    // Page 3 was evicted, but its cursor is known: one fetch, no walk.
    expect(pager.row(600)).toBeUndefined();
    expect(pager.settled(600)).toBe(false);
    await pager.ensure(600, 610);
    expect(pager.fetches).toBe(53);
    expect(conn.calls.at(-1)).toBe(Buffer.from(String(599)).toString('base64url'));
    expect(pager.row(600)).toBe(600);
  });

  it('reaches the end of a million rows, knows where it ends, and never fetches a page twice for concurrent asks', async () => {
    const conn = fakeConnection(1_000_000);
    const pager = new CursorPager(conn.fetch, 200, 4);
    await Promise.all([pager.ensure(999_990, 1_000_000), pager.ensure(999_990, 1_000_000), pager.ensure(2_000, 2_030)]);
    expect(pager.fetches).toBe(5000);
    expect(new Set(conn.calls).size).toBe(5000);
    expect(pager.row(999_999)).toBe(999_999);
    expect(pager.exhausted).toBe(true);
    expect(pager.endRow).toBe(1_000_000);
    // Asking beyond the end fetches nothing more.
    await pager.ensure(1_000_000, 1_000_100);
    expect(pager.fetches).toBe(5000);
  });

  it('numbers rows by the page sizes actually returned: short and empty pages (a bounded server scan) leave no holes', async () => {
    // 1000 rows served in pages of 200, 37, 0, 0, 200, 5, … (the sizes cycle), each with hasNextPage until the end.
    const sizes = [200, 37, 0, 0, 200, 5];
    const calls: Array<string | null> = [];
    let n = 0;
    const fetch = async (after: string | null): Promise<Page<number>> => {
      calls.push(after);
      const start = after === null ? 0 : Number(after.split(':')[0]);
      const size = Math.min(sizes[n++ % sizes.length], 1000 - start);
      const rows = Array.from({ length: size }, (_, i) => start + i);
      // Like the server's scan: the cursor moves even when nothing matched.
      return { rows, endCursor: `${start + size}:${n}`, hasNextPage: start + size < 1000 };
    };
    const pager = new CursorPager(fetch, 200);
    await pager.ensure(0, 1000);
    for (const i of [0, 199, 200, 236, 237, 436, 437, 441, 442, 999]) expect(pager.row(i)).toBe(i);
    expect(pager.endRow).toBe(1000);
    expect(pager.knownRows).toBe(1000);
  });

  it('stops at a shorter list than announced, and at a server that stops moving', async () => {
    const conn = fakeConnection(450);
    const pager = new CursorPager(conn.fetch, 200);
    await pager.ensure(0, 2000);
    expect(pager.endRow).toBe(450);
    expect(pager.fetches).toBe(3);
    const stuck = new CursorPager<number>(async () => ({ rows: [], endCursor: null, hasNextPage: true }), 200);
    await stuck.ensure(0, 10);
    expect(stuck.exhausted).toBe(true);
    expect(stuck.fetches).toBe(1);
  });
});

describe('series in metadata', () => {
  const curve = Array.from({ length: 5 }, (_, i) => ({ date: `2024-01-0${i + 1}`, equity: 100 + i }));

  it('finds an equity curve of {date, equity} objects anywhere in the metadata, with its dates', () => {
    const s = findSeries({ sharpe: 1.2, backtest: { daily_equity: curve }, trades: [{ pnl: 1 }, { pnl: 2 }, { pnl: 3 }, { pnl: 4 }, { pnl: 5 }, { pnl: 6 }] });
    expect(s?.kind).toBe('equity');
    expect(s?.path).toBe('backtest.daily_equity');
    expect(s?.points.map((p) => p.y)).toEqual([100, 101, 102, 103, 104]);
    expect(s?.points[0]).toMatchObject({ label: '2024-01-01', t: Date.parse('2024-01-01') });
  });

  it('takes plain numbers under an equity-like key, epoch seconds as times, and falls back to any numeric series', () => {
    expect(findSeries({ equity_curve: [1, 2, 3] })).toMatchObject({ kind: 'equity', path: 'equity_curve', points: [{ y: 1 }, { y: 2 }, { y: 3 }] });
    expect(findSeries({ nav: [{ ts: 1_700_000_000, value: 5 }, { ts: 1_700_086_400, value: 6 }] })?.points[1]).toMatchObject({ t: 1_700_086_400_000, y: 6 });
    expect(findSeries({ losses: [0.5, 0.4, 0.3], rows: 5 })).toMatchObject({ kind: 'numeric', path: 'losses' });
    expect(findSeries({ rows: 720, dq: { missing_rate: 0 }, reasons: ['a', 'b'] })).toBeUndefined();
    expect(findSeries(null)).toBeUndefined();
    expect(findSeries({ equity_curve: [1] })).toBeUndefined();
  });

  it('downsamples keeping the extremes and the last point, and scales the line into the box', () => {
    const pts = Array.from({ length: 10_000 }, (_, i) => ({ y: i === 4321 ? 1e6 : i === 7777 ? -1e6 : Math.sin(i / 100) }));
    const d = downsample(pts, 600);
    expect(d.length).toBeLessThanOrEqual(601);
    expect(d.some((p) => p.y === 1e6)).toBe(true);
    expect(d.some((p) => p.y === -1e6)).toBe(true);
    expect(d.at(-1)).toBe(pts.at(-1));
    expect(linePath([{ y: 0 }, { y: 10 }, { y: 5 }], 100, 50)).toEqual({ d: 'M0,50L50,0L100,25', min: 0, max: 10 });
  });
});

describe('metadata for people', () => {
  it('groups backtest KPIs and model metrics, shows fractions as percentages, nested objects as sections and record arrays as tables', () => {
    const sections = metadataSections({
      sharpe: 1.3127, max_dd: 0.0721, ann_return: 0.114, trades: 48, ai1_oos_auc: 0.61234, rows: 720,
      dq: { missing_rate: 0.0125, per_rule: { gaps: 2 } }, equity_curve: [{ date: '2024-01-01', equity: 1 }],
      stress: [{ scenario: 'cost x2', sharpe: 0.9 }],
    }, { skip: 'equity_curve' });
    expect(sections.map((s) => s.title)).toEqual(['Backtest KPIs', 'Model metrics', 'DQ report', 'Details']);
    expect(sections[0].rows).toEqual([
      { key: 'sharpe', value: '1.313' }, { key: 'max_dd', value: '7.21 %' }, { key: 'ann_return', value: '11.40 %' }, { key: 'trades', value: '48' },
    ]);
    expect(sections[1].rows).toEqual([{ key: 'ai1_oos_auc', value: '0.6123' }]);
    expect(sections[2].rows).toEqual([{ key: 'missing_rate', value: '1.25 %' }, { key: 'per_rule.gaps', value: '2' }]);
    expect(sections[3].rows).toEqual([{ key: 'rows', value: '720' }]);
    expect(sections[3].tables).toEqual([{ key: 'stress', table: { columns: ['scenario', 'sharpe'], rows: [['cost x2', '0.9']], more: 0 } }]);
    expect(formatValue('sharpe_ci95', [0.81, 1.92])).toBe('0.81 … 1.92');
    expect(formatValue('acceptance', false)).toBe('no');
    // A lone `trades` is a detail, not a backtest.
    expect(metadataSections({ trades: 3 }).map((s) => s.title)).toEqual(['Details']);
  });
});

describe('SSE parser', () => {
  it('assembles events across arbitrary chunk boundaries, CRLF, comments and multi-line data', () => {
    const p = new SseParser();
    const text = ': ping\r\nevent: next\r\ndata: {"data":\r\ndata: 1}\r\n\r\nevent: complete\ndata:\n\n';
    const events = [];
    for (const ch of text) events.push(...p.push(ch)); // one character at a time
    expect(events).toEqual([{ event: 'next', data: '{"data":\n1}' }, { event: 'complete', data: '' }]);
    expect(new SseParser().push('data: x\n\n')).toEqual([{ event: 'message', data: 'x' }]);
  });
});

describe('routes and token', () => {
  it('parses and builds hash routes', () => {
    expect(parseRoute('')).toEqual({ page: 'assets' });
    expect(parseRoute('#/assets/spread_features')).toEqual({ page: 'assets', key: 'spread_features' });
    expect(parseRoute('#/runs/abc-1')).toEqual({ page: 'runs', id: 'abc-1' });
    expect(parseRoute('#/backfills')).toEqual({ page: 'backfills' });
    expect(parseRoute(href({ page: 'assets', key: 'a/b c' }))).toEqual({ page: 'assets', key: 'a/b c' });
  });

  it('takes ?token= out of the URL and keeps the rest', () => {
    expect(takeToken('http://h:1/?token=abc&x=1#/runs/2')).toEqual({ token: 'abc', cleanUrl: 'http://h:1/?x=1#/runs/2' });
    expect(takeToken('http://h:1/#/assets')).toEqual({ cleanUrl: 'http://h:1/#/assets' });
  });
});

describe('launch form', () => {
  const base = { selection: ' prices+ ', mode: 'range', from: '2024-01', to: '2024-06', keys: '', filter: 'all' };
  it('builds the mutation variables, or says what is missing', () => {
    expect(backfillRequest(base)).toEqual({ selection: 'prices+', range: { from: '2024-01', to: '2024-06' } });
    expect(backfillRequest({ ...base, mode: 'keys', keys: 'a, b\nc a', filter: 'missing' })).toEqual({ selection: 'prices+', keys: ['a', 'b', 'c'], onlyMissing: true });
    expect(backfillRequest({ ...base, mode: 'all', filter: 'failed' })).toEqual({ selection: 'prices+', onlyFailed: true });
    expect(backfillRequest({ ...base, selection: '' })).toMatch(/selection/);
    expect(backfillRequest({ ...base, to: '' })).toMatch(/both ends/);
    expect(backfillRequest({ ...base, mode: 'keys' })).toMatch(/at least one/);
  });
});

describe('layout cache key', () => {
  it('is short and changes with the structure', () => {
    expect(structureHash('a>b')).toMatch(/^[0-9a-f]{8}$/);
    expect(structureHash('a>b')).toBe(structureHash('a>b'));
    expect(structureHash('a>b')).not.toBe(structureHash('a>c'));
  });
});

describe('uiBundle', () => {
  it('builds once and serves the shell, the script and the styles', async () => {
    const b = await uiBundle();
    expect(await uiBundle()).toBe(b);
    const paths = [...b.files.keys()];
    expect(paths.filter((p) => !p.startsWith('/chunks/')).sort()).toEqual(['/', '/app.css', '/app.js', '/index.html']);
    const html = String(b.files.get('/')!.body);
    // ELK sits in a chunk of its own, preloaded by the shell.
    const chunks = paths.filter((p) => p.startsWith('/chunks/'));
    expect(chunks.length).toBeGreaterThanOrEqual(1);
    for (const c of chunks) expect(html).toContain(`<link rel="modulepreload" href="${c}">`);
    expect(Math.max(...chunks.map((c) => b.files.get(c)!.body.length))).toBeGreaterThan(1_000_000);
    expect(b.files.get('/')!.type).toMatch(/^text\/html/);
    expect(html).toContain('<script type="module" src="/app.js">');
    expect(html).toContain('<nav aria-label="Main">');
    expect(b.files.get('/app.js')!.type).toMatch(/^text\/javascript/);
    expect(b.files.get('/app.js')!.body.length).toBeLessThan(200_000); // the UI itself, without ELK
    expect(String(b.files.get('/app.css')!.body)).toContain('.vlist');
  });
});
