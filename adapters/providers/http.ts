/**
 * Shared plumbing of the REST market-data adapters (TwelveData, GenericRest): error ids, the
 * request error that carries its retry classification, and one GET-JSON call with a timeout.
 *
 * Classification (seed 002 "リトライ: HTTP 429/5xx は最大 5 回" / "idempotent のみ再実行"):
 *   - 429                       → DATA_API_RATELIMIT, retryable (Retry-After honoured by the retry layer)
 *   - 5xx                       → DATA_API_SERVER,    retryable
 *   - timeout (socket held)     → DATA_API_TIMEOUT,   retryable
 *   - connection failure        → DATA_API_NETWORK,   retryable
 *   - body that is not the documented JSON (truncated / garbled) → DATA_PAYLOAD_INVALID, retryable
 *     (a GET is idempotent and a cut-off body is a transient fault of the source)
 *   - any other 4xx             → DATA_API_CLIENT, NEVER retried (the request or the key is wrong)
 * Every request here is a GET, so every retry is idempotent.
 */
import { OrreryError } from '../../core/errors.ts';
import { MarketDataErrorIds } from '../../core/market-data.ts';

/** Error ids of the provider adapters (`{DOMAIN}_{CATEGORY}_{CODE}`). */
export const ProviderErrorIds = {
  HTTP_RATE_LIMIT: 'DATA_API_RATELIMIT',
  HTTP_SERVER: 'DATA_API_SERVER',
  HTTP_CLIENT: 'DATA_API_CLIENT',
  HTTP_TIMEOUT: 'DATA_API_TIMEOUT',
  HTTP_NETWORK: 'DATA_API_NETWORK',
  PAYLOAD_INVALID: 'DATA_PAYLOAD_INVALID',
  SECRET_UNRESOLVED: 'DATA_SECRET_UNRESOLVED',
  CSV_SCHEMA: 'DATA_CSV_SCHEMA',
  CIRCUIT_OPEN: 'DATA_CIRCUIT_OPEN',
  SOURCE_UNAVAILABLE: 'DATA_SOURCE_UNAVAILABLE',
  SOURCE_NONE: 'DATA_SOURCE_NONE',
  SOURCE_CLOSED: 'DATA_SOURCE_CLOSED',
  WATERMARK_IO: 'DATA_WATERMARK_IO',
} as const;

/** A failed upstream request; `retryable` says whether the retry layer may try it again. */
export class ProviderRequestError extends OrreryError {
  readonly retryable: boolean;
  /** HTTP status (or the `code` of an error body) when there was one. */
  readonly status: number | undefined;
  /** Server-requested wait (Retry-After), in ms. */
  readonly retryAfterMs: number | undefined;

  constructor(
    errorId: string,
    message: string,
    opts: { retryable: boolean; status?: number; retryAfterMs?: number; details?: Record<string, unknown>; cause?: unknown },
  ) {
    super(errorId, message, { ...opts.details, retryable: opts.retryable, ...(opts.status !== undefined ? { status: opts.status } : {}) }, { cause: opts.cause });
    this.name = 'ProviderRequestError';
    this.retryable = opts.retryable;
    this.status = opts.status;
    this.retryAfterMs = opts.retryAfterMs;
  }
}

/**
 * Whether a thrown value is worth another attempt: a `ProviderRequestError` says so itself; any
 * other `OrreryError` (unknown symbol, invalid request, bad config) is a caller problem and is
 * not; anything else (a plain Error or rejection from a provider) is treated as a transient
 * source failure.
 */
export function isRetryable(e: unknown): boolean {
  if (e instanceof ProviderRequestError) return e.retryable;
  if (e instanceof OrreryError) return false;
  return true;
}

/** The error for an HTTP status (or a TwelveData-style `code` in an error body). */
export function errorForStatus(status: number, message: string, details: Record<string, unknown>, retryAfterMs?: number): ProviderRequestError {
  if (status === 429) {
    return new ProviderRequestError(ProviderErrorIds.HTTP_RATE_LIMIT, `Rate limited (429): ${message}`, { retryable: true, status, retryAfterMs, details });
  }
  if (status >= 500) {
    return new ProviderRequestError(ProviderErrorIds.HTTP_SERVER, `Server error (${status}): ${message}`, { retryable: true, status, details });
  }
  return new ProviderRequestError(ProviderErrorIds.HTTP_CLIENT, `Request rejected (${status}): ${message}. Not retried: check the request, symbol and API key.`, { retryable: false, status, details });
}

/** The URL with secret query parameters masked, for messages and logs. */
export function redactUrl(url: string | URL, secretParams: readonly string[] = ['apikey', 'api_key', 'token', 'key']): string {
  try {
    const u = new URL(String(url));
    for (const p of secretParams) if (u.searchParams.has(p)) u.searchParams.set(p, '***');
    return u.toString();
  } catch {
    return '<unparseable url>';
  }
}

