/**
 * Backtest parameters: the θ rule, exits, legs (universe.yaml), costs (cost_table.yaml) and the
 * account. `backtestParamsFromPolicies` builds them from the loaded policies.
 */
import type { Policies } from '../../policies/index.ts';
import { WEEKDAYS, type Weekday } from './calendar.ts';
import { BT_PAIR_UNKNOWN, invalidParams } from './errors.ts';
import { OrreryError } from '../../../core/errors.ts';

export interface TradingSession {
  /** "HH:MM" UTC; a session with start > end wraps midnight. */
  start: string;
  end: string;
}

export interface LegSpec {
  symbol: string;
  tickSize: number;
  /** Units per lot: qty = lots × contractSize. */
  contractSize: number;
  minLot: number;
  lotStep: number;
  /** Currency the leg's prices, and so its PnL, are in (universe.yaml base_ccy). */
  quoteCcy: string;
  sessions: readonly TradingSession[];
  /** UTC dates (YYYY-MM-DD) the leg does not trade on, on top of Saturdays and Sundays. */
  holidays: readonly string[];
}

/** One leg's costs, all in bps of the notional. */
export interface LegCosts {
  /** Nominal (full) spread; each fill pays half of it. */
  spreadBps: number;
  /** One-way slippage before the time-of-day multiplier. */
  slippageBps: number;
  /** One-way commission: charged at entry and again at exit. */
  commissionBps: number;
  /** Swap per day held over the rollover, by side of the leg; positive = credit, negative = charge. */
  swapLongBpsDay: number;
  swapShortBpsDay: number;
}

export interface BacktestParams {
  pairId: string;
  /** Entry: returnProb > theta1 AND riskScore < theta2. */
  theta1: number;
  theta2: number;
  /** Exit on risk when riskStop and riskScore ≥ thetaStop. */
  thetaStop: number;
  riskStop: boolean;
  /** Exit when |z| ≤ zExit. */
  zExit: number;
  /** Exit when more than maxBars bars have passed since the entry fill (the seed's M). */
  maxBars: number;
  /** Scales the target notional (AI3 hook); at most 1. */
  positionScale: number;
  /** Orders fill this many bars after the bar that signalled them, at that bar's close. */
  latencyBars: number;
  legA: LegSpec;
  legB: LegSpec;
  /** Minimum notional of each leg's order, in account currency (universe constraints.min_notional_usd). */
  minNotional: number;
  costsA: LegCosts;
  costsB: LegCosts;
  /** The weekday whose rollover charges three days of swap. */
  rolloverDay: Weekday;
  /** "HH:MM" UTC of the daily rollover. */
  rolloverTimeUtc: string;
  /** "HH:MM-HH:MM" (UTC, may wrap midnight) → slippage multiplier. */
  slippageMultipliers: Readonly<Record<string, number>>;
  /** Gross notional (|A| + |B|) a trade aims for, in account currency, before positionScale. */
  targetGrossNotional: number;
  initialEquity: number;
  accountCurrency: string;
  /** Rounded β-ratio tolerance the sizer tries to meet (the seed's ±1 %). */
  ratioTolerance: number;
  /** Periods per year of the daily returns, for Sharpe (the seed: √252). */
  periodsPerYear: number;
}

