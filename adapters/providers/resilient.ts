/**
 * ResilientProvider: the composition of `sources.yaml` (seed 002 "マージ/フェイルオーバ戦略",
 * "エラー時の動作"), itself a `MarketDataProvider`.
 *
 * Sources are tried by `priority` ascending (primary → secondary). Per source:
 *   - a REST rate limit (Bottleneck): at most `rest_qps` request starts per second — requests
 *     are spaced ≥ ceil(1000 / rest_qps · (1 + headroom)) ms, headroom 10 % by default, so that
 *     transit jitter cannot squeeze rest_qps + 1 arrivals into one second at the server — and,
 *     optionally, a per-minute budget (TwelveData Pro: 610/min, `rest_rate_limit_budget`). Every
 *     attempt, retries included, goes through it.
 *   - retries (seed: "HTTP 429/5xx は最大 5 回", "指数バックオフ + ジッタ（1s,2s,4s,8s… 上限 60s）"):
 *     at most `retry.max` = 5 retries after the first attempt, for 429, 5xx, timeouts, connection
 *     failures and garbled bodies only (see http.ts `isRetryable`); a 4xx other than 429 is never
 *     retried. Retry n waits min(60 s, base · 2^(n−1)) · (1 − jitter · U[0,1)), base 1 s, jitter
 *     0.2 — never more than the nominal 1, 2, 4, 8 … s schedule — or the server's Retry-After when
 *     that is longer (still ≤ 60 s). The base delay, the sleep and the random source are injectable.
 *   - a circuit breaker per source × timeframe (seed `circuit_breaker`: open_threshold_errors 5,
 *     half_open_after_seconds 120): Closed → Open after 5 consecutive failed attempts (retryable
 *     errors only); Open → Half-Open once 120 s have passed (by the injectable clock), when ONE
 *     trial attempt is let through; trial success → Closed, trial failure → Open for another 120 s.
 *     A non-retryable answer (e.g. 400) proves the source is up and counts as a success.
 *     Why not opossum: opossum opens on an error PERCENTAGE over a rolling time window and
 *     half-opens on its own setTimeout; the seed's rule is a COUNT of errors with a cool-down, and
 *     the tests need an injectable clock to reach "after 120 s" without waiting. A 60-line state
 *     machine implements the rule exactly.
 * Failover: while a source's breaker is open, or its retries are exhausted, the next source by
 * priority serves the request; because the primary is asked first on every request its breaker
 * lets through, the composition fails back to it as soon as a half-open trial succeeds. Errors
 * that are not retryable (a 400, an unknown symbol, a secret that cannot be resolved) are the
 * caller's problem and are thrown, not hidden behind a secondary.
 * Paging: [start, end) is fetched in windows of the serving source's `requestWindowBars`
 * (TwelveData 5000, GenericRest its page size) — one provider call is one HTTP request, so retries,
 * the rate limit and the breaker act per request — and each window may fail over on its own.
 *
 * `fetchWithConflicts` also fetches the same range from the next configured source and marks
 * `quality_flag = 'conflict'` on every bar where |close_primary − close_secondary| / price_ref >
 * diff_thresh (0.003), price_ref = |close_primary| (exactly at the threshold is not a conflict).
 * `dedupeLatestWins` de-duplicates by (source, symbol, timeframe, ts_utc), the later-received bar
 * winning (seed: "重複は最新受信で上書き", idempotency key `(source, symbol, timeframe, ts)`).
 */
import Bottleneck from 'bottleneck';
import { OrreryError } from '../../core/errors.ts';
import { systemClock, type Clock } from '../../core/ports.ts';
import {
  MarketDataErrorIds,
  timeframeMs,
  type CanonicalBar,
  type FetchTimeSeriesRequest,
  type MarketDataProvider,
  type ProviderCapabilities,
  type ProviderHealth,
  type RateLimitInfo,
  type SymbolMeta,
} from '../../core/market-data.ts';
import { ProviderErrorIds, ProviderRequestError, alignUp, checkRange, isRetryable } from './http.ts';
import { SecretResolver } from './secrets.ts';
import { TwelveDataProvider, TWELVEDATA_PRO_REST_PER_MINUTE, type TwelveDataOptions } from './twelvedata.ts';
import { GenericRestProvider, type GenericRestOptions } from './generic-rest.ts';
import { CsvProvider, type CsvProviderOptions } from './csv.ts';

// ---------------------------------------------------------------------------------------------
// The seed's numbers (seed 002 lines ~300-302, ~445-460, ~535-537)

/** "リトライ: HTTP 429/5xx は最大 5 回" / pipeline_policy `retry_max: 5`. */
export const SEED_RETRY_MAX = 5;
/** "1s,2s,4s,8s…": the first backoff. */
export const SEED_BACKOFF_BASE_MS = 1000;
/** "上限 60s" / `retry_backoff_max_seconds`. */
export const SEED_BACKOFF_MAX_MS = 60_000;
/** `circuit_breaker.open_threshold_errors: 5`. */
export const SEED_CIRCUIT_OPEN_THRESHOLD_ERRORS = 5;
/** `circuit_breaker.half_open_after_seconds: 120`. */
export const SEED_CIRCUIT_HALF_OPEN_AFTER_MS = 120_000;
/** "乖離検知 … diff_thresh（既定 0.003）". */
export const SEED_DIFF_THRESH = 0.003;
/** Jitter: each backoff is shortened by up to this fraction (never lengthened past the schedule). */
export const DEFAULT_BACKOFF_JITTER = 0.2;

