#!/usr/bin/env python3
"""Runs trainers/torch/train.py standalone on a generated training set, as Orrery would (the step
protocol's environment), writing model_ai1.onnx, model_ai2.onnx and metrics.json to a directory,
then prints one summary JSON line (AUC, epochs, seconds, device, GPU utilisation mean/max).

    python3 trainers/torch/demo.py --rows 400000 --features 24 --batch-size 4096

The generated set has a known signal (linear plus interaction terms, ~25 % positives, 5 % missing
values, normalised like the features: clipped at +-5), so AUC well above 0.5 means it learned.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time


def generate(rows, features, seed, valid_fraction):
    import torch

    g = torch.Generator().manual_seed(seed)
    tasks = {}
    for t_index, task in enumerate(("ai1", "ai2")):
        X = torch.randn(rows, features, generator=g).clamp(-5, 5)
        beta = torch.randn(features, generator=g) * (0.6 if task == "ai1" else 0.4)
        logit = X @ beta + 0.8 * X[:, 0] * X[:, 1] - 0.6 * X[:, 2].abs() - 1.2 + 0.3 * t_index
        y = (torch.rand(rows, generator=g) < torch.sigmoid(logit)).to(torch.int64)
        missing = torch.rand(rows, features, generator=g) < 0.05
        pos = int(y.sum())
        # Inverse-frequency class weights capped at 1:5, one per row.
        w_pos = min(max((rows - pos) / max(pos, 1), 1.0), 5.0)
        values = X.mul(1e5).round().div(1e5).tolist()
        m = missing.tolist()
        Xl = [[None if m[i][j] else values[i][j] for j in range(features)] for i in range(rows)]
        yl = y.tolist()
        tasks[task] = {"X": Xl, "y": yl, "w": [w_pos if v == 1 else 1.0 for v in yl], "validFrom": int(rows * (1 - valid_fraction))}
    return {"featureNames": ["f%02d" % j for j in range(features)], "schemaHash": "demo", "seed": seed, "tasks": tasks}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=200000, help="rows per task (default 200000)")
    ap.add_argument("--features", type=int, default=24)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--valid-fraction", type=float, default=0.2)
    ap.add_argument("--epochs", type=int, default=60, help="maxEpochs (default 60)")
    ap.add_argument("--patience", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=2048)
    ap.add_argument("--hidden", default="256,128", help="hidden widths, comma-separated (default 256,128)")
    ap.add_argument("--out", help="output directory (default: a new temp directory)")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="orrery-torch-demo-")
    out = args.out or os.path.join(work, "out")
    os.makedirs(out, exist_ok=True)
    t0 = time.time()
    ts_path = os.path.join(work, "training_set.json")
    with open(ts_path, "w") as f:
        json.dump(generate(args.rows, args.features, args.seed, args.valid_fraction), f)
    print("generated %s (%d rows x %d features per task) in %.1fs" % (ts_path, args.rows, args.features, time.time() - t0), file=sys.stderr)

    result = os.path.join(work, "result.json")
    env = dict(os.environ)
    env.update({
        "ORRERY_PROTOCOL_VERSION": "1",
        "ORRERY_RUN_ID": "demo",
        "ORRERY_ASSET_KEY": "torch_models",
        "ORRERY_PARTITION_KEY": "demo",
        "ORRERY_PARTITION_DIMENSIONS": "{}",
        "ORRERY_CONFIG": json.dumps({"maxEpochs": args.epochs, "patience": args.patience, "batchSize": args.batch_size,
                                     "hidden": [int(h) for h in args.hidden.split(",")]}),
        "ORRERY_INPUTS": json.dumps({"training_set": [{"partitionKey": "demo", "uri": "file://" + ts_path}]}),
        "ORRERY_OUTPUT_URI": out + "/",
        "ORRERY_RESULT_PATH": result,
        "ORRERY_SEED": str(args.seed),
    })
    train = os.path.join(os.path.dirname(os.path.abspath(__file__)), "train.py")
    code = subprocess.call([sys.executable, train], env=env)
    with open(result) as f:
        manifest = json.load(f)
    if manifest.get("status") != "success":
        print(json.dumps({"demo": "torch_models", "status": manifest.get("status"), "error": manifest.get("error")}))
        return code or 1
    with open(os.path.join(out, "metrics.json")) as f:
        metrics = json.load(f)
    summary = {"demo": "torch_models", "status": "success", "device": metrics["device"], "deviceName": metrics["deviceName"],
               "amp": metrics["amp"], "torch": metrics["torch"], "rows": args.rows, "features": args.features, "out": out,
               "seconds": metrics["seconds"], "checks": manifest.get("checks")}
    for task, m in metrics["tasks"].items():
        summary[task] = {k: m[k] for k in ("auc", "logLoss", "brier", "epochs", "bestEpoch", "stopReason", "seconds", "gpuUtilization")}
    print(json.dumps(summary))
    return code


if __name__ == "__main__":
    sys.exit(main())
