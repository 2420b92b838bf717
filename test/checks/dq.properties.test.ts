/** Property tests of every DQ rule, each checked against an independent brute-force reference. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TIMEFRAMES, timeframeMs, type CanonicalBar } from '../../core/market-data.ts';
import {
  SEED_DQ_THRESHOLDS,
  checkAlignment,
  dedupeBars,
  detectOutliers,
  detectSpikes,
  runDq,
  type DqThresholds,
} from '../../checks/dq/index.ts';
import { HOUR as HOUR_MS, bar, hours, refOutliers, refSpikes } from './helpers.ts';

const START = '2024-03-04T00:00:00.000Z';
/** Rules off: no window ever reaches this many observations. */
const OFF = 1_000_000_000;

describe('dedupe (latest wins)', () => {
  const version = fc.record({
    slot: fc.integer({ min: 0, max: 5 }),
    symbol: fc.constantFrom('AAA', 'BBB'),
    seq: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
    shortSpelling: fc.boolean(),
  });
  const toBars = (vs: Array<{ slot: number; symbol: string; seq: number | undefined; shortSpelling: boolean }>) => {
    const slots = hours(START, 6);
    return vs.map((v, i) => {
      const ts = v.shortSpelling ? slots[v.slot].replace('.000Z', 'Z') : slots[v.slot];
      return bar(ts, 100 + i, { symbol: v.symbol, metadata: { id: i, ...(v.seq === undefined ? {} : { ingest_seq: v.seq }) } });
    });
  };
  const key = (b: CanonicalBar) => `${b.symbol}|${b.timeframe}|${Date.parse(b.ts_utc)}`;

  it('keeps exactly one version per key: the one with the highest (ingest_seq, arrival)', () => {
    fc.assert(fc.property(fc.array(version, { maxLength: 40 }), (vs) => {
      const bars = toBars(vs);
      const { bars: kept, dropped } = dedupeBars(bars);
      expect(kept.length + dropped.length).toBe(bars.length);
      const keys = kept.map(key);
      expect(new Set(keys).size).toBe(keys.length);
      // brute force: for each key, scan every version
      const want = new Map<string, number>();
      bars.forEach((b, i) => {
        const cur = want.get(key(b));
        const rank = (j: number) => [(bars[j].metadata?.ingest_seq as number | undefined) ?? -Infinity, j] as const;
        if (cur === undefined) { want.set(key(b), i); return; }
        const [sa, ia] = rank(i), [sb, ib] = rank(cur);
        if (sa > sb || (sa === sb && ia > ib)) want.set(key(b), i);
      });
      expect(new Set(kept.map((b) => b.metadata!.id))).toEqual(new Set([...want.values()]));
      expect(new Set(keys)).toEqual(new Set(want.keys()));
    }));
  });

  it('is idempotent', () => {
    fc.assert(fc.property(fc.array(version, { maxLength: 40 }), (vs) => {
      const once = dedupeBars(toBars(vs)).bars;
      const twice = dedupeBars(once);
      expect(twice.bars).toEqual(once);
      expect(twice.dropped).toEqual([]);
    }));
  });

  it('runDq counts the dropped versions and keeps the latest one', () => {
    fc.assert(fc.property(fc.array(fc.record({ slot: fc.integer({ min: 0, max: 9 }), seq: fc.integer({ min: 0, max: 1000 }) }), { maxLength: 30 }), (vs) => {
      const slots = hours(START, 10);
      const bars = vs.map((v, i) => bar(slots[v.slot], 100 + (i % 7), { metadata: { ingest_seq: v.seq, id: i } }));
      const r = runDq({ symbol: 'XAUUSD', timeframe: '1h', bars, expected: slots }, { ...SEED_DQ_THRESHOLDS, dq_min_periods: OFF });
      const distinct = new Set(vs.map((v) => v.slot)).size;
      expect(r.report.duplicates_dropped).toBe(vs.length - distinct);
      expect(r.excluded.filter((b) => b.metadata?.dq_reason === 'duplicate')).toHaveLength(vs.length - distinct);
      for (const b of r.bars.filter((x) => x.quality_flag !== 'resampled')) {
        const versions = bars.filter((x) => x.ts_utc === b.ts_utc);
        const best = Math.max(...versions.map((x) => x.metadata!.ingest_seq as number));
        const winner = versions.filter((x) => x.metadata!.ingest_seq === best).at(-1)!;
        expect(b.metadata!.id).toBe(winner.metadata!.id);
      }
    }));
  });
});

