/**
 * DQ on realistic bars: a month of the synthetic provider's cointegrated legs (1h, 24/5), clean
 * and with injected faults. Clean data must come out untouched under the seed's thresholds.
 */
import { describe, expect, it } from 'vitest';
import { SyntheticProvider, type SyntheticPairConfig } from '../../adapters/providers/synthetic.ts';
import { SEED_DQ_THRESHOLDS, quarantineDecision, runDq } from '../../checks/dq/index.ts';
import type { CanonicalBar } from '../../core/market-data.ts';

const PAIRS: SyntheticPairConfig[] = [
  {
    pairId: 'XAUUSD_XAGUSD', beta: 80, halfLifeBars: 24, spreadVol: 15,
    legA: { symbol: 'XAUUSD', price0: 2050, tickSize: 0.01, annualVol: 0.15 },
    legB: { symbol: 'XAGUSD', price0: 23, tickSize: 0.001, annualVol: 0.25 },
  },
  {
    pairId: 'EURUSD_GBPUSD', beta: 0.8, halfLifeBars: 12, spreadVol: 0.004,
    legA: { symbol: 'EURUSD', price0: 1.1, tickSize: 0.00001, annualVol: 0.07, assetClass: 'FX' },
    legB: { symbol: 'GBPUSD', price0: 1.27, tickSize: 0.00001, annualVol: 0.08, assetClass: 'FX' },
  },
];
const provider = new SyntheticProvider({ seed: 7, pairs: PAIRS });

async function month(symbol: string): Promise<{ lookback: CanonicalBar[]; bars: CanonicalBar[] }> {
  const get = (start: string, end: string) => provider.fetchTimeSeries({ symbol, timeframe: '1h', start: new Date(start), end: new Date(end), ingestRunId: 'r1' });
  return { lookback: await get('2024-02-01T00:00:00Z', '2024-03-01T00:00:00Z'), bars: await get('2024-03-01T00:00:00Z', '2024-04-01T00:00:00Z') };
}

describe('DQ on synthetic market data', () => {
  for (const symbol of ['XAUUSD', 'XAGUSD', 'EURUSD', 'GBPUSD']) {
    it(`${symbol}: a clean month passes through unchanged and is not quarantined`, async () => {
      const { lookback, bars } = await month(symbol);
      const expected = bars.map((b) => b.ts_utc); // the provider's calendar: every weekday hour
      const r = runDq({ symbol, timeframe: '1h', bars, expected, lookback }, SEED_DQ_THRESHOLDS);
      expect(r.report).toMatchObject({ rows_in: bars.length, rows_out: bars.length, missing_count: 0, outlier_count: 0, ohlc_violations: 0, duplicates_dropped: 0 });
      expect(r.report.spike_count).toBeLessThanOrEqual(2);
      expect(r.bars.map(({ metadata: _, ...b }) => b)).toEqual(bars.map(({ metadata: _, ...b }) => b));
      expect(quarantineDecision(r.report, SEED_DQ_THRESHOLDS).quarantined).toBe(false);
    });
  }

  it('finds injected faults: bad prints, a gap, redeliveries, shuffled order', async () => {
    const { lookback, bars } = await month('XAUUSD');
    const expected = bars.map((b) => b.ts_utc);
    const faulty = bars.map((b, i) => {
      if (i === 100 || i === 300) { const c = b.close * 1.05; return { ...b, close: c, high: Math.max(b.high, c) }; } // +5 % prints ≈ 20σ
      return b;
    }).filter((_, i) => i < 200 || i > 202); // a 3-bar hole
    const redelivered = faulty.slice(50, 60).map((b) => ({ ...b, metadata: { ...b.metadata, ingest_seq: 2 } }));
    const input = [...faulty.map((b) => ({ ...b, metadata: { ...b.metadata, ingest_seq: 1 } })), ...redelivered].reverse();
    const r = runDq({ symbol: 'XAUUSD', timeframe: '1h', bars: input, expected, lookback }, SEED_DQ_THRESHOLDS);
    expect(r.report).toMatchObject({ duplicates_dropped: 10, missing_count: 3, filled_count: 0, unfilled_count: 3, outlier_count: 2 });
    expect(r.excluded.filter((b) => b.quality_flag === 'outlier').map((b) => b.ts_utc)).toEqual([expected[100], expected[300]]);
    expect(r.bars).toHaveLength(expected.length - 3 - 2);
  });
});
