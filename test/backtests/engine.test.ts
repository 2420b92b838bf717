/** Hand-computed trades, costs and rules on tiny series. */
import { describe, expect, it } from 'vitest';
import { BT_FX_MISSING, BT_INPUT_INVALID, BT_PARAMS_INVALID, simulate, type BacktestSeries } from '../../assets/backtests/engine/index.ts';
import { metalsParams, seriesOf, type BarSpec } from './helpers.ts';

const close = (x: number, y: number) => expect(x).toBeCloseTo(y, 9);

// Tuesday 2024-01-09: enter short spread at 10:00, |z| ≤ 0.5 at 12:00.
const HAND: BarSpec[] = [
  { t: '2024-01-09T10:00Z', a: 2000.004, b: 25.0004, z: 2.5, rp: 0.8, rs: 0.1 },
  { t: '2024-01-09T11:00Z', a: 1990, b: 25.1, z: 1.5, rs: 0.2 },
  { t: '2024-01-09T12:00Z', a: 1980.006, b: 25.2004, z: 0.4 },
  { t: '2024-01-09T13:00Z', a: 1985, b: 25.3, z: 0.2 },
];

describe('one hand-computed trade', () => {
  const r = simulate(seriesOf(HAND), metalsParams());
  const t = r.trades[0];

  it('enters at the signal bar and exits at the first bar with |z| ≤ z_exit', () => {
    expect(r.trades).toHaveLength(1);
    expect([t.bar_signal_entry, t.bar_entry, t.bar_signal_exit, t.bar_exit]).toEqual([0, 0, 2, 2]);
    expect(t.side).toBe('short_spread');
    expect(t.exit_reason).toBe('z_exit');
    expect(t.ts_entry).toBe(Date.parse('2024-01-09T10:00Z'));
    expect(t.ts_exit).toBe(Date.parse('2024-01-09T12:00Z'));
    expect([t.z_at_entry, t.z_at_exit, t.return_prob, t.risk_score]).toEqual([2.5, 0.4, 0.8, 0.1]);
    expect(r.open).toBeNull();
  });

  it('rounds prices to ticks and sizes 1 : |β| in notional', () => {
    close(t.price_A_entry, 2000);
    close(t.price_B_entry, 25);
    close(t.price_A_exit, 1980.01);
    close(t.price_B_exit, 25.2);
    // 10,000 USD gross, β = 1: 5,000 per leg → 2.5 oz gold, 200 oz silver.
    close(t.qty_A, 2.5);
    close(t.qty_B, 200);
    close(t.ratio_error, 0);
  });

  it('charges spread, then slippage, then commission on each fill', () => {
    // Entry: A sold at 2000 → 1999.4 (half of 6 bp) → 1997.4006 (10 bp); B bought at 25 → 25.01 → 25.040012.
    // Exit: A bought at 1980.01 → 1980.604003 → 1982.584607003; B sold at 25.2 → 25.18992 → 25.159692096.
    close(t.cost_spread, 1.5 + 2 + 1.4850075 + 2.016);
    close(t.cost_slippage, 4.9985 + 6.0024 + 4.9515100075 + 6.0455808);
    close(t.cost_commission, 4.9935015 + 5.0080024 + 4.9564615175075 + 5.0319384192);
    close(t.cost_swap, 0);
    close(t.gross_pnl, 2.5 * (2000 - 1980.01) + 200 * (25.2 - 25));
    close(t.pnl, 40.98609785579237);
    close(r.realizedPnl, t.pnl);
  });

  it('marks the open position to market net of its entry costs', () => {
    const entryCosts = 3.5 + 11.0009 + 10.0015039;
    close(r.equity[0] - 100_000, -2.5 * 0.004 + 200 * 0.0004 - entryCosts);
    close(r.equity[1] - 100_000, 2.5 * 10 + 200 * 0.1 - entryCosts);
    close(r.equity[2] - 100_000, t.pnl);
    close(r.equity[3] - 100_000, t.pnl);
  });

  it('a negative z buys A and sells B', () => {
    const rows = HAND.map((b) => ({ ...b, z: -b.z }));
    const u = simulate(seriesOf(rows), metalsParams()).trades[0];
    expect(u.side).toBe('long_spread');
    close(u.gross_pnl, -2.5 * (2000 - 1980.01) - 200 * (25.2 - 25));
  });
});

