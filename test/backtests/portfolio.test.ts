/** The group portfolio: pairs' daily equity summed, returns consistent with the combined initial equity. */
import { describe, expect, it } from 'vitest';
import { loadPolicies } from '../../assets/policies/index.ts';
import { GroupBacktester } from '../../assets/backtests/portfolio.ts';
import type { OosRow } from '../../assets/models/training.ts';

const policies = loadPolicies('configs');

/** Hourly weekday bars of XAU/XAG with a z that swings through ±2.5 and confident signals at the extremes. */
function oos(pair: string, hours: number): OosRow[] {
  const rows: OosRow[] = [];
  for (let h = 0, t = Date.UTC(2025, 0, 6); rows.length < hours; h++, t += 3_600_000) {
    const day = new Date(t).getUTCDay();
    if (day === 0 || day === 6) continue;
    const z = 2.6 * Math.sin(h / 9);
    const spread = 8 * z;
    rows.push({ pair, ts: new Date(t).toISOString(), close_A: 2000 + spread + 85 * 0.01 * Math.sin(h / 50), close_B: 23 + 0.01 * Math.sin(h / 50), z, beta: 85, return_prob: Math.abs(z) >= 2 ? 0.9 : null, risk_score: 0.1, ai1_label: null, ai2_label: 0 });
  }
  return rows;
}

describe('GroupBacktester', () => {
  it('a pair without bars adds its idle equity: the group returns compound to final / combined initial equity', () => {
    const rows = oos('XAUUSD_XAGUSD', 2000);
    const theta = { theta1: 0.7, theta2: 0.3 };
    const single = new GroupBacktester(policies, rows, ['XAUUSD_XAGUSD']).run(theta);
    const group = new GroupBacktester(policies, rows, ['XAUUSD_XAGUSD', 'EURUSD_GBPUSD']).run(theta);
    expect(single.kpis.trades).toBeGreaterThan(5);
    expect(group.kpis.totalPnl).toBeCloseTo(single.kpis.totalPnl, 6);
    const initial = (p: string) => new GroupBacktester(policies, [], [p]).paramsOf(p, theta).initialEquity;
    const combined = initial('XAUUSD_XAGUSD') + initial('EURUSD_GBPUSD');
    const growth = group.dailyReturns.reduce((g, r) => g * (1 + r), 1);
    const final = group.runs.get('XAUUSD_XAGUSD')!.curve.equity.at(-1)! + initial('EURUSD_GBPUSD');
    expect(growth).toBeCloseTo(final / combined, 10);
    // Idle capital dilutes the returns: the same PnL is a smaller share of a larger book.
    expect(Math.abs(group.kpis.annReturn)).toBeLessThan(Math.abs(single.kpis.annReturn));
  });
});