/** Seconds or an HTTP date → ms; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, nowMs: number = Date.now()): number | undefined {
  if (!value) return undefined;
  const s = Number(value);
  if (Number.isFinite(s) && s >= 0) return s * 1000;
  const t = Date.parse(value);
  return Number.isFinite(t) ? Math.max(0, t - nowMs) : undefined;
}

export type FetchLike = (input: string | URL, init?: { headers?: Record<string, string>; signal?: AbortSignal }) => Promise<Response>;

export type GetJsonResult = { status: number; body: unknown; latencyMs: number };

/**
 * One GET returning parsed JSON. Throws `ProviderRequestError` for timeouts, connection failures,
 * 429/5xx/other non-2xx statuses and unparseable bodies. A 2xx body is returned as parsed; the
 * adapter interprets it (TwelveData reports some errors inside a 200 body).
 * The whole exchange (headers and body) must finish within `timeoutMs`.
 */
export async function getJson(
  url: URL,
  opts: { timeoutMs: number; headers?: Record<string, string>; fetchImpl?: FetchLike; source: string },
): Promise<GetJsonResult> {
  const fetchImpl: FetchLike = opts.fetchImpl ?? ((input, init) => fetch(input, init));
  const shown = redactUrl(url);
  const ac = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ac.abort();
  }, opts.timeoutMs);
  const t0 = performance.now();
  let res: Response;
  let text: string;
  try {
    res = await fetchImpl(url, { headers: { accept: 'application/json', ...opts.headers }, signal: ac.signal });
    text = await res.text();
  } catch (e) {
    if (timedOut) {
      throw new ProviderRequestError(ProviderErrorIds.HTTP_TIMEOUT, `${opts.source}: no complete response within ${opts.timeoutMs} ms from ${shown}.`, {
        retryable: true,
        details: { source: opts.source, url: shown, timeout_ms: opts.timeoutMs },
        cause: e,
      });
    }
    throw new ProviderRequestError(ProviderErrorIds.HTTP_NETWORK, `${opts.source}: request to ${shown} failed: ${e instanceof Error ? e.message : String(e)}.`, {
      retryable: true,
      details: { source: opts.source, url: shown },
      cause: e,
    });
  } finally {
    clearTimeout(timer);
  }
  const latencyMs = performance.now() - t0;
  const details = { source: opts.source, url: shown };
  if (res.status < 200 || res.status > 299) {
    const message = extractMessage(text) ?? (res.statusText || 'HTTP error');
    throw errorForStatus(res.status, `${opts.source}: ${message}`, details, parseRetryAfter(res.headers.get('retry-after')));
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (e) {
    throw new ProviderRequestError(ProviderErrorIds.PAYLOAD_INVALID, `${opts.source}: response from ${shown} is not valid JSON (${text.length} bytes, starts '${text.slice(0, 60)}').`, {
      retryable: true,
      status: res.status,
      details,
      cause: e,
    });
  }
  return { status: res.status, body, latencyMs };
}

function extractMessage(text: string): string | undefined {
  try {
    const b = JSON.parse(text) as unknown;
    if (b && typeof b === 'object' && typeof (b as { message?: unknown }).message === 'string') return (b as { message: string }).message;
  } catch {
    /* not JSON */
  }
  return text ? text.slice(0, 200) : undefined;
}

/** `value` as a finite number: numbers as they are, numeric strings parsed; undefined otherwise. */
export function toFiniteNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

/** First bar start >= `ms` on the `tfMs` grid (bars are aligned to the Unix epoch). */
export function alignUp(ms: number, tfMs: number): number {
  return Math.ceil(ms / tfMs) * tfMs;
}

/** Validates `req.start`/`req.end`/`req.limit` like every provider here does. */
export function checkRange(start: Date, end: Date, limit: number | undefined): { startMs: number; endMs: number } {
  const startMs = start instanceof Date ? start.getTime() : Number.NaN;
  const endMs = end instanceof Date ? end.getTime() : Number.NaN;
  if (!Number.isFinite(startMs) || !Number.isFinite(endMs) || startMs > endMs) {
    throw new OrreryError(MarketDataErrorIds.REQUEST_INVALID, `fetchTimeSeries needs valid Dates with start <= end (got ${String(start)} .. ${String(end)}).`, { start: String(start), end: String(end) });
  }
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 0)) {
    throw new OrreryError(MarketDataErrorIds.REQUEST_INVALID, `fetchTimeSeries limit must be a non-negative integer (got ${String(limit)}).`, { limit });
  }
  return { startMs, endMs };
}