describe('swap', () => {
  const params = metalsParams({ costsB: { spreadBps: 8, slippageBps: 12, commissionBps: 10, swapLongBpsDay: -5, swapShortBpsDay: 2.5 } });

  it('once per rollover held over, three days on the triple weekday, at the marks of the bar after it', () => {
    const r = simulate(seriesOf([
      { t: '2024-01-09T20:00Z', a: 2000, b: 25, z: 2.5, rp: 0.9 }, // Tue, short A (earns 3 bp), long B (pays 5 bp)
      { t: '2024-01-09T22:00Z', a: 2010, b: 25.5, z: 1.5 }, // Tue 21:00 rollover, ×1
      { t: '2024-01-10T12:00Z', a: 2005, b: 25.2, z: 1.5 },
      { t: '2024-01-10T23:00Z', a: 2020, b: 25.8, z: 1.5 }, // Wed 21:00, ×3
      { t: '2024-01-11T21:30Z', a: 2000, b: 25, z: 0.3 }, // Thu 21:00, ×1, then exit
    ]), params);
    const t = r.trades[0];
    expect(t.bar_exit).toBe(4);
    const tue = 2.5 * 2010 * 3e-4 - 200 * 25.5 * 5e-4;
    const wed = 3 * (2.5 * 2020 * 3e-4 - 200 * 25.8 * 5e-4);
    const thu = 2.5 * 2000 * 3e-4 - 200 * 25 * 5e-4;
    close(t.cost_swap, -(tue + wed + thu));
    close(t.pnl, t.gross_pnl - t.cost_spread - t.cost_slippage - t.cost_commission - t.cost_swap);
    // The swap shows in the equity as it accrues.
    const before = simulate(seriesOf([
      { t: '2024-01-09T20:00Z', a: 2000, b: 25, z: 2.5, rp: 0.9 },
      { t: '2024-01-09T20:59Z', a: 2010, b: 25.5, z: 1.5 },
    ]), params);
    close(r.equity[1] - before.equity[1], tue);
  });

  it('skips Saturday and Sunday: Friday to Monday is two rollovers', () => {
    const r = simulate(seriesOf([
      { t: '2024-01-12T20:00Z', a: 2000, b: 25, z: 2.5, rp: 0.9 },
      { t: '2024-01-12T22:00Z', a: 2000, b: 25, z: 1.5 },
      { t: '2024-01-15T10:00Z', a: 2000, b: 25, z: 1.5 },
      { t: '2024-01-15T21:30Z', a: 2000, b: 25, z: 0.3 },
    ]), params);
    close(r.trades[0].cost_swap, -2 * (2.5 * 2000 * 3e-4 - 200 * 25 * 5e-4));
  });

  it('a position opened at the rollover instant does not pay it; one closed at it does', () => {
    const r = simulate(seriesOf([
      { t: '2024-01-09T21:00Z', a: 2000, b: 25, z: 2.5, rp: 0.9 },
      { t: '2024-01-10T21:00Z', a: 2000, b: 25, z: 0.3 },
    ]), params);
    close(r.trades[0].cost_swap, -3 * (2.5 * 2000 * 3e-4 - 200 * 25 * 5e-4));
  });
});

describe('time-of-day slippage', () => {
  it('multiplies slippage by the window the fill falls in, wrapping midnight', () => {
    const r = simulate(seriesOf([
      { t: '2024-01-09T23:00Z', a: 2000, b: 25, z: 2.5, rp: 0.9 }, // 22:00–01:00 → 1.5
      { t: '2024-01-10T03:00Z', a: 2000, b: 25, z: 0.3 }, // 01:00–07:00 → 1.2
    ]), metalsParams());
    const entry = 1.5 * (2.5 * 1999.4 * 0.001 + 200 * 25.01 * 0.0012);
    const exit = 1.2 * (2.5 * 2000 * 1.0003 * 0.001 + 200 * 25 * 0.9996 * 0.0012);
    close(r.trades[0].cost_slippage, entry + exit);
  });
});

