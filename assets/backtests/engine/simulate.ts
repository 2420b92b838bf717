/**
 * The bar loop: one pair, one position at a time, over columnar typed arrays (seed 002
 * backtest-assets-engine 仕様 v1). No allocation per bar; objects are built only when a trade
 * closes.
 *
 * Timeline of a trade (bar k is the bar that closes at ts[k]; decisions read bar k's values):
 *
 * - Flat at bar i with returnProb[i] > θ1 AND riskScore[i] < θ2 (z[i], β[i] finite and non-zero):
 *   an entry order, direction by the sign of z[i] (z > 0: sell A / buy B, z < 0: buy A / sell B),
 *   sized on |β[i]| (the seed fixes the legs' directions by z; β's sign is not used).
 * - It fills at bar j = i + latency at bar j's closes, when bar j is tradable (weekday, no holiday,
 *   inside both legs' sessions, both prices present) and a size exists; otherwise it is dropped —
 *   a stale entry signal is not chased.
 * - From bar j + 1 on, the exit rule is read at each bar k:
 *   |z[k]| ≤ z_exit  → 'z_exit';  risk_stop AND riskScore[k] ≥ θ_stop → 'risk_stop';
 *   k − j > M → 'max_bars' (that order when several hold).
 * - An exit fills at the first tradable bar ≥ k + latency (an exit is never dropped: it waits).
 * - The next entry can be signalled from the bar after the exit fill.
 *
 * Costs, in the seed's order, at each fill of each leg (s = +1 buying, −1 selling):
 *   p0 = close rounded to the tick; p1 = p0·(1 + s·spread/2); p2 = p1·(1 + s·slippage·m(t));
 *   cost_spread += qty·|p1 − p0|; cost_slippage += qty·|p2 − p1|; cost_commission += qty·p2·commission.
 * The trade's reported prices are p0; gross PnL is on p0, so pnl = gross − every cost.
 * Swap: for every rollover instant R with ts_entry < R ≤ ts_exit, each leg pays or earns
 * qty·mark·rate(side)·days(R), marked at the first bar closing at or after R.
 *
 * Equity per bar = initial + realized + unrealized, where unrealized marks the open position at
 * the bar's closes (raw, not tick-rounded) net of its entry costs and swap so far, and before its
 * exit costs.
 */
import { RolloverClock, SlippageClock, TradingCalendar } from './calendar.ts';
import { BT_FX_MISSING, invalidInput } from './errors.ts';
import { validateParams, type BacktestParams } from './params.ts';
import { SIZE_RATIO_ERROR, SIZE_STEPS_A, SIZE_STEPS_B, sizeInto } from './sizing.ts';
import { OrreryError } from '../../../core/errors.ts';

/** One pair's bars, time-ordered. NaN means missing. */
export interface BacktestSeries {
  /** Bar close times, epoch ms UTC, strictly increasing. */
  ts: Float64Array;
  priceA: Float64Array;
  priceB: Float64Array;
  z: Float64Array;
  /** Hedge ratio as notionals (seed: notional_A : notional_B = 1 : |β|); a price-unit β converts as β·P_B/P_A. */
  beta: Float64Array;
  /** Calibrated AI1 probability (present where |z| ≥ z_entry). */
  returnProb: Float64Array;
  /** AI2 probability (every bar). */
  riskScore: Float64Array;
  /** AI2 ground truth 0/1 (NaN unknown), for the false-stop rate. */
  ai2Label?: Float64Array;
  /** Quote → account currency rate of each leg per bar; needed when a leg does not quote in the account currency. */
  fxA?: Float64Array;
  fxB?: Float64Array;
}

export type Side = 'long_spread' | 'short_spread';
export type ExitReason = 'z_exit' | 'risk_stop' | 'max_bars';

