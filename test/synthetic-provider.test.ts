import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { OrreryError } from '../core/errors.ts';
import { QUALITY_FLAGS, TIMEFRAMES, timeframeMs, type CanonicalBar, type Timeframe } from '../core/market-data.ts';
import {
  SYNTHETIC_DEFAULT_EPOCH,
  SYNTHETIC_TRADING_DAYS_PER_YEAR,
  SyntheticProvider,
  type SyntheticPairConfig,
  type SyntheticProviderOptions,
} from '../adapters/providers/synthetic.ts';

// ---------------------------------------------------------------------------------------------
// Fixtures: realistic metals and FX legs. XAGUSD is leg B of two pairs (one shared series).

const XAGUSD = { symbol: 'XAGUSD', price0: 23, tickSize: 0.001, annualVol: 0.25 };
const GOLD_SILVER: SyntheticPairConfig = {
  pairId: 'XAUUSD_XAGUSD',
  legA: { symbol: 'XAUUSD', price0: 2050, tickSize: 0.01, annualVol: 0.15 },
  legB: XAGUSD,
  beta: 80,
  halfLifeBars: 24,
  spreadVol: 15,
};
const PLAT_SILVER: SyntheticPairConfig = {
  pairId: 'XPTUSD_XAGUSD',
  legA: { symbol: 'XPTUSD', price0: 950, tickSize: 0.01, annualVol: 0.2 },
  legB: XAGUSD,
  beta: 35,
  halfLifeBars: 48,
  spreadVol: 8,
};
const EUR_GBP: SyntheticPairConfig = {
  pairId: 'EURUSD_GBPUSD',
  legA: { symbol: 'EURUSD', price0: 1.1, tickSize: 0.00001, annualVol: 0.07, assetClass: 'FX' },
  legB: { symbol: 'GBPUSD', price0: 1.27, tickSize: 0.00001, annualVol: 0.08, assetClass: 'FX' },
  beta: 0.8,
  halfLifeBars: 12,
  spreadVol: 0.004,
};
const PAIRS = [GOLD_SILVER, PLAT_SILVER, EUR_GBP];
const SYMBOLS = ['XAUUSD', 'XAGUSD', 'XPTUSD', 'EURUSD', 'GBPUSD'];
const TICK: Record<string, number> = { XAUUSD: 0.01, XAGUSD: 0.001, XPTUSD: 0.01, EURUSD: 0.00001, GBPUSD: 0.00001 };
const DECIMALS: Record<string, number> = { XAUUSD: 2, XAGUSD: 3, XPTUSD: 2, EURUSD: 5, GBPUSD: 5 };

const make = (overrides: Partial<SyntheticProviderOptions> = {}) => new SyntheticProvider({ seed: 7, pairs: PAIRS, ...overrides });

function get(p: SyntheticProvider, symbol: string, timeframe: string, start: string | number, end: string | number, limit?: number): Promise<CanonicalBar[]> {
  return p.fetchTimeSeries({ symbol, timeframe, start: new Date(start), end: new Date(end), ingestRunId: 'run-1', ...(limit === undefined ? {} : { limit }) });
}

const ms = (ts: string) => Date.parse(ts);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function expectOrreryError(fn: () => unknown, errorId: string): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(OrreryError);
    expect((e as OrreryError).errorId).toBe(errorId);
    return;
  }
  throw new Error(`expected OrreryError ${errorId}`);
}

async function expectRejects(p: Promise<unknown>, errorId: string): Promise<void> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(OrreryError);
  expect((e as OrreryError).errorId).toBe(errorId);
}

