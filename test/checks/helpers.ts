/** Builders and independent brute-force references shared by the checks suites. */
import type { CanonicalBar } from '../../core/market-data.ts';

export const HOUR = 3_600_000;

/** `n` consecutive 1h bar starts from `start` (canonical ts text). */
export function hours(start: string, n: number): string[] {
  const t0 = Date.parse(start);
  return Array.from({ length: n }, (_, i) => new Date(t0 + i * HOUR).toISOString());
}

/** A flat OHLC bar at `close` (open = high = low = close) of XAUUSD 1h unless overridden. */
export function bar(ts: string, close: number, extra: Partial<CanonicalBar> = {}): CanonicalBar {
  return {
    ts_utc: ts, symbol: 'XAUUSD', timeframe: '1h',
    open: close, high: close, low: close, close,
    volume: 100, quality_flag: 'ok', source_id: 'test', ingest_run_id: 'run-1',
    ...extra,
  };
}

/** Median by full sort (the reference: no shared code with checks/dq/stats.ts). */
export function refMedian(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/**
 * Reference outlier rule, written from the spec in outliers.ts: trailing window of raw log
 * returns, sigma-clipped mean/std with a max(MAD, mean-AD) pre-scale, "both returns beyond k·σ".
 */
export function refOutliers(closes: number[], start: number, k: number, W: number, minP: number): boolean[] {
  const rets = closes.map((c, i) => (i === 0 ? NaN : Math.log(c / closes[i - 1])));
  const out = closes.map(() => false);
  let kept = start - 1;
  for (let i = start; i < closes.length; i++) {
    if (i === 0) { kept = 0; continue; }
    const win = rets.slice(Math.max(1, i - W), i);
    let tested = false;
    if (win.length >= minP) {
      const med = refMedian(win);
      const absDev = win.map((x) => Math.abs(x - med));
      const s0 = Math.max(1.482602218505602 * refMedian(absDev), Math.sqrt(Math.PI / 2) * (absDev.reduce((a, b) => a + b, 0) / absDev.length));
      if (s0 > 0) {
        const inl = win.filter((x) => Math.abs(x - med) <= k * s0);
        if (inl.length >= 2) {
          const mu = inl.reduce((a, b) => a + b, 0) / inl.length;
          const sd = Math.sqrt(inl.reduce((a, x) => a + (x - mu) * (x - mu), 0) / (inl.length - 1));
          if (sd > 0) {
            tested = true;
            const a = Math.abs(rets[i] - mu) > k * sd;
            const b = Math.abs(Math.log(closes[i] / closes[kept]) - mu) > k * sd;
            out[i] = a && b;
          }
        }
      }
    }
    if (!tested || !out[i]) kept = i;
  }
  return out;
}

/** Reference spike rule: |Δ(i)| > k · median(|Δ| over the W differences before i). */
export function refSpikes(closes: number[], start: number, k: number, W: number, minP: number): boolean[] {
  const d = closes.map((c, i) => (i === 0 ? NaN : Math.abs(c - closes[i - 1])));
  return closes.map((_, i) => {
    if (i < Math.max(start, 1)) return false;
    const win = d.slice(Math.max(1, i - W), i);
    if (win.length < minP) return false;
    const m = refMedian(win);
    return m > 0 && d[i] > k * m;
  });
}