/** A closed trade: one bt_trades row (times are epoch ms UTC, money in account currency). */
export interface BtTrade {
  trade_id: number;
  pair_id: string;
  ts_entry: number;
  ts_exit: number;
  /** short_spread: sold A, bought B (z > 0). long_spread: bought A, sold B (z < 0). */
  side: Side;
  /** Units (lots × contract size), always positive; the side says which way. */
  qty_A: number;
  qty_B: number;
  lots_A: number;
  lots_B: number;
  /** Tick-rounded closes the legs filled at, before spread and slippage. */
  price_A_entry: number;
  price_B_entry: number;
  price_A_exit: number;
  price_B_exit: number;
  /** z, AI1 probability and AI2 score at the signal bars. */
  z_at_entry: number;
  z_at_exit: number;
  return_prob: number;
  risk_score: number;
  cost_spread: number;
  cost_slippage: number;
  cost_commission: number;
  /** Net swap paid (negative when the swap earned). */
  cost_swap: number;
  /** PnL on the fill prices before any cost. */
  gross_pnl: number;
  /** gross_pnl − all four costs. */
  pnl: number;
  exit_reason: ExitReason;
  /** Bars from the entry fill to the exit fill. */
  bars_held: number;
  /** Achieved notional ratio error against |β| (see sizing). */
  ratio_error: number;
  bar_signal_entry: number;
  bar_entry: number;
  bar_signal_exit: number;
  bar_exit: number;
}

/** The position still open after the last bar (not in bt_trades); its PnL is unrealized. */
export interface OpenPosition {
  pair_id: string;
  ts_entry: number;
  side: Side;
  qty_A: number;
  qty_B: number;
  price_A_entry: number;
  price_B_entry: number;
  z_at_entry: number;
  return_prob: number;
  risk_score: number;
  bar_signal_entry: number;
  bar_entry: number;
  /** Entry costs and swap so far. */
  cost_spread: number;
  cost_slippage: number;
  cost_commission: number;
  cost_swap: number;
  /** Marked at the last bar, net of the costs above. */
  unrealized_pnl: number;
  /** An exit was signalled and is waiting for a tradable bar. */
  exit_pending: ExitReason | null;
}

export interface BacktestCounters {
  bars: number;
  /** Entry orders (θ1 and θ2 passed while flat). */
  entrySignals: number;
  /** Entry orders dropped: the fill bar was not tradable, had no price, or no size existed. */
  entriesDropped: number;
  /** Flat bars with returnProb > θ1 and a risk score: the bars where AI2 had a say. */
  haltCandidates: number;
  /** …of which riskScore ≥ θ2 vetoed the entry (やらない勇気). */
  haltVetoes: number;
  riskStops: number;
  /** Vetoes and risk stops whose ai2Label is known … */
  stopsLabelled: number;
  /** … and of those, the ones labelled 0 (no risk materialised). */
  falseStops: number;
  /** Exits that had to wait past their earliest fill bar (outside sessions, weekend, holiday, no price). */
  exitsDelayed: number;
}

export interface SimResult {
  trades: BtTrade[];
  open: OpenPosition | null;
  /** Equity per bar, marked to market. */
  equity: Float64Array;
  realizedPnl: number;
  unrealizedPnl: number;
  counters: BacktestCounters;
}

const FLAT = 0, PENDING_ENTRY = 1, OPEN = 2, EXITING = 3;
const REASONS: readonly ExitReason[] = ['z_exit', 'risk_stop', 'max_bars'];

