"""Baseline for bench/features.bench.ts: the same pair features with plain pandas rolling windows.

Usage: /usr/bin/python3 bench/features_pandas.py BARS.csv [REPEATS]
The CSV has columns a_high,a_low,a_close,b_high,b_low,b_close (one synchronized bar per row).
Prints one JSON line: bar-updates/s of the best of REPEATS timed runs (CSV load excluded), by
process CPU time (the figure the TS bench compares against) and by wall clock, for two variants:
  - "apply": pandas built-ins (rolling mean/var/cov/corr/median, ewm) wherever they exist and
    rolling().apply (raw numpy, closed-form slope) for the two slopes-vs-index pandas has no
    built-in for: the straightforward implementation, the bench's baseline;
  - "vectorised": the slopes as rolling cov(y, index)/var(index) instead, i.e. no Python-level
    call per window at all (the fastest pandas here; reported alongside for honesty).
The one sequential part is the β fit: bars whose MAD ratio exceeds 2 get a Huber IRLS fit in a
Python loop (warm-started from the previous bar's fit). Simplification that only favours pandas:
the residuals behind the MAD ratio are scored against the previous bar's OLS fit, where the
engine uses whichever fit (OLS or Huber) that bar actually had.
"""
import json
import math
import sys
import time

import numpy as np
import pandas as pd

W = 180            # β, z, half-life, rho, stability and ATR-median windows
BETA_HL = 72
Z_HL = 12
ATR_N = 14
RSI_N = 14
SLOPE_N = 20
MAD_RATIO_MAX = 2.0
HUBER_K = 1.345
HUBER_MAX_ITER = 50
HUBER_TOL = 1e-12


def hl_alpha(h):
    return 1 - 2 ** (-1 / h)


def wilder(x, n):
    """Wilder smoothing: first value = mean of the first n values, then (n-1)/n decay."""
    first = x.first_valid_index()
    if first is None or len(x) - first < n:
        return pd.Series(np.nan, index=x.index)
    seeded = x.copy()
    seeded.iloc[: first + n - 1] = np.nan
    seeded.iloc[first + n - 1] = x.iloc[first : first + n].mean()
    return seeded.ewm(alpha=1 / n, adjust=False).mean()


def huber(x, y, a, b):
    """Huber IRLS with the scale fixed from the warm-start residuals (as the engine does)."""
    r = y - (a + b * x)
    scale = 1.4826 * np.median(np.abs(r))
    if not scale > 0:
        return None
    k = HUBER_K * scale
    for _ in range(HUBER_MAX_ITER):
        ar = np.abs(r)
        w = np.where(ar <= k, 1.0, k / np.maximum(ar, 1e-300))
        mx, my = np.average(x, weights=w), np.average(y, weights=w)
        dx = x - mx
        sxx = np.sum(w * dx * dx)
        if not sxx > 0:
            return None
        nb = np.sum(w * dx * (y - my)) / sxx
        na = my - nb * mx
        done = abs(nb - b) <= HUBER_TOL * max(1, abs(nb)) and abs(na - a) <= HUBER_TOL * max(1, abs(na))
        a, b = na, nb
        r = y - (a + b * x)
        if done:
            break
    return a, b


def rolling_slope(y, n, mode):
    """OLS slope of the last n values against their position 0..n-1."""
    if mode == "apply":
        pos = np.arange(n, dtype=float) - (n - 1) / 2
        den = float((pos * pos).sum())
        return y.rolling(n).apply(lambda w: float((pos * (w - w.mean())).sum()) / den, raw=True)
    idx = pd.Series(np.arange(len(y), dtype=float), index=y.index)
    return y.rolling(n).cov(idx, ddof=0) / idx.rolling(n).var(ddof=0)


def ratio_to_median(v, n):
    med = v.rolling(n).median()
    return (v / med).where(med > 0, np.where(v > 0, 1e6, 1.0)).where(med.notna())