describe('entry rule', () => {
  const at = (h: number) => `2024-01-09T${String(h).padStart(2, '0')}:00Z`;

  it('needs returnProb > θ1 and riskScore < θ2; vetoes count toward the halt rate', () => {
    const r = simulate(seriesOf([
      { t: at(8), a: 2000, b: 25, z: 2.5, rp: 0.7, rs: 0.1, label: 1 }, // rp = θ1: not above
      { t: at(9), a: 2000, b: 25, z: 2.5, rp: 0.71, rs: 0.3, label: 0 }, // rs = θ2: vetoed, wrongly (label 0)
      { t: at(10), a: 2000, b: 25, z: 2.5, rp: 0.71, rs: NaN }, // no AI2 score: no entry, not a veto
      { t: at(11), a: 2000, b: 25, z: 2.5, rp: 0.71, rs: 0.29 }, // enters
      { t: at(12), a: 2000, b: 25, z: 2.5, rp: 0.99, rs: 0.4 }, // in a position: not a candidate (nor a stop: < θ_stop)
      { t: at(13), a: 2000, b: 25, z: 0 },
    ]), metalsParams());
    expect(r.trades.map((t) => [t.bar_entry, t.bar_exit])).toEqual([[3, 5]]);
    expect(r.counters).toMatchObject({ haltCandidates: 2, haltVetoes: 1, entrySignals: 1, stopsLabelled: 1, falseStops: 1 });
  });

  it('moving θ1 and θ2 moves the gate', () => {
    const rows: BarSpec[] = [{ t: at(9), a: 2000, b: 25, z: 2.5, rp: 0.65, rs: 0.35 }, { t: at(10), a: 2000, b: 25, z: 0 }];
    expect(simulate(seriesOf(rows), metalsParams()).trades).toHaveLength(0);
    expect(simulate(seriesOf(rows), metalsParams({ theta1: 0.6 })).trades).toHaveLength(0);
    expect(simulate(seriesOf(rows), metalsParams({ theta1: 0.6, theta2: 0.4 })).trades).toHaveLength(1);
  });

  it('does not enter outside either leg\'s session, on weekends or on holidays', () => {
    const sig = { a: 2000, b: 25, z: 2.5, rp: 0.9 };
    const rows: BarSpec[] = [
      { t: '2024-01-09T23:56Z', ...sig }, // after 23:55
      { t: '2024-01-10T00:04Z', ...sig }, // before 00:05
      { t: '2024-01-13T12:00Z', ...sig }, // Saturday
      { t: '2024-01-15T12:00Z', ...sig }, // holiday of leg B
      { t: '2024-01-16T12:00Z', ...sig }, // enters
      { t: '2024-01-16T13:00Z', a: 2000, b: 25, z: 0 },
    ];
    const p = metalsParams();
    const r = simulate(seriesOf(rows), { ...p, legB: { ...p.legB, holidays: ['2024-01-15'] } });
    expect(r.counters.entriesDropped).toBe(4);
    expect(r.trades.map((t) => t.bar_entry)).toEqual([4]);
    // Leg A trading only 13:00–14:00 closes the 12:00 bar too.
    const narrow = simulate(seriesOf(rows), { ...p, legA: { ...p.legA, sessions: [{ start: '13:00', end: '14:00' }] } });
    expect(narrow.trades).toHaveLength(0);
  });

  it('ignores a signal without a usable z or β', () => {
    const r = simulate(seriesOf([
      { t: at(9), a: 2000, b: 25, z: NaN, rp: 0.9 },
      { t: at(10), a: 2000, b: 25, z: 2.5, beta: 0, rp: 0.9 },
      { t: at(11), a: 2000, b: 25, z: 2.5, beta: NaN, rp: 0.9 },
    ]), metalsParams());
    expect(r.counters.entrySignals).toBe(0);
  });
});