describe('UTC alignment', () => {
  it('accepts exactly the Z-suffixed bar starts on the timeframe grid', () => {
    fc.assert(fc.property(
      fc.constantFrom(...TIMEFRAMES),
      fc.integer({ min: 0, max: 3 * 365 * 24 * 4 }),
      fc.integer({ min: -3, max: 3 }),
      fc.constantFrom('Z', '+00:00', '+09:00', 'noms'),
      (tf, q, jitterMin, suffix) => {
        const ms = Date.parse('2023-01-01T00:00:00.000Z') + q * 15 * 60_000 + jitterMin * 60_000;
        const iso = new Date(ms).toISOString();
        const text = suffix === 'Z' ? iso : suffix === 'noms' ? iso.replace('.000Z', 'Z')
          : suffix === '+00:00' ? iso.replace('Z', '+00:00')
          : new Date(ms + 9 * HOUR_MS).toISOString().replace('Z', '+09:00');
        const a = checkAlignment(text, tf);
        const onGrid = ms % timeframeMs(tf) === 0;
        const zulu = suffix === 'Z' || suffix === 'noms';
        expect(a.ok).toBe(onGrid && zulu);
        if (a.ok) expect(a.ts).toBe(iso);
      },
    ));
  });

  it('runDq never lets a misaligned bar through and counts each one', () => {
    fc.assert(fc.property(fc.array(fc.record({ slot: fc.integer({ min: 0, max: 11 }), off: fc.constantFrom(0, 0, 0, 1, 30, -15) }), { maxLength: 25 }), (vs) => {
      const slots = hours(START, 12);
      const bars = vs.map((v, i) => bar(new Date(Date.parse(slots[v.slot]) + v.off * 60_000).toISOString(), 100, { metadata: { ingest_seq: i } }));
      const r = runDq({ symbol: 'XAUUSD', timeframe: '1h', bars, expected: slots }, { ...SEED_DQ_THRESHOLDS, dq_min_periods: OFF });
      const mis = bars.filter((b) => Date.parse(b.ts_utc) % 3_600_000 !== 0);
      expect(r.report.misaligned_count).toBe(mis.length);
      expect(r.excluded.filter((b) => b.metadata?.dq_reason === 'misaligned').map((b) => b.ts_utc)).toEqual(mis.map((b) => b.ts_utc));
      for (const b of r.bars) expect(slots).toContain(b.ts_utc);
    }));
  });
});

/** A random series: closes from a random walk, some slots missing, optional lookback. */
const seriesArb = fc.record({
  n: fc.integer({ min: 1, max: 60 }),
  steps: fc.array(fc.integer({ min: -100, max: 100 }).map((x) => x / 100), { minLength: 100, maxLength: 100 }),
  gone: fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 60, maxLength: 60 }),
  missingPct: fc.integer({ min: 0, max: 5 }),
  lookback: fc.integer({ min: 0, max: 30 }),
  shocks: fc.array(fc.record({ at: fc.integer({ min: 0, max: 99 }), size: fc.constantFrom(-0.4, -0.1, 0.1, 0.4), shift: fc.boolean() }), { maxLength: 5 }),
});
type SeriesSpec = { n: number; steps: number[]; gone: number[]; missingPct: number; lookback: number; shocks: Array<{ at: number; size: number; shift: boolean }> };

function buildSeries(s: SeriesSpec): { lookback: CanonicalBar[]; bars: CanonicalBar[]; expected: string[] } {
  const total = s.lookback + s.n;
  const ts = hours(new Date(Date.parse(START) - s.lookback * HOUR_MS).toISOString(), total);
  let level = Math.log(100);
  const closes: number[] = [];
  for (let i = 0; i < total; i++) {
    level += 0.002 * s.steps[i % s.steps.length];
    for (const sh of s.shocks) if (sh.at === i && sh.shift) level += sh.size;
    let c = level;
    for (const sh of s.shocks) if (sh.at === i && !sh.shift) c += sh.size;
    closes.push(Math.exp(c));
  }
  const all = ts.map((t, i) => bar(t, closes[i]));
  const lookback = all.slice(0, s.lookback);
  const part = all.slice(s.lookback).filter((_, i) => s.gone[i] >= s.missingPct);
  return { lookback, bars: part, expected: ts.slice(s.lookback) };
}