/** Checks lengths, time order and currency coverage; returns the bar count. */
export function checkSeries(s: BacktestSeries, p: BacktestParams): number {
  const n = s.ts.length;
  const cols: Array<[string, Float64Array | undefined]> = [
    ['priceA', s.priceA], ['priceB', s.priceB], ['z', s.z], ['beta', s.beta], ['returnProb', s.returnProb], ['riskScore', s.riskScore],
    ['ai2Label', s.ai2Label], ['fxA', s.fxA], ['fxB', s.fxB],
  ];
  for (const [name, c] of cols) {
    if (c !== undefined && c.length !== n) invalidInput(`series ${name} has ${c.length} bars, ts has ${n}`, { column: name });
  }
  const ts = s.ts;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(ts[i]) || (i > 0 && !(ts[i] > ts[i - 1]))) invalidInput(`ts must be finite and strictly increasing (bar ${i}: ${ts[i]} after ${i > 0 ? ts[i - 1] : '—'})`, { bar: i });
  }
  for (const [leg, fx] of [[p.legA, s.fxA], [p.legB, s.fxB]] as const) {
    if (leg.quoteCcy !== p.accountCurrency && fx === undefined) {
      throw new OrreryError(BT_FX_MISSING, `leg ${leg.symbol} quotes in ${leg.quoteCcy} and the account is in ${p.accountCurrency}: pass its conversion rates as fx${leg === p.legA ? 'A' : 'B'}`, { symbol: leg.symbol });
    }
  }
  return n;
}

