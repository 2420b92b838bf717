/**
 * GenericRest: a secondary REST source with a small, documented JSON contract, implementing
 * `MarketDataProvider`. Everything source-specific is configuration.
 *
 * Request
 *   GET {baseUrl}{pathTemplate}
 *   Default template: `/bars?symbol={source_symbol}&timeframe={interval}&start={start}&end={end}&limit={limit}`
 *   Placeholders (values URL-encoded):
 *     {symbol}        canonical symbol (XAUUSD)
 *     {source_symbol} `symbolMap[symbol]` or the canonical symbol
 *     {timeframe}     canonical timeframe (15m, 1h, 4h, daily)
 *     {interval}      `intervalMap[timeframe]` or the canonical timeframe
 *     {start} {end}   RFC3339 UTC with ms; start inclusive, end EXCLUSIVE
 *     {start_ms} {end_ms} {start_s} {end_s}   the same as epoch milliseconds / seconds
 *     {limit}         most bars wanted in this response (≤ pageSize)
 *   Auth (when `apiKeyRef` is set): header `{apiKeyHeader}: {apiKeyPrefix}{key}`,
 *   default `Authorization: Bearer <key>`.
 *
 * Response (HTTP 200), JSON:
 *   { "bars": [ { "ts": "2024-03-01T05:00:00Z", "open": 1.0, "high": 1.1, "low": 0.9, "close": 1.05, "volume": 12 } ] }
 *   - `fields.items`: dot path of the array (default `bars`; `''` = the body itself is the array);
 *   - `fields.ts|open|high|low|close|volume`: dot paths inside an item (defaults as above);
 *   - `tsFormat`: 'iso' (RFC3339 with a zone, default), 'epoch_ms' or 'epoch_s';
 *   - prices are numbers or numeric strings; volume may be missing/null (→ null);
 *   - the server returns bars starting in [start, end), ascending, at most `limit`.
 *   Errors: HTTP 429 and 5xx are retryable; other non-2xx are not (see http.ts).
 *
 * Paging: by cursor (the port's own rule): ask for `pageSize` bars, and while a page comes back
 * full, ask again from the last bar's start + one bar. `requestWindowBars` = pageSize lets
 * `resilient.ts` page so that one call is one HTTP request.
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
} from '../../core/market-data.ts';
import { ProviderErrorIds, ProviderRequestError, alignUp, checkRange, getJson, toFiniteNumber, type FetchLike } from './http.ts';
import { SecretResolver } from './secrets.ts';

export const GENERIC_REST_PROVIDER_VERSION = 'generic-rest-adapter-1.0.0';
export const GENERIC_REST_DEFAULT_PATH = '/bars?symbol={source_symbol}&timeframe={interval}&start={start}&end={end}&limit={limit}';

export type GenericRestFieldMap = {
  items?: string;
  ts?: string;
  open?: string;
  high?: string;
  low?: string;
  close?: string;
  volume?: string;
};

export type GenericRestOptions = {
  /** Provider id and `source_id` of its bars; default 'generic_rest'. */
  id?: string;
  baseUrl: string;
  pathTemplate?: string;
  fields?: GenericRestFieldMap;
  tsFormat?: 'iso' | 'epoch_ms' | 'epoch_s';
  apiKeyRef?: string;
  apiKeyHeader?: string;
  apiKeyPrefix?: string;
  secrets?: SecretResolver;
  symbolMap?: Record<string, string>;
  intervalMap?: Partial<Record<string, string>>;
  symbols?: Array<{ symbol: string; assetClass: string; sourceSymbol?: string }>;
  timeframes?: string[];
  /** Bars asked for per request; default 1000. */
  pageSize?: number;
  /** Per-request timeout, ms; default 30000. */
  timeoutMs?: number;
  /** Upper bound on requests in one fetchTimeSeries call; default 10000. */
  maxPagesPerFetch?: number;
  clock?: Clock;
  restQps?: number | null;
  fetch?: FetchLike;
};

const DEFAULT_FIELDS: Required<GenericRestFieldMap> = { items: 'bars', ts: 'ts', open: 'open', high: 'high', low: 'low', close: 'close', volume: 'volume' };