describe('gaps: fill runs ≤ missing_fill_max_run', () => {
  it('fills exactly the short runs with a left anchor, between their neighbours; counts the rest as missing', () => {
    let interpolated = 0, carried = 0, unfilled = 0;
    fc.assert(fc.property(seriesArb, fc.integer({ min: 0, max: 3 }), (s, maxRun) => {
      const { lookback, bars, expected } = buildSeries(s);
      const t: DqThresholds = { ...SEED_DQ_THRESHOLDS, missing_fill_max_run: maxRun, dq_min_periods: OFF };
      const r = runDq({ symbol: 'XAUUSD', timeframe: '1h', bars, expected, lookback }, t);
      const byTs = new Map(r.bars.map((b) => [b.ts_utc, b]));
      const present = new Map(bars.map((b) => [b.ts_utc, b]));
      // brute force over the expected slots
      let missing = 0, filled = 0;
      for (let i = 0; i < expected.length;) {
        if (present.has(expected[i])) { expect(byTs.get(expected[i])).toEqual(present.get(expected[i])); i++; continue; }
        let j = i;
        while (j + 1 < expected.length && !present.has(expected[j + 1])) j++;
        const len = j - i + 1;
        missing += len;
        let left: { pos: number; close: number } | null = null;
        for (let p = i - 1; p >= 0 && !left; p--) if (present.has(expected[p])) left = { pos: p, close: present.get(expected[p])!.close };
        if (!left && lookback.length) left = { pos: -1, close: lookback.at(-1)!.close };
        let right: { pos: number; close: number } | null = null;
        for (let p = j + 1; p < expected.length && !right; p++) if (present.has(expected[p])) right = { pos: p, close: present.get(expected[p])!.close };
        const fillable = len <= maxRun && left !== null;
        for (let k = i; k <= j; k++) {
          const b = byTs.get(expected[k]);
          if (!fillable) { expect(b).toBeUndefined(); continue; }
          filled++;
          expect(b).toBeDefined();
          expect(b!.quality_flag).toBe('resampled');
          expect(b!.volume).toBeNull();
          expect([b!.open, b!.high, b!.low]).toEqual([b!.close, b!.close, b!.close]);
          const lo = Math.min(left!.close, right?.close ?? left!.close), hi = Math.max(left!.close, right?.close ?? left!.close);
          expect(b!.close).toBeGreaterThanOrEqual(lo);
          expect(b!.close).toBeLessThanOrEqual(hi);
          const want = right ? left!.close + (right.close - left!.close) * (k - left!.pos) / (right.pos - left!.pos) : left!.close;
          expect(b!.close).toBeCloseTo(want, 9);
        }
        i = j + 1;
      }
      expect(r.report.missing_count).toBe(missing);
      expect(r.report.filled_count).toBe(filled);
      expect(r.report.unfilled_count).toBe(missing - filled);
      expect(r.report.missing_rate).toBe(missing / expected.length);
      expect(r.bars.length).toBe(expected.length - missing + filled);
      if (r.bars.some((b) => b.metadata?.dq_fill === 'interpolated')) interpolated++;
      if (r.bars.some((b) => b.metadata?.dq_fill === 'forward_fill')) carried++;
      if (r.report.unfilled_count > 0) unfilled++;
    }), { numRuns: 300 });
    expect(Math.min(interpolated, carried, unfilled)).toBeGreaterThan(20);
  });
});

/** Random closes with occasional gross prints and level shifts; 'sparse' has many zero returns, 'constant' no moves at all. */
const closesArb = fc.record({
  n: fc.integer({ min: 2, max: 150 }),
  steps: fc.array(fc.integer({ min: -6, max: 6 }), { minLength: 150, maxLength: 150 }),
  shocks: fc.array(fc.record({ at: fc.integer({ min: 0, max: 999 }), size: fc.constantFrom(-0.3, -0.05, 0.02, 0.05, 0.3), shift: fc.boolean() }), { maxLength: 8 }),
  kind: fc.constantFrom('normal', 'normal', 'sparse', 'constant'),
}).map(({ n, steps, shocks, kind }) => {
  let level = 0;
  const at = shocks.map((sh) => ({ ...sh, at: Math.floor((sh.at / 1000) * n) }));
  return Array.from({ length: n }, (_, i) => {
    const x = steps[i];
    level += kind === 'constant' ? 0 : kind === 'sparse' ? (Math.abs(x) < 4 ? 0 : 0.001 * x) : 0.001 * x;
    for (const sh of at) if (sh.at === i && sh.shift) level += sh.size;
    let c = level;
    for (const sh of at) if (sh.at === i && !sh.shift) c += sh.size;
    return 100 * Math.exp(c);
  });
});
const paramsArb = fc.record({
  k: fc.constantFrom(2, 3, 5, 8),
  W: fc.integer({ min: 2, max: 40 }),
  minP: fc.integer({ min: 1, max: 12 }),
  start: fc.integer({ min: 0, max: 20 }),
});