def features(df, slope_mode="apply"):
    pa, pb = df["a_close"], df["b_close"]
    out = {}

    # β: rolling OLS, Huber on bars with heavy-tailed one-step residuals, EMA-smoothed.
    mx, my = pb.rolling(W).mean(), pa.rolling(W).mean()
    ols_b = pa.rolling(W).cov(pb, ddof=0) / pb.rolling(W).var(ddof=0)
    ols_a = my - ols_b * mx
    e = pa - (ols_a.shift(1) + ols_b.shift(1) * pb)
    ratio = np.sqrt((e * e).rolling(W).mean()) / (1.4826 * e.abs().rolling(W).median())
    robust = (ratio > MAD_RATIO_MAX).to_numpy()
    raw_b, raw_a = ols_b.to_numpy().copy(), ols_a.to_numpy().copy()
    xs, ys = pb.to_numpy(), pa.to_numpy()
    for t in np.flatnonzero(robust):
        fit = huber(xs[t - W + 1 : t + 1], ys[t - W + 1 : t + 1], raw_a[t - 1], raw_b[t - 1])
        if fit is not None:
            raw_a[t], raw_b[t] = fit
    beta = pd.Series(raw_b, index=pa.index).ewm(alpha=hl_alpha(BETA_HL), adjust=False).mean()
    s = pa - beta * pb
    out["beta"], out["spread"], out["robust"] = beta, s, pd.Series(robust)

    # z and its derivatives.
    mu, sd = s.rolling(W).mean(), s.rolling(W).std(ddof=0)
    z = ((s - mu) / sd).clip(-5, 5).where(sd > 0, 0.0).where(sd.notna())
    out["z"] = z
    out["z_ema"] = z.ewm(alpha=hl_alpha(Z_HL), adjust=False).mean()
    out["delta_z"] = z.diff()
    out["abs_delta_z"] = out["delta_z"].abs()
    out["slope_z"] = rolling_slope(z, SLOPE_N, slope_mode)

    # Spread changes: ATR, RSI, half-life.
    ds = s.diff()
    out["abs_delta_S"] = ds.abs()
    atr_s = wilder(ds.abs(), ATR_N)
    out["atr_spread"] = atr_s
    out["vol_ratio_spread"] = ratio_to_median(atr_s, W)
    gain, loss = wilder(ds.clip(lower=0), RSI_N), wilder((-ds).clip(lower=0), RSI_N)
    out["rsi_spread"] = (100 - 100 / (1 + gain / loss)).where(loss > 0, np.where(gain > 0, 100.0, 50.0)).where(loss.notna())
    prev = s.shift(1)
    b = ds.rolling(W).cov(prev, ddof=0) / prev.rolling(W).var(ddof=0)
    out["half_life"] = (math.log(2) / b.abs()).clip(1, 240).where(b != 0, 240.0).where(b.notna())

    # Legs: return correlation, OHLC ATRs.
    ra, rb = np.log(pa / pa.shift(1)), np.log(pb / pb.shift(1))
    rho = ra.rolling(W).corr(rb)
    out["rho_rolling"] = rho
    out["corr_stability"] = rho.rolling(W).var(ddof=0)
    out["beta_stability"] = beta.rolling(W).std(ddof=0) / (beta.rolling(W).mean().abs() + 1e-6)
    for leg in ("a", "b"):
        h, l, c = df[f"{leg}_high"], df[f"{leg}_low"], df[f"{leg}_close"]
        pc = c.shift(1)
        tr = pd.concat([h - l, (h - pc).abs(), (l - pc).abs()], axis=1).max(axis=1).where(pc.notna())
        atr = wilder(tr, ATR_N)
        out[f"atr_{leg.upper()}"] = atr
        out[f"atr_ratio_{leg.upper()}"] = ratio_to_median(atr, W)

    # Spread trend.
    out["ema_gap_spread"] = s.ewm(span=12, adjust=False).mean() - s.ewm(span=26, adjust=False).mean()
    out["slope_spread"] = (rolling_slope(s, SLOPE_N, slope_mode) / sd).where(sd > 0, 0.0).where(sd.notna())
    return pd.DataFrame(out)


def main():
    path = sys.argv[1]
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    df = pd.read_csv(path, dtype=float)
    report = {"bars": len(df), "pandas": pd.__version__}
    for mode, key in (("apply", "bar_updates_per_s"), ("vectorised", "bar_updates_per_s_vectorised")):
        best_cpu, best_wall = math.inf, math.inf
        for _ in range(repeats):
            c0, t0 = time.process_time(), time.perf_counter()
            result = features(df, mode)
            best_cpu = min(best_cpu, time.process_time() - c0)
            best_wall = min(best_wall, time.perf_counter() - t0)
        report[key] = len(df) / best_cpu
        report[key + "_wall"] = len(df) / best_wall
        report["robust_bars"] = int(result["robust"].sum())
    print(json.dumps(report))


if __name__ == "__main__":
    main()
