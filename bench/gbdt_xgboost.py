"""Baseline for bench/gbdt.bench.ts (and test/models/xgboost-parity.test.ts): XGBoost `hist` on the same data.

Usage: /usr/bin/python3 bench/gbdt_xgboost.py SPEC.json
SPEC holds:
  x, y          paths of the raw data: x is row-major float32 (rows × cols, NaN = missing),
                y is one uint8 0/1 label per row (both read with numpy.fromfile, no parsing)
  cols          feature columns
  train_rows    the first train_rows rows train, the rest are the held-out test rows
  params        {rounds, max_depth, eta, max_bin, lambda, min_child_weight}
  runs          list of {nthread, pred}: one training run each, nthread 0 = XGBoost's default
                (all cores); the held-out probabilities go to `pred` as float64 (numpy.tofile)
Prints one JSON line: per run the training seconds by wall clock and by process CPU time.

Timing covers xgb.train only: the DMatrix is built beforehand (from the already loaded arrays, a
fresh one per run so that no run reuses another's quantile sketch), and the quantile sketch and
binning happen inside xgb.train, just as our trainer bins inside trainGbdt.
Matched settings: depth-wise trees of max_depth, no subsampling, no column sampling, gamma 0,
alpha 0, base_score = the label mean (our trainer starts from the prior log-odds as well).
"""
import json
import sys
import time

import numpy as np
import xgboost as xgb


def main():
    spec = json.loads(open(sys.argv[1]).read())
    cols, n_train = spec["cols"], spec["train_rows"]
    x = np.fromfile(spec["x"], dtype=np.float32).reshape(-1, cols)
    y = np.fromfile(spec["y"], dtype=np.uint8).astype(np.float32)
    if len(y) != len(x):
        raise SystemExit(f"{len(x)} feature rows but {len(y)} labels")
    x_train, y_train, x_test = x[:n_train], y[:n_train], x[n_train:]
    p = spec["params"]
    params = {
        "objective": "binary:logistic",
        "tree_method": "hist",
        "grow_policy": "depthwise",
        "max_depth": p["max_depth"],
        "eta": p["eta"],
        "max_bin": p["max_bin"],
        "lambda": p["lambda"],
        "alpha": 0.0,
        "gamma": 0.0,
        "min_child_weight": p["min_child_weight"],
        "subsample": 1.0,
        "colsample_bytree": 1.0,
        "base_score": float(y_train.mean()),
        "verbosity": 0,
    }
    report = {"xgboost": xgb.__version__, "runs": []}
    for run in spec["runs"]:
        threads = run["nthread"]
        run_params = dict(params, nthread=threads) if threads > 0 else dict(params)
        dtrain = xgb.DMatrix(x_train, label=y_train, missing=np.nan, nthread=threads if threads > 0 else -1)
        c0, t0 = time.process_time(), time.perf_counter()
        booster = xgb.train(run_params, dtrain, num_boost_round=p["rounds"])
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        if len(x_test) > 0 and run.get("pred"):
            dtest = xgb.DMatrix(x_test, missing=np.nan)
            booster.predict(dtest).astype(np.float64).tofile(run["pred"])
        report["runs"].append({"nthread": threads, "train_s": wall, "train_cpu_s": cpu})
        del booster, dtrain
    print(json.dumps(report))


if __name__ == "__main__":
    main()
