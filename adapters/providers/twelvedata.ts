/**
 * TwelveData REST adapter (`GET /time_series`) implementing `MarketDataProvider`.
 *
 * Request (one per window):
 *   {baseUrl}/time_series?symbol=XAU/USD&interval=1h&start_date=2024-03-01 00:00:00
 *     &end_date=2024-03-08 23:59:59&timezone=UTC&outputsize=168&order=ASC&apikey=…
 *   - symbol: canonical → TwelveData spelling (`symbolMap`, else a 6-letter code is split
 *     `XAUUSD` → `XAU/USD`, else unchanged);
 *   - interval: 15m → 15min, 1h → 1h, 4h → 4h, daily → 1day;
 *   - start_date / end_date in UTC (`timezone=UTC`), `YYYY-MM-DD HH:mm:ss`. A window covers the bar
 *     slots [ws, we); end_date is sent as we − 1 s, so the answer is exactly the bars starting in
 *     [ws, we) whether the server treats end_date as inclusive or exclusive;
 *   - outputsize = the window's slot count, ≤ 5000 (TwelveData's maximum per request), so the
 *     server never truncates a window; order=ASC;
 *   - apikey from `apiKeyRef` (default `ENV:TWELVEDATA_API_KEY`), resolved lazily through a
 *     `SecretResolver` (ENV:/VAULT:), never logged (URLs in errors are redacted).
 * Paging: [start, end) is split into consecutive windows of at most 5000 bar slots (so at most
 * 5000 bars), fetched in order; bars are filtered to each window, de-duplicated and ascending, so
 * every bar comes back exactly once. With `limit`, windows stop once enough bars are in.
 * Response: `{ meta: {...}, values: [{ datetime, open, high, low, close, volume? }], status: "ok" }`;
 * error bodies `{ code, message, status: "error" }` (also sent with HTTP 200) are classified by
 * `code` (429 / 5xx retryable, other 4xx not; "No data is available on the specified dates" is an
 * empty window, not an error). Prices are strings in TwelveData's format and become numbers;
 * a missing volume (FX) becomes null.
 *
 * This adapter makes plain requests; retries, the circuit breaker and the REST rate limit live in
 * `resilient.ts`, which calls it one window (one HTTP request) at a time.
 */
import type { Clock } from '../../core/ports.ts';
import { OrreryError } from '../../core/errors.ts';
import {
  MarketDataErrorIds,
  TIMEFRAMES,
  isTimeframe,
  timeframeMs,
  toTsUtc,
  type CanonicalBar,
  type FetchTimeSeriesRequest,
  type MarketDataProvider,
  type ProviderCapabilities,
  type ProviderHealth,
  type RateLimitInfo,
  type SymbolMeta,
  type Timeframe,
} from '../../core/market-data.ts';
import { ProviderErrorIds, ProviderRequestError, alignUp, checkRange, errorForStatus, getJson, toFiniteNumber, type FetchLike } from './http.ts';
import { SecretResolver } from './secrets.ts';

export const TWELVEDATA_PROVIDER_VERSION = 'twelvedata-adapter-1.0.0';
export const TWELVEDATA_DEFAULT_BASE_URL = 'https://api.twelvedata.com';
export const TWELVEDATA_DEFAULT_API_KEY_REF = 'ENV:TWELVEDATA_API_KEY';
/** Most data points one `/time_series` request returns (TwelveData's documented maximum). */
export const TWELVEDATA_MAX_OUTPUTSIZE = 5000;
/** TwelveData Pro plan REST budget (seed 002: "Pro 枠（REST 610, WS 500）"), credits per minute. */
export const TWELVEDATA_PRO_REST_PER_MINUTE = 610;
export const TWELVEDATA_PRO_WS_CHANNELS = 500;

export const TWELVEDATA_INTERVALS: Record<Timeframe, string> = { '15m': '15min', '1h': '1h', '4h': '4h', daily: '1day' };

export type TwelveDataSymbol = { symbol: string; assetClass: string; sourceSymbol?: string; description?: string };

