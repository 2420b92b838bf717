/**
 * Fake market-data HTTP servers on 127.0.0.1 (random port) for the provider tests.
 *
 * - FakeTwelveData speaks TwelveData's `/time_series` (and `/api_usage`) format: datetimes
 *   'YYYY-MM-DD HH:mm:ss' in UTC, prices as strings, no volume for FX/metal pairs, start_date and
 *   end_date both inclusive, the LAST `outputsize` points when more match (TwelveData's documented
 *   truncation), outputsize default 30 and at most 5000, errors as `{ code, message, status: "error" }`.
 * - FakeGenericRest speaks the GenericRest default contract (`/bars`, `{ bars: [...] }`).
 * Both record every request (path, query, headers, arrival time) and can inject faults: an HTTP
 * status (429 with Retry-After, 500, 400 …), an error body sent with HTTP 200, a held socket (a
 * timeout), a malformed JSON body.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fault =
  | { kind: 'status'; status: number; retryAfter?: string; message?: string }
  | { kind: 'error-body'; code: number; message?: string }
  | { kind: 'hold' }
  | { kind: 'malformed' };

export type RecordedRequest = { path: string; query: Record<string, string>; headers: IncomingMessage['headers']; at: number };

export type GeneratedBar = { ts: number; open: number; high: number; low: number; close: number; volume: number | null };

const DAY = 86_400_000;
export const INTERVAL_MS: Record<string, number> = { '15min': 900_000, '1h': 3_600_000, '4h': 14_400_000, '1day': DAY };
export const TF_MS: Record<string, number> = { '15m': 900_000, '1h': 3_600_000, '4h': 14_400_000, daily: DAY };

function isWeekday(ts: number): boolean {
  const dow = new Date(ts).getUTCDay();
  return dow !== 0 && dow !== 6;
}

function hashUnit(s: string, n: number): number {
  let h = 2166136261 ^ n;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  h = Math.imul(h ^ (h >>> 15), 2246822507);
  h ^= h >>> 13;
  return (h >>> 0) / 4294967296;
}

/** Deterministic bars (Mon–Fri UTC) of a symbol on a grid of `stepMs`, starts in [fromMs, toMs]. */
export function generateBars(symbol: string, stepMs: number, fromMs: number, toMs: number): GeneratedBar[] {
  const out: GeneratedBar[] = [];
  const base = symbol.startsWith('XAU') ? 2000 : symbol.startsWith('XAG') ? 23 : 1.1;
  for (let t = Math.ceil(fromMs / stepMs) * stepMs; t <= toMs; t += stepMs) {
    if (!isWeekday(t)) continue;
    const k = t / stepMs;
    const round = (x: number) => Number(x.toFixed(5));
    const close = round(base * (1 + 0.05 * Math.sin(k / 97) + 0.01 * (hashUnit(symbol, k) - 0.5)));
    const open = round(base * (1 + 0.05 * Math.sin((k - 1) / 97) + 0.01 * (hashUnit(symbol, k - 1) - 0.5)));
    const high = round(Math.max(open, close) * (1 + 0.002 * hashUnit(symbol + 'h', k)));
    const low = round(Math.min(open, close) * (1 - 0.002 * hashUnit(symbol + 'l', k)));
    out.push({ ts: t, open, high, low, close, volume: symbol.includes('/') ? null : Math.round(1000 * hashUnit(symbol + 'v', k)) });
  }
  return out;
}

function fmtDate(ms: number, interval: string): string {
  const iso = new Date(ms).toISOString();
  return interval === '1day' ? iso.slice(0, 10) : iso.slice(0, 19).replace('T', ' ');
}

function parseTdDate(s: string | undefined): number {
  if (!s) return Number.NaN;
  const m = /^(\d{4})-(\d{2})-(\d{2})(?: (\d{2}):(\d{2}):(\d{2}))?$/.exec(s);
  if (!m) return Number.NaN;
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0));
}

