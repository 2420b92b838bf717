/**
 * A deliberately simple, slow reference of the backtest engine, written from the rules (not from
 * the engine's code): one object per bar, Date objects for the calendar, string dates for
 * holidays, rollovers enumerated day by day, sizing by brute force over the whole search box and
 * costs applied to the price step by step. The property tests hold the engine to it; the
 * benchmark uses it as its baseline.
 *
 * Rules (see assets/backtests/engine/simulate.ts for the engine's statement of them):
 * entry when flat and returnProb > θ1 and riskScore < θ2 (z, β finite and non-zero), fill at the
 * close `latency` bars later if that bar is tradable, else dropped; exits read from the bar after
 * the fill (|z| ≤ z_exit, then the risk stop, then elapsed > M), filled at the first tradable bar
 * ≥ signal + latency; next entry from the bar after an exit fill.
 */
import { mulberry32 } from '../../core/random.ts';
import type { BacktestParams, BacktestSeries } from '../../assets/backtests/engine/index.ts';

interface Bar {
  ts: number;
  a: number;
  b: number;
  z: number;
  beta: number;
  rp: number;
  rs: number;
  label: number;
}

export interface RefTrade {
  side: 'long_spread' | 'short_spread';
  barSignalEntry: number;
  barEntry: number;
  barSignalExit: number;
  barExit: number;
  lotsA: number;
  lotsB: number;
  qtyA: number;
  qtyB: number;
  priceAEntry: number;
  priceBEntry: number;
  priceAExit: number;
  priceBExit: number;
  costSpread: number;
  costSlippage: number;
  costCommission: number;
  costSwap: number;
  grossPnl: number;
  pnl: number;
  exitReason: 'z_exit' | 'risk_stop' | 'max_bars';
  ratioError: number;
}

export interface RefCounters {
  entrySignals: number;
  entriesDropped: number;
  haltCandidates: number;
  haltVetoes: number;
  riskStops: number;
  stopsLabelled: number;
  falseStops: number;
}

export interface RefResult {
  trades: RefTrade[];
  equity: number[];
  counters: RefCounters;
  daily: Array<{ date: string; equity: number; dd: number }>;
  sharpe: number;
  maxDd: number;
}

const WEEKDAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

function minutes(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return h * 60 + m;
}

function timeOfDayMs(ts: number): number {
  const d = new Date(ts);
  return ((d.getUTCHours() * 60 + d.getUTCMinutes()) * 60 + d.getUTCSeconds()) * 1000 + d.getUTCMilliseconds();
}

function within(tod: number, startMin: number, endMin: number): boolean {
  const s = startMin * 60_000, e = endMin * 60_000;
  if (s === e) return true;
  return s < e ? s <= tod && tod < e : tod >= s || tod < e;
}

function tradable(ts: number, p: BacktestParams): boolean {
  const d = new Date(ts);
  if (d.getUTCDay() === 0 || d.getUTCDay() === 6) return false;
  const date = d.toISOString().slice(0, 10);
  if (p.legA.holidays.includes(date) || p.legB.holidays.includes(date)) return false;
  const tod = timeOfDayMs(ts);
  const inLeg = (sessions: BacktestParams['legA']['sessions']) => sessions.some((s) => within(tod, minutes(s.start), minutes(s.end)));
  return inLeg(p.legA.sessions) && inLeg(p.legB.sessions);
}

function slippageMultiplier(ts: number, p: BacktestParams): number {
  const tod = timeOfDayMs(ts);
  const hits = Object.entries(p.slippageMultipliers)
    .filter(([range]) => { const [s, e] = range.split('-'); return within(tod, minutes(s), minutes(e)); })
    .map(([, f]) => f);
  return hits.length === 0 ? 1 : Math.max(...hits);
}

/** Rollover instants R with from < R ≤ to, with their swap days. */
function rolloversBetween(from: number, to: number, p: BacktestParams): Array<{ at: number; days: number }> {
  const out: Array<{ at: number; days: number }> = [];
  const start = new Date(from);
  const rollMin = minutes(p.rolloverTimeUtc);
  for (let d = Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate()); d <= to; d += 86_400_000) {
    const at = d + rollMin * 60_000;
    const dow = new Date(at).getUTCDay();
    if (at > from && at <= to && dow >= 1 && dow <= 5) out.push({ at, days: WEEKDAY_NAMES[dow] === p.rolloverDay ? 3 : 1 });
  }
  return out;
}