// ---------------------------------------------------------------------------------------------
// Backoff

export type RetryOptions = {
  /** Retries after the first attempt; default 5. */
  max?: number;
  /** First backoff (the "1x"); default 1000 ms. */
  baseDelayMs?: number;
  /** Cap of any backoff; default 60000 ms. */
  maxDelayMs?: number;
  /** 0..1; default 0.2. */
  jitter?: number;
};

/**
 * Wait before retry number `retry` (1-based): min(max, base · 2^(retry−1)) · (1 − jitter · u),
 * u = random() ∈ [0, 1); when the server asked for longer (Retry-After), that, capped at max.
 */
export function backoffDelayMs(retry: number, opts: RetryOptions = {}, random: () => number = Math.random, retryAfterMs?: number): number {
  const base = opts.baseDelayMs ?? SEED_BACKOFF_BASE_MS;
  const max = opts.maxDelayMs ?? SEED_BACKOFF_MAX_MS;
  const jitter = Math.min(1, Math.max(0, opts.jitter ?? DEFAULT_BACKOFF_JITTER));
  const nominal = Math.min(max, base * 2 ** Math.max(0, retry - 1));
  const u = Math.min(1, Math.max(0, random()));
  let d = nominal * (1 - jitter * u);
  if (retryAfterMs !== undefined && Number.isFinite(retryAfterMs)) d = Math.max(d, Math.min(max, retryAfterMs));
  return Math.max(0, d);
}

// ---------------------------------------------------------------------------------------------
// Circuit breaker

export type BreakerState = 'closed' | 'open' | 'half-open';

export type CircuitBreakerOptions = {
  /** Consecutive failed attempts that open the circuit; default 5. */
  openThresholdErrors?: number;
  /** Time an open circuit waits before letting one trial through; default 120000 ms. */
  halfOpenAfterMs?: number;
};

export type BreakerSnapshot = { state: BreakerState; consecutiveFailures: number; openedAt: string | null; trialInFlight: boolean };

/** Count-based breaker: Closed → (N consecutive failures) → Open → (cool-down) → Half-Open (one trial). */
export class CircuitBreaker {
  private st: BreakerState = 'closed';
  private failures = 0;
  private openedAtMs: number | null = null;
  private trialInFlight = false;
  readonly threshold: number;
  readonly coolDownMs: number;

  constructor(
    opts: CircuitBreakerOptions,
    private readonly clock: Clock,
    private readonly onTransition: (from: BreakerState, to: BreakerState) => void = () => undefined,
  ) {
    this.threshold = opts.openThresholdErrors ?? SEED_CIRCUIT_OPEN_THRESHOLD_ERRORS;
    this.coolDownMs = opts.halfOpenAfterMs ?? SEED_CIRCUIT_HALF_OPEN_AFTER_MS;
    if (!Number.isInteger(this.threshold) || this.threshold < 1) throw new OrreryError(MarketDataErrorIds.CONFIG_INVALID, 'circuit breaker openThresholdErrors must be a positive integer.', { value: this.threshold });
    if (!(this.coolDownMs >= 0)) throw new OrreryError(MarketDataErrorIds.CONFIG_INVALID, 'circuit breaker halfOpenAfterMs must be >= 0.', { value: this.coolDownMs });
  }

  private move(to: BreakerState): void {
    const from = this.st;
    if (from === to) return;
    this.st = to;
    this.onTransition(from, to);
  }

  /** The state now (an open circuit whose cool-down has passed reads half-open). */
  state(): BreakerState {
    if (this.st === 'open' && this.openedAtMs !== null && this.clock.now().getTime() - this.openedAtMs >= this.coolDownMs) this.move('half-open');
    return this.st;
  }

  /** May an attempt go through now? In half-open, only one trial at a time. */
  tryAcquire(): boolean {
    const s = this.state();
    if (s === 'closed') return true;
    if (s === 'open') return false;
    if (this.trialInFlight) return false;
    this.trialInFlight = true;
    return true;
  }

  /** Gives back a half-open trial permit without an outcome (the attempt never reached the source). */
  release(): void {
    this.trialInFlight = false;
  }

  onSuccess(): void {
    this.failures = 0;
    this.trialInFlight = false;
    this.openedAtMs = null;
    this.move('closed');
  }

  onFailure(): void {
    this.failures++;
    const wasTrial = this.st === 'half-open';
    this.trialInFlight = false;
    if (wasTrial || (this.st === 'closed' && this.failures >= this.threshold)) {
      this.openedAtMs = this.clock.now().getTime();
      this.move('open');
    }
  }

  snapshot(): BreakerSnapshot {
    const state = this.state();
    return { state, consecutiveFailures: this.failures, openedAt: this.openedAtMs === null ? null : new Date(this.openedAtMs).toISOString(), trialInFlight: this.trialInFlight };
  }
}

// ---------------------------------------------------------------------------------------------
// Dedupe and conflicts