export const BACKTEST_DEFAULTS = Object.freeze({
  positionScale: 1,
  latencyBars: 0,
  initialEquity: 100_000,
  targetGrossNotional: 100_000,
  ratioTolerance: 0.01,
  periodsPerYear: 252,
});

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Throws BT_PARAMS_INVALID naming every bad field at once. */
export function validateParams(p: BacktestParams): void {
  const bad: string[] = [];
  const check = (ok: boolean, msg: string) => { if (!ok) bad.push(msg); };
  const prob = (k: 'theta1' | 'theta2' | 'thetaStop') => check(finite(p[k]) && p[k] >= 0 && p[k] <= 1, `${k} must be in [0, 1], got ${p[k]}`);
  prob('theta1'); prob('theta2'); prob('thetaStop');
  check(finite(p.zExit) && p.zExit >= 0, `zExit must be ≥ 0, got ${p.zExit}`);
  check(Number.isInteger(p.maxBars) && p.maxBars >= 1, `maxBars must be a positive integer, got ${p.maxBars}`);
  check(Number.isInteger(p.latencyBars) && p.latencyBars >= 0, `latencyBars must be a non-negative integer, got ${p.latencyBars}`);
  check(finite(p.positionScale) && p.positionScale > 0 && p.positionScale <= 1, `positionScale must be in (0, 1], got ${p.positionScale}`);
  check(finite(p.minNotional) && p.minNotional >= 0, `minNotional must be ≥ 0, got ${p.minNotional}`);
  check(finite(p.targetGrossNotional) && p.targetGrossNotional > 0, `targetGrossNotional must be positive, got ${p.targetGrossNotional}`);
  check(finite(p.initialEquity) && p.initialEquity > 0, `initialEquity must be positive, got ${p.initialEquity}`);
  check(finite(p.ratioTolerance) && p.ratioTolerance > 0 && p.ratioTolerance < 1, `ratioTolerance must be in (0, 1), got ${p.ratioTolerance}`);
  check(finite(p.periodsPerYear) && p.periodsPerYear > 0, `periodsPerYear must be positive, got ${p.periodsPerYear}`);
  check(WEEKDAYS.slice(1, 6).includes(p.rolloverDay), `rolloverDay must be MON–FRI, got ${p.rolloverDay}`);
  for (const [name, leg] of [['legA', p.legA], ['legB', p.legB]] as const) {
    for (const k of ['tickSize', 'contractSize', 'minLot', 'lotStep'] as const) check(finite(leg[k]) && leg[k] > 0, `${name}.${k} must be positive, got ${leg[k]}`);
    // Lots are whole numbers of lot steps, so the minimum must be one too.
    const steps = leg.minLot / leg.lotStep;
    check(Math.abs(steps - Math.round(steps)) < 1e-9, `${name}.minLot ${leg.minLot} is not a multiple of lotStep ${leg.lotStep}`);
  }
  for (const [name, c] of [['costsA', p.costsA], ['costsB', p.costsB]] as const) {
    for (const k of ['spreadBps', 'slippageBps', 'commissionBps'] as const) check(finite(c[k]) && c[k] >= 0, `${name}.${k} must be ≥ 0, got ${c[k]}`);
    for (const k of ['swapLongBpsDay', 'swapShortBpsDay'] as const) check(finite(c[k]), `${name}.${k} must be a number, got ${c[k]}`);
  }
  if (bad.length > 0) invalidParams(`invalid backtest parameters: ${bad.join('; ')}`, { problems: bad });
}

export interface PolicyOverrides extends Partial<Omit<BacktestParams, 'pairId' | 'legA' | 'legB' | 'costsA' | 'costsB'>> {
  /**
   * Holiday dates per universe.yaml `holidays_calendar` name ("US" …). The engine ships no
   * calendar data: a calendar not given here closes only on weekends.
   */
  holidayCalendars?: Readonly<Record<string, readonly string[]>>;
}

/**
 * The parameters the shipped policies describe for one pair. θ1/θ2 come from core_policy
 * (theta1_initial/theta2_initial), exits from backtest_policy.exit_rule, legs and sessions from
 * universe.yaml. Per leg costs: a cost_table override for the symbol wins; then
 * backtest_policy.costs (spread_bps_table by symbol, commission/slippage *_default — the config
 * says they are the defaults for symbols without an override); then cost_table defaults.
 * entry_rule.use_theta = false disables the θ gate (θ1 = 0, θ2 = 1);
 * use_position_scale = false forces positionScale 1.
 */