export type TwelveDataOptions = {
  /** Provider id and `source_id` of its bars; default 'twelvedata'. */
  id?: string;
  /** Default https://api.twelvedata.com (tests point it at a local server). */
  baseUrl?: string;
  /** ENV:/VAULT: reference of the API key; default ENV:TWELVEDATA_API_KEY. */
  apiKeyRef?: string;
  secrets?: SecretResolver;
  /** Canonical → TwelveData symbol overrides (e.g. { SPX500: 'SPX' }). */
  symbolMap?: Record<string, string>;
  /** What `listSymbols` reports (no network call); default none. */
  symbols?: TwelveDataSymbol[];
  /** Timeframes offered; default 15m, 1h, 4h, daily. */
  timeframes?: string[];
  /** Per-request timeout (headers and body), ms; default 30000. */
  timeoutMs?: number;
  /** Bar slots per request window, 1..5000; default 5000. */
  windowBars?: number;
  /** When given, only bars that have closed by `clock.now()` are returned. */
  clock?: Clock;
  /** Reported by getRateLimit (enforced by resilient.ts): requests per second, default null. */
  restQps?: number | null;
  /** Reported by getRateLimit: REST credits per minute; default 610 (Pro). */
  restPerMinute?: number | null;
  /** Upper bound on HTTP requests in one fetchTimeSeries call; default 10000 (50 M bars). */
  maxRequestsPerFetch?: number;
  fetch?: FetchLike;
};

/** Canonical symbol → TwelveData's: the map, else `AAABBB` → `AAA/BBB`, else unchanged. */
export function toTwelveDataSymbol(symbol: string, map?: Record<string, string>): string {
  const mapped = map?.[symbol];
  if (mapped) return mapped;
  return /^[A-Z]{6}$/.test(symbol) ? `${symbol.slice(0, 3)}/${symbol.slice(3)}` : symbol;
}

/** Canonical timeframe → TwelveData interval; throws DATA_TF_UNKNOWN for an unknown one. */
export function toTwelveDataInterval(tf: string): string {
  timeframeMs(tf);
  return TWELVEDATA_INTERVALS[tf as Timeframe];
}

/** `YYYY-MM-DD HH:mm:ss` of a UTC instant (the form TwelveData takes with timezone=UTC). */
export function formatTwelveDataDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

/** Parses TwelveData's `datetime` (`YYYY-MM-DD HH:mm:ss` or `YYYY-MM-DD`, UTC) to epoch ms; NaN if malformed. */
export function parseTwelveDataDatetime(text: unknown): number {
  if (typeof text !== 'string') return Number.NaN;
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(text.trim());
  if (!m) return Number.NaN;
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4] ?? '0', m[5] ?? '0', m[6] ?? '0'].map(Number);
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  const back = new Date(ms);
  // reject rolled-over dates such as 2024-02-30
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) return Number.NaN;
  return ms;
}

/**
 * Consecutive windows [start, end) over the bar slots of [startMs, endMs), each at most
 * `windowBars` slots long; the first starts at the first slot >= startMs.
 */
export function planWindows(startMs: number, endMs: number, tfMs: number, windowBars: number): Array<{ start: number; end: number; slots: number }> {
  const out: Array<{ start: number; end: number; slots: number }> = [];
  let s = alignUp(startMs, tfMs);
  while (s < endMs) {
    const e = Math.min(endMs, s + windowBars * tfMs);
    const slots = Math.ceil((e - s) / tfMs);
    out.push({ start: s, end: e, slots });
    s += slots * tfMs;
  }
  return out;
}

export type TimeSeriesQuery = {
  symbol: string;
  interval: string;
  startMs: number;
  /** Exclusive end of the window. */
  endMs: number;
  outputsize: number;
  apikey: string;
};

