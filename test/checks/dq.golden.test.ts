/**
 * A hand-built partition with every DQ case in it, and the exact report it must produce under the
 * seed's thresholds (002: fill ≤ 2, ±8σ, k_spike 12 over 180 bars, 5 % / 8 %).
 *
 * Series: XAUUSD 1h. Lookback Thu 2024-02-29 00:00Z – Fri 03-01 23:00Z (48 bars); the partition
 * expects every hour Mon 2024-03-04 00:00Z – Fri 03-08 23:00Z (120 slots, s = 0…119). Bar g of
 * the whole series (g = 48 + s in the partition) closes at PATTERN[g % 10]: eight moves of ±0.1
 * and two of ±0.4 in every ten bars — fat-tailed enough that σ (≈ 0.0020 in log return, the
 * clipped std) exceeds the spike threshold's 12·median|Δ| = 1.2 price units ≈ 0.012 / 8 = 0.0015.
 *
 *   s = 10   three versions: ingest_seq 3 (right, first in the input), 1 (999), 2 (50) → 2 dropped
 *   s = 30   two versions without ingest_seq: 77 first, the right one last         → 1 dropped
 *   s = 20          missing (run of 1)  → interpolated between s=19 (100.1) and s=21 (100.4): 100.25
 *   s = 40, 41      missing (run of 2)  → 100.1 + (100 − 100.1)·k/3: 100.0667, 100.0333
 *   s = 60, 61, 62  missing (run of 3)  → left empty
 *   s = 80   high < close: OHLC violation → its slot is missing (run of 1) → 100.25
 *   s = 90   close 105 instead of 100: r = ln(105/100.1) = 0.048 ≫ 8σ ≈ 0.016 → outlier. The next
 *            bar's raw return (−0.045) reverts it, but its return from s = 89 is 0.003 → kept
 *   s = 104  the level steps up by 1.4 from here on: Δ = 101.4 − 100.1 = 1.3 > 12·0.1, while
 *            r = ln(101.4/100.1) = 0.0129 < 8σ → a spike, flagged and kept
 *   + '2024-03-05T10:30:00.000Z' (off the 1h grid) and '2024-03-05T11:00:00+00:00' (not `Z`;
 *     the same instant as s = 35, which stays) → 2 misaligned
 *   + '2024-03-09T00:00:00.000Z' (Saturday, not expected) → 1 unexpected
 * The input is given in reverse order.
 */
import { describe, expect, it } from 'vitest';
import { barChecks } from '../../checks/bar-contract.ts';
import { CONTRACT_FILES, compileContract, evaluateContract, loadContract } from '../../checks/contracts/index.ts';
import { SEED_DQ_THRESHOLDS, quarantineDecision, runDq } from '../../checks/dq/index.ts';
import type { CanonicalBar } from '../../core/market-data.ts';
import { bar, hours } from './helpers.ts';

const PATTERN = [100, 100.1, 100, 100.1, 100, 100.1, 100, 100.1, 100, 100.4];
const LOOKBACK = hours('2024-02-29T00:00:00.000Z', 48);
const EXPECTED = hours('2024-03-04T00:00:00.000Z', 120);
const close = (s: number) => PATTERN[(48 + s) % 10] + (s >= 104 ? 1.4 : 0);

function dataset(): { lookback: CanonicalBar[]; bars: CanonicalBar[] } {
  const lookback = LOOKBACK.map((ts, g) => bar(ts, PATTERN[g % 10]));
  const bars: CanonicalBar[] = [];
  EXPECTED.forEach((ts, s) => {
    if ([20, 40, 41, 60, 61, 62].includes(s)) return;
    const c = s === 90 ? 105 : close(s);
    if (s === 10) {
      // pushed in reverse, like everything else: the input reads seq 3, 1, 2
      bars.push(bar(ts, 50, { metadata: { ingest_seq: 2 } }), bar(ts, 999, { metadata: { ingest_seq: 1 } }), bar(ts, c, { metadata: { ingest_seq: 3 } }));
    } else if (s === 30) {
      bars.push(bar(ts, c), bar(ts, 77)); // the input reads 77, then the right one
    } else if (s === 80) {
      bars.push(bar(ts, c, { high: c - 0.5 }));
    } else {
      bars.push(bar(ts, c));
    }
  });
  bars.push(bar('2024-03-05T10:30:00.000Z', 100), bar('2024-03-05T11:00:00+00:00', 100), bar('2024-03-09T00:00:00.000Z', 100));
  return { lookback, bars: bars.reverse() };
}