/**
 * De-duplicates bars, the later-received one winning: with `metadata.ingest_seq` on both, the
 * higher sequence; otherwise the later position in `bars` (arrival order). Key `(source_id,
 * symbol, timeframe, ts_utc)` by default; `key: 'canonical'` drops the source (one bar per ts).
 * Output is sorted by symbol, timeframe, ts_utc, source_id.
 */
export function dedupeLatestWins(bars: readonly CanonicalBar[], opts: { key?: 'source' | 'canonical' } = {}): { bars: CanonicalBar[]; dropped: number } {
  const withSource = (opts.key ?? 'source') === 'source';
  const kept = new Map<string, { bar: CanonicalBar; pos: number }>();
  bars.forEach((bar, pos) => {
    const k = `${withSource ? bar.source_id : ''}\u001f${bar.symbol}\u001f${bar.timeframe}\u001f${Date.parse(bar.ts_utc)}`;
    const prev = kept.get(k);
    if (!prev) {
      kept.set(k, { bar, pos });
      return;
    }
    const a = prev.bar.metadata?.ingest_seq;
    const b = bar.metadata?.ingest_seq;
    const laterWins = typeof a === 'number' && typeof b === 'number' ? b >= a : true;
    if (laterWins) kept.set(k, { bar, pos });
  });
  const out = [...kept.values()].map((v) => v.bar);
  out.sort((x, y) => cmp(x.symbol, y.symbol) || cmp(x.timeframe, y.timeframe) || Date.parse(x.ts_utc) - Date.parse(y.ts_utc) || cmp(x.source_id, y.source_id));
  return { bars: out, dropped: bars.length - out.length };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export type ConflictRecord = { ts_utc: string; close_primary: number; close_secondary: number; rel_diff: number; primary_source: string; secondary_source: string };

/**
 * Compares closes bar by bar (same ts_utc): where |cp − cs| / |cp| > diffThresh the primary bar
 * gets quality_flag 'conflict' and `metadata.conflict`; the primary's values are kept. A bar
 * exactly at the threshold (within 1e-9 relative) is not a conflict.
 */
export function compareCloses(
  primary: readonly CanonicalBar[],
  secondary: readonly CanonicalBar[],
  diffThresh: number = SEED_DIFF_THRESH,
): { bars: CanonicalBar[]; compared: number; conflicts: ConflictRecord[]; missingInSecondary: number } {
  const sec = new Map<string, CanonicalBar>();
  for (const b of secondary) sec.set(`${b.symbol}\u001f${b.timeframe}\u001f${Date.parse(b.ts_utc)}`, b);
  let compared = 0;
  let missing = 0;
  const conflicts: ConflictRecord[] = [];
  const bars = primary.map((p) => {
    const s = sec.get(`${p.symbol}\u001f${p.timeframe}\u001f${Date.parse(p.ts_utc)}`);
    if (!s) {
      missing++;
      return p;
    }
    compared++;
    const ref = Math.abs(p.close);
    const diff = Math.abs(p.close - s.close);
    const rel = ref > 0 ? diff / ref : diff > 0 ? Number.POSITIVE_INFINITY : 0;
    if (!(rel > diffThresh * (1 + 1e-9))) return p;
    const record: ConflictRecord = { ts_utc: p.ts_utc, close_primary: p.close, close_secondary: s.close, rel_diff: rel, primary_source: p.source_id, secondary_source: s.source_id };
    conflicts.push(record);
    return {
      ...p,
      quality_flag: 'conflict' as const,
      metadata: {
        ...p.metadata,
        conflict: { secondary_source: s.source_id, close_secondary: s.close, rel_diff: rel, diff_thresh: diffThresh, ...(p.quality_flag !== 'ok' ? { previous_flag: p.quality_flag } : {}) },
      },
    };
  });
  return { bars, compared, conflicts, missingInSecondary: missing };
}

// ---------------------------------------------------------------------------------------------
// Composition

export type SourceRegistration = {
  provider: MarketDataProvider;
  /** Lower is preferred (sources.yaml `priority`). */
  priority: number;
  /** Default the provider's id. */
  id?: string;
  /** Default true; a disabled source is never asked. */
  enabled?: boolean;
  /** Timeframes this source serves; default the provider's capabilities. */
  timeframes?: string[];
  /** Symbols this source serves; default every symbol. */
  symbols?: string[];
  rateLimits?: {
    /** Request starts per second; default the provider's getRateLimit().restQps; null = none. */
    restQps?: number | null;
    /** Requests per minute budget; null = none. */
    restPerMinute?: number | null;
  };
  /** Bar slots per provider call; default provider.requestWindowBars, else its maxBarsPerRequest, else 5000. */
  windowBars?: number;
  /** Extra per-attempt timeout around the provider call (ms); REST adapters time out by themselves. */
  attemptTimeoutMs?: number;
};

export type ResilienceEvent =
  | { type: 'request'; source: string; symbol: string; timeframe: string; latencyMs: number; ok: boolean; errorId?: string }
  | { type: 'dedupe'; symbol: string; timeframe: string; dropped: number }
  | { type: 'retry'; source: string; timeframe: string; retry: number; delayMs: number; errorId: string; message: string }
  | { type: 'breaker'; source: string; timeframe: string; from: BreakerState; to: BreakerState }
  | { type: 'failover'; symbol: string; timeframe: string; from: string; to: string | null; reason: string }
  | { type: 'failback'; symbol: string; timeframe: string; from: string; to: string }
  | { type: 'conflict'; symbol: string; timeframe: string; count: number; secondary: string };

export type ResilientProviderOptions = {
  /** Default 'resilient'. */
  id?: string;
  sources: SourceRegistration[];
  retry?: RetryOptions;
  circuitBreaker?: CircuitBreakerOptions;
  /** Default 0.003. */
  diffThresh?: number;
  /** Drives the breaker's cool-down; default the system clock. */
  clock?: Clock;
  /** Backoff sleep; default setTimeout. */
  sleep?: (ms: number) => Promise<void>;
  /** Jitter source; default Math.random. */
  random?: () => number;
  onEvent?: (e: ResilienceEvent) => void;
  /** Upper bound on provider calls in one fetch; default 100000. */
  maxWindowsPerFetch?: number;
  /** Extra spacing of rate-limited requests, as a fraction of 1000 / rest_qps; default 0.1. */
  rateLimitHeadroom?: number;
};

/** Default `rateLimitHeadroom`. */
export const DEFAULT_RATE_LIMIT_HEADROOM = 0.1;

export type ResilienceMetrics = {
  data_retry_total: number;
  data_dedupe_drops_total: number;
  failovers_total: number;
  failbacks_total: number;
  conflicts_total: number;
  requests_total: Record<string, number>;
  failures_total: Record<string, number>;
};

export type ConflictFetchResult = {
  bars: CanonicalBar[];
  /** Sources whose bars are in `bars`. */
  primarySources: string[];
  /** The source compared against; null when none is configured (or available) for this symbol/timeframe. */
  secondarySource: string | null;
  compared: number;
  conflicts: ConflictRecord[];
  missingInSecondary: number;
  /** Set when the secondary could not be fetched (bars are then returned unflagged). */
  secondaryError?: { errorId: string; message: string };
};

type Source = {
  id: string;
  provider: MarketDataProvider;
  priority: number;
  order: number;
  timeframes: Set<string>;
  symbols: Set<string> | null;
  limiter: Bottleneck | null;
  windowBars: number;
  attemptTimeoutMs: number | undefined;
};

/** Thrown inside the composition when a source cannot serve now (circuit open, retries exhausted). */
class SourceUnavailable extends Error {
  constructor(
    readonly sourceId: string,
    readonly reason: string,
    readonly last: unknown,
  ) {
    super(`${sourceId}: ${reason}`);
  }
}

function describe(e: unknown): { errorId: string; message: string } {
  if (e instanceof OrreryError) return { errorId: e.errorId, message: e.message };
  return { errorId: 'DATA_SOURCE_ERROR', message: e instanceof Error ? e.message : String(e) };
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class ResilientProvider implements MarketDataProvider {
  readonly id: string;
  private readonly sources: Source[];
  private readonly breakers = new Map<string, CircuitBreaker>();
  private readonly retry: Required<RetryOptions>;
  private readonly breakerOpts: CircuitBreakerOptions;
  private readonly diffThresh: number;
  private readonly clock: Clock;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly onEvent: (e: ResilienceEvent) => void;
  private readonly maxWindows: number;
  private readonly lastServed = new Map<string, string>();
  private readonly counters: ResilienceMetrics = {
    data_retry_total: 0,
    data_dedupe_drops_total: 0,
    failovers_total: 0,
    failbacks_total: 0,
    conflicts_total: 0,
    requests_total: {},
    failures_total: {},
  };

  constructor(opts: ResilientProviderOptions) {
    this.id = opts.id ?? 'resilient';
    this.retry = {
      max: opts.retry?.max ?? SEED_RETRY_MAX,
      baseDelayMs: opts.retry?.baseDelayMs ?? SEED_BACKOFF_BASE_MS,
      maxDelayMs: opts.retry?.maxDelayMs ?? SEED_BACKOFF_MAX_MS,
      jitter: opts.retry?.jitter ?? DEFAULT_BACKOFF_JITTER,
    };
    if (!Number.isInteger(this.retry.max) || this.retry.max < 0) throw new OrreryError(MarketDataErrorIds.CONFIG_INVALID, 'retry.max must be a non-negative integer.', { max: this.retry.max });
    this.breakerOpts = opts.circuitBreaker ?? {};
    new CircuitBreaker(this.breakerOpts, systemClock); // validates
    this.diffThresh = opts.diffThresh ?? SEED_DIFF_THRESH;
    if (!(this.diffThresh > 0 && this.diffThresh < 1)) throw new OrreryError(MarketDataErrorIds.CONFIG_INVALID, `diffThresh must be in (0, 1) (got ${this.diffThresh}).`, { diffThresh: this.diffThresh });
    this.clock = opts.clock ?? systemClock;
    this.sleep = opts.sleep ?? defaultSleep;
    this.random = opts.random ?? Math.random;
    this.onEvent = opts.onEvent ?? (() => undefined);
    this.maxWindows = opts.maxWindowsPerFetch ?? 100_000;

    const headroom = opts.rateLimitHeadroom ?? DEFAULT_RATE_LIMIT_HEADROOM;
    if (!(headroom >= 0 && headroom < 1)) throw new OrreryError(MarketDataErrorIds.CONFIG_INVALID, `rateLimitHeadroom must be in [0, 1) (got ${headroom}).`, { headroom });
    const ids = new Set<string>();
    this.sources = [];
    opts.sources.forEach((reg, order) => {
      if (reg.enabled === false) return;
      const id = reg.id ?? reg.provider.id;
      if (ids.has(id)) throw new OrreryError(MarketDataErrorIds.CONFIG_INVALID, `Source id '${id}' is registered twice.`, { id });
      ids.add(id);
      if (!Number.isFinite(reg.priority)) throw new OrreryError(MarketDataErrorIds.CONFIG_INVALID, `Source '${id}': priority must be a number.`, { id });
      const qps = reg.rateLimits?.restQps === undefined ? reg.provider.getRateLimit().restQps : reg.rateLimits.restQps;
      const perMinute = reg.rateLimits?.restPerMinute ?? null;
      if ((qps !== null && !(qps > 0)) || (perMinute !== null && !(Number.isInteger(perMinute) && perMinute > 0))) {
        throw new OrreryError(MarketDataErrorIds.CONFIG_INVALID, `Source '${id}': rest_qps must be > 0 and the per-minute budget a positive integer.`, { id, qps, perMinute });
      }
      const limiter =
        qps === null && perMinute === null
          ? null
          : new Bottleneck({
              maxConcurrent: null,
              minTime: qps === null ? 0 : Math.ceil((1000 / qps) * (1 + headroom)),
              ...(perMinute === null ? {} : { reservoir: perMinute, reservoirRefreshAmount: perMinute, reservoirRefreshInterval: 60_000 }),
            });
      const hinted = (reg.provider as { requestWindowBars?: unknown }).requestWindowBars;
      const windowBars = reg.windowBars ?? (typeof hinted === 'number' ? hinted : undefined) ?? reg.provider.getCapabilities().limits.maxBarsPerRequest ?? 5000;
      if (!Number.isInteger(windowBars) || windowBars < 1) throw new OrreryError(MarketDataErrorIds.CONFIG_INVALID, `Source '${id}': windowBars must be a positive integer.`, { id, windowBars });
      this.sources.push({
        id,
        provider: reg.provider,
        priority: reg.priority,
        order,
        timeframes: new Set(reg.timeframes ?? reg.provider.getCapabilities().timeframes),
        symbols: reg.symbols ? new Set(reg.symbols) : null,
        limiter,
        windowBars,
        attemptTimeoutMs: reg.attemptTimeoutMs,
      });
    });
    this.sources.sort((a, b) => a.priority - b.priority || a.order - b.order);
    if (this.sources.length === 0) throw new OrreryError(MarketDataErrorIds.CONFIG_INVALID, 'ResilientProvider needs at least one enabled source.', {});
  }

  /** Source ids in failover order. */
  sourceIds(): string[] {
    return this.sources.map((s) => s.id);
  }

  private breaker(sourceId: string, timeframe: string): CircuitBreaker {
    const k = `${sourceId}|${timeframe}`;
    let b = this.breakers.get(k);
    if (!b) {
      b = new CircuitBreaker(this.breakerOpts, this.clock, (from, to) => this.onEvent({ type: 'breaker', source: sourceId, timeframe, from, to }));
      this.breakers.set(k, b);
    }
    return b;
  }

  /** Breaker state of one source × timeframe. */
  breakerState(sourceId: string, timeframe: string): BreakerSnapshot {
    return this.breaker(sourceId, timeframe).snapshot();
  }

  metrics(): ResilienceMetrics {
    return { ...this.counters, requests_total: { ...this.counters.requests_total }, failures_total: { ...this.counters.failures_total } };
  }

  private candidates(symbol: string, timeframe: string): Source[] {
    return this.sources.filter((s) => s.timeframes.has(timeframe) && (s.symbols === null || s.symbols.has(symbol)));
  }

  /** One provider call with rate limit, retries and breaker; throws SourceUnavailable to fail over. */
  private async callSource(src: Source, req: FetchTimeSeriesRequest): Promise<CanonicalBar[]> {
    const breaker = this.breaker(src.id, req.timeframe);
    let last: unknown;
    for (let attempt = 0; attempt <= this.retry.max; attempt++) {
      if (!breaker.tryAcquire()) {
        throw new SourceUnavailable(src.id, attempt === 0 ? `circuit ${breaker.state()} for ${req.timeframe}` : `circuit opened after ${attempt} failed attempt(s)`, last);
      }
      this.counters.requests_total[src.id] = (this.counters.requests_total[src.id] ?? 0) + 1;
      let started = 0;
      try {
        // latency is the source's answer time, not the wait for the rate limiter
        const run = () => ((started = performance.now()), this.withTimeout(src, src.provider.fetchTimeSeries(req)));
        const bars = src.limiter ? await src.limiter.schedule(run) : await run();
        breaker.onSuccess();
        this.onEvent({ type: 'request', source: src.id, symbol: req.symbol, timeframe: req.timeframe, latencyMs: performance.now() - started, ok: true });
        return bars;
      } catch (e) {
        if (started) this.onEvent({ type: 'request', source: src.id, symbol: req.symbol, timeframe: req.timeframe, latencyMs: performance.now() - started, ok: false, errorId: describe(e).errorId });
        if (e instanceof Bottleneck.BottleneckError) {
          // the limiter was stopped (close()): not the source's fault, and not worth a retry
          breaker.release();
          throw new OrreryError(ProviderErrorIds.SOURCE_CLOSED, `${this.id}: source '${src.id}' was closed while a request waited for its rate limit (${e.message}).`, { source: src.id }, { cause: e });
        }
        if (!isRetryable(e)) {
          breaker.onSuccess(); // the source answered: it is up
          throw e;
        }
        last = e;
        breaker.onFailure();
        this.counters.failures_total[src.id] = (this.counters.failures_total[src.id] ?? 0) + 1;
        if (attempt === this.retry.max) break;
        if (breaker.state() === 'open') throw new SourceUnavailable(src.id, `circuit opened after ${attempt + 1} failed attempt(s)`, e);
        const delayMs = backoffDelayMs(attempt + 1, this.retry, this.random, e instanceof ProviderRequestError ? e.retryAfterMs : undefined);
        this.counters.data_retry_total++;
        this.onEvent({ type: 'retry', source: src.id, timeframe: req.timeframe, retry: attempt + 1, delayMs, ...describe(e) });
        await this.sleep(delayMs);
      }
    }
    throw new SourceUnavailable(src.id, `${this.retry.max} retries exhausted`, last);
  }

  private withTimeout<T>(src: Source, p: Promise<T>): Promise<T> {
    const ms = src.attemptTimeoutMs;
    if (ms === undefined) return p;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new ProviderRequestError(ProviderErrorIds.HTTP_TIMEOUT, `${src.id}: no answer within ${ms} ms.`, { retryable: true, details: { source: src.id, timeout_ms: ms } })),
        ms,
      );
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }

  /** Fetches [start, end) window by window, each window from the first source that can serve it. */
  private async fetchRange(req: FetchTimeSeriesRequest, candidates: Source[], allowFailover: boolean): Promise<{ bars: CanonicalBar[]; servedBy: Set<string> }> {
    const tfMs = timeframeMs(req.timeframe);
    const { startMs, endMs } = checkRange(req.start, req.end, req.limit);
    if (candidates.length === 0) {
      throw new OrreryError(ProviderErrorIds.SOURCE_NONE, `No enabled source serves ${req.symbol} ${req.timeframe} (sources: ${this.sources.map((s) => `${s.id}[${[...s.timeframes].join(',')}]`).join(', ')}).`, {
        symbol: req.symbol,
        timeframe: req.timeframe,
      });
    }
    const cap = req.limit ?? Number.POSITIVE_INFINITY;
    const out: CanonicalBar[] = [];
    const servedBy = new Set<string>();
    const seriesKey = `${req.symbol}|${req.timeframe}`;
    let cursor = alignUp(startMs, tfMs);
    let windows = 0;
    while (cursor < endMs && out.length < cap) {
      const failures: Array<{ source: string; reason: string; last: unknown }> = [];
      let served = false;
      for (const src of allowFailover ? candidates : candidates.slice(0, 1)) {
        if (++windows > this.maxWindows) {
          throw new OrreryError(MarketDataErrorIds.REQUEST_INVALID, `${this.id}: more than ${this.maxWindows} provider calls for one fetch; narrow the range.`, { maxWindows: this.maxWindows });
        }
        const limit = Math.min(src.windowBars, cap - out.length);
        const winEnd = Math.min(endMs, cursor + src.windowBars * tfMs);
        let bars: CanonicalBar[];
        try {
          bars = await this.callSource(src, { symbol: req.symbol, timeframe: req.timeframe, start: new Date(cursor), end: new Date(winEnd), limit, ingestRunId: req.ingestRunId });
        } catch (e) {
          if (!(e instanceof SourceUnavailable)) throw e;
          failures.push({ source: src.id, reason: e.reason, last: e.last });
          continue;
        }
        const inWindow = bars.filter((b) => {
          const t = Date.parse(b.ts_utc);
          return t >= cursor && t < winEnd;
        });
        out.push(...inWindow);
        servedBy.add(src.id);
        if (failures.length) {
          this.counters.failovers_total++;
          this.onEvent({ type: 'failover', symbol: req.symbol, timeframe: req.timeframe, from: failures[0].source, to: src.id, reason: failures[0].reason });
        }
        const prev = this.lastServed.get(seriesKey);
        if (allowFailover && prev !== undefined && prev !== src.id) {
          const prevSrc = this.sources.find((s) => s.id === prev);
          if (prevSrc && (src.priority < prevSrc.priority || (src.priority === prevSrc.priority && src.order < prevSrc.order))) {
            this.counters.failbacks_total++;
            this.onEvent({ type: 'failback', symbol: req.symbol, timeframe: req.timeframe, from: prev, to: src.id });
          }
        }
        if (allowFailover) this.lastServed.set(seriesKey, src.id);
        const full = bars.length >= limit && inWindow.length > 0;
        const next = full ? Date.parse(inWindow[inWindow.length - 1].ts_utc) + tfMs : winEnd;
        cursor = next > cursor ? next : winEnd;
        served = true;
        break;
      }
      if (!served) {
        const last = failures[failures.length - 1]?.last;
        throw new OrreryError(
          ProviderErrorIds.SOURCE_UNAVAILABLE,
          `No source could serve ${req.symbol} ${req.timeframe} from ${new Date(cursor).toISOString()}: ${failures.map((f) => `${f.source} (${f.reason}${f.last ? `: ${describe(f.last).message}` : ''})`).join('; ')}.`,
          { symbol: req.symbol, timeframe: req.timeframe, attempts: failures.map((f) => ({ source: f.source, reason: f.reason, ...(f.last ? describe(f.last) : {}) })) },
          { cause: last },
        );
      }
    }
    const deduped = dedupeLatestWins(out, { key: 'canonical' });
    this.counters.data_dedupe_drops_total += deduped.dropped;
    if (deduped.dropped) this.onEvent({ type: 'dedupe', symbol: req.symbol, timeframe: req.timeframe, dropped: deduped.dropped });
    return { bars: deduped.bars.slice(0, cap === Number.POSITIVE_INFINITY ? undefined : cap), servedBy };
  }

  async fetchTimeSeries(req: FetchTimeSeriesRequest): Promise<CanonicalBar[]> {
    timeframeMs(req.timeframe);
    return (await this.fetchRange(req, this.candidates(req.symbol, req.timeframe), true)).bars;
  }

  /**
   * Fetches like fetchTimeSeries, then the same range from the next configured source (by
   * priority, not one that served the primary bars, breaker not open) and flags conflicts.
   */
  async fetchWithConflicts(req: FetchTimeSeriesRequest): Promise<ConflictFetchResult> {
    timeframeMs(req.timeframe);
    const candidates = this.candidates(req.symbol, req.timeframe);
    const primary = await this.fetchRange(req, candidates, true);
    const secondary = candidates.find((s) => !primary.servedBy.has(s.id) && this.breaker(s.id, req.timeframe).state() !== 'open');
    const base = { primarySources: [...primary.servedBy], compared: 0, conflicts: [] as ConflictRecord[], missingInSecondary: primary.bars.length };
    if (!secondary) return { ...base, bars: primary.bars, secondarySource: null };
    let secondaryBars: CanonicalBar[];
    try {
      secondaryBars = (await this.fetchRange(req, [secondary], false)).bars;
    } catch (e) {
      return { ...base, bars: primary.bars, secondarySource: secondary.id, secondaryError: describe(e) };
    }
    const result = compareCloses(primary.bars, secondaryBars, this.diffThresh);
    this.counters.conflicts_total += result.conflicts.length;
    if (result.conflicts.length) this.onEvent({ type: 'conflict', symbol: req.symbol, timeframe: req.timeframe, count: result.conflicts.length, secondary: secondary.id });
    return { ...base, bars: result.bars, secondarySource: secondary.id, compared: result.compared, conflicts: result.conflicts, missingInSecondary: result.missingInSecondary };
  }

  async listSymbols(filter?: { assetClass?: string }): Promise<SymbolMeta[]> {
    const seen = new Map<string, SymbolMeta>();
    for (const s of this.sources) {
      let list: SymbolMeta[];
      try {
        list = await s.provider.listSymbols(filter);
      } catch {
        continue;
      }
      for (const m of list) {
        if (s.symbols && !s.symbols.has(m.symbol)) continue;
        if (!seen.has(m.symbol)) seen.set(m.symbol, { ...m, metadata: { ...m.metadata, source_id: s.id } });
      }
    }
    return [...seen.values()].sort((a, b) => cmp(a.symbol, b.symbol));
  }

  getCapabilities(): ProviderCapabilities {
    const tfs = new Set<string>();
    const assets = new Set<string>();
    for (const s of this.sources) {
      for (const tf of s.timeframes) tfs.add(tf);
      for (const a of s.provider.getCapabilities().assets) assets.add(a);
    }
    return { timeframes: [...tfs], assets: [...assets], limits: { maxBarsPerRequest: null, earliestTs: null }, latencyProfile: { typicalMs: null, realtime: false } };
  }

  getRateLimit(): RateLimitInfo {
    const parts = this.sources.map((s) => `${s.id}: ${s.provider.getRateLimit().policy}`);
    return { restQps: null, wsChannels: null, burst: null, policy: `per source (${parts.join('; ')})` };
  }

  async healthCheck(): Promise<ProviderHealth> {
    const sources: Record<string, unknown> = {};
    let usable = 0;
    let allOk = true;
    for (const s of this.sources) {
      let h: ProviderHealth;
      try {
        h = await s.provider.healthCheck();
      } catch (e) {
        h = { status: 'down', details: describe(e) };
      }
      const breakers: Record<string, BreakerSnapshot> = {};
      for (const tf of s.timeframes) breakers[tf] = this.breakerState(s.id, tf);
      const anyClosed = Object.values(breakers).some((b) => b.state !== 'open');
      if (h.status !== 'down' && anyClosed) usable++;
      if (h.status !== 'ok' || Object.values(breakers).some((b) => b.state !== 'closed')) allOk = false;
      sources[s.id] = { priority: s.priority, health: h, breakers };
    }
    return { status: usable === 0 ? 'down' : allOk ? 'ok' : 'degraded', details: { sources, metrics: this.metrics() } };
  }

  /** Stops the rate limiters (drops queued requests). */
  async close(): Promise<void> {
    await Promise.all(this.sources.map((s) => (s.limiter ? s.limiter.stop({ dropWaitingJobs: true }).catch(() => undefined) : undefined)));
  }
}

