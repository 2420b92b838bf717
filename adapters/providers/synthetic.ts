/**
 * SyntheticProvider: a deterministic `MarketDataProvider` whose symbols are the legs of
 * cointegrated pairs with known parameters, for tests, demos and backtest sanity checks.
 *
 * Model (all in a 15-minute BASE grid of market-open steps, k = 0, 1, 2, ... from the epoch):
 *   - every symbol that is some pair's leg B is a DRIVER: a driftless geometric random walk
 *       ln B_k = ln B_{k-1} + σ_base · z_k,       σ_base = annualVol / sqrt(260 · 96),   B_{-1} = legB.price0
 *     keyed by (seed, 'walk', symbol), so one symbol is one series whichever pairs it is in;
 *   - every leg A is DERIVED from its pair:
 *       A_k = β · B_k + s_k + c,                   c = legA.price0 − β · legB.price0
 *       s_k = φ · s_{k-1} + σ_ε · ε_k,             s_{-1} = 0,  φ = exp(−κ),  σ_ε = spreadVol · sqrt(1 − φ²)
 *     an Ornstein–Uhlenbeck spread keyed by (seed, 'spread', pairId); κ = ln2 / halfLife counted
 *     in base steps, so sampled every bar of `halfLifeTimeframe` (default '1h') the spread is an
 *     AR(1) with coefficient exp(−ln2 / halfLifeBars) and stationary std `spreadVol`.
 *     A is cointegrated with B with the configured β. (A is floored at one tick, which only
 *     matters for configurations whose A would go negative.)
 *   A symbol that is leg A of two pairs, or leg A of one and leg B of another, is rejected
 *   (`DATA_CONFIG_INVALID`): it would need two definitions.
 *
 * Bars of every timeframe ('15m', '1h', '4h', 'daily') are aggregated from the same base path,
 * so a 4h bar is exactly the aggregate of its four 1h bars (open of the first, close of the last,
 * max high, min low, sum of volumes). Each base step also draws two wick sizes and a volume
 * from a stream keyed by (seed, 'bar', symbol). Prices: close rounded to the nearest tick (never
 * below one tick), open = the previous bar's close, high rounded up and low rounded down to the
 * tick and widened to contain open and close.
 *
 * Range independence: every random number is a pure function of (seed, stream, step index)
 * (a murmur3-style counter hash + Box–Muller), and the recursions above are evaluated from
 * checkpoints stored every 4096 steps that are themselves computed by the same recursion from
 * the epoch, so a bar's value is bit-for-bit the same whatever range, order or instance asked
 * for it. The first request far from the epoch costs O(steps since the epoch) once per series;
 * later requests cost O(bars asked + 4096).
 *
 * Market hours: a bar exists when its start falls Monday–Friday UTC (24h a day); the processes
 * advance only on those bars. No bar starts before the epoch (default 2020-01-01T00:00Z).
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

export const SYNTHETIC_PROVIDER_VERSION = 'synthetic-1.0.0';
/** Default first bar of every series. */
export const SYNTHETIC_DEFAULT_EPOCH = '2020-01-01T00:00:00.000Z';
/** Trading days a year used to turn an annual volatility into a per-bar one (52 weeks × 5 days). */
export const SYNTHETIC_TRADING_DAYS_PER_YEAR = 260;

export type SyntheticLegConfig = {
  /** Canonical symbol, e.g. 'XAUUSD'. */
  symbol: string;
  /** Price at the epoch: the open of the first bar. > 0. */
  price0: number;
  /** Price grid. > 0. */
  tickSize: number;
  /**
   * Annualised volatility of log returns (0.25 = 25%/year). For a leg B it drives the random
   * walk; for a leg A (whose moves are implied by β·B + spread) it only scales intrabar wicks.
   */
  annualVol: number;
  /** Default 'CFD'. */
  assetClass?: string;
  /** Mean volume of one 15-minute step at a typical hour; default 1000. */
  baseVolume?: number;
};