describe('DQ golden partition', () => {
  const { lookback, bars } = dataset();
  const result = runDq({ symbol: 'XAUUSD', timeframe: '1h', bars, expected: EXPECTED, lookback }, { ...SEED_DQ_THRESHOLDS });

  it('reports exactly the hand-counted numbers', () => {
    expect(result.report).toEqual({
      symbol: 'XAUUSD',
      timeframe: '1h',
      range: { from: '2024-03-04T00:00:00.000Z', to: '2024-03-08T23:00:00.000Z' },
      rows_in: 120, // 114 slots with a bar + 3 extra versions + 2 misaligned + 1 Saturday
      rows_out: 116, // 112 real bars kept + 4 filled
      expected_count: 120,
      duplicates_dropped: 3,
      misaligned_count: 2,
      unexpected_count: 1,
      ohlc_violations: 1,
      missing_count: 7, // 1 + 2 + 3 + the OHLC-broken slot
      missing_rate: 7 / 120,
      filled_count: 4,
      unfilled_count: 3,
      missing_runs: 4,
      longest_missing_run: 3,
      outlier_count: 1,
      outlier_rate: 1 / 120,
      spike_count: 1,
    });
  });

  it('fills the short gaps by linear interpolation and leaves the 3-bar gap empty', () => {
    const at = new Map(result.bars.map((b) => [b.ts_utc, b]));
    const filled = result.bars.filter((b) => b.quality_flag === 'resampled');
    expect(filled.map((b) => EXPECTED.indexOf(b.ts_utc))).toEqual([20, 40, 41, 80]);
    expect(at.get(EXPECTED[20])!.close).toBeCloseTo(100.25, 10);
    expect(at.get(EXPECTED[40])!.close).toBeCloseTo(100.1 - 0.1 / 3, 10);
    expect(at.get(EXPECTED[41])!.close).toBeCloseTo(100.1 - 0.2 / 3, 10);
    expect(at.get(EXPECTED[80])!.close).toBeCloseTo(100.25, 10);
    for (const b of filled) {
      expect(b).toMatchObject({ volume: null, open: b.close, high: b.close, low: b.close, metadata: { dq_fill: 'interpolated' } });
    }
    for (const s of [60, 61, 62, 90]) expect(at.has(EXPECTED[s])).toBe(false);
  });

  it('keeps the latest version of duplicates and the real bar behind a misaligned spelling', () => {
    const at = new Map(result.bars.map((b) => [b.ts_utc, b]));
    expect(at.get(EXPECTED[10])!.close).toBe(close(10));
    expect(at.get(EXPECTED[10])!.metadata).toEqual({ ingest_seq: 3 });
    expect(at.get(EXPECTED[30])!.close).toBe(close(30));
    expect(at.get(EXPECTED[35])!.close).toBe(close(35));
  });

  it('flags the spike and keeps it; excludes the outlier with its flag', () => {
    const spikes = result.bars.filter((b) => b.metadata?.dq_spike === true);
    expect(spikes.map((b) => b.ts_utc)).toEqual([EXPECTED[104]]);
    expect(spikes[0].quality_flag).toBe('ok');
    const reasons = result.excluded.map((b) => [b.metadata?.dq_reason, b.quality_flag, b.ts_utc]);
    expect(reasons).toEqual(expect.arrayContaining([
      ['outlier', 'outlier', EXPECTED[90]],
      ['ohlc', 'conflict', EXPECTED[80]],
      ['off_calendar', 'conflict', '2024-03-09T00:00:00.000Z'],
      ['misaligned', 'conflict', '2024-03-05T10:30:00.000Z'],
      ['misaligned', 'conflict', '2024-03-05T11:00:00+00:00'],
    ]));
    expect(result.excluded.filter((b) => b.metadata?.dq_reason === 'duplicate').map((b) => b.close).sort()).toEqual([50, 77, 999]);
    expect(result.excluded).toHaveLength(8);
  });

  it('produces a partition that passes the bar contract and the canonical_bar data contract', async () => {
    for (const c of barChecks.filter((x) => x.name !== 'within_partition')) {
      expect((await c.evaluate(result.bars, undefined as never)).passed).toBe(true);
    }
    const contract = compileContract(loadContract(CONTRACT_FILES.canonical_bar), {
      businessDay: ({ ms }) => new Date(ms).getUTCDay() % 6 !== 0,
      enums: { timeframe_allowed: ['15m', '1h', '4h'] },
    });
    const outcomes = await evaluateContract(contract, result.bars);
    expect(Object.entries(outcomes).filter(([, o]) => !o.passed)).toEqual([]);
  });

  it('is quarantined for its 5.8 % missing rate, not for outliers', () => {
    const d = quarantineDecision(result.report, SEED_DQ_THRESHOLDS);
    expect(d.quarantined).toBe(true);
    expect(d.error_id).toBe('DATA_DQ_THRESHOLD');
    expect(d.reasons).toHaveLength(1);
    expect(d.reasons[0]).toMatch(/^missing_rate 0\.0583 > missing_rate_max 0\.05/);
    expect(d.range).toEqual(result.report.range);
  });
});