// ---------------------------------------------------------------------------------------------
// sources.yaml → providers → registrations

/** One entry of sources.yaml `providers` (the keys this module reads; others are ignored). */
export type SourceEntry = {
  type: string;
  enabled?: boolean;
  priority: number;
  timeframes: string[];
  symbols?: string[];
  base_url?: string;
  api_key_ref?: string;
  path?: string;
  rate_limits?: { rest_qps?: number; rest_per_minute?: number; ws_channels?: number };
};

/** The keys of pipeline_policy.yaml this module uses (seed 002 監視・運用 設定例). */
export type ResiliencePolicy = {
  retry_max?: number;
  retry_backoff_max_seconds?: number;
  rest_rate_limit_budget?: number;
  circuit_breaker?: { open_threshold_errors: number; half_open_after_seconds: number };
  diff_thresh?: number;
};

/** pipeline_policy values → ResilientProvider options. */
export function resilienceOptionsFromPolicy(p: ResiliencePolicy): Pick<ResilientProviderOptions, 'retry' | 'circuitBreaker' | 'diffThresh'> {
  return {
    retry: {
      ...(p.retry_max !== undefined ? { max: p.retry_max } : {}),
      ...(p.retry_backoff_max_seconds !== undefined ? { maxDelayMs: p.retry_backoff_max_seconds * 1000 } : {}),
    },
    circuitBreaker: p.circuit_breaker ? { openThresholdErrors: p.circuit_breaker.open_threshold_errors, halfOpenAfterMs: p.circuit_breaker.half_open_after_seconds * 1000 } : {},
    ...(p.diff_thresh !== undefined ? { diffThresh: p.diff_thresh } : {}),
  };
}