/** Runs the strategy over one pair's bars. Pure: same inputs, same result. */
export function simulate(series: BacktestSeries, params: BacktestParams): SimResult {
  validateParams(params);
  const n = checkSeries(series, params);
  const { ts, priceA, priceB, z, beta, returnProb, riskScore } = series;
  const labels = series.ai2Label, fxSeriesA = series.fxA, fxSeriesB = series.fxB;
  const calendar = new TradingCalendar(params.legA.sessions, params.legB.sessions, [...params.legA.holidays, ...params.legB.holidays]);
  const slipClock = new SlippageClock(params.slippageMultipliers);
  const rollover = new RolloverClock(params.rolloverDay, params.rolloverTimeUtc);

  const { theta1, theta2, thetaStop, zExit, maxBars, riskStop, latencyBars: L, initialEquity: E0 } = params;
  const A = params.legA, B = params.legB, cA = params.costsA, cB = params.costsB;
  const halfSpreadA = cA.spreadBps / 2e4, halfSpreadB = cB.spreadBps / 2e4;
  const slipA = cA.slippageBps / 1e4, slipB = cB.slippageBps / 1e4;
  const commA = cA.commissionBps / 1e4, commB = cB.commissionBps / 1e4;
  const gross = params.targetGrossNotional * params.positionScale;
  const size = new Float64Array(4);

  const equity = new Float64Array(n);
  const trades: BtTrade[] = [];
  const counters: BacktestCounters = {
    bars: n, entrySignals: 0, entriesDropped: 0, haltCandidates: 0, haltVetoes: 0, riskStops: 0, stopsLabelled: 0, falseStops: 0, exitsDelayed: 0,
  };
  let entrySignals = 0, entriesDropped = 0, haltCandidates = 0, haltVetoes = 0, riskStops = 0, stopsLabelled = 0, falseStops = 0, exitsDelayed = 0;

  let state = FLAT, realized = 0;
  // Entry order / position.
  let sigBar = -1, fillBar = -1, entryBar = -1, dir = 0; // dir: +1 long A / short B, −1 short A / long B
  let qtyA = 0, qtyB = 0, lotsA = 0, lotsB = 0, pA0 = 0, pB0 = 0, ratioErr = 0;
  let costSpread = 0, costSlip = 0, costComm = 0, swapCost = 0;
  let markA = 0, markB = 0, fxMarkA = 1, fxMarkB = 1, nextRoll = Infinity;
  // Exit order.
  let exitSig = -1, exitReason = 0, earliestExit = 0;

  const tickRound = (p: number, tick: number) => Math.round(p / tick) * tick;

  for (let k = 0; k < n; k++) {
    const t = ts[k];
    if (state >= OPEN) {
      const a = priceA[k], b = priceB[k];
      if (a === a) markA = a;
      if (b === b) markB = b;
      if (fxSeriesA !== undefined && fxSeriesA[k] === fxSeriesA[k]) fxMarkA = fxSeriesA[k];
      if (fxSeriesB !== undefined && fxSeriesB[k] === fxSeriesB[k]) fxMarkB = fxSeriesB[k];
      while (t >= nextRoll) {
        const days = rollover.days(nextRoll);
        // Leg A is long when dir = +1; swap rates are credits (+) or charges (−).
        const rateA = dir > 0 ? cA.swapLongBpsDay : cA.swapShortBpsDay;
        const rateB = dir > 0 ? cB.swapShortBpsDay : cB.swapLongBpsDay;
        swapCost -= (qtyA * markA * fxMarkA * rateA + qtyB * markB * fxMarkB * rateB) * days / 1e4;
        nextRoll = rollover.next(nextRoll);
      }
      if (state === OPEN && k > entryBar) {
        const zk = z[k];
        let reason = 0;
        if (Math.abs(zk) <= zExit) reason = 1;
        else if (riskStop && riskScore[k] >= thetaStop) reason = 2;
        else if (k - entryBar > maxBars) reason = 3;
        if (reason !== 0) {
          state = EXITING; exitSig = k; exitReason = reason; earliestExit = k + L;
          if (reason === 2) {
            riskStops++;
            if (labels !== undefined && labels[k] === labels[k]) { stopsLabelled++; if (labels[k] === 0) falseStops++; }
          }
        }
      }
      if (state === EXITING && k >= earliestExit) {
        const fxA = fxSeriesA === undefined ? 1 : fxSeriesA[k], fxB = fxSeriesB === undefined ? 1 : fxSeriesB[k];
        if (a === a && b === b && fxA === fxA && fxB === fxB && calendar.isTradable(t)) {
          const m = slipClock.multiplier(t);
          const xA = tickRound(a, A.tickSize), xB = tickRound(b, B.tickSize);
          // Closing: leg A fills on side −dir, leg B on side +dir.
          const sA = -dir, sB = dir;
          const a1 = xA * (1 + sA * halfSpreadA), b1 = xB * (1 + sB * halfSpreadB);
          const a2 = a1 * (1 + sA * slipA * m), b2 = b1 * (1 + sB * slipB * m);
          costSpread += qtyA * xA * halfSpreadA * fxA + qtyB * xB * halfSpreadB * fxB;
          costSlip += qtyA * a1 * slipA * m * fxA + qtyB * b1 * slipB * m * fxB;
          costComm += qtyA * a2 * commA * fxA + qtyB * b2 * commB * fxB;
          const grossPnl = dir * (qtyA * (xA - pA0) * fxA - qtyB * (xB - pB0) * fxB);
          const pnl = grossPnl - costSpread - costSlip - costComm - swapCost;
          realized += pnl;
          if (k > earliestExit) exitsDelayed++;
          trades.push({
            trade_id: trades.length + 1, pair_id: params.pairId, ts_entry: ts[entryBar], ts_exit: t, side: dir > 0 ? 'long_spread' : 'short_spread',
            qty_A: qtyA, qty_B: qtyB, lots_A: lotsA, lots_B: lotsB,
            price_A_entry: pA0, price_B_entry: pB0, price_A_exit: xA, price_B_exit: xB,
            z_at_entry: z[sigBar], z_at_exit: z[exitSig], return_prob: returnProb[sigBar], risk_score: riskScore[sigBar],
            cost_spread: costSpread, cost_slippage: costSlip, cost_commission: costComm, cost_swap: swapCost,
            gross_pnl: grossPnl, pnl, exit_reason: REASONS[exitReason - 1], bars_held: k - entryBar, ratio_error: ratioErr,
            bar_signal_entry: sigBar, bar_entry: entryBar, bar_signal_exit: exitSig, bar_exit: k,
          });
          state = FLAT;
          equity[k] = E0 + realized;
          continue;
        }
      }
    }

    if (state === FLAT) {
      const rp = returnProb[k];
      if (rp > theta1) {
        const rs = riskScore[k];
        if (rs === rs) {
          haltCandidates++;
          if (rs >= theta2) {
            haltVetoes++;
            if (labels !== undefined && labels[k] === labels[k]) { stopsLabelled++; if (labels[k] === 0) falseStops++; }
          }
        }
        const zk = z[k], bk = beta[k];
        if (rs < theta2 && zk !== 0 && Number.isFinite(zk) && bk !== 0 && Number.isFinite(bk)) {
          entrySignals++;
          state = PENDING_ENTRY; sigBar = k; fillBar = k + L; dir = zk > 0 ? -1 : 1;
        }
      }
    }

    if (state === PENDING_ENTRY && k === fillBar) {
      const a = priceA[k], b = priceB[k];
      const fxA = fxSeriesA === undefined ? 1 : fxSeriesA[k], fxB = fxSeriesB === undefined ? 1 : fxSeriesB[k];
      let filled = false;
      if (a === a && b === b && calendar.isTradable(t)) {
        const eA = tickRound(a, A.tickSize), eB = tickRound(b, B.tickSize);
        if (sizeInto(size, eA, A.contractSize, A.minLot, A.lotStep, fxA, eB, B.contractSize, B.minLot, B.lotStep, fxB,
          Math.abs(beta[sigBar]), gross, params.minNotional, params.ratioTolerance)) {
          filled = true;
          lotsA = size[SIZE_STEPS_A] * A.lotStep; lotsB = size[SIZE_STEPS_B] * B.lotStep;
          qtyA = lotsA * A.contractSize; qtyB = lotsB * B.contractSize; ratioErr = size[SIZE_RATIO_ERROR];
          pA0 = eA; pB0 = eB;
          const m = slipClock.multiplier(t);
          const sA = dir, sB = -dir;
          const a1 = eA * (1 + sA * halfSpreadA), b1 = eB * (1 + sB * halfSpreadB);
          const a2 = a1 * (1 + sA * slipA * m), b2 = b1 * (1 + sB * slipB * m);
          costSpread = qtyA * eA * halfSpreadA * fxA + qtyB * eB * halfSpreadB * fxB;
          costSlip = qtyA * a1 * slipA * m * fxA + qtyB * b1 * slipB * m * fxB;
          costComm = qtyA * a2 * commA * fxA + qtyB * b2 * commB * fxB;
          swapCost = 0;
          markA = a; markB = b; fxMarkA = fxA; fxMarkB = fxB;
          nextRoll = rollover.next(t);
          entryBar = k; state = OPEN;
        }
      }
      if (!filled) { entriesDropped++; state = FLAT; }
    }

    equity[k] = state >= OPEN
      ? E0 + realized + dir * (qtyA * (markA - pA0) * fxMarkA - qtyB * (markB - pB0) * fxMarkB) - costSpread - costSlip - costComm - swapCost
      : E0 + realized;
  }

  let open: OpenPosition | null = null, unrealized = 0;
  if (state >= OPEN) {
    unrealized = equity[n - 1] - E0 - realized;
    open = {
      pair_id: params.pairId, ts_entry: ts[entryBar], side: dir > 0 ? 'long_spread' : 'short_spread',
      qty_A: qtyA, qty_B: qtyB, price_A_entry: pA0, price_B_entry: pB0,
      z_at_entry: z[sigBar], return_prob: returnProb[sigBar], risk_score: riskScore[sigBar], bar_signal_entry: sigBar, bar_entry: entryBar,
      cost_spread: costSpread, cost_slippage: costSlip, cost_commission: costComm, cost_swap: swapCost,
      unrealized_pnl: unrealized, exit_pending: state === EXITING ? REASONS[exitReason - 1] : null,
    };
  }
  Object.assign(counters, { entrySignals, entriesDropped, haltCandidates, haltVetoes, riskStops, stopsLabelled, falseStops, exitsDelayed });
  return { trades, open, equity, realizedPnl: realized, unrealizedPnl: unrealized, counters };
}