export type SyntheticPairConfig = {
  pairId: string;
  legA: SyntheticLegConfig;
  legB: SyntheticLegConfig;
  /** Hedge ratio: A = β·B + s + c. */
  beta: number;
  /** Half-life of the spread's mean reversion, in bars of `halfLifeTimeframe`. > 0. */
  halfLifeBars: number;
  /** Timeframe `halfLifeBars` is counted in; default '1h'. */
  halfLifeTimeframe?: Timeframe;
  /** Stationary standard deviation of the spread s_t, in leg-A price units. >= 0. */
  spreadVol: number;
};

export type SyntheticProviderOptions = {
  seed: number | string;
  pairs: SyntheticPairConfig[];
  /** Provider id and `source_id` of its bars; default 'synthetic'. */
  id?: string;
  /** First bar start of every series; must be 00:00 UTC, not before 1970. Default 2020-01-01. */
  epoch?: Date | string;
  /** Cap on bars per `fetchTimeSeries` call; default 100000. */
  maxBarsPerRequest?: number;
  /** When given, only bars that have closed by `clock.now()` are returned. */
  clock?: Clock;
};

// ---------------------------------------------------------------------------------------------
// Counter-based randomness

const BASE_MS = 15 * 60_000;
const DAY_MS = 86_400_000;
const STEPS_PER_DAY = DAY_MS / BASE_MS;
const CHECKPOINT_EVERY = 4096;
/** ~190 years of 15-minute steps: a guard against requests that would build absurd paths. */
const MAX_BASE_STEPS = 5_000_000;
const TWO_POW_32 = 4294967296;

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function murmurRound(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** murmur3_32 of four 32-bit words. */
function hash4(w0: number, w1: number, w2: number, w3: number): number {
  let h = 0x9747b28c;
  h = murmurRound(h, w0);
  h = murmurRound(h, w1);
  h = murmurRound(h, w2);
  h = murmurRound(h, w3);
  return fmix32(h ^ 16);
}

function hashString(s: string, salt: number): number {
  const bytes = new TextEncoder().encode(s);
  let h = (0x811c9dc5 ^ salt) >>> 0;
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h ^ bytes.length);
}

/** A 64-bit stream key; the stream's n-th numbers are pure functions of (key, index, draw). */
type StreamKey = { k0: number; k1: number };

function streamKey(seed: number | string, kind: string, name: string): StreamKey {
  const text = `${typeof seed === 'number' ? 'n' : 's'}:${seed}\u001f${kind}\u001f${name}`;
  return { k0: hashString(text, 0x243f6a88) | 0, k1: hashString(text, 0x13198a2e) | 0 };
}