export type ProviderFactoryDeps = {
  secrets?: SecretResolver;
  /** Extra options per source id (e.g. GenericRest path template and field map, symbol maps). */
  twelvedata?: Partial<TwelveDataOptions>;
  genericRest?: Record<string, Partial<GenericRestOptions>>;
  csv?: Record<string, Partial<CsvProviderOptions>>;
  /** Providers built elsewhere (e.g. the synthetic source), by source id. */
  custom?: Record<string, MarketDataProvider>;
};

/** Builds the provider of one sources.yaml entry (TwelveData, GenericRest, Csv, or a custom one). */
export function providerFromSourceEntry(id: string, entry: SourceEntry, deps: ProviderFactoryDeps = {}): MarketDataProvider {
  const custom = deps.custom?.[id];
  if (custom) return custom;
  switch (entry.type) {
    case 'TwelveData':
      return new TwelveDataProvider({
        id,
        baseUrl: entry.base_url,
        apiKeyRef: entry.api_key_ref,
        secrets: deps.secrets,
        timeframes: entry.timeframes,
        restQps: entry.rate_limits?.rest_qps ?? null,
        ...deps.twelvedata,
      });
    case 'GenericRest':
      if (!entry.base_url) throw new OrreryError(MarketDataErrorIds.CONFIG_INVALID, `Source '${id}' (GenericRest) needs base_url.`, { id });
      return new GenericRestProvider({ id, baseUrl: entry.base_url, apiKeyRef: entry.api_key_ref, secrets: deps.secrets, timeframes: entry.timeframes, restQps: entry.rate_limits?.rest_qps ?? null, ...deps.genericRest?.[id] });
    case 'Csv':
      if (!entry.path) throw new OrreryError(MarketDataErrorIds.CONFIG_INVALID, `Source '${id}' (Csv) needs path.`, { id });
      return new CsvProvider({ id, path: entry.path, ...deps.csv?.[id] });
    default:
      throw new OrreryError(MarketDataErrorIds.CONFIG_INVALID, `Source '${id}' has type '${entry.type}', which this build cannot construct; pass the provider in deps.custom.`, { id, type: entry.type });
  }
}

/**
 * sources.yaml `providers` → registrations for ResilientProvider (disabled entries skipped).
 * TwelveData sources also get the per-minute REST budget (`rest_rate_limit_budget`, default 610).
 */
export function sourcesFromConfig(providers: Record<string, SourceEntry>, deps: ProviderFactoryDeps = {}, policy: ResiliencePolicy = {}): SourceRegistration[] {
  const out: SourceRegistration[] = [];
  for (const [id, entry] of Object.entries(providers)) {
    if (entry.enabled === false) continue;
    const provider = providerFromSourceEntry(id, entry, deps);
    const perMinute = entry.rate_limits?.rest_per_minute ?? (entry.type === 'TwelveData' ? (policy.rest_rate_limit_budget ?? TWELVEDATA_PRO_REST_PER_MINUTE) : null);
    out.push({
      id,
      provider,
      priority: entry.priority,
      timeframes: entry.timeframes,
      ...(entry.symbols ? { symbols: entry.symbols } : {}),
      rateLimits: { restQps: entry.rate_limits?.rest_qps ?? null, restPerMinute: perMinute },
    });
  }
  return out;
}