/** Brute-force sizing: the spec's first rounding, then the cheapest (kA, kB) in the search box within the tolerance. */
export function referenceSize(
  pA: number, pB: number, p: Pick<BacktestParams, 'legA' | 'legB' | 'minNotional' | 'ratioTolerance'>, absBeta: number, gross: number, fxA = 1, fxB = 1,
): { kA: number; kB: number; err: number } | null {
  const A = p.legA, B = p.legB;
  const lotValueA = pA * A.contractSize * fxA, lotValueB = pB * B.contractSize * fxB;
  if (!(lotValueA > 0 && lotValueB > 0 && absBeta > 0)) return null;
  let targetA = gross / (1 + absBeta), targetB = gross - targetA;
  const scale = Math.max(1, (A.minLot * lotValueA) / targetA, (B.minLot * lotValueB) / targetB, p.minNotional / targetA, p.minNotional / targetB);
  targetA *= scale; targetB *= scale;
  const stepValueA = A.lotStep * lotValueA, stepValueB = B.lotStep * lotValueB;
  const minStepsA = Math.max(1, Math.ceil(A.minLot / A.lotStep - 1e-9), Math.ceil(p.minNotional / stepValueA - 1e-9));
  const minStepsB = Math.max(1, Math.ceil(B.minLot / B.lotStep - 1e-9), Math.ceil(p.minNotional / stepValueB - 1e-9));
  const kA0 = Math.max(minStepsA, Math.round(targetA / stepValueA)), kB0 = Math.max(minStepsB, Math.round(targetB / stepValueB));
  const err = (kA: number, kB: number) => (kB * stepValueB) / (kA * stepValueA) / absBeta - 1;
  if (Math.abs(err(kA0, kB0)) <= p.ratioTolerance) return { kA: kA0, kB: kB0, err: err(kA0, kB0) };
  let best: { kA: number; kB: number; gross: number; e: number } | null = null;
  // Every (kA, kB) of the box, the shorter side outside; the error rises with kB and falls with
  // kA, so the inner scan stops once it has passed the band for good.
  const outerIsA = kA0 <= kB0;
  const [o0, i0] = outerIsA ? [kA0, kB0] : [kB0, kA0];
  for (let outer = o0; outer <= 2 * o0; outer++) {
    for (let inner = i0; inner <= 2 * i0; inner++) {
      const kA = outerIsA ? outer : inner, kB = outerIsA ? inner : outer;
      const e = err(kA, kB);
      if (outerIsA ? e > p.ratioTolerance : e < -p.ratioTolerance) break;
      if (Math.abs(e) > p.ratioTolerance) continue;
      const c = { kA, kB, gross: kA * stepValueA + kB * stepValueB, e: Math.abs(e) };
      if (!best || c.gross < best.gross || (c.gross === best.gross && (c.e < best.e || (c.e === best.e && c.kA < best.kA)))) best = c;
    }
  }
  return best ? { kA: best.kA, kB: best.kB, err: err(best.kA, best.kB) } : { kA: kA0, kB: kB0, err: err(kA0, kB0) };
}

interface LegFill { spread: number; slippage: number; commission: number }

/** One leg's fill costs, applying spread, then slippage, then commission to the price in turn. */
function fillCosts(price0: number, qty: number, buying: boolean, spreadBps: number, slippageBps: number, multiplier: number, commissionBps: number, fx: number): LegFill {
  const sign = buying ? 1 : -1;
  const afterSpread = price0 * (1 + sign * spreadBps / 2 / 10_000);
  const afterSlippage = afterSpread * (1 + sign * slippageBps * multiplier / 10_000);
  return {
    spread: qty * Math.abs(afterSpread - price0) * fx,
    slippage: qty * Math.abs(afterSlippage - afterSpread) * fx,
    commission: qty * afterSlippage * commissionBps / 10_000 * fx,
  };
}