abstract class FakeServer {
  readonly requests: RecordedRequest[] = [];
  /** Faults applied to the next requests, one each, in order. */
  readonly faults: Fault[] = [];
  /** A fault applied to every request while set (after the queued ones). */
  persistentFault: Fault | null = null;
  /** Paths that faults apply to (default: every path). */
  faultPaths: string[] | null = null;
  protected server!: Server;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const u = new URL(req.url ?? '/', 'http://127.0.0.1');
      this.requests.push({ path: u.pathname, query: Object.fromEntries(u.searchParams), headers: req.headers, at: performance.now() });
      const applies = this.faultPaths === null || this.faultPaths.includes(u.pathname);
      const fault = applies ? (this.faults.shift() ?? this.persistentFault) : null;
      if (fault) return this.applyFault(fault, res);
      try {
        this.handle(u, req, res);
      } catch (e) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ code: 500, message: String(e), status: 'error' }));
      }
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  private applyFault(f: Fault, res: ServerResponse): void {
    if (f.kind === 'hold') return; // never answer; the client must time out
    if (f.kind === 'malformed') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"meta": {"symbol": "XAU/USD"}, "values": [{"datetime": "2024-');
      return;
    }
    if (f.kind === 'error-body') {
      this.json(res, 200, { code: f.code, message: f.message ?? `error ${f.code}`, status: 'error' });
      return;
    }
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (f.retryAfter !== undefined) headers['retry-after'] = f.retryAfter;
    res.writeHead(f.status, headers);
    res.end(JSON.stringify({ code: f.status, message: f.message ?? `injected ${f.status}`, status: 'error' }));
  }

  protected json(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  protected abstract handle(u: URL, req: IncomingMessage, res: ServerResponse): void;

  /** Requests to one path. */
  calls(path: string): RecordedRequest[] {
    return this.requests.filter((r) => r.path === path);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export class FakeTwelveData extends FakeServer {
  constructor(
    readonly apiKey = 'test-key',
    /** Extra rows appended to a response (e.g. duplicates) for one datetime. */
    readonly extraRows: Array<Record<string, string>> = [],
  ) {
    super();
  }

  protected handle(u: URL, _req: IncomingMessage, res: ServerResponse): void {
    const q = u.searchParams;
    if (q.get('apikey') !== this.apiKey) {
      return this.json(res, 401, { code: 401, message: '**apikey** parameter is incorrect or not specified.', status: 'error' });
    }
    if (u.pathname === '/api_usage') return this.json(res, 200, { timestamp: '2024-03-01 00:00:00', current_usage: this.requests.length, plan_limit: 610 });
    if (u.pathname !== '/time_series') return this.json(res, 404, { code: 404, message: 'not found', status: 'error' });
    const symbol = q.get('symbol') ?? '';
    const interval = q.get('interval') ?? '';
    const step = INTERVAL_MS[interval];
    if (!symbol || !step) return this.json(res, 200, { code: 400, message: '**symbol** or **interval** is invalid.', status: 'error' });
    if (q.get('timezone') !== 'UTC') return this.json(res, 200, { code: 400, message: 'this fake only serves timezone=UTC', status: 'error' });
    const outputsize = q.has('outputsize') ? Number(q.get('outputsize')) : 30;
    if (!Number.isInteger(outputsize) || outputsize < 1 || outputsize > 5000) {
      return this.json(res, 200, { code: 400, message: '**outputsize** must be between 1 and 5000.', status: 'error' });
    }
    const from = parseTdDate(q.get('start_date') ?? undefined);
    const to = parseTdDate(q.get('end_date') ?? undefined);
    if (!Number.isFinite(from) || !Number.isFinite(to)) return this.json(res, 200, { code: 400, message: '**start_date**/**end_date** malformed.', status: 'error' });
    let bars = generateBars(symbol, step, from, to); // both inclusive
    if (bars.length > outputsize) bars = bars.slice(bars.length - outputsize); // the latest N
    if (bars.length === 0) {
      return this.json(res, 200, { code: 400, message: 'No data is available on the specified dates. Try setting different start/end dates.', status: 'error' });
    }
    if (q.get('order') !== 'ASC') bars.reverse();
    const values: Array<Record<string, string>> = bars.map((b) => ({
      datetime: fmtDate(b.ts, interval),
      open: b.open.toFixed(5),
      high: b.high.toFixed(5),
      low: b.low.toFixed(5),
      close: b.close.toFixed(5),
      ...(b.volume === null ? {} : { volume: String(b.volume) }),
    }));
    values.push(...this.extraRows.filter((r) => bars.some((b) => fmtDate(b.ts, interval) === r.datetime)));
    const [base, quote] = symbol.split('/');
    this.json(res, 200, {
      meta: { symbol, interval, currency_base: base, currency_quote: quote ?? 'USD', type: 'Physical Currency' },
      values,
      status: 'ok',
    });
  }
}

export class FakeGenericRest extends FakeServer {
  constructor(
    /** close of a bar given the generated one (e.g. scale some bars to inject disagreement). */
    readonly closeOf: (symbol: string, ts: number, generated: number) => number = (_s, _t, c) => c,
    /** generator symbol used for a canonical symbol (to share prices with FakeTwelveData). */
    readonly generatorSymbol: (symbol: string) => string = (s) => (/^[A-Z]{6}$/.test(s) ? `${s.slice(0, 3)}/${s.slice(3)}` : s),
  ) {
    super();
  }

  protected handle(u: URL, _req: IncomingMessage, res: ServerResponse): void {
    if (u.pathname !== '/bars') return this.json(res, 404, { message: 'not found' });
    const q = u.searchParams;
    const symbol = q.get('symbol') ?? '';
    const step = TF_MS[q.get('timeframe') ?? ''];
    const start = Date.parse(q.get('start') ?? '');
    const end = Date.parse(q.get('end') ?? '');
    const limit = Number(q.get('limit') ?? '1000');
    if (!symbol || !step || !Number.isFinite(start) || !Number.isFinite(end)) return this.json(res, 400, { message: 'bad request' });
    const gs = this.generatorSymbol(symbol);
    const bars = generateBars(gs, step, start, end - 1)
      .slice(0, limit)
      .map((b) => ({ ts: new Date(b.ts).toISOString(), open: b.open, high: b.high, low: b.low, close: this.closeOf(symbol, b.ts, b.close), volume: null }));
    this.json(res, 200, { bars });
  }
}

export async function startFakeTwelveData(apiKey = 'test-key', extraRows: Array<Record<string, string>> = []): Promise<FakeTwelveData> {
  return new FakeTwelveData(apiKey, extraRows).start();
}

export async function startFakeGenericRest(closeOf?: (symbol: string, ts: number, generated: number) => number): Promise<FakeGenericRest> {
  return new FakeGenericRest(closeOf).start();
}

/** A settable clock for breaker cool-downs. */
export class ManualClock {
  constructor(private ms: number) {}
  now(): Date {
    return new Date(this.ms);
  }
  advance(ms: number): void {
    this.ms += ms;
  }
  set(ms: number): void {
    this.ms = ms;
  }
}