export function backtestParamsFromPolicies(
  policies: Pick<Policies, 'core' | 'backtest' | 'universe' | 'costs'>,
  pairId: string,
  overrides: PolicyOverrides = {},
): BacktestParams {
  const pair = policies.universe.pairs.find((p) => p.pair_id === pairId);
  if (!pair) {
    throw new OrreryError(BT_PAIR_UNKNOWN, `pair ${pairId} is not in universe.yaml (known: ${policies.universe.pairs.map((p) => p.pair_id).join(', ')})`, { pairId });
  }
  const { backtest: bt, costs, core } = policies;
  const { holidayCalendars = {}, ...rest } = overrides;
  const leg = (l: typeof pair.leg_A): LegSpec => {
    if (l.timezone !== 'UTC') invalidParams(`leg ${l.canonical_symbol}: trading sessions must be in UTC, got timezone ${l.timezone}`);
    const cal = l.trading_hours.holidays_calendar;
    return {
      symbol: l.canonical_symbol,
      tickSize: l.tick_size,
      contractSize: l.contract_size,
      minLot: l.min_lot,
      lotStep: l.lot_step,
      quoteCcy: l.base_ccy,
      sessions: l.trading_hours.sessions.map((s) => ({ start: s.start, end: s.end })),
      holidays: cal === 'NONE' ? [] : [...(holidayCalendars[cal] ?? [])],
    };
  };
  const legCosts = (symbol: string): LegCosts => {
    const o = costs.overrides[symbol] ?? {};
    return {
      spreadBps: o.spread_bps ?? bt.costs.spread_bps_table[symbol] ?? costs.defaults.spread_bps,
      slippageBps: o.slippage_bps ?? bt.costs.slippage_bps_default,
      commissionBps: o.commission_bps ?? bt.costs.commission_bps_default,
      swapLongBpsDay: o.swap?.long_bps_day ?? 0,
      swapShortBpsDay: o.swap?.short_bps_day ?? 0,
    };
  };
  const useTheta = bt.entry_rule.use_theta;
  const params: BacktestParams = {
    pairId,
    theta1: useTheta ? core.theta1_initial : 0,
    theta2: useTheta ? core.theta2_initial : 1,
    thetaStop: bt.exit_rule.theta_stop,
    riskStop: bt.exit_rule.risk_stop,
    zExit: bt.exit_rule.z_exit,
    maxBars: bt.exit_rule.M,
    positionScale: BACKTEST_DEFAULTS.positionScale,
    latencyBars: BACKTEST_DEFAULTS.latencyBars,
    legA: leg(pair.leg_A),
    legB: leg(pair.leg_B),
    minNotional: pair.constraints.min_notional_usd,
    costsA: legCosts(pair.leg_A.canonical_symbol),
    costsB: legCosts(pair.leg_B.canonical_symbol),
    rolloverDay: costs.defaults.swap.rollover_day,
    rolloverTimeUtc: costs.defaults.swap.time_utc,
    slippageMultipliers: { ...costs.time_of_day_multipliers },
    targetGrossNotional: BACKTEST_DEFAULTS.targetGrossNotional,
    initialEquity: BACKTEST_DEFAULTS.initialEquity,
    accountCurrency: costs.account_currency,
    ratioTolerance: BACKTEST_DEFAULTS.ratioTolerance,
    periodsPerYear: BACKTEST_DEFAULTS.periodsPerYear,
    ...rest,
  };
  if (!bt.entry_rule.use_position_scale) params.positionScale = 1;
  validateParams(params);
  return params;
}

/** The same parameters with extra one-way commission and slippage (bps) on both legs. */
export function withCostIncrease(p: BacktestParams, commissionBps: number, slippageBps = 0): BacktestParams {
  const up = (c: LegCosts): LegCosts => ({ ...c, commissionBps: c.commissionBps + commissionBps, slippageBps: c.slippageBps + slippageBps });
  return { ...p, costsA: up(p.costsA), costsB: up(p.costsB) };
}

/** The same parameters with every cost (spread, slippage, commission, swap) set to zero. */
export function withoutCosts(p: BacktestParams): BacktestParams {
  const zero: LegCosts = { spreadBps: 0, slippageBps: 0, commissionBps: 0, swapLongBpsDay: 0, swapShortBpsDay: 0 };
  return { ...p, costsA: { ...zero }, costsB: { ...zero } };
}