describe('outliers: beyond ±outlier_sigma·σ', () => {
  it('detectOutliers equals the brute-force rule', () => {
    let found = 0;
    fc.assert(fc.property(closesArb, paramsArb, (closes, p) => {
      const start = Math.min(p.start, closes.length);
      const got = detectOutliers(closes, start, { outlier_sigma: p.k, outlier_window_bars: p.W, dq_min_periods: p.minP }).outlier;
      expect(got).toEqual(refOutliers(closes, start, p.k, p.W, p.minP));
      if (got.some(Boolean)) found++;
    }), { numRuns: 400 });
    expect(found).toBeGreaterThan(40); // not vacuous
  });

  it('runDq: nothing beyond ±kσ survives, nothing within is removed (seed thresholds)', () => {
    let found = 0;
    fc.assert(fc.property(closesArb, fc.integer({ min: 0, max: 40 }), (closes, lb) => {
      const ts = hours(START, closes.length);
      const all = closes.map((c, i) => bar(ts[i], c));
      const L = Math.min(lb, all.length - 1);
      const t: DqThresholds = { ...SEED_DQ_THRESHOLDS, outlier_window_bars: 30, dq_min_periods: 10, dq_spike_window_bars: 30 };
      const r = runDq({ symbol: 'XAUUSD', timeframe: '1h', bars: all.slice(L), expected: ts.slice(L), lookback: all.slice(0, L) }, t);
      const ref = refOutliers(closes, L, t.outlier_sigma, t.outlier_window_bars, t.dq_min_periods);
      const wantOut = ts.filter((_, i) => ref[i]);
      const gotOut = r.excluded.filter((b) => b.metadata?.dq_reason === 'outlier');
      expect(gotOut.map((b) => b.ts_utc)).toEqual(wantOut);
      for (const b of gotOut) {
        const m = b.metadata!;
        expect(b.quality_flag).toBe('outlier');
        expect(Math.abs((m.dq_return as number) - (m.dq_center as number))).toBeGreaterThan(8 * (m.dq_sigma as number));
        expect(Math.abs((m.dq_return_from_kept as number) - (m.dq_center as number))).toBeGreaterThan(8 * (m.dq_sigma as number));
      }
      const realOut = r.bars.filter((b) => b.quality_flag !== 'resampled').map((b) => b.ts_utc);
      expect(new Set([...realOut, ...wantOut])).toEqual(new Set(ts.slice(L)));
      expect(r.report.outlier_count).toBe(wantOut.length);
      expect(r.report.outlier_rate).toBe(wantOut.length / (closes.length - L));
      if (wantOut.length > 0) found++;
    }), { numRuns: 300 });
    expect(found).toBeGreaterThan(30);
  });

  it('tick-discrete prices (most returns nearly equal) give no outliers', () => {
    // 100, 100.1, 100.2, 100, …: two thirds of the returns are ≈ +0.001 (MAD ≈ 5e-7), one third −0.002
    const closes = Array.from({ length: 300 }, (_, i) => 100 + (i % 3) * 0.1);
    expect(detectOutliers(closes, 0, { outlier_sigma: 8, outlier_window_bars: 180, dq_min_periods: 30 }).outlier.some(Boolean)).toBe(false);
    const sparse = Array.from({ length: 300 }, (_, i) => 100 + (i % 10 === 0 ? 0.01 : 0)); // 80 % zero returns
    expect(detectOutliers(sparse, 0, { outlier_sigma: 8, outlier_window_bars: 180, dq_min_periods: 30 }).outlier.some(Boolean)).toBe(false);
  });

  it('a single bad print removes that bar only; a level shift removes the jump bar only', () => {
    const base = Array.from({ length: 80 }, (_, i) => 100 * Math.exp(0.001 * Math.sin(i * 1.7)));
    const print = base.map((c, i) => (i === 50 ? c * 1.2 : c));
    const shift = base.map((c, i) => (i >= 50 ? c * 1.2 : c));
    const p = { outlier_sigma: 8, outlier_window_bars: 180, dq_min_periods: 30 };
    const idx = (xs: boolean[]) => xs.flatMap((x, i) => (x ? [i] : []));
    expect(idx(detectOutliers(print, 0, p).outlier)).toEqual([50]);
    expect(idx(detectOutliers(shift, 0, p).outlier)).toEqual([50]);
  });
});