function roundToTick(price: number, tick: number): number {
  return Math.round(price / tick) * tick;
}

export function referenceBacktest(series: BacktestSeries, p: BacktestParams): RefResult {
  const bars: Bar[] = Array.from(series.ts, (ts, i) => ({
    ts, a: series.priceA[i], b: series.priceB[i], z: series.z[i], beta: series.beta[i], rp: series.returnProb[i], rs: series.riskScore[i],
    label: series.ai2Label ? series.ai2Label[i] : NaN,
  }));
  const fx = (leg: 'A' | 'B', i: number) => { const s = leg === 'A' ? series.fxA : series.fxB; return s ? s[i] : 1; };
  const counters: RefCounters = { entrySignals: 0, entriesDropped: 0, haltCandidates: 0, haltVetoes: 0, riskStops: 0, stopsLabelled: 0, falseStops: 0 };
  const trades: RefTrade[] = [];
  const equity: number[] = [];
  let realized = 0;
  let order: { signal: number; fillAt: number; side: 'long_spread' | 'short_spread' } | null = null;
  let pos: {
    side: 'long_spread' | 'short_spread'; signal: number; entry: number; kA: number; kB: number; err: number; pA: number; pB: number;
    entryCosts: LegFill; swap: number; exit: { signal: number; reason: RefTrade['exitReason']; earliest: number } | null;
  } | null = null;
  const isFinite = (v: number) => Number.isFinite(v);

  for (let k = 0; k < bars.length; k++) {
    const bar = bars[k];
    let exitedNow = false;
    if (pos) {
      const held = pos;
      const longA = held.side === 'long_spread';
      const qtyA = held.kA * p.legA.lotStep * p.legA.contractSize, qtyB = held.kB * p.legB.lotStep * p.legB.contractSize;
      if (k > held.entry) {
        const markAt = (leg: 'A' | 'B') => { for (let j = k; j >= 0; j--) { const v = leg === 'A' ? bars[j].a : bars[j].b; if (!Number.isNaN(v)) return v; } return NaN; };
        const fxAt = (leg: 'A' | 'B') => { for (let j = k; j >= held.entry; j--) { const v = fx(leg, j); if (!Number.isNaN(v)) return v; } return fx(leg, held.entry); };
        for (const r of rolloversBetween(bars[k - 1].ts, bar.ts, p)) {
          const rateA = longA ? p.costsA.swapLongBpsDay : p.costsA.swapShortBpsDay;
          const rateB = longA ? p.costsB.swapShortBpsDay : p.costsB.swapLongBpsDay;
          held.swap -= qtyA * markAt('A') * fxAt('A') * rateA / 10_000 * r.days + qtyB * markAt('B') * fxAt('B') * rateB / 10_000 * r.days;
        }
        if (!held.exit) {
          let reason: RefTrade['exitReason'] | null = null;
          if (Math.abs(bar.z) <= p.zExit) reason = 'z_exit';
          else if (p.riskStop && bar.rs >= p.thetaStop) reason = 'risk_stop';
          else if (k - held.entry > p.maxBars) reason = 'max_bars';
          if (reason) {
            held.exit = { signal: k, reason, earliest: k + p.latencyBars };
            if (reason === 'risk_stop') {
              counters.riskStops++;
              if (!Number.isNaN(bar.label)) { counters.stopsLabelled++; if (bar.label === 0) counters.falseStops++; }
            }
          }
        }
        if (held.exit && k >= held.exit.earliest && isFinite(bar.a) && isFinite(bar.b) && !Number.isNaN(fx('A', k)) && !Number.isNaN(fx('B', k)) && tradable(bar.ts, p)) {
          const m = slippageMultiplier(bar.ts, p);
          const xA = roundToTick(bar.a, p.legA.tickSize), xB = roundToTick(bar.b, p.legB.tickSize);
          const cA = fillCosts(xA, qtyA, !longA, p.costsA.spreadBps, p.costsA.slippageBps, m, p.costsA.commissionBps, fx('A', k));
          const cB = fillCosts(xB, qtyB, longA, p.costsB.spreadBps, p.costsB.slippageBps, m, p.costsB.commissionBps, fx('B', k));
          const signedA = longA ? qtyA : -qtyA, signedB = longA ? -qtyB : qtyB;
          const grossPnl = signedA * (xA - held.pA) * fx('A', k) + signedB * (xB - held.pB) * fx('B', k);
          const costSpread = held.entryCosts.spread + cA.spread + cB.spread;
          const costSlippage = held.entryCosts.slippage + cA.slippage + cB.slippage;
          const costCommission = held.entryCosts.commission + cA.commission + cB.commission;
          const pnl = grossPnl - costSpread - costSlippage - costCommission - held.swap;
          trades.push({
            side: held.side, barSignalEntry: held.signal, barEntry: held.entry, barSignalExit: held.exit.signal, barExit: k,
            lotsA: held.kA * p.legA.lotStep, lotsB: held.kB * p.legB.lotStep, qtyA, qtyB,
            priceAEntry: held.pA, priceBEntry: held.pB, priceAExit: xA, priceBExit: xB,
            costSpread, costSlippage, costCommission, costSwap: held.swap, grossPnl, pnl, exitReason: held.exit.reason, ratioError: held.err,
          });
          realized += pnl;
          pos = null;
          exitedNow = true;
        }
      }
    }

    if (!pos && !order && !exitedNow && bar.rp > p.theta1) {
      if (!Number.isNaN(bar.rs)) {
        counters.haltCandidates++;
        if (bar.rs >= p.theta2) {
          counters.haltVetoes++;
          if (!Number.isNaN(bar.label)) { counters.stopsLabelled++; if (bar.label === 0) counters.falseStops++; }
        }
      }
      if (bar.rs < p.theta2 && isFinite(bar.z) && bar.z !== 0 && isFinite(bar.beta) && bar.beta !== 0) {
        counters.entrySignals++;
        order = { signal: k, fillAt: k + p.latencyBars, side: bar.z > 0 ? 'short_spread' : 'long_spread' };
      }
    }

    if (order && order.fillAt === k) {
      const o = order;
      order = null;
      const pA = roundToTick(bar.a, p.legA.tickSize), pB = roundToTick(bar.b, p.legB.tickSize);
      const size = isFinite(bar.a) && isFinite(bar.b) && tradable(bar.ts, p)
        ? referenceSize(pA, pB, p, Math.abs(bars[o.signal].beta), p.targetGrossNotional * p.positionScale, fx('A', k), fx('B', k))
        : null;
      if (size) {
        const longA = o.side === 'long_spread';
        const m = slippageMultiplier(bar.ts, p);
        const qtyA = size.kA * p.legA.lotStep * p.legA.contractSize, qtyB = size.kB * p.legB.lotStep * p.legB.contractSize;
        const cA = fillCosts(pA, qtyA, longA, p.costsA.spreadBps, p.costsA.slippageBps, m, p.costsA.commissionBps, fx('A', k));
        const cB = fillCosts(pB, qtyB, !longA, p.costsB.spreadBps, p.costsB.slippageBps, m, p.costsB.commissionBps, fx('B', k));
        pos = {
          side: o.side, signal: o.signal, entry: k, kA: size.kA, kB: size.kB, err: size.err, pA, pB,
          entryCosts: { spread: cA.spread + cB.spread, slippage: cA.slippage + cB.slippage, commission: cA.commission + cB.commission }, swap: 0, exit: null,
        };
      } else {
        counters.entriesDropped++;
      }
    }

    let unrealized = 0;
    if (pos) {
      const held = pos;
      const longA = held.side === 'long_spread';
      const qtyA = held.kA * p.legA.lotStep * p.legA.contractSize, qtyB = held.kB * p.legB.lotStep * p.legB.contractSize;
      let markA = NaN, markB = NaN, fxA = NaN, fxB = NaN;
      for (let j = k; j >= held.entry && (Number.isNaN(markA) || Number.isNaN(markB) || Number.isNaN(fxA) || Number.isNaN(fxB)); j--) {
        if (Number.isNaN(markA) && !Number.isNaN(bars[j].a)) markA = bars[j].a;
        if (Number.isNaN(markB) && !Number.isNaN(bars[j].b)) markB = bars[j].b;
        if (Number.isNaN(fxA) && !Number.isNaN(fx('A', j))) fxA = fx('A', j);
        if (Number.isNaN(fxB) && !Number.isNaN(fx('B', j))) fxB = fx('B', j);
      }
      const signedA = longA ? qtyA : -qtyA, signedB = longA ? -qtyB : qtyB;
      unrealized = signedA * (markA - held.pA) * fxA + signedB * (markB - held.pB) * fxB
        - held.entryCosts.spread - held.entryCosts.slippage - held.entryCosts.commission - held.swap;
    }
    equity.push(p.initialEquity + realized + unrealized);
  }

  // Daily curve: the last bar of each UTC date, drawdown from the running peak.
  const byDate = new Map<string, number>();
  bars.forEach((b, i) => byDate.set(new Date(b.ts).toISOString().slice(0, 10), equity[i]));
  let peak = p.initialEquity;
  const daily = [...byDate].map(([date, eq]) => { peak = Math.max(peak, eq); return { date, equity: eq, dd: (peak - eq) / peak }; });
  const returns = daily.map((d, i) => d.equity / (i === 0 ? p.initialEquity : daily[i - 1].equity) - 1);
  const avg = returns.reduce((s, r) => s + r, 0) / returns.length;
  const sd = Math.sqrt(returns.reduce((s, r) => s + (r - avg) ** 2, 0) / (returns.length - 1));
  const sharpe = sd > 0 ? (avg / sd) * Math.sqrt(252) : 0;
  const maxDd = daily.reduce((m, d) => Math.max(m, d.dd), 0);
  return { trades, equity, counters, daily, sharpe, maxDd };
}

