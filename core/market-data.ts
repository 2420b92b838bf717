/**
 * The market-data port (seed 002, "データソース抽象化レイヤ v1"): the kernel hosts the contract,
 * adapters (`adapters/providers/*`) implement it, and everything downstream depends only on the
 * canonical bar below, never on a provider's own field names.
 *
 * `stream_quotes` is part of the spec's logical contract but is added later; it is left out here.
 */
import { OrreryError } from './errors.ts';

/** Error ids of the market-data domain (`{DOMAIN}_{CATEGORY}_{CODE}`). */
export const MarketDataErrorIds = {
  TIMEFRAME_UNKNOWN: 'DATA_TF_UNKNOWN',
  SYMBOL_UNKNOWN: 'DATA_SYMBOL_UNKNOWN',
  REQUEST_INVALID: 'DATA_REQ_INVALID',
  CONFIG_INVALID: 'DATA_CONFIG_INVALID',
} as const;

/** Data-quality flags of a canonical bar (seed 002 `canonical_bar.quality_flag`). */
export const QUALITY_FLAGS = ['ok', 'missing', 'outlier', 'resampled', 'conflict', 'stale', 'revised'] as const;
export type QualityFlag = (typeof QUALITY_FLAGS)[number];

/**
 * One OHLCV bar in canonical form; unique by `(symbol, timeframe, ts_utc)`.
 * `ts_utc` is the bar's START, RFC3339 UTC with milliseconds (`2024-03-01T05:00:00.000Z`).
 * `volume` may be null (FX / indices have no real volume; 0 does not mean "unknown").
 * Source-specific fields go to `metadata` (`symbol_source`, `source_latency_ms`, `provider_version`, `ingest_seq`).
 */
export type CanonicalBar = {
  ts_utc: string;
  symbol: string;
  timeframe: string;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number | null;
  quality_flag: QualityFlag;
  source_id: string;
  ingest_run_id: string;
  metadata?: Record<string, unknown>;
};

/** Timeframes the library knows. `daily` bars start at 00:00 UTC. */
export const TIMEFRAMES = ['15m', '1h', '4h', 'daily'] as const;
export type Timeframe = (typeof TIMEFRAMES)[number];

const TIMEFRAME_MS: Record<Timeframe, number> = {
  '15m': 15 * 60_000,
  '1h': 60 * 60_000,
  '4h': 4 * 60 * 60_000,
  daily: 24 * 60 * 60_000,
};

export function isTimeframe(tf: string): tf is Timeframe {
  return Object.prototype.hasOwnProperty.call(TIMEFRAME_MS, tf);
}

/** Length of one bar of `tf` in milliseconds; throws `DATA_TF_UNKNOWN` for anything else. */
export function timeframeMs(tf: string): number {
  if (!isTimeframe(tf)) {
    throw new OrreryError(
      MarketDataErrorIds.TIMEFRAME_UNKNOWN,
      `Unknown timeframe '${tf}'. Use one of: ${TIMEFRAMES.join(', ')}.`,
      { timeframe: tf, allowed: [...TIMEFRAMES] },
    );
  }
  return TIMEFRAME_MS[tf];
}

const DAY_MS = 86_400_000;
/** Zero-padded 00…59 and 000…999. */
const PAD2 = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, '0'));
const PAD3 = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
/** The `YYYY-MM-DDT` of the day last formatted (bar starts come day by day). */
let lastDay = NaN;
let lastDayText = '';

/** Canonical `ts_utc` text for an instant: RFC3339 UTC with milliseconds. */
export function toTsUtc(t: Date | number): string {
  // Whole ms from 1970 to 9999: toISOString's text, the date part reused from the previous call.
  if (typeof t === 'number' && Number.isInteger(t) && t >= 0 && t < 253_402_300_800_000) {
    const day = Math.floor(t / DAY_MS);
    if (day !== lastDay) {
      lastDayText = new Date(day * DAY_MS).toISOString().slice(0, 11);
      lastDay = day;
    }
    let r = t - day * DAY_MS;
    const h = Math.floor(r / 3_600_000);
    r -= h * 3_600_000;
    const m = Math.floor(r / 60_000);
    r -= m * 60_000;
    const s = Math.floor(r / 1000);
    return `${lastDayText}${PAD2[h]}:${PAD2[m]}:${PAD2[s]}.${PAD3[r - s * 1000]}Z`;
  }
  return (typeof t === 'number' ? new Date(t) : t).toISOString();
}

/** Arguments of `MarketDataProvider.fetchTimeSeries`. */
export type FetchTimeSeriesRequest = {
  symbol: string;
  timeframe: string;
  /** Inclusive: bars whose start is >= start. */
  start: Date;
  /** Exclusive: bars whose start is < end. */
  end: Date;
  /** At most this many bars: the EARLIEST ones of [start, end); page on by asking again from the last ts + one bar. */
  limit?: number;
  /** Copied into every returned bar's `ingest_run_id` (provenance). */
  ingestRunId: string;
};

export type SymbolMeta = {
  /** Canonical symbol (upper case, no separators, e.g. XAUUSD). */
  symbol: string;
  assetClass: string;
  /** The provider's own spelling, where it differs. */
  sourceSymbol?: string;
  tickSize?: number;
  pricePrecision?: number;
  description?: string;
  metadata?: Record<string, unknown>;
};

export type ProviderCapabilities = {
  timeframes: string[];
  assets: string[];
  limits: {
    /** Most bars one `fetchTimeSeries` call returns; null when unbounded. */
    maxBarsPerRequest: number | null;
    /** Earliest bar start the provider has (`ts_utc` form); null when unknown. */
    earliestTs: string | null;
  };
  latencyProfile: {
    /** Typical request latency in ms; null when unknown. */
    typicalMs: number | null;
    realtime: boolean;
  };
};

/** `null` means "no limit" for the numeric fields. */
export type RateLimitInfo = {
  restQps: number | null;
  wsChannels: number | null;
  burst: number | null;
  /** Free text, e.g. 'unlimited' or 'token-bucket 610/min'. */
  policy: string;
};

export type ProviderHealth = {
  status: 'ok' | 'degraded' | 'down';
  details: Record<string, unknown>;
};

export interface MarketDataProvider {
  /** Stable id; used as `source_id` of the bars it returns. */
  readonly id: string;
  /**
   * Closed bars of `symbol`/`timeframe` whose start lies in [start, end), ascending by `ts_utc`,
   * at most `limit` (the earliest ones) and at most `getCapabilities().limits.maxBarsPerRequest`.
   */
  fetchTimeSeries(req: FetchTimeSeriesRequest): Promise<CanonicalBar[]>;
  listSymbols(filter?: { assetClass?: string }): Promise<SymbolMeta[]>;
  getCapabilities(): ProviderCapabilities;
  getRateLimit(): RateLimitInfo;
  healthCheck(): Promise<ProviderHealth>;
}