describe('exit rule', () => {
  const bars = (zs: number[], rs: number[] = []): BacktestSeries =>
    seriesOf(zs.map((z, i) => ({ t: `2024-01-09T${String(8 + i).padStart(2, '0')}:00Z`, a: 2000 + i, b: 25, z, rp: i === 0 ? 0.9 : undefined, rs: rs[i] ?? 0.1 })));

  it('|z| ≤ z_exit, boundary included', () => {
    const t = simulate(bars([2.5, 1, -0.5, 0]), metalsParams()).trades[0];
    expect([t.bar_exit, t.exit_reason]).toEqual([2, 'z_exit']);
  });

  it('more than M bars since the entry', () => {
    const t = simulate(bars([2.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5]), metalsParams({ maxBars: 3 })).trades[0];
    expect([t.bar_exit, t.exit_reason, t.bars_held]).toEqual([4, 'max_bars', 4]);
  });

  it('riskScore ≥ θ_stop when the risk stop is on', () => {
    const zs = [2.5, 1.5, 1.5, 1.5, 0.2], rs = [0.1, 0.449, 0.45, 0.1, 0.1];
    const on = simulate(bars(zs, rs), metalsParams());
    expect([on.trades[0].bar_exit, on.trades[0].exit_reason]).toEqual([2, 'risk_stop']);
    expect(on.counters.riskStops).toBe(1);
    const off = simulate(bars(zs, rs), metalsParams({ riskStop: false }));
    expect([off.trades[0].bar_exit, off.trades[0].exit_reason]).toEqual([4, 'z_exit']);
  });

  it('a risk stop on a bar labelled 0 counts as a false stop', () => {
    const s = bars([2.5, 1.5, 1.5], [0.1, 0.5, 0.1]);
    s.ai2Label = Float64Array.from([NaN, 0, NaN]);
    expect(simulate(s, metalsParams()).counters).toMatchObject({ riskStops: 1, stopsLabelled: 1, falseStops: 1 });
  });

  it('an exit outside the session waits for the next tradable bar and fills at its prices', () => {
    const r = simulate(seriesOf([
      { t: '2024-01-12T20:00Z', a: 2000, b: 25, z: 2.5, rp: 0.9 }, // Friday
      { t: '2024-01-12T23:58Z', a: 1990, b: 25, z: 0.2 }, // exit signal after the session
      { t: '2024-01-13T12:00Z', a: 1980, b: 25, z: 1.5 }, // Saturday
      { t: '2024-01-15T00:10Z', a: 1970, b: 25, z: 1.5 }, // Monday: fills here, whatever z is now
      { t: '2024-01-15T01:10Z', a: 1960, b: 25, z: 2.5, rp: 0.9 },
    ]), metalsParams());
    const t = r.trades[0];
    expect([t.bar_signal_exit, t.bar_exit, t.exit_reason, t.price_A_exit]).toEqual([1, 3, 'z_exit', 1970]);
    expect(r.counters.exitsDelayed).toBe(1);
    // The next entry comes after the exit fill.
    expect(r.open?.bar_entry).toBe(4);
  });

  it('leaves a position open at the end as unrealized PnL', () => {
    const r = simulate(bars([2.5, 1.5, 1.5]), metalsParams());
    expect(r.trades).toHaveLength(0);
    expect(r.open).not.toBeNull();
    close(r.unrealizedPnl, r.equity[2] - 100_000);
    close(r.open!.unrealized_pnl, r.unrealizedPnl);
    close(r.realizedPnl, 0);
  });
});