function getPath(obj: unknown, path: string): unknown {
  if (path === '') return obj;
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** Fills `{name}` placeholders of a path template; an unknown placeholder is a config error. */
export function fillTemplate(template: string, values: Record<string, string>): string {
  return template.replace(/\{([a-z_]+)\}/g, (_, name: string) => {
    if (!(name in values)) {
      throw new OrreryError(MarketDataErrorIds.CONFIG_INVALID, `GenericRest path template '${template}' uses unknown placeholder {${name}}. Known: ${Object.keys(values).map((k) => `{${k}}`).join(', ')}.`, {
        template,
        placeholder: name,
      });
    }
    return encodeURIComponent(values[name]);
  });
}

export class GenericRestProvider implements MarketDataProvider {
  readonly id: string;
  readonly requestWindowBars: number;
  private readonly opts: GenericRestOptions;
  private readonly fields: Required<GenericRestFieldMap>;
  private readonly timeframes: string[];
  private readonly secrets: SecretResolver;
  private apiKey: Promise<string> | undefined;

  constructor(opts: GenericRestOptions) {
    this.id = opts.id ?? 'generic_rest';
    this.opts = opts;
    try {
      new URL(opts.baseUrl);
    } catch {
      throw new OrreryError(MarketDataErrorIds.CONFIG_INVALID, `GenericRest provider '${this.id}': base URL '${String(opts.baseUrl)}' is not a URL.`, { baseUrl: opts.baseUrl });
    }
    this.fields = { ...DEFAULT_FIELDS, ...opts.fields };
    this.timeframes = [...(opts.timeframes ?? TIMEFRAMES)];
    for (const tf of this.timeframes) {
      if (!isTimeframe(tf)) throw new OrreryError(MarketDataErrorIds.CONFIG_INVALID, `GenericRest provider '${this.id}': timeframe '${tf}' is not one of ${TIMEFRAMES.join(', ')}.`, { timeframe: tf });
    }
    const page = opts.pageSize ?? 1000;
    if (!Number.isInteger(page) || page < 1) throw new OrreryError(MarketDataErrorIds.CONFIG_INVALID, `GenericRest provider '${this.id}': pageSize must be a positive integer.`, { pageSize: page });
    this.requestWindowBars = page;
    this.secrets = opts.secrets ?? new SecretResolver();
    // validate the template once, with dummy values
    fillTemplate(opts.pathTemplate ?? GENERIC_REST_DEFAULT_PATH, this.templateValues('X', '1h', 0, 0, 1));
  }

  private templateValues(symbol: string, tf: string, startMs: number, endMs: number, limit: number): Record<string, string> {
    return {
      symbol,
      source_symbol: this.opts.symbolMap?.[symbol] ?? symbol,
      timeframe: tf,
      interval: this.opts.intervalMap?.[tf] ?? tf,
      start: toTsUtc(startMs),
      end: toTsUtc(endMs),
      start_ms: String(startMs),
      end_ms: String(endMs),
      start_s: String(Math.floor(startMs / 1000)),
      end_s: String(Math.floor(endMs / 1000)),
      limit: String(limit),
    };
  }

  private async headers(): Promise<Record<string, string>> {
    if (!this.opts.apiKeyRef) return {};
    if (!this.apiKey) {
      this.apiKey = this.secrets.resolve(this.opts.apiKeyRef);
      this.apiKey.catch(() => {
        this.apiKey = undefined;
      });
    }
    const key = await this.apiKey;
    return { [this.opts.apiKeyHeader ?? 'authorization']: `${this.opts.apiKeyPrefix ?? 'Bearer '}${key}` };
  }

  /** The request URL of one page. */
  buildUrl(symbol: string, tf: string, startMs: number, endMs: number, limit: number): URL {
    const path = fillTemplate(this.opts.pathTemplate ?? GENERIC_REST_DEFAULT_PATH, this.templateValues(symbol, tf, startMs, endMs, limit));
    const base = this.opts.baseUrl.replace(/\/+$/, '');
    return new URL(`${base}${path.startsWith('/') ? '' : '/'}${path}`);
  }

  async fetchTimeSeries(req: FetchTimeSeriesRequest): Promise<CanonicalBar[]> {
    const tfMs = timeframeMs(req.timeframe);
    if (!this.timeframes.includes(req.timeframe)) {
      throw new OrreryError(MarketDataErrorIds.TIMEFRAME_UNKNOWN, `GenericRest provider '${this.id}' is not configured for timeframe '${req.timeframe}'.`, { timeframe: req.timeframe, provider: this.id });
    }
    const { startMs, endMs: reqEnd } = checkRange(req.start, req.end, req.limit);
    let endMs = reqEnd;
    if (this.opts.clock) endMs = Math.min(endMs, this.opts.clock.now().getTime() - tfMs + 1);
    const cap = req.limit ?? Number.POSITIVE_INFINITY;
    const maxPages = this.opts.maxPagesPerFetch ?? 10_000;
    const out: CanonicalBar[] = [];
    let cursor = alignUp(startMs, tfMs);
    for (let page = 0; cursor < endMs && out.length < cap; page++) {
      if (page >= maxPages) {
        throw new OrreryError(MarketDataErrorIds.REQUEST_INVALID, `GenericRest provider '${this.id}': more than ${maxPages} pages for one request; narrow the range.`, { maxPages });
      }
      const want = Math.min(this.requestWindowBars, cap - out.length);
      const bars = await this.fetchPage(req, cursor, endMs, want, tfMs);
      out.push(...bars);
      if (bars.length < want) break;
      const next = Date.parse(bars[bars.length - 1].ts_utc) + tfMs;
      if (next <= cursor) break;
      cursor = next;
    }
    return out.slice(0, cap === Number.POSITIVE_INFINITY ? undefined : cap);
  }

  private async fetchPage(req: FetchTimeSeriesRequest, startMs: number, endMs: number, limit: number, tfMs: number): Promise<CanonicalBar[]> {
    const url = this.buildUrl(req.symbol, req.timeframe, startMs, endMs, limit);
    const { body, latencyMs } = await getJson(url, { timeoutMs: this.opts.timeoutMs ?? 30_000, headers: await this.headers(), fetchImpl: this.opts.fetch, source: this.id });
    const invalid = (why: string) =>
      new ProviderRequestError(ProviderErrorIds.PAYLOAD_INVALID, `${this.id}: response does not follow the GenericRest contract: ${why}.`, { retryable: true, details: { source: this.id, symbol: req.symbol } });
    const items = getPath(body, this.fields.items);
    if (!Array.isArray(items)) throw invalid(`'${this.fields.items || '<root>'}' is not an array`);
    const sourceSymbol = this.opts.symbolMap?.[req.symbol] ?? req.symbol;
    const byTs = new Map<number, CanonicalBar>();
    items.forEach((item: unknown, i: number) => {
      const rawTs = getPath(item, this.fields.ts);
      const ts = this.parseTs(rawTs);
      if (!Number.isFinite(ts)) throw invalid(`item ${i}: ${this.fields.ts} ${JSON.stringify(rawTs)} is not a ${this.opts.tsFormat ?? 'iso'} timestamp`);
      const num = (field: keyof Omit<GenericRestFieldMap, 'items' | 'ts' | 'volume'>): number => {
        const n = toFiniteNumber(getPath(item, this.fields[field]));
        if (n === undefined) throw invalid(`item ${i}: ${this.fields[field]} is not a number`);
        return n;
      };
      const rawVol = getPath(item, this.fields.volume);
      let volume: number | null = null;
      if (rawVol !== undefined && rawVol !== null && rawVol !== '') {
        const v = toFiniteNumber(rawVol);
        if (v === undefined) throw invalid(`item ${i}: ${this.fields.volume} is not a number`);
        volume = v;
      }
      if (ts < startMs || ts >= endMs || ts % tfMs !== 0) return; // outside the page or off the bar grid
      byTs.set(ts, {
        ts_utc: toTsUtc(ts),
        symbol: req.symbol,
        timeframe: req.timeframe,
        open: num('open'),
        high: num('high'),
        low: num('low'),
        close: num('close'),
        volume,
        quality_flag: 'ok',
        source_id: this.id,
        ingest_run_id: req.ingestRunId,
        metadata: { symbol_source: sourceSymbol, provider_version: GENERIC_REST_PROVIDER_VERSION, source_latency_ms: Math.round(latencyMs) },
      });
    });
    return [...byTs.entries()]
      .sort((x, y) => x[0] - y[0])
      .slice(0, limit)
      .map(([, b]) => b);
  }

  private parseTs(raw: unknown): number {
    const fmt = this.opts.tsFormat ?? 'iso';
    if (fmt === 'iso') {
      if (typeof raw !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(raw)) return Number.NaN;
      return Date.parse(raw);
    }
    const n = toFiniteNumber(raw);
    if (n === undefined) return Number.NaN;
    return fmt === 'epoch_s' ? n * 1000 : n;
  }

  async listSymbols(filter?: { assetClass?: string }): Promise<SymbolMeta[]> {
    return (this.opts.symbols ?? [])
      .filter((s) => filter?.assetClass === undefined || s.assetClass === filter.assetClass)
      .map((s) => ({ symbol: s.symbol, assetClass: s.assetClass, sourceSymbol: s.sourceSymbol ?? this.opts.symbolMap?.[s.symbol] ?? s.symbol }));
  }

  getCapabilities(): ProviderCapabilities {
    return {
      timeframes: [...this.timeframes],
      assets: [...new Set((this.opts.symbols ?? []).map((s) => s.assetClass))],
      limits: { maxBarsPerRequest: null, earliestTs: null },
      latencyProfile: { typicalMs: null, realtime: false },
    };
  }

  getRateLimit(): RateLimitInfo {
    const qps = this.opts.restQps ?? null;
    return { restQps: qps, wsChannels: null, burst: null, policy: qps !== null ? `${qps} req/s` : 'unknown' };
  }

  async healthCheck(): Promise<ProviderHealth> {
    return { status: 'ok', details: { provider_version: GENERIC_REST_PROVIDER_VERSION, base_url: this.opts.baseUrl, note: 'no health endpoint in the GenericRest contract; resilient.ts reports circuit state' } };
  }
}