describe('spikes: |Δclose| > k · median(|Δclose|, W)', () => {
  it('detectSpikes equals a brute-force rolling median', () => {
    let found = 0;
    fc.assert(fc.property(closesArb, paramsArb, fc.constantFrom(2, 4, 12), (closes, p, k) => {
      const start = Math.min(p.start, closes.length);
      const got = detectSpikes(closes, start, { dq_spike_k: k, dq_spike_window_bars: p.W, dq_min_periods: p.minP });
      expect(got).toEqual(refSpikes(closes, start, k, p.W, p.minP));
      if (got.some(Boolean)) found++;
    }), { numRuns: 400 });
    expect(found).toBeGreaterThan(40);
  });

  it('runDq flags (and keeps) exactly the brute-force spikes of the cleaned series', () => {
    let found = 0;
    fc.assert(fc.property(seriesArb, (s) => {
      const { lookback, bars, expected } = buildSeries(s);
      const t: DqThresholds = { ...SEED_DQ_THRESHOLDS, dq_spike_k: 3, dq_spike_window_bars: 20, outlier_window_bars: 20, dq_min_periods: 5 };
      const r = runDq({ symbol: 'XAUUSD', timeframe: '1h', bars, expected, lookback }, t);
      const closes = [...lookback, ...r.bars].map((b) => b.close);
      const ref = refSpikes(closes, lookback.length, 3, 20, 5).slice(lookback.length);
      expect(r.bars.map((b) => b.metadata?.dq_spike === true)).toEqual(ref);
      expect(r.report.spike_count).toBe(ref.filter(Boolean).length);
      if (r.report.spike_count > 0) found++;
    }), { numRuns: 300 });
    expect(found).toBeGreaterThan(30);
  });
});

describe('report invariants', () => {
  it('rates are counts / expected; rows are conserved; output is ascending and unique; input untouched', () => {
    fc.assert(fc.property(seriesArb, fc.array(fc.nat(59), { maxLength: 6 }), fc.integer({ min: 0, max: 1000 }), (s, dupAt, seed) => {
      const { lookback, bars, expected } = buildSeries(s);
      const dups = dupAt.filter((i) => i < bars.length).map((i) => ({ ...bars[i], close: bars[i].close * 1.5, open: bars[i].close * 1.5, high: bars[i].close * 1.5, low: bars[i].close * 1.5 }));
      // shuffle deterministically (duplicates first, so the originals arrive later and win)
      const input = [...dups, ...bars.map((b, i) => ({ b, k: (i * 7919 + seed) % 104729 })).sort((a, b) => a.k - b.k).map((x) => x.b)];
      const before = structuredClone(input);
      const r = runDq({ symbol: 'XAUUSD', timeframe: '1h', bars: input, expected, lookback }, { ...SEED_DQ_THRESHOLDS, outlier_window_bars: 20, dq_min_periods: 5 });
      expect(input).toEqual(before);
      const rep = r.report;
      expect(rep.missing_rate).toBe(rep.expected_count ? rep.missing_count / rep.expected_count : 0);
      expect(rep.outlier_rate).toBe(rep.expected_count ? rep.outlier_count / rep.expected_count : 0);
      expect(rep.rows_in).toBe(input.length);
      expect(rep.rows_out).toBe(r.bars.length);
      expect(rep.rows_in).toBe(rep.rows_out - rep.filled_count + r.excluded.length);
      expect(rep.duplicates_dropped).toBe(dups.length);
      const ts = r.bars.map((b) => b.ts_utc);
      expect(ts).toEqual([...new Set(ts)].sort());
      // the same bars in sorted order give the same result
      const sorted = runDq({ symbol: 'XAUUSD', timeframe: '1h', bars: [...dups, ...bars], expected, lookback }, { ...SEED_DQ_THRESHOLDS, outlier_window_bars: 20, dq_min_periods: 5 });
      expect(sorted.bars).toEqual(r.bars);
      expect(sorted.report).toEqual(rep);
    }), { numRuns: 200 });
  });
});