/** Aggregates fine bars into coarse buckets (independent of the provider's code). */
function aggregate(bars: CanonicalBar[], coarseMs: number): Array<Pick<CanonicalBar, 'ts_utc' | 'open' | 'high' | 'low' | 'close' | 'volume'>> {
  const out: Array<Pick<CanonicalBar, 'ts_utc' | 'open' | 'high' | 'low' | 'close' | 'volume'>> = [];
  for (const b of bars) {
    const bucket = new Date(Math.floor(ms(b.ts_utc) / coarseMs) * coarseMs).toISOString();
    const last = out[out.length - 1];
    if (last && last.ts_utc === bucket) {
      last.high = Math.max(last.high, b.high);
      last.low = Math.min(last.low, b.low);
      last.close = b.close;
      last.volume = (last.volume ?? 0) + (b.volume ?? 0);
    } else {
      out.push({ ts_utc: bucket, open: b.open, high: b.high, low: b.low, close: b.close, volume: b.volume });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

describe('timeframeMs', () => {
  it('knows 15m, 1h, 4h and daily and rejects anything else', () => {
    expect(timeframeMs('15m')).toBe(900_000);
    expect(timeframeMs('1h')).toBe(3_600_000);
    expect(timeframeMs('4h')).toBe(14_400_000);
    expect(timeframeMs('daily')).toBe(86_400_000);
    expectOrreryError(() => timeframeMs('1m'), 'DATA_TF_UNKNOWN');
    expectOrreryError(() => timeframeMs('1d'), 'DATA_TF_UNKNOWN');
    expectOrreryError(() => timeframeMs('toString'), 'DATA_TF_UNKNOWN');
  });
});

describe('SyntheticProvider: determinism', () => {
  it('same seed gives identical bars across instances; another seed gives other prices', async () => {
    for (const symbol of SYMBOLS) {
      const a = await get(make(), symbol, '1h', '2021-03-01T00:00Z', '2021-04-01T00:00Z');
      const b = await get(make(), symbol, '1h', '2021-03-01T00:00Z', '2021-04-01T00:00Z');
      const c = await get(make({ seed: 8 }), symbol, '1h', '2021-03-01T00:00Z', '2021-04-01T00:00Z');
      expect(a.length).toBe(23 * 24); // 23 weekdays in March 2021
      expect(b).toStrictEqual(a);
      expect(c.map((x) => x.ts_utc)).toStrictEqual(a.map((x) => x.ts_utc));
      const differing = a.filter((bar, i) => bar.close !== c[i].close).length;
      expect(differing / a.length).toBeGreaterThan(0.95);
    }
  });

  it('string seeds are deterministic too and differ from the number with the same digits', async () => {
    const s1 = await get(make({ seed: 'alpha' }), 'XAGUSD', '4h', '2021-01-04T00:00Z', '2021-02-01T00:00Z');
    const s2 = await get(make({ seed: 'alpha' }), 'XAGUSD', '4h', '2021-01-04T00:00Z', '2021-02-01T00:00Z');
    const n7 = await get(make({ seed: 7 }), 'XAGUSD', '4h', '2021-01-04T00:00Z', '2021-02-01T00:00Z');
    const s7 = await get(make({ seed: '7' }), 'XAGUSD', '4h', '2021-01-04T00:00Z', '2021-02-01T00:00Z');
    expect(s2).toStrictEqual(s1);
    expect(s7.map((b) => b.close)).not.toStrictEqual(n7.map((b) => b.close));
  });
});

describe('SyntheticProvider: a bar does not depend on the range that asked for it', () => {
  it('Jan then Feb (asked in reverse order, fresh instance) equals Jan–Feb in one call', async () => {
    for (const symbol of ['XAUUSD', 'XAGUSD']) {
      const split = make();
      const feb = await get(split, symbol, '15m', '2022-02-01T00:00Z', '2022-03-01T00:00Z');
      const jan = await get(split, symbol, '15m', '2022-01-01T00:00Z', '2022-02-01T00:00Z');
      const whole = await get(make(), symbol, '15m', '2022-01-01T00:00Z', '2022-03-01T00:00Z');
      expect(jan.length).toBeGreaterThan(0);
      expect(feb.length).toBeGreaterThan(0);
      expect([...jan, ...feb]).toStrictEqual(whole);
    }
  });

  it('a far month fetched first on a fresh instance equals the same month cut from a long fetch', async () => {
    const far = await get(make(), 'XPTUSD', '1h', '2023-12-01T00:00Z', '2024-01-01T00:00Z');
    const long = await get(make(), 'XPTUSD', '1h', '2020-01-01T00:00Z', '2024-01-01T00:00Z');
    const cut = long.filter((b) => b.ts_utc >= '2023-12-01T00:00:00.000Z');
    expect(far.length).toBe(21 * 24);
    expect(far).toStrictEqual(cut);
  });

  it('property: any split points, any fetch order, any instance give the same bars', async () => {
    const reference = make(); // shared, warmed by earlier runs in other ranges
    const windowMs: Record<Timeframe, number> = { '15m': 9 * DAY, '1h': 40 * DAY, '4h': 120 * DAY, daily: 300 * DAY };
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...SYMBOLS),
        fc.constantFrom(...TIMEFRAMES),
        fc.integer({ min: 0, max: 900 * DAY }), // window start: any ms in 2020-01 .. 2022-06
        fc.uniqueArray(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 5 }),
        fc.boolean(),
        async (symbol, tf, offset, fractions, reverse) => {
          const start = ms('2019-12-20T00:00Z') + offset; // also straddles the epoch sometimes
          const end = start + windowMs[tf];
          const cuts = [...new Set(fractions.map((f) => start + Math.floor(f * (end - start))))].sort((x, y) => x - y);
          const bounds = [start, ...cuts, end];
          const pieces: Array<[number, number]> = [];
          for (let i = 0; i + 1 < bounds.length; i++) pieces.push([bounds[i], bounds[i + 1]]);
          const fresh = make();
          const fetched = new Map<number, CanonicalBar[]>();
          for (const [i, [a, b]] of (reverse ? [...pieces.entries()].reverse() : [...pieces.entries()])) {
            fetched.set(i, await get(fresh, symbol, tf, a, b));
          }
          const joined = pieces.flatMap((_, i) => fetched.get(i) ?? []);
          const whole = await get(reference, symbol, tf, start, end);
          expect(joined).toStrictEqual(whole);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('adding a pair that shares a leg changes no existing series', async () => {
    const alone = new SyntheticProvider({ seed: 7, pairs: [GOLD_SILVER] });
    const all = make();
    for (const symbol of ['XAUUSD', 'XAGUSD']) {
      expect(await get(all, symbol, '1h', '2021-05-03T00:00Z', '2021-06-01T00:00Z')).toStrictEqual(
        await get(alone, symbol, '1h', '2021-05-03T00:00Z', '2021-06-01T00:00Z'),
      );
    }
  });

  it('coarser timeframes are exact aggregates of finer ones (one underlying path)', async () => {
    const p = make();
    for (const symbol of SYMBOLS) {
      const m15 = await get(p, symbol, '15m', '2021-06-01T00:00Z', '2021-07-01T00:00Z');
      const h1 = await get(p, symbol, '1h', '2021-06-01T00:00Z', '2021-07-01T00:00Z');
      const h4 = await get(p, symbol, '4h', '2021-06-01T00:00Z', '2021-07-01T00:00Z');
      const d1 = await get(p, symbol, 'daily', '2021-06-01T00:00Z', '2021-07-01T00:00Z');
      const strip = (bars: CanonicalBar[]) => bars.map(({ ts_utc, open, high, low, close, volume }) => ({ ts_utc, open, high, low, close, volume }));
      expect(aggregate(m15, HOUR)).toStrictEqual(strip(h1));
      expect(aggregate(h1, 4 * HOUR)).toStrictEqual(strip(h4));
      expect(aggregate(h1, DAY)).toStrictEqual(strip(d1));
    }
  });
});

describe('SyntheticProvider: bar shape', () => {
  it('every bar is canonical: aligned UTC ts, OHLC consistent, on the tick grid, positive, open = previous close', async () => {
    const p = make();
    const ranges: Record<Timeframe, [string, string]> = {
      '15m': ['2021-03-01T00:00Z', '2021-05-01T00:00Z'],
      '1h': ['2020-01-01T00:00Z', '2021-01-01T00:00Z'],
      '4h': ['2020-01-01T00:00Z', '2022-01-01T00:00Z'],
      daily: ['2020-01-01T00:00Z', '2024-01-01T00:00Z'],
    };
    // Plain checks collected into a list (tens of thousands of bars; one expect per bar is slow).
    const problems: string[] = [];
    const check = (ok: boolean, what: string, b: CanonicalBar) => {
      if (!ok && problems.length < 20) problems.push(`${b.symbol} ${b.timeframe} ${b.ts_utc}: ${what} ${JSON.stringify(b)}`);
    };
    let checked = 0;
    for (const symbol of SYMBOLS) {
      const tick = TICK[symbol];
      for (const tf of TIMEFRAMES) {
        const bars = await get(p, symbol, tf, ...ranges[tf]);
        expect(bars.length).toBeGreaterThan(100);
        let prev: CanonicalBar | undefined;
        for (const b of bars) {
          check(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(b.ts_utc), 'ts format', b);
          check(ms(b.ts_utc) % timeframeMs(tf) === 0, 'ts aligned', b);
          check(b.symbol === symbol && b.timeframe === tf, 'symbol/timeframe', b);
          check(b.quality_flag === 'ok' && QUALITY_FLAGS.includes(b.quality_flag), 'quality_flag', b);
          check(b.source_id === 'synthetic' && b.ingest_run_id === 'run-1', 'provenance', b);
          check(typeof b.metadata?.provider_version === 'string', 'provider_version', b);
          for (const v of [b.open, b.high, b.low, b.close]) {
            check(Number.isFinite(v) && v > 0, 'positive price', b);
            check(Math.abs(v / tick - Math.round(v / tick)) < 1e-6, 'on tick grid', b);
            check(Number(v.toFixed(DECIMALS[symbol])) === v, 'clean decimal', b); // no 23.456000000000003
          }
          check(b.high >= Math.max(b.open, b.close), 'high >= max(open, close)', b);
          check(b.low <= Math.min(b.open, b.close), 'low <= min(open, close)', b);
          check(typeof b.volume === 'number' && Number.isFinite(b.volume) && b.volume > 0, 'volume > 0', b);
          if (prev) {
            check(ms(b.ts_utc) > ms(prev.ts_utc), 'ascending', b);
            check(b.open === prev.close, 'open = previous close', b);
          }
          prev = b;
          checked++;
        }
      }
    }
    expect(problems).toStrictEqual([]);
    expect(checked).toBeGreaterThan(50_000);
  });

  it('only weekday bars exist; a week has 5×24 hourly bars; Friday 23:00 is followed by Monday 00:00', async () => {
    const p = make();
    for (const tf of TIMEFRAMES) {
      const bars = await get(p, 'XAUUSD', tf, '2021-01-01T00:00Z', '2021-07-01T00:00Z');
      for (const b of bars) expect([1, 2, 3, 4, 5]).toContain(new Date(b.ts_utc).getUTCDay());
    }
    const week = await get(p, 'XAGUSD', '1h', '2021-03-08T00:00Z', '2021-03-15T00:00Z'); // Mon..next Mon
    expect(week.length).toBe(120);
    const around = await get(p, 'XAGUSD', '1h', '2021-03-12T22:00Z', '2021-03-15T02:00Z');
    expect(around.map((b) => b.ts_utc)).toStrictEqual([
      '2021-03-12T22:00:00.000Z',
      '2021-03-12T23:00:00.000Z',
      '2021-03-15T00:00:00.000Z',
      '2021-03-15T01:00:00.000Z',
    ]);
    expect(await get(p, 'XAGUSD', '15m', '2021-03-13T00:00Z', '2021-03-15T00:00Z')).toStrictEqual([]);
    const daily = await get(p, 'EURUSD', 'daily', '2021-03-08T00:00Z', '2021-03-22T00:00Z');
    expect(daily.length).toBe(10);
  });

  it('series start at the epoch with the configured prices; nothing before it', async () => {
    const p = make();
    for (const pair of PAIRS) {
      for (const leg of [pair.legA, pair.legB]) {
        const bars = await get(p, leg.symbol, '1h', '2019-06-01T00:00Z', '2020-01-02T00:00Z');
        expect(bars.length).toBe(24);
        expect(bars[0].ts_utc).toBe(SYNTHETIC_DEFAULT_EPOCH);
        expect(bars[0].open).toBe(leg.price0);
      }
    }
    expect(await get(p, 'XAUUSD', '1h', '2019-01-01T00:00Z', '2019-12-31T00:00Z')).toStrictEqual([]);
    expect(make().getCapabilities().limits.earliestTs).toBe(SYNTHETIC_DEFAULT_EPOCH);
  });
});

// ---------------------------------------------------------------------------------------------
// Statistics, computed here with plain loops (independent of the provider's code).

function ols(x: number[], y: number[]): { beta: number; alpha: number; sxx: number; resid: number[] } {
  const n = x.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
  }
  const beta = sxy / sxx;
  const alpha = my - beta * mx;
  const resid = x.map((xi, i) => y[i] - alpha - beta * xi);
  return { beta, alpha, sxx, resid };
}

/** Lag-1 autocorrelation of a series around its mean. */
function lag1(v: number[]): number {
  const m = v.reduce((s, x) => s + x, 0) / v.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < v.length; i++) {
    den += (v[i] - m) ** 2;
    if (i > 0) num += (v[i] - m) * (v[i - 1] - m);
  }
  return num / den;
}

function std(v: number[]): number {
  const m = v.reduce((s, x) => s + x, 0) / v.length;
  return Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / (v.length - 1));
}

function logReturns(bars: CanonicalBar[]): number[] {
  const out: number[] = [];
  for (let i = 1; i < bars.length; i++) out.push(Math.log(bars[i].close / bars[i - 1].close));
  return out;
}

describe('SyntheticProvider: the pairs are cointegrated with the configured parameters', () => {
  // ~5000 hourly bars: 2021-01-04 .. 2021-10-30 is 215 weekdays = 5160 bars.
  const START = '2021-01-04T00:00Z';
  const END = '2021-11-01T00:00Z';

  for (const seed of [7, 2024]) {
    for (const pair of PAIRS) {
      it(`seed ${seed}, ${pair.pairId}: OLS of A on B recovers β; the residual reverts with the configured half-life`, async () => {
        const p = make({ seed });
        const a = await get(p, pair.legA.symbol, '1h', START, END);
        const b = await get(p, pair.legB.symbol, '1h', START, END);
        expect(a.length).toBe(5160);
        expect(a.map((x) => x.ts_utc)).toStrictEqual(b.map((x) => x.ts_utc));
        const x = b.map((bar) => bar.close);
        const y = a.map((bar) => bar.close);
        const n = x.length;
        const fit = ols(x, y);
        const phi = Math.exp(-Math.LN2 / pair.halfLifeBars);

        // β: with A = βB + s + c and s an AR(1)(φ) of std σ_s independent of B, conditional on B
        //   β̂ − β = Σ x̃_t s_t / Σ x̃_t²,  Var ≈ σ_s² · (1+φ)/(1−φ) / Σ x̃_t²
        // (the long-run variance of an AR(1) is (1+φ)/(1−φ) times its variance). se depends on how
        // far B happened to wander (0.4%–5% of β over seeds 1..7 with these settings; z-scores
        // looked standard normal, |z| < 2). Allow 5 standard errors; require se < 4% of β so the
        // band is informative, and β̂ within 10% of β outright.
        const se = pair.spreadVol * Math.sqrt((1 + phi) / (1 - phi)) / Math.sqrt(fit.sxx);
        expect(se).toBeLessThan(0.04 * Math.abs(pair.beta));
        expect(Math.abs(fit.beta - pair.beta)).toBeLessThan(5 * se);
        expect(Math.abs(fit.beta / pair.beta - 1)).toBeLessThan(0.1);

        // Residual ≈ the OU spread sampled hourly = AR(1) with coefficient φ = exp(−ln2/halfLife).
        // The lag-1 autocorrelation estimate has sd ≈ sqrt((1−φ²)/n) and a small downward bias
        // ≈ (1+3φ)/n; allow 5 sd plus 4/n.
        const rho = lag1(fit.resid);
        expect(Math.abs(rho - phi)).toBeLessThan(5 * Math.sqrt((1 - phi * phi) / n) + 4 / n);
        // ...and it is far from a random walk, unlike B itself.
        expect(lag1(x)).toBeGreaterThan(0.995);
        expect(lag1(x)).toBeGreaterThan(rho);

        // Residual std ≈ spreadVol. Var of a sample variance of an AR(1): ≈ (2/n)(1+φ²)/(1−φ²) σ⁴,
        // so the relative sd of the sample std is half its square root; allow 4 of those.
        const relSd = 0.5 * Math.sqrt((2 / n) * (1 + phi * phi) / (1 - phi * phi));
        expect(Math.abs(std(fit.resid) / pair.spreadVol - 1)).toBeLessThan(4 * relSd);
      });
    }
  }

  // ~5000 bars hold only ~100–400 half-lives, so the check above cannot tell a half-life of 24
  // from one of 48 with certainty (≈4 sd apart). Four years (~20800 hourly bars) can (≈9 sd),
  // and pin β to a fraction of a percent.
  for (const pair of PAIRS) {
    it(`${pair.pairId} over four years: implied half-life and β are tight`, async () => {
      const p = make();
      const a = await get(p, pair.legA.symbol, '1h', '2020-01-01T00:00Z', '2024-01-01T00:00Z');
      const b = await get(p, pair.legB.symbol, '1h', '2020-01-01T00:00Z', '2024-01-01T00:00Z');
      const n = a.length;
      expect(n).toBeGreaterThan(20_000);
      const fit = ols(
        b.map((bar) => bar.close),
        a.map((bar) => bar.close),
      );
      const phi = Math.exp(-Math.LN2 / pair.halfLifeBars);
      const rho = lag1(fit.resid);
      expect(Math.abs(rho - phi)).toBeLessThan(5 * Math.sqrt((1 - phi * phi) / n) + 4 / n);
      const doubled = Math.exp(-Math.LN2 / (2 * pair.halfLifeBars));
      expect(Math.abs(rho - doubled)).toBeGreaterThan(Math.abs(rho - phi) * 3);
      const impliedHalfLife = -Math.LN2 / Math.log(rho);
      expect(Math.abs(impliedHalfLife / pair.halfLifeBars - 1)).toBeLessThan(0.25);
      const se = pair.spreadVol * Math.sqrt((1 + phi) / (1 - phi)) / Math.sqrt(fit.sxx);
      expect(Math.abs(fit.beta - pair.beta)).toBeLessThan(5 * se);
      expect(Math.abs(fit.beta / pair.beta - 1)).toBeLessThan(0.03);
    });
  }

  it('leg B per-bar log-return std matches annualVol / sqrt(bars per year) on 15m, 1h and 4h', async () => {
    // Relative sd of a sample std of n iid normals ≈ 1/sqrt(2n): 15m n≈20600 → 0.5%, 1h n≈5160 → 1%,
    // 4h n≈1290 → 2%. Tolerances are ~5 of those; tick rounding adds < 0.1% here.
    const tolerance: Partial<Record<Timeframe, number>> = { '15m': 0.03, '1h': 0.05, '4h': 0.1 };
    for (const seed of [7, 2024]) {
      const p = make({ seed });
      for (const leg of [XAGUSD, EUR_GBP.legB]) {
        for (const tf of ['15m', '1h', '4h'] as const) {
          const bars = await get(p, leg.symbol, tf, START, END);
          const barsPerYear = SYNTHETIC_TRADING_DAYS_PER_YEAR * (DAY / timeframeMs(tf));
          const expected = leg.annualVol / Math.sqrt(barsPerYear);
          const sample = std(logReturns(bars));
          expect(Math.abs(sample / expected - 1)).toBeLessThan(tolerance[tf] ?? 0);
        }
      }
    }
  });
});

describe('SyntheticProvider: configuration and requests', () => {
  it('rejects a symbol that is leg A of two pairs, or both leg A and leg B, or a leg B with two settings', () => {
    const twiceA: SyntheticPairConfig = { ...PLAT_SILVER, pairId: 'XAUUSD_XPTUSD', legA: GOLD_SILVER.legA, legB: PLAT_SILVER.legA };
    expectOrreryError(() => new SyntheticProvider({ seed: 1, pairs: [GOLD_SILVER, { ...twiceA, legB: { ...EUR_GBP.legB } }] }), 'DATA_CONFIG_INVALID');
    try {
      new SyntheticProvider({ seed: 1, pairs: [GOLD_SILVER, { ...twiceA, legB: { ...EUR_GBP.legB } }] });
    } catch (e) {
      expect((e as Error).message).toContain('XAUUSD is leg A of both');
    }
    const bothRoles: SyntheticPairConfig = { ...PLAT_SILVER, pairId: 'XAGUSD_XPTUSD', legA: XAGUSD, legB: PLAT_SILVER.legA };
    expectOrreryError(() => new SyntheticProvider({ seed: 1, pairs: [GOLD_SILVER, bothRoles] }), 'DATA_CONFIG_INVALID');
    const otherSilver: SyntheticPairConfig = { ...PLAT_SILVER, legB: { ...XAGUSD, annualVol: 0.3 } };
    expectOrreryError(() => new SyntheticProvider({ seed: 1, pairs: [GOLD_SILVER, otherSilver] }), 'DATA_CONFIG_INVALID');
    expectOrreryError(() => new SyntheticProvider({ seed: 1, pairs: [GOLD_SILVER, GOLD_SILVER] }), 'DATA_CONFIG_INVALID');
    expectOrreryError(() => new SyntheticProvider({ seed: 1, pairs: [{ ...GOLD_SILVER, halfLifeBars: 0 }] }), 'DATA_CONFIG_INVALID');
    expectOrreryError(() => new SyntheticProvider({ seed: 1, pairs: [{ ...GOLD_SILVER, legB: { ...XAGUSD, tickSize: -1 } }] }), 'DATA_CONFIG_INVALID');
    expectOrreryError(() => new SyntheticProvider({ seed: 1, pairs: [{ ...GOLD_SILVER, legA: { ...GOLD_SILVER.legA, symbol: 'XAGUSD' } }] }), 'DATA_CONFIG_INVALID');
    expectOrreryError(() => new SyntheticProvider({ seed: Number.NaN, pairs: PAIRS }), 'DATA_CONFIG_INVALID');
    expectOrreryError(() => new SyntheticProvider({ seed: 1, pairs: PAIRS, epoch: '2020-01-01T05:00:00Z' }), 'DATA_CONFIG_INVALID');
  });

  it('rejects unknown symbols and timeframes, reversed ranges and bad limits', async () => {
    const p = make();
    await expectRejects(get(p, 'BTCUSD', '1h', '2021-01-04T00:00Z', '2021-01-05T00:00Z'), 'DATA_SYMBOL_UNKNOWN');
    await expectRejects(get(p, 'XAUUSD', '5m', '2021-01-04T00:00Z', '2021-01-05T00:00Z'), 'DATA_TF_UNKNOWN');
    await expectRejects(get(p, 'XAUUSD', '1h', '2021-01-05T00:00Z', '2021-01-04T00:00Z'), 'DATA_REQ_INVALID');
    await expectRejects(get(p, 'XAUUSD', '1h', 'not a date', '2021-01-04T00:00Z'), 'DATA_REQ_INVALID');
    await expectRejects(get(p, 'XAUUSD', '1h', '2021-01-04T00:00Z', '2021-01-05T00:00Z', -1), 'DATA_REQ_INVALID');
    expect(await get(p, 'XAUUSD', '1h', '2021-01-04T00:00Z', '2021-01-04T00:00Z')).toStrictEqual([]);
  });

  it('limit returns the earliest bars, and paging from the last ts reproduces one long fetch', async () => {
    const p = make();
    const whole = await get(p, 'GBPUSD', '15m', '2021-02-01T00:00Z', '2021-02-15T00:00Z');
    const first = await get(p, 'GBPUSD', '15m', '2021-02-01T00:00Z', '2021-02-15T00:00Z', 100);
    expect(first).toStrictEqual(whole.slice(0, 100));
    const paged: CanonicalBar[] = [];
    let from = ms('2021-02-01T00:00Z');
    for (;;) {
      const page = await get(p, 'GBPUSD', '15m', from, '2021-02-15T00:00Z', 333);
      paged.push(...page);
      if (page.length < 333) break;
      from = ms(page[page.length - 1].ts_utc) + timeframeMs('15m');
    }
    expect(paged).toStrictEqual(whole);
    const capped = new SyntheticProvider({ seed: 7, pairs: PAIRS, maxBarsPerRequest: 50 });
    expect(await get(capped, 'GBPUSD', '15m', '2021-02-01T00:00Z', '2021-02-15T00:00Z')).toStrictEqual(whole.slice(0, 50));
    expect(capped.getCapabilities().limits.maxBarsPerRequest).toBe(50);
  });

  it('with a clock, only bars that have closed are returned', async () => {
    const clocked = make({ clock: { now: () => new Date('2021-03-03T10:30:00Z') } });
    const bars = await get(clocked, 'XAUUSD', '1h', '2021-03-03T00:00Z', '2021-03-04T00:00Z');
    expect(bars.at(-1)?.ts_utc).toBe('2021-03-03T09:00:00.000Z');
    expect(bars).toStrictEqual(await get(make(), 'XAUUSD', '1h', '2021-03-03T00:00Z', '2021-03-03T10:00Z'));
    const h4 = await get(clocked, 'XAUUSD', '4h', '2021-03-03T00:00Z', '2021-03-04T00:00Z');
    expect(h4.map((b) => b.ts_utc)).toStrictEqual(['2021-03-03T00:00:00.000Z', '2021-03-03T04:00:00.000Z']);
  });

  it('lists symbols, capabilities, an unlimited rate limit and an ok health', async () => {
    const p = make();
    const all = await p.listSymbols();
    expect(all.map((s) => s.symbol)).toStrictEqual(['EURUSD', 'GBPUSD', 'XAGUSD', 'XAUUSD', 'XPTUSD']);
    expect(all.find((s) => s.symbol === 'XAGUSD')).toMatchObject({ assetClass: 'CFD', tickSize: 0.001, pricePrecision: 3 });
    expect(all.find((s) => s.symbol === 'EURUSD')).toMatchObject({ assetClass: 'FX', tickSize: 0.00001, pricePrecision: 5 });
    expect((await p.listSymbols({ assetClass: 'FX' })).map((s) => s.symbol)).toStrictEqual(['EURUSD', 'GBPUSD']);
    const caps = p.getCapabilities();
    expect(caps.timeframes).toStrictEqual(['15m', '1h', '4h', 'daily']);
    expect(caps.assets).toStrictEqual(['CFD', 'FX']);
    expect(p.getRateLimit()).toMatchObject({ restQps: null, policy: 'unlimited' });
    expect((await p.healthCheck()).status).toBe('ok');
    expect(p.id).toBe('synthetic');
  });
});
