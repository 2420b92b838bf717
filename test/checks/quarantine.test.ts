/** Quarantine boundaries (seed 002: missing_rate > 5 % or outlier_rate > 8 %), threshold parsing. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  SEED_DQ_THRESHOLDS,
  dqThresholdsFromPolicy,
  parseDqThresholds,
  quarantineDecision,
  quarantineError,
  runDq,
  type DqReport,
} from '../../checks/dq/index.ts';
import type { JsonObject } from '../../core/event-log/port.ts';
import { bar, hours } from './helpers.ts';

function report(expected: number, missing: number, outliers: number): DqReport {
  return {
    symbol: 'XAUUSD', timeframe: '1h', range: { from: '2024-03-01T00:00:00.000Z', to: '2024-03-31T23:00:00.000Z' },
    rows_in: expected, rows_out: expected, expected_count: expected,
    duplicates_dropped: 0, misaligned_count: 0, unexpected_count: 0, ohlc_violations: 0,
    missing_count: missing, missing_rate: expected ? missing / expected : 0, filled_count: 0, unfilled_count: missing,
    missing_runs: 0, longest_missing_run: 0,
    outlier_count: outliers, outlier_rate: expected ? outliers / expected : 0, spike_count: 0,
  };
}

describe('quarantineDecision', () => {
  it('exactly 5 % missing / 8 % outliers is not quarantined; one bar more is', () => {
    for (const n of [100, 120, 500, 720, 2000]) {
      const atMissing = (n * 5) / 100, atOutlier = (n * 8) / 100;
      expect(quarantineDecision(report(n, atMissing, 0), SEED_DQ_THRESHOLDS).quarantined).toBe(false);
      expect(quarantineDecision(report(n, atMissing + 1, 0), SEED_DQ_THRESHOLDS).quarantined).toBe(true);
      expect(quarantineDecision(report(n, 0, atOutlier), SEED_DQ_THRESHOLDS).quarantined).toBe(false);
      expect(quarantineDecision(report(n, 0, atOutlier + 1), SEED_DQ_THRESHOLDS).quarantined).toBe(true);
    }
  });

  it('agrees with exact integer arithmetic for every count (no floating-point edge)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: 5000 }), (n, m0, o0) => {
      const m = m0 % (n + 1), o = o0 % (n + 1);
      const d = quarantineDecision(report(n, m, o), SEED_DQ_THRESHOLDS);
      const missingOver = 100 * m > 5 * n, outlierOver = 100 * o > 8 * n;
      expect(d.quarantined).toBe(missingOver || outlierOver);
      expect(d.reasons.length).toBe(Number(missingOver) + Number(outlierOver));
      expect(d.error_id).toBe(missingOver || outlierOver ? 'DATA_DQ_THRESHOLD' : null);
    }), { numRuns: 2000 });
  });

  it('records reasons, thresholds and the time range (the __quarantine.json content)', () => {
    const d = quarantineDecision(report(100, 6, 9), SEED_DQ_THRESHOLDS);
    expect(d).toEqual({
      quarantined: true,
      error_id: 'DATA_DQ_THRESHOLD',
      reasons: [
        'missing_rate 0.0600 > missing_rate_max 0.05 (6/100 bars missing)',
        'outlier_rate 0.0900 > outlier_rate_max 0.08 (9/100 bars outliers)',
      ],
      thresholds: { missing_rate_max: 0.05, outlier_rate_max: 0.08 },
      observed: { missing_rate: 0.06, outlier_rate: 0.09, missing_count: 6, outlier_count: 9, expected_count: 100 },
      symbol: 'XAUUSD',
      timeframe: '1h',
      range: { from: '2024-03-01T00:00:00.000Z', to: '2024-03-31T23:00:00.000Z' },
    });
    const asJson: JsonObject = d; // type-level: storable as __quarantine.json / metadata
    expect(JSON.parse(JSON.stringify(asJson))).toEqual(d);
    const e = quarantineError(d);
    expect(e.errorId).toBe('DATA_DQ_THRESHOLD');
    expect(e.message).toContain('1h|XAUUSD');
    expect(e.details).toMatchObject({ reasons: d.reasons });
  });

  it('end to end: 1 missing bar in 20 passes, 2 are quarantined (filled or not)', () => {
    const slots = hours('2024-03-04T00:00:00.000Z', 20);
    const lookback = hours('2024-03-01T00:00:00.000Z', 40).map((ts, i) => bar(ts, 100 + (i % 3) * 0.1));
    const run = (gone: number[]) => runDq(
      { symbol: 'XAUUSD', timeframe: '1h', bars: slots.filter((_, i) => !gone.includes(i)).map((ts, i) => bar(ts, 100 + (i % 3) * 0.1)), expected: slots, lookback },
      SEED_DQ_THRESHOLDS,
    );
    const one = run([5]);
    expect(one.report.missing_rate).toBe(0.05);
    expect(one.report.filled_count).toBe(1);
    expect(quarantineDecision(one.report, SEED_DQ_THRESHOLDS).quarantined).toBe(false);
    const two = run([5, 12]);
    expect(two.report.filled_count).toBe(2);
    expect(quarantineDecision(two.report, SEED_DQ_THRESHOLDS)).toMatchObject({ quarantined: true, error_id: 'DATA_DQ_THRESHOLD' });
  });
});

describe('DQ thresholds', () => {
  it('are validated strictly: missing, unknown and invalid keys have their error ids', () => {
    const { dq_spike_k: _, ...noK } = SEED_DQ_THRESHOLDS;
    expect(() => parseDqThresholds(noK)).toThrowError(expect.objectContaining({ errorId: 'CORE_CONFIG_MISSING' }));
    expect(() => parseDqThresholds({ ...SEED_DQ_THRESHOLDS, k_spike: 12 })).toThrowError(expect.objectContaining({ errorId: 'CORE_CONFIG_UNKNOWN' }));
    expect(() => parseDqThresholds({ ...SEED_DQ_THRESHOLDS, outlier_sigma: '8' })).toThrowError(expect.objectContaining({ errorId: 'CORE_CONFIG_INVALID' }));
    expect(() => parseDqThresholds({ ...SEED_DQ_THRESHOLDS, missing_rate_max: 5 })).toThrowError(expect.objectContaining({ errorId: 'CORE_CONFIG_INVALID' }));
    expect(() => runDq({ symbol: 'X', timeframe: '1h', bars: [], expected: [] }, noK as never)).toThrowError(expect.objectContaining({ errorId: 'CORE_CONFIG_MISSING' }));
  });

  it('come from the pipeline policy keys plus explicit window lengths', () => {
    const t = dqThresholdsFromPolicy(
      { missing_fill_max_run: 2, outlier_sigma: 8, dq_spike_k: 12, dq_thresholds: { missing_rate: 0.05, outlier_rate: 0.08 } },
      { outlier_window_bars: 180, dq_spike_window_bars: 180, dq_min_periods: 30 },
    );
    expect(t).toEqual(SEED_DQ_THRESHOLDS);
  });
});

describe('DQ input errors', () => {
  const slots = hours('2024-03-04T00:00:00.000Z', 3);
  it('rejects a bar of another series, a misaligned expected ts and an unknown timeframe', () => {
    expect(() => runDq({ symbol: 'XAUUSD', timeframe: '1h', bars: [bar(slots[0], 1, { symbol: 'XAGUSD' })], expected: slots }, SEED_DQ_THRESHOLDS))
      .toThrowError(expect.objectContaining({ errorId: 'DATA_DQ_INPUT' }));
    expect(() => runDq({ symbol: 'XAUUSD', timeframe: '1h', bars: [], expected: ['2024-03-04T00:30:00.000Z'] }, SEED_DQ_THRESHOLDS))
      .toThrowError(expect.objectContaining({ errorId: 'DATA_DQ_INPUT' }));
    expect(() => runDq({ symbol: 'XAUUSD', timeframe: '2h', bars: [], expected: [] }, SEED_DQ_THRESHOLDS))
      .toThrowError(expect.objectContaining({ errorId: 'DATA_TF_UNKNOWN' }));
  });

  it('an empty calendar yields an empty partition with zero rates; every bar is unexpected', () => {
    const r = runDq({ symbol: 'XAUUSD', timeframe: '1h', bars: slots.map((ts) => bar(ts, 100)), expected: [] }, SEED_DQ_THRESHOLDS);
    expect(r.bars).toEqual([]);
    expect(r.report).toMatchObject({ expected_count: 0, unexpected_count: 3, missing_rate: 0, outlier_rate: 0, range: { from: null, to: null } });
    const asJson: JsonObject = r.report;
    expect(asJson.rows_in).toBe(3);
  });
});