describe('latency', () => {
  const rows: BarSpec[] = [
    { t: '2024-01-09T10:00Z', a: 2000, b: 25, z: 2.5, rp: 0.9 },
    { t: '2024-01-09T11:00Z', a: 2010, b: 25.1, z: 1.5 },
    { t: '2024-01-09T12:00Z', a: 2005, b: 25.05, z: 1.0 },
    { t: '2024-01-09T13:00Z', a: 1990, b: 25.2, z: 0.3 },
    { t: '2024-01-09T14:00Z', a: 1985, b: 25.3, z: 0.1 },
    { t: '2024-01-09T15:00Z', a: 1980, b: 25.4, z: 0.1 },
  ];

  it('fills entry and exit `latency` bars after their signals, at those bars\' closes', () => {
    const t0 = simulate(seriesOf(rows), metalsParams()).trades[0];
    const t1 = simulate(seriesOf(rows), metalsParams({ latencyBars: 1 })).trades[0];
    const t2 = simulate(seriesOf(rows), metalsParams({ latencyBars: 2 })).trades[0];
    expect([t0.bar_signal_entry, t0.bar_entry, t0.bar_signal_exit, t0.bar_exit]).toEqual([0, 0, 3, 3]);
    expect([t1.bar_signal_entry, t1.bar_entry, t1.bar_signal_exit, t1.bar_exit]).toEqual([0, 1, 3, 4]);
    expect([t2.bar_signal_entry, t2.bar_entry, t2.bar_signal_exit, t2.bar_exit]).toEqual([0, 2, 3, 5]);
    expect([t1.price_A_entry, t1.price_B_entry, t1.price_A_exit, t1.price_B_exit]).toEqual([2010, 25.1, 1985, 25.3]);
    expect(t1.z_at_entry).toBe(2.5); // the signal's z, not the fill bar's
  });

  it('drops an entry whose fill bar is not tradable', () => {
    const r = simulate(seriesOf([
      { t: '2024-01-09T23:00Z', a: 2000, b: 25, z: 2.5, rp: 0.9 },
      { t: '2024-01-09T23:59Z', a: 2000, b: 25, z: 2.5 },
      { t: '2024-01-10T01:00Z', a: 2000, b: 25, z: 2.5 },
    ]), metalsParams({ latencyBars: 1 }));
    expect(r.counters).toMatchObject({ entrySignals: 1, entriesDropped: 1 });
    expect(r.open).toBeNull();
  });
});

describe('sizing inside the engine', () => {
  it('applies positionScale to the target notional', () => {
    const t = simulate(seriesOf(HAND), metalsParams({ positionScale: 0.5 })).trades[0];
    close(t.qty_A, 1.25);
    close(t.qty_B, 100);
  });

  it('sizes by |β|: twice the notional on B for β = −2', () => {
    const t = simulate(seriesOf(HAND.map((b) => ({ ...b, beta: -2 }))), metalsParams({ targetGrossNotional: 15_000 })).trades[0];
    close(t.qty_A * t.price_A_entry, 5000);
    close(t.qty_B * t.price_B_entry, 10_000);
  });
});

describe('inputs and parameters', () => {
  it('rejects mismatched lengths and unordered time stamps', () => {
    const s = seriesOf(HAND);
    expect(() => simulate({ ...s, z: s.z.subarray(1) }, metalsParams())).toThrow(expect.objectContaining({ errorId: BT_INPUT_INVALID }));
    const ts = Float64Array.from(s.ts);
    ts[2] = ts[1];
    expect(() => simulate({ ...s, ts }, metalsParams())).toThrow(expect.objectContaining({ errorId: BT_INPUT_INVALID }));
  });

  it('rejects bad parameters, naming each', () => {
    try {
      simulate(seriesOf(HAND), metalsParams({ theta1: 1.5, positionScale: 2, maxBars: 0 }));
      expect.unreachable();
    } catch (e) {
      expect(e).toMatchObject({ errorId: BT_PARAMS_INVALID });
      expect((e as Error).message).toMatch(/theta1.*maxBars.*positionScale/s);
    }
  });

  it('needs conversion rates for a leg quoted in another currency, and uses them', () => {
    const p = metalsParams();
    const eur = { ...p, legA: { ...p.legA, quoteCcy: 'EUR' } };
    expect(() => simulate(seriesOf(HAND), eur)).toThrow(expect.objectContaining({ errorId: BT_FX_MISSING }));
    const s = seriesOf(HAND);
    const t = simulate({ ...s, fxA: new Float64Array(s.ts.length).fill(2) }, eur).trades[0];
    // 5,000 USD of A at 2 USD per EUR and 2,000 EUR per lot: 1.25 units.
    close(t.qty_A, 1.25);
    close(t.gross_pnl, 1.25 * (2000 - 1980.01) * 2 + 200 * (25.2 - 25));
  });
});