/** The `/time_series` URL of one window. */
export function buildTimeSeriesUrl(baseUrl: string, q: TimeSeriesQuery): URL {
  const url = new URL('time_series', baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  url.searchParams.set('symbol', q.symbol);
  url.searchParams.set('interval', q.interval);
  url.searchParams.set('start_date', formatTwelveDataDate(q.startMs));
  url.searchParams.set('end_date', formatTwelveDataDate(q.endMs - 1000));
  url.searchParams.set('timezone', 'UTC');
  url.searchParams.set('outputsize', String(q.outputsize));
  url.searchParams.set('order', 'ASC');
  url.searchParams.set('apikey', q.apikey);
  return url;
}

type ParseContext = { sourceId: string; symbol: string; symbolSource: string; timeframe: string; ingestRunId: string; latencyMs?: number };

const NO_DATA = /no data is available/i;

/**
 * TwelveData's `/time_series` body → canonical bars (ascending, unique, not yet range-filtered).
 * Error bodies throw (`ProviderRequestError`); "no data on the specified dates" gives [].
 */
export function parseTimeSeriesResponse(body: unknown, ctx: ParseContext): CanonicalBar[] {
  const invalid = (why: string, extra: Record<string, unknown> = {}) =>
    new ProviderRequestError(ProviderErrorIds.PAYLOAD_INVALID, `${ctx.sourceId}: /time_series response for ${ctx.symbolSource} ${ctx.timeframe} is not in TwelveData's format: ${why}.`, {
      retryable: true,
      details: { source: ctx.sourceId, symbol: ctx.symbol, ...extra },
    });
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw invalid('not a JSON object');
  const b = body as { status?: unknown; code?: unknown; message?: unknown; values?: unknown; meta?: unknown };
  if (b.status === 'error') {
    const code = toFiniteNumber(b.code) ?? 0;
    const message = typeof b.message === 'string' ? b.message : 'error';
    if (code === 400 && NO_DATA.test(message)) return [];
    if (code <= 0) throw invalid(`error body without a code (${message})`);
    throw errorForStatus(code, `${ctx.sourceId}: ${message}`, { source: ctx.sourceId, symbol: ctx.symbol, code });
  }
  if (b.status !== 'ok') throw invalid(`status is ${JSON.stringify(b.status)}, expected "ok" or "error"`);
  if (b.meta !== undefined && b.meta !== null && typeof b.meta === 'object') {
    const metaSymbol = (b.meta as { symbol?: unknown }).symbol;
    if (typeof metaSymbol === 'string' && metaSymbol !== ctx.symbolSource) {
      throw new ProviderRequestError(ProviderErrorIds.PAYLOAD_INVALID, `${ctx.sourceId}: asked for ${ctx.symbolSource} but the response is for ${metaSymbol}.`, {
        retryable: false,
        details: { source: ctx.sourceId, asked: ctx.symbolSource, got: metaSymbol },
      });
    }
  }
  if (!Array.isArray(b.values)) throw invalid('"values" is not an array');
  const byTs = new Map<number, CanonicalBar>();
  b.values.forEach((v: unknown, i: number) => {
    if (!v || typeof v !== 'object') throw invalid(`values[${i}] is not an object`, { index: i });
    const row = v as Record<string, unknown>;
    const ts = parseTwelveDataDatetime(row.datetime);
    if (!Number.isFinite(ts)) throw invalid(`values[${i}].datetime ${JSON.stringify(row.datetime)} is not 'YYYY-MM-DD[ HH:mm:ss]'`, { index: i });
    const num = (field: string): number => {
      const n = toFiniteNumber(row[field]);
      if (n === undefined) throw invalid(`values[${i}].${field} ${JSON.stringify(row[field])} is not a number`, { index: i, field });
      return n;
    };
    const open = num('open');
    const high = num('high');
    const low = num('low');
    const close = num('close');
    let volume: number | null = null;
    if (row.volume !== undefined && row.volume !== null && row.volume !== '') volume = num('volume');
    const metadata: Record<string, unknown> = { symbol_source: ctx.symbolSource, provider_version: TWELVEDATA_PROVIDER_VERSION };
    if (ctx.latencyMs !== undefined) metadata.source_latency_ms = Math.round(ctx.latencyMs);
    byTs.set(ts, {
      ts_utc: toTsUtc(ts),
      symbol: ctx.symbol,
      timeframe: ctx.timeframe,
      open,
      high,
      low,
      close,
      volume,
      quality_flag: 'ok',
      source_id: ctx.sourceId,
      ingest_run_id: ctx.ingestRunId,
      metadata,
    });
  });
  return [...byTs.entries()].sort((x, y) => x[0] - y[0]).map(([, bar]) => bar);
}

export class TwelveDataProvider implements MarketDataProvider {
  readonly id: string;
  /** Bar slots per HTTP request; `resilient.ts` pages with this so that one call is one request. */
  readonly requestWindowBars: number;
  private readonly baseUrl: string;
  private readonly apiKeyRef: string;
  private readonly secrets: SecretResolver;
  private readonly symbolMap: Record<string, string>;
  private readonly symbols: TwelveDataSymbol[];
  private readonly timeframes: string[];
  private readonly timeoutMs: number;
  private readonly clock: Clock | undefined;
  private readonly fetchImpl: FetchLike | undefined;
  private readonly restQps: number | null;
  private readonly restPerMinute: number | null;
  private readonly maxRequests: number;
  private apiKey: Promise<string> | undefined;

  constructor(opts: TwelveDataOptions = {}) {
    this.id = opts.id ?? 'twelvedata';
    this.baseUrl = opts.baseUrl ?? TWELVEDATA_DEFAULT_BASE_URL;
    try {
      new URL(this.baseUrl);
    } catch {
      throw new OrreryError(MarketDataErrorIds.CONFIG_INVALID, `TwelveData provider '${this.id}': base URL '${this.baseUrl}' is not a URL.`, { baseUrl: this.baseUrl });
    }
    this.apiKeyRef = opts.apiKeyRef ?? TWELVEDATA_DEFAULT_API_KEY_REF;
    this.secrets = opts.secrets ?? new SecretResolver();
    this.symbolMap = { ...opts.symbolMap };
    this.symbols = [...(opts.symbols ?? [])];
    this.timeframes = [...(opts.timeframes ?? TIMEFRAMES)];
    for (const tf of this.timeframes) {
      if (!isTimeframe(tf)) throw new OrreryError(MarketDataErrorIds.CONFIG_INVALID, `TwelveData provider '${this.id}': timeframe '${tf}' is not one of ${TIMEFRAMES.join(', ')}.`, { timeframe: tf });
    }
    const w = opts.windowBars ?? TWELVEDATA_MAX_OUTPUTSIZE;
    if (!Number.isInteger(w) || w < 1 || w > TWELVEDATA_MAX_OUTPUTSIZE) {
      throw new OrreryError(MarketDataErrorIds.CONFIG_INVALID, `TwelveData provider '${this.id}': windowBars must be an integer in 1..${TWELVEDATA_MAX_OUTPUTSIZE} (got ${String(w)}).`, { windowBars: w });
    }
    this.requestWindowBars = w;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.clock = opts.clock;
    this.fetchImpl = opts.fetch;
    this.restQps = opts.restQps ?? null;
    this.restPerMinute = opts.restPerMinute === undefined ? TWELVEDATA_PRO_REST_PER_MINUTE : opts.restPerMinute;
    this.maxRequests = opts.maxRequestsPerFetch ?? 10_000;
  }

  /** The resolved API key (resolved once; a failed resolution is retried on the next call). */
  private key(): Promise<string> {
    if (!this.apiKey) {
      this.apiKey = this.secrets.resolve(this.apiKeyRef);
      this.apiKey.catch(() => {
        this.apiKey = undefined;
      });
    }
    return this.apiKey;
  }

  sourceSymbol(symbol: string): string {
    return toTwelveDataSymbol(symbol, this.symbolMap);
  }

  async fetchTimeSeries(req: FetchTimeSeriesRequest): Promise<CanonicalBar[]> {
    const tfMs = timeframeMs(req.timeframe);
    if (!this.timeframes.includes(req.timeframe)) {
      throw new OrreryError(MarketDataErrorIds.TIMEFRAME_UNKNOWN, `TwelveData provider '${this.id}' is not configured for timeframe '${req.timeframe}' (has ${this.timeframes.join(', ')}).`, {
        timeframe: req.timeframe,
        provider: this.id,
      });
    }
    const { startMs, endMs: reqEnd } = checkRange(req.start, req.end, req.limit);
    let endMs = reqEnd;
    if (this.clock) endMs = Math.min(endMs, this.clock.now().getTime() - tfMs + 1); // closed bars only
    const cap = req.limit ?? Number.POSITIVE_INFINITY;
    const out: CanonicalBar[] = [];
    let cursor = alignUp(startMs, tfMs);
    for (let requests = 0; cursor < endMs && out.length < cap; requests++) {
      if (requests >= this.maxRequests) {
        throw new OrreryError(MarketDataErrorIds.REQUEST_INVALID, `TwelveData provider '${this.id}': the range needs more than ${this.maxRequests} requests; narrow it or raise maxRequestsPerFetch.`, {
          maxRequests: this.maxRequests,
        });
      }
      const slots = Math.min(this.requestWindowBars, cap - out.length);
      const winEnd = Math.min(endMs, cursor + slots * tfMs);
      const bars = await this.fetchWindow(req, cursor, winEnd, tfMs);
      for (const bar of bars) {
        if (out.length >= cap) break;
        out.push(bar);
      }
      cursor = alignUp(winEnd, tfMs);
    }
    return out;
  }

  /** One HTTP request: the bars starting in [winStart, winEnd) (at most 5000 slots). */
  private async fetchWindow(req: FetchTimeSeriesRequest, winStart: number, winEnd: number, tfMs: number): Promise<CanonicalBar[]> {
    const symbolSource = this.sourceSymbol(req.symbol);
    const slots = Math.ceil((winEnd - winStart) / tfMs);
    const url = buildTimeSeriesUrl(this.baseUrl, {
      symbol: symbolSource,
      interval: toTwelveDataInterval(req.timeframe),
      startMs: winStart,
      endMs: winEnd,
      outputsize: Math.min(TWELVEDATA_MAX_OUTPUTSIZE, slots),
      apikey: await this.key(),
    });
    const { body, latencyMs } = await getJson(url, { timeoutMs: this.timeoutMs, fetchImpl: this.fetchImpl, source: this.id });
    const bars = parseTimeSeriesResponse(body, {
      sourceId: this.id,
      symbol: req.symbol,
      symbolSource,
      timeframe: req.timeframe,
      ingestRunId: req.ingestRunId,
      latencyMs,
    });
    return bars.filter((b) => {
      const t = Date.parse(b.ts_utc);
      return t >= winStart && t < winEnd && t % tfMs === 0;
    });
  }

  async listSymbols(filter?: { assetClass?: string }): Promise<SymbolMeta[]> {
    return this.symbols
      .filter((s) => filter?.assetClass === undefined || s.assetClass === filter.assetClass)
      .map((s) => ({
        symbol: s.symbol,
        assetClass: s.assetClass,
        sourceSymbol: s.sourceSymbol ?? this.sourceSymbol(s.symbol),
        ...(s.description ? { description: s.description } : {}),
      }))
      .sort((x, y) => (x.symbol < y.symbol ? -1 : x.symbol > y.symbol ? 1 : 0));
  }

  getCapabilities(): ProviderCapabilities {
    return {
      timeframes: [...this.timeframes],
      assets: ['CFD', 'FX', 'INDEX'],
      // fetchTimeSeries pages internally (windows of requestWindowBars), so a call is unbounded
      limits: { maxBarsPerRequest: null, earliestTs: null },
      latencyProfile: { typicalMs: null, realtime: false },
    };
  }

  getRateLimit(): RateLimitInfo {
    const parts = [this.restQps !== null ? `${this.restQps} req/s` : undefined, this.restPerMinute !== null ? `${this.restPerMinute} credits/min` : undefined].filter(Boolean);
    return { restQps: this.restQps, wsChannels: TWELVEDATA_PRO_WS_CHANNELS, burst: null, policy: parts.length ? parts.join(', ') : 'unknown' };
  }

  /** `GET /api_usage`: ok when it answers, down when it does not (or the key cannot be resolved). */
  async healthCheck(): Promise<ProviderHealth> {
    try {
      const url = new URL('api_usage', this.baseUrl.endsWith('/') ? this.baseUrl : `${this.baseUrl}/`);
      url.searchParams.set('apikey', await this.key());
      const { body, latencyMs } = await getJson(url, { timeoutMs: this.timeoutMs, fetchImpl: this.fetchImpl, source: this.id });
      const b = (body ?? {}) as Record<string, unknown>;
      if (b.status === 'error') return { status: 'down', details: { provider_version: TWELVEDATA_PROVIDER_VERSION, code: b.code, message: b.message } };
      return {
        status: 'ok',
        details: { provider_version: TWELVEDATA_PROVIDER_VERSION, latency_ms: Math.round(latencyMs), current_usage: b.current_usage, plan_limit: b.plan_limit },
      };
    } catch (e) {
      const err = e instanceof OrreryError ? e.toJSON() : { message: String(e) };
      return { status: 'down', details: { provider_version: TWELVEDATA_PROVIDER_VERSION, error: err } };
    }
  }
}