export interface SyntheticOptions {
  n: number;
  seed?: number;
  /** Bar spacing in minutes (default 60). */
  stepMinutes?: number;
  /** First bar close, epoch ms (default 2024-01-01T00:00Z, a Monday). */
  start?: number;
  zEntry?: number;
  /** Skip Saturday/Sunday bars (default true). */
  skipWeekends?: boolean;
}

/**
 * A cointegrated pair with an OU spread: prices around 2000 and 25 (like XAU/XAG), z the
 * standardised spread, β near 1, returnProb on bars with |z| ≥ zEntry, riskScore every bar, and
 * ai2Label a noisy function of riskScore.
 */
export function syntheticSeries(o: SyntheticOptions): BacktestSeries {
  const { n, seed = 1, stepMinutes = 60, start = Date.UTC(2024, 0, 1), zEntry = 2, skipWeekends = true } = o;
  const rnd = mulberry32(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
  const ts = new Float64Array(n), priceA = new Float64Array(n), priceB = new Float64Array(n), z = new Float64Array(n), beta = new Float64Array(n);
  const returnProb = new Float64Array(n), riskScore = new Float64Array(n), ai2Label = new Float64Array(n);
  let t = start, logB = Math.log(25), ou = 0, risk = 0;
  const step = stepMinutes * 60_000;
  for (let i = 0; i < n; i++) {
    if (skipWeekends) while ([0, 6].includes(new Date(t).getUTCDay())) t += step;
    ts[i] = t;
    t += step;
    logB += 0.002 * normal();
    ou += -0.04 * ou + 0.28 * normal(); // stationary σ ≈ 1
    const b = 1 + 0.05 * Math.sin(i / 500);
    priceB[i] = Math.exp(logB);
    priceA[i] = Math.exp(Math.log(80) + b * logB + 0.012 * ou);
    z[i] = ou;
    beta[i] = b;
    returnProb[i] = Math.abs(ou) >= zEntry ? 1 / (1 + Math.exp(-(Math.abs(ou) - zEntry) * 2 - 0.6 * normal())) : NaN;
    // Mostly calm (≈ 0.1) with bursts of risk.
    risk = 0.9 * risk + 0.1 * (rnd() < 0.1 ? 0.6 + 0.4 * rnd() : 0.15 * rnd());
    riskScore[i] = Math.min(1, Math.max(0, risk + 0.2 * (rnd() - 0.5)));
    ai2Label[i] = rnd() < riskScore[i] ? 1 : 0;
  }
  return { ts, priceA, priceB, z, beta, returnProb, riskScore, ai2Label };
}