/** Standard normal number `draw` of step `index` of a stream (Box–Muller on two hashed uniforms). */
function normalAt(key: StreamKey, index: number, draw: number): number {
  const h1 = hash4(key.k0, key.k1, index | 0, (draw << 1) | 0);
  const h2 = hash4(key.k1, key.k0, index | 0, ((draw << 1) | 1) ^ 0x5bd1e995);
  const u1 = (h1 + 1) / TWO_POW_32; // (0, 1]
  const u2 = h2 / TWO_POW_32; // [0, 1)
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/**
 * x_k = step(x_{k-1}, k) with x_{-1} = initial, evaluated exactly and range-independently:
 * checkpoints hold the state before steps 0, E, 2E, ...; any state is reached from the
 * checkpoint below it by the same arithmetic that built the next checkpoint.
 */
class CheckpointedRecurrence {
  private readonly checkpoints: number[];

  constructor(
    initial: number,
    private readonly step: (prev: number, k: number) => number,
  ) {
    this.checkpoints = [initial];
  }

  /** out[0] = state before step k0, out[i + 1] = state after step k0 + i, for k0 <= k < k1. */
  range(k0: number, k1: number): Float64Array {
    const ci = Math.floor(k0 / CHECKPOINT_EVERY);
    while (this.checkpoints.length <= ci) {
      const base = (this.checkpoints.length - 1) * CHECKPOINT_EVERY;
      let s = this.checkpoints[this.checkpoints.length - 1];
      for (let k = base; k < base + CHECKPOINT_EVERY; k++) s = this.step(s, k);
      this.checkpoints.push(s);
    }
    let s = this.checkpoints[ci];
    for (let k = ci * CHECKPOINT_EVERY; k < k0; k++) s = this.step(s, k);
    const out = new Float64Array(k1 - k0 + 1);
    out[0] = s;
    for (let k = k0; k < k1; k++) {
      s = this.step(s, k);
      out[k - k0 + 1] = s;
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Calendar: bars exist Monday–Friday UTC

function isWeekdayDay(dayNumber: number): boolean {
  const dow = (((dayNumber + 4) % 7) + 7) % 7; // 1970-01-01 was a Thursday; 0 = Sunday
  return dow !== 0 && dow !== 6;
}

/** Weekdays among day numbers [0, d) counted from 1970-01-01 (d >= 0). */
function weekdaysBefore(d: number): number {
  const weeks = Math.floor(d / 7);
  let n = weeks * 5;
  for (let day = weeks * 7; day < d; day++) if (isWeekdayDay(day)) n++;
  return n;
}

// ---------------------------------------------------------------------------------------------
// Prices on a tick grid

function tickDecimals(tick: number): number {
  const text = tick.toString();
  const exp = /e-(\d+)$/.exec(text);
  if (exp) {
    const mantissa = text.slice(0, exp.index);
    const dot = mantissa.indexOf('.');
    return Math.min(15, Number(exp[1]) + (dot < 0 ? 0 : mantissa.length - dot - 1));
  }
  const dot = text.indexOf('.');
  return dot < 0 ? 0 : Math.min(15, text.length - dot - 1);
}

class TickGrid {
  readonly decimals: number;
  constructor(readonly tick: number) {
    this.decimals = tickDecimals(tick);
  }
  private at(k: number): number {
    return Number((k * this.tick).toFixed(this.decimals));
  }
  nearest(x: number): number {
    return this.at(Math.round(x / this.tick));
  }
  up(x: number): number {
    return this.at(Math.ceil(x / this.tick));
  }
  down(x: number): number {
    return this.at(Math.floor(x / this.tick));
  }
}

// ---------------------------------------------------------------------------------------------
// Models

type LegModel = {
  symbol: string;
  leg: Required<Pick<SyntheticLegConfig, 'assetClass' | 'baseVolume'>> & SyntheticLegConfig;
  grid: TickGrid;
  /** Log-return volatility of one base step. */
  sigmaBase: number;
  barKey: StreamKey;
  pairIds: string[];
};

type DriverModel = LegModel & { role: 'driver'; walk: CheckpointedRecurrence };

type DerivedModel = LegModel & {
  role: 'derived';
  pair: SyntheticPairConfig;
  driver: DriverModel;
  spread: CheckpointedRecurrence;
  intercept: number;
};

type SymbolModel = DriverModel | DerivedModel;

function configError(message: string, details: Record<string, unknown> = {}): OrreryError {
  return new OrreryError(MarketDataErrorIds.CONFIG_INVALID, message, details);
}

function requireNumber(value: unknown, where: string, check: (n: number) => boolean, expectation: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || !check(value)) {
    throw configError(`Synthetic provider: ${where} must be a finite number ${expectation} (got ${String(value)}).`, { field: where, value });
  }
  return value;
}

function validateLeg(leg: SyntheticLegConfig | undefined, where: string): void {
  if (!leg || typeof leg !== 'object') throw configError(`Synthetic provider: ${where} is missing.`, { field: where });
  if (typeof leg.symbol !== 'string' || leg.symbol.trim() === '' || leg.symbol.trim() !== leg.symbol) {
    throw configError(`Synthetic provider: ${where}.symbol must be a non-empty canonical symbol without spaces (got '${String(leg.symbol)}').`, { field: `${where}.symbol` });
  }
  requireNumber(leg.price0, `${where}.price0`, (n) => n > 0, '> 0');
  requireNumber(leg.tickSize, `${where}.tickSize`, (n) => n > 0, '> 0');
  requireNumber(leg.annualVol, `${where}.annualVol`, (n) => n >= 0 && n < 10, 'in [0, 10)');
  if (leg.baseVolume !== undefined) requireNumber(leg.baseVolume, `${where}.baseVolume`, (n) => n > 0, '> 0');
  if (leg.assetClass !== undefined && (typeof leg.assetClass !== 'string' || leg.assetClass === '')) {
    throw configError(`Synthetic provider: ${where}.assetClass must be a non-empty string.`, { field: `${where}.assetClass` });
  }
}

function sameLeg(a: SyntheticLegConfig, b: SyntheticLegConfig): boolean {
  return (
    a.price0 === b.price0 &&
    a.tickSize === b.tickSize &&
    a.annualVol === b.annualVol &&
    (a.assetClass ?? 'CFD') === (b.assetClass ?? 'CFD') &&
    (a.baseVolume ?? 1000) === (b.baseVolume ?? 1000)
  );
}

/** Relative volume by UTC hour of day: quiet Asian night, busy London/New York overlap. */
function hourVolumeFactor(tsMs: number): number {
  const hour = ((tsMs % DAY_MS) + DAY_MS) % DAY_MS / 3_600_000;
  const d = hour - 14.5;
  return 0.55 + 0.9 * Math.exp(-(d * d) / (2 * 3.5 * 3.5));
}

// ---------------------------------------------------------------------------------------------

export class SyntheticProvider implements MarketDataProvider {
  readonly id: string;
  private readonly seed: number | string;
  private readonly epochMs: number;
  private readonly epochWeekdays: number;
  private readonly maxBarsPerRequest: number;
  private readonly clock: Clock | undefined;
  private readonly models = new Map<string, SymbolModel>();
  private readonly pairCount: number;

  constructor(options: SyntheticProviderOptions) {
    if (!options || typeof options !== 'object') throw configError('Synthetic provider: options are required ({ seed, pairs }).');
    const { seed, pairs } = options;
    if (!(typeof seed === 'string' || (typeof seed === 'number' && Number.isFinite(seed)))) {
      throw configError(`Synthetic provider: seed must be a finite number or a string (got ${String(seed)}).`, { field: 'seed' });
    }
    if (!Array.isArray(pairs)) throw configError('Synthetic provider: pairs must be an array of pair configs.', { field: 'pairs' });
    this.seed = seed;
    this.id = options.id ?? 'synthetic';

    const epoch = options.epoch === undefined ? new Date(SYNTHETIC_DEFAULT_EPOCH) : new Date(options.epoch);
    const epochMs = epoch.getTime();
    if (!Number.isFinite(epochMs) || epochMs < 0 || epochMs % DAY_MS !== 0) {
      throw configError(`Synthetic provider: epoch must be a 00:00 UTC instant not before 1970 (got ${String(options.epoch)}).`, { field: 'epoch' });
    }
    this.epochMs = epochMs;
    this.epochWeekdays = weekdaysBefore(epochMs / DAY_MS);
    this.maxBarsPerRequest =
      options.maxBarsPerRequest === undefined
        ? 100_000
        : requireNumber(options.maxBarsPerRequest, 'maxBarsPerRequest', (n) => Number.isInteger(n) && n > 0, 'and a positive integer');
    this.clock = options.clock;

    // Roles: leg B symbols drive, leg A symbols are derived from exactly one pair.
    const pairIds = new Set<string>();
    const driverLegs = new Map<string, { leg: SyntheticLegConfig; pairIds: string[] }>();
    const derivedPairs = new Map<string, SyntheticPairConfig>();
    pairs.forEach((pair, i) => {
      const where = `pairs[${i}]`;
      if (!pair || typeof pair !== 'object') throw configError(`Synthetic provider: ${where} is not a pair config.`, { field: where });
      if (typeof pair.pairId !== 'string' || pair.pairId === '') throw configError(`Synthetic provider: ${where}.pairId must be a non-empty string.`, { field: `${where}.pairId` });
      if (pairIds.has(pair.pairId)) throw configError(`Synthetic provider: pairId '${pair.pairId}' appears twice; pair ids must be unique.`, { pairId: pair.pairId });
      pairIds.add(pair.pairId);
      validateLeg(pair.legA, `${where}.legA`);
      validateLeg(pair.legB, `${where}.legB`);
      requireNumber(pair.beta, `${where}.beta`, (n) => n !== 0, 'other than 0');
      requireNumber(pair.halfLifeBars, `${where}.halfLifeBars`, (n) => n > 0, '> 0');
      requireNumber(pair.spreadVol, `${where}.spreadVol`, (n) => n >= 0, '>= 0');
      if (pair.halfLifeTimeframe !== undefined && !isTimeframe(pair.halfLifeTimeframe)) {
        throw configError(`Synthetic provider: ${where}.halfLifeTimeframe must be one of ${TIMEFRAMES.join(', ')} (got '${String(pair.halfLifeTimeframe)}').`, { field: `${where}.halfLifeTimeframe` });
      }
      const a = pair.legA.symbol;
      const b = pair.legB.symbol;
      if (a === b) throw configError(`Synthetic provider: pair '${pair.pairId}' uses ${a} as both legs.`, { pairId: pair.pairId });
      const otherA = derivedPairs.get(a);
      if (otherA) {
        throw configError(
          `Synthetic provider: ${a} is leg A of both '${otherA.pairId}' and '${pair.pairId}'. A leg A is derived from its pair (β·B + spread), so it can belong to one pair only; make it leg B of the others or give it one pair.`,
          { symbol: a, pairIds: [otherA.pairId, pair.pairId] },
        );
      }
      derivedPairs.set(a, pair);
      const driver = driverLegs.get(b);
      if (driver) {
        if (!sameLeg(driver.leg, pair.legB)) {
          throw configError(`Synthetic provider: ${b} is leg B of '${driver.pairIds[0]}' and '${pair.pairId}' with different settings (price0, tickSize, annualVol, assetClass, baseVolume); one symbol is one series, so they must match.`, { symbol: b, pairIds: [driver.pairIds[0], pair.pairId] });
        }
        driver.pairIds.push(pair.pairId);
      } else {
        driverLegs.set(b, { leg: pair.legB, pairIds: [pair.pairId] });
      }
    });
    for (const [symbol, pair] of derivedPairs) {
      const driver = driverLegs.get(symbol);
      if (driver) {
        throw configError(
          `Synthetic provider: ${symbol} is leg A of '${pair.pairId}' and leg B of '${driver.pairIds[0]}'. Leg B symbols are random walks and leg A symbols are derived from their pair, so a symbol can have only one of the two roles.`,
          { symbol, pairIds: [pair.pairId, ...driver.pairIds] },
        );
      }
    }
    this.pairCount = pairs.length;

    const sigmaOf = (leg: SyntheticLegConfig): number => leg.annualVol / Math.sqrt(SYNTHETIC_TRADING_DAYS_PER_YEAR * STEPS_PER_DAY);
    const legModel = (leg: SyntheticLegConfig, ids: string[]): LegModel => ({
      symbol: leg.symbol,
      leg: { ...leg, assetClass: leg.assetClass ?? 'CFD', baseVolume: leg.baseVolume ?? 1000 },
      grid: new TickGrid(leg.tickSize),
      sigmaBase: sigmaOf(leg),
      barKey: streamKey(seed, 'bar', leg.symbol),
      pairIds: ids,
    });

    for (const [symbol, { leg, pairIds: ids }] of driverLegs) {
      const base = legModel(leg, ids);
      const key = streamKey(seed, 'walk', symbol);
      const sigma = base.sigmaBase;
      const walk = new CheckpointedRecurrence(Math.log(leg.price0), (prev, k) => prev + sigma * normalAt(key, k, 0));
      this.models.set(symbol, { ...base, role: 'driver', walk });
    }
    for (const [symbol, pair] of derivedPairs) {
      const driver = this.models.get(pair.legB.symbol) as DriverModel;
      const stepsPerBar = timeframeMs(pair.halfLifeTimeframe ?? '1h') / BASE_MS;
      const kappa = Math.LN2 / (pair.halfLifeBars * stepsPerBar);
      const phi = Math.exp(-kappa);
      const sigmaEps = pair.spreadVol * Math.sqrt(-Math.expm1(-2 * kappa));
      const key = streamKey(seed, 'spread', pair.pairId);
      const spread = new CheckpointedRecurrence(0, (prev, k) => phi * prev + sigmaEps * normalAt(key, k, 0));
      this.models.set(symbol, {
        ...legModel(pair.legA, [pair.pairId]),
        role: 'derived',
        pair,
        driver,
        spread,
        intercept: pair.legA.price0 - pair.beta * pair.legB.price0,
      });
    }
  }

  async fetchTimeSeries(req: FetchTimeSeriesRequest): Promise<CanonicalBar[]> {
    const tfMs = timeframeMs(req.timeframe);
    const model = this.models.get(req.symbol);
    if (!model) {
      throw new OrreryError(MarketDataErrorIds.SYMBOL_UNKNOWN, `Synthetic provider '${this.id}' has no symbol '${req.symbol}'. Known: ${[...this.models.keys()].sort().join(', ')}.`, {
        symbol: req.symbol,
        provider: this.id,
      });
    }
    const startMs = req.start instanceof Date ? req.start.getTime() : Number.NaN;
    const endMs = req.end instanceof Date ? req.end.getTime() : Number.NaN;
    if (!Number.isFinite(startMs) || !Number.isFinite(endMs) || startMs > endMs) {
      throw new OrreryError(MarketDataErrorIds.REQUEST_INVALID, `fetchTimeSeries needs valid Dates with start <= end (got ${String(req.start)} .. ${String(req.end)}).`, {
        start: String(req.start),
        end: String(req.end),
      });
    }
    if (req.limit !== undefined && !(Number.isInteger(req.limit) && req.limit >= 0)) {
      throw new OrreryError(MarketDataErrorIds.REQUEST_INVALID, `fetchTimeSeries limit must be a non-negative integer (got ${String(req.limit)}).`, { limit: req.limit });
    }
    const cap = Math.min(req.limit ?? Number.POSITIVE_INFINITY, this.maxBarsPerRequest);

    let to = endMs;
    if (this.clock) to = Math.min(to, this.clock.now().getTime() - tfMs + 1); // closed bars only
    const starts: number[] = [];
    let t = Math.ceil(Math.max(startMs, this.epochMs) / tfMs) * tfMs;
    while (t < to && starts.length < cap) {
      const day = Math.floor(t / DAY_MS);
      if (isWeekdayDay(day)) {
        starts.push(t);
        t += tfMs;
      } else {
        t = (day + 1) * DAY_MS;
      }
    }
    if (starts.length === 0) return [];

    const stepsPerBar = tfMs / BASE_MS;
    const barsPerDay = DAY_MS / tfMs;
    const first = starts[0];
    const firstBar = (weekdaysBefore(Math.floor(first / DAY_MS)) - this.epochWeekdays) * barsPerDay + Math.floor((first % DAY_MS) / tfMs);
    const k0 = firstBar * stepsPerBar;
    const k1 = (firstBar + starts.length) * stepsPerBar;
    if (k1 > MAX_BASE_STEPS) {
      throw new OrreryError(MarketDataErrorIds.REQUEST_INVALID, `Synthetic provider: ${toTsUtc(starts[starts.length - 1])} is too far from the epoch ${toTsUtc(this.epochMs)} to generate.`, {
        end: toTsUtc(starts[starts.length - 1]),
      });
    }

    const closes = this.basePrices(model, k0, k1);
    const { grid, sigmaBase, barKey } = model;
    const wick = 0.5 * sigmaBase;
    const baseVolume = model.leg.baseVolume;
    const tick = grid.tick;
    const bars: CanonicalBar[] = new Array(starts.length);
    let open = Math.max(tick, grid.nearest(closes[0]));
    for (let b = 0; b < starts.length; b++) {
      let hi = Number.NEGATIVE_INFINITY;
      let lo = Number.POSITIVE_INFINITY;
      let volume = 0;
      for (let q = 0; q < stepsPerBar; q++) {
        const i = b * stepsPerBar + q;
        const k = k0 + i;
        const o = closes[i];
        const c = closes[i + 1];
        const z1 = normalAt(barKey, k, 0);
        const z2 = normalAt(barKey, k, 1);
        const zv = normalAt(barKey, k, 2);
        const stepHi = Math.max(o, c) * Math.exp(wick * Math.abs(z1));
        const stepLo = Math.min(o, c) * Math.exp(-wick * Math.abs(z2));
        if (stepHi > hi) hi = stepHi;
        if (stepLo < lo) lo = stepLo;
        const v = baseVolume * hourVolumeFactor(starts[b] + q * BASE_MS) * Math.exp(0.4 * zv - 0.08) * (0.6 + 0.25 * (Math.abs(z1) + Math.abs(z2)));
        volume += Math.max(1, Math.round(v));
      }
      const close = Math.max(tick, grid.nearest(closes[(b + 1) * stepsPerBar]));
      const high = Math.max(grid.up(hi), open, close);
      const low = Math.max(tick, Math.min(grid.down(lo), open, close));
      bars[b] = {
        ts_utc: toTsUtc(starts[b]),
        symbol: model.symbol,
        timeframe: req.timeframe,
        open,
        high,
        low,
        close,
        volume,
        quality_flag: 'ok',
        source_id: this.id,
        ingest_run_id: req.ingestRunId,
        metadata: { provider_version: SYNTHETIC_PROVIDER_VERSION },
      };
      open = close;
    }
    return bars;
  }

  /** Unrounded prices: out[0] before base step k0, out[i + 1] after step k0 + i. */
  private basePrices(model: SymbolModel, k0: number, k1: number): Float64Array {
    if (model.role === 'driver') {
      const logs = model.walk.range(k0, k1);
      for (let i = 0; i < logs.length; i++) logs[i] = Math.exp(logs[i]);
      return logs;
    }
    const driverLogs = model.driver.walk.range(k0, k1);
    const spread = model.spread.range(k0, k1);
    const floor = model.grid.tick;
    const beta = model.pair.beta;
    const out = new Float64Array(driverLogs.length);
    for (let i = 0; i < out.length; i++) out[i] = Math.max(floor, beta * Math.exp(driverLogs[i]) + spread[i] + model.intercept);
    return out;
  }

  async listSymbols(filter?: { assetClass?: string }): Promise<SymbolMeta[]> {
    const out: SymbolMeta[] = [];
    for (const model of this.models.values()) {
      if (filter?.assetClass !== undefined && model.leg.assetClass !== filter.assetClass) continue;
      out.push({
        symbol: model.symbol,
        assetClass: model.leg.assetClass,
        sourceSymbol: model.symbol,
        tickSize: model.grid.tick,
        pricePrecision: model.grid.decimals,
        description:
          model.role === 'driver'
            ? `synthetic random walk (leg B of ${model.pairIds.join(', ')})`
            : `synthetic leg A of ${model.pair.pairId}: ${model.pair.beta}·${model.driver.symbol} + OU spread`,
        metadata: { role: model.role, pair_ids: [...model.pairIds] },
      });
    }
    return out.sort((x, y) => (x.symbol < y.symbol ? -1 : x.symbol > y.symbol ? 1 : 0));
  }

  getCapabilities(): ProviderCapabilities {
    return {
      timeframes: [...TIMEFRAMES],
      assets: ['CFD', 'FX'],
      limits: { maxBarsPerRequest: this.maxBarsPerRequest, earliestTs: toTsUtc(this.epochMs) },
      latencyProfile: { typicalMs: 0, realtime: false },
    };
  }

  getRateLimit(): RateLimitInfo {
    return { restQps: null, wsChannels: null, burst: null, policy: 'unlimited' };
  }

  async healthCheck(): Promise<ProviderHealth> {
    return {
      status: 'ok',
      details: {
        provider_version: SYNTHETIC_PROVIDER_VERSION,
        seed: this.seed,
        pairs: this.pairCount,
        symbols: this.models.size,
        epoch: toTsUtc(this.epochMs),
      },
    };
  }
}
