#!/usr/bin/env python3
"""Orrery container step: the PyTorch trainer of the pair-trading models (asset `torch_models`).

Speaks the step protocol (README, "The step protocol"): everything comes in the environment, JSON
lines on stdout report progress and logs, and a result manifest goes to $ORRERY_RESULT_PATH.

Input `training_set` (ORRERY_INPUTS): one JSON file (a path, `file://` or `http(s)://` URL)
    { "featureNames": [..F], "schemaHash": str, "seed": int,
      "tasks": { "ai1": Task, "ai2": Task } }
    Task = { "X": [[number|null]*F]*N  (normalised; null = missing -> 0, the robust median),
             "y": [0|1]*N,
             "w": [number]*N  (per-row class weights; [w_neg, w_pos] is accepted too),
             "validFrom": int (rows >= validFrom are the later-in-time validation split) }

Per task: an MLP (F -> hidden... -> 1, ReLU, dropout) trained with class-weighted BCE and AdamW,
early-stopped on the validation split's weighted log loss (patience in epochs), seeded and
deterministic where the backend allows; CUDA when available (bf16/fp16 autocast there), else CPU.

Output ($ORRERY_OUTPUT_URI):
  * a directory (exists, or the path ends with "/"): model_ai1.onnx, model_ai2.onnx, metrics.json;
  * otherwise (what the orchestrator passes: one file it adopts as the asset's value): one JSON
    bundle {"format": "orrery.torch-models/1", ..., "models": {"ai1": {"onnx_base64", "sha256"}},
    "metrics": <metrics.json>}.
ONNX graphs: input `features` float32 [N, F] (NaN = missing, replaced by 0 inside the graph);
outputs `probabilities` float32 [N, 2] = [P(y=0), P(y=1)] (sigmoid inside the graph) and `label`
int64 [N] (argmax) -- the same interface as the GBDT's ONNX export; batch axis dynamic.

Error ids in a failure manifest: ML_ENV_NOTORCH (PyTorch not importable), ML_MODEL_INVALID (bad
input or config), ML_TRAIN_FAILED (training diverged or crashed).
"""
import base64
import copy
import hashlib
import io
import json
import math
import os
import random
import shutil
import subprocess
import sys
import threading
import time
import traceback
import urllib.request

FORMAT = "orrery.torch-models/1"
TASKS = ("ai1", "ai2")
ONNX_INPUT = "features"
ONNX_OUTPUTS = ("probabilities", "label")
ONNX_OPSET = 13
REFERENCE_ROWS = 8

ERR_NOTORCH = "ML_ENV_NOTORCH"
ERR_INVALID = "ML_MODEL_INVALID"
ERR_TRAIN = "ML_TRAIN_FAILED"

DEFAULTS = {
    "hidden": [64, 32],
    "dropout": 0.1,
    "lr": 1e-3,
    "weightDecay": 1e-4,
    "batchSize": 512,
    "maxEpochs": 200,
    "patience": 20,
    "aucFloor": 0.5,
    "seed": None,
    "threads": None,
    "amp": True,
}

# cuBLAS needs this before it initialises to be deterministic (harmless on CPU).
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


class StepError(Exception):
    def __init__(self, error_id, message):
        super().__init__(message)
        self.error_id = error_id
        self.message = message


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def log(message, level="info", **fields):
    emit(dict({"orrery": "log", "level": level, "message": message}, **fields))


def progress(done, total, message=None):
    line = {"orrery": "progress", "done": int(done), "total": int(total)}
    if message:
        line["message"] = message
    emit(line)


def write_result(manifest):
    path = os.environ.get("ORRERY_RESULT_PATH")
    text = json.dumps(manifest, allow_nan=False)
    if not path:
        sys.stdout.write(text + "\n")
        return
    with open(path, "w") as f:
        f.write(text)


def fail(error_id, message):
    log(message, level="error", errorId=error_id)
    write_result({"status": "failure", "error": {"errorId": error_id, "message": message}})
    return 1


def local_path(uri):
    if uri.startswith("file://"):
        return urllib.request.url2pathname(uri[len("file://"):])
    return uri


def read_json_uri(uri):
    try:
        if uri.startswith("http://") or uri.startswith("https://"):
            with urllib.request.urlopen(uri, timeout=300) as r:
                return json.loads(r.read().decode("utf-8"))
        with open(local_path(uri), "r", encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise StepError(ERR_INVALID, "Cannot read the training set at %s: %s" % (uri, e))


def torch_hint():
    """Which other python here has torch, to name in the error message."""
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if not os.path.exists(candidate) or os.path.realpath(candidate) == os.path.realpath(sys.executable):
            continue
        try:
            ok = subprocess.run([candidate, "-c", "import torch"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60).returncode == 0
        except (OSError, subprocess.SubprocessError):
            ok = False
        if ok:
            return " %s here has it: set ORRERY_PYTHON=%s." % (candidate, candidate)
    return ""


# --------------------------------------------------------------------------------------------
# Input validation


def parse_config():
    raw = os.environ.get("ORRERY_CONFIG") or "{}"
    try:
        given = json.loads(raw)
    except ValueError:
        raise StepError(ERR_INVALID, "ORRERY_CONFIG is not JSON.")
    if not isinstance(given, dict):
        raise StepError(ERR_INVALID, "ORRERY_CONFIG must be a JSON object.")
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise StepError(ERR_INVALID, "Unknown trainer config keys: %s (known: %s)." % (", ".join(unknown), ", ".join(sorted(DEFAULTS))))
    cfg = dict(DEFAULTS)
    cfg.update({k: v for k, v in given.items() if v is not None})

    def need(ok, what):
        if not ok:
            raise StepError(ERR_INVALID, "Trainer config: %s (got %s)." % (what, json.dumps({k: cfg[k] for k in DEFAULTS})))

    is_int = lambda v: isinstance(v, int) and not isinstance(v, bool)
    need(isinstance(cfg["hidden"], list) and 1 <= len(cfg["hidden"]) <= 6 and all(is_int(h) and h >= 1 for h in cfg["hidden"]), "hidden must be 1-6 positive integers")
    need(isinstance(cfg["dropout"], (int, float)) and 0 <= cfg["dropout"] < 1, "dropout must be in [0, 1)")
    need(isinstance(cfg["lr"], (int, float)) and cfg["lr"] > 0, "lr must be > 0")
    need(isinstance(cfg["weightDecay"], (int, float)) and cfg["weightDecay"] >= 0, "weightDecay must be >= 0")
    need(is_int(cfg["batchSize"]) and cfg["batchSize"] >= 1, "batchSize must be an integer >= 1")
    need(is_int(cfg["maxEpochs"]) and cfg["maxEpochs"] >= 1, "maxEpochs must be an integer >= 1")
    need(is_int(cfg["patience"]) and cfg["patience"] >= 1, "patience must be an integer >= 1")
    need(isinstance(cfg["aucFloor"], (int, float)) and 0 <= cfg["aucFloor"] <= 1, "aucFloor must be in [0, 1]")
    need(cfg["seed"] is None or (is_int(cfg["seed"]) and cfg["seed"] >= 0), "seed must be an integer >= 0")
    need(cfg["threads"] is None or (is_int(cfg["threads"]) and cfg["threads"] >= 1), "threads must be an integer >= 1")
    need(isinstance(cfg["amp"], bool), "amp must be a boolean")
    return cfg


def validate_training_set(ts):
    if not isinstance(ts, dict):
        raise StepError(ERR_INVALID, "The training set must be a JSON object with featureNames, schemaHash, seed and tasks.")
    names = ts.get("featureNames")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise StepError(ERR_INVALID, "training set: featureNames must be a non-empty list of strings.")
    f = len(names)
    tasks = ts.get("tasks")
    if not isinstance(tasks, dict):
        raise StepError(ERR_INVALID, "training set: tasks must be an object with ai1 and ai2.")
    out = {}
    for task in TASKS:
        t = tasks.get(task)
        where = "training set task %s" % task
        if not isinstance(t, dict):
            raise StepError(ERR_INVALID, "%s is missing." % where)
        X, y, w, valid_from = t.get("X"), t.get("y"), t.get("w"), t.get("validFrom")
        if not isinstance(X, list) or not isinstance(y, list) or not isinstance(w, list):
            raise StepError(ERR_INVALID, "%s: X, y and w must be arrays." % where)
        n = len(X)
        if len(y) != n:
            raise StepError(ERR_INVALID, "%s: %d labels for %d rows." % (where, len(y), n))
        for i, row in enumerate(X):
            if not isinstance(row, list) or len(row) != f:
                raise StepError(ERR_INVALID, "%s: row %d has %s values, expected %d (featureNames)." % (where, i, len(row) if isinstance(row, list) else "no", f))
            for v in row:
                if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
                    raise StepError(ERR_INVALID, "%s: row %d holds %r; values must be finite numbers or null." % (where, i, v))
        for i, v in enumerate(y):
            if v not in (0, 1) or isinstance(v, bool):
                raise StepError(ERR_INVALID, "%s: label %r at row %d is not 0 or 1." % (where, v, i))
        if len(w) == 2 and n != 2:
            w = [w[v] for v in y]  # per-class weights [w_neg, w_pos]
        if len(w) != n:
            raise StepError(ERR_INVALID, "%s: %d weights for %d rows (give one per row, or [w_neg, w_pos])." % (where, len(w), n))
        for i, v in enumerate(w):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise StepError(ERR_INVALID, "%s: weight %r at row %d must be a finite number >= 0." % (where, v, i))
        if isinstance(valid_from, bool) or not isinstance(valid_from, int) or not (0 < valid_from < n):
            raise StepError(ERR_INVALID, "%s: validFrom %r must split the %d rows into a non-empty training part and a non-empty validation part." % (where, valid_from, n))
        for part, lo, hi in (("training", 0, valid_from), ("validation", valid_from, n)):
            pos = sum(w[i] for i in range(lo, hi) if y[i] == 1)
            neg = sum(w[i] for i in range(lo, hi) if y[i] == 0)
            if not (pos > 0 and neg > 0):
                raise StepError(ERR_INVALID, "%s: the %s split needs both classes with a positive weight (positive %g, negative %g)." % (where, part, pos, neg))
        out[task] = {"X": X, "y": y, "w": w, "validFrom": valid_from}
    return names, out


# --------------------------------------------------------------------------------------------
# Metrics (plain Python: no numpy needed)


def roc_auc(y, p):
    order = sorted(range(len(p)), key=lambda i: p[i])
    ranks = [0.0] * len(p)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and p[order[j + 1]] == p[order[i]]:
            j += 1
        r = (i + j) / 2.0 + 1.0  # average rank of a tie group
        for k in range(i, j + 1):
            ranks[order[k]] = r
        i = j + 1
    n_pos = sum(y)
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    rank_sum = sum(r for r, v in zip(ranks, y) if v == 1)
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def log_loss(y, p, w=None, eps=1e-15):
    total = loss = 0.0
    for i, (yi, pi) in enumerate(zip(y, p)):
        wi = 1.0 if w is None else w[i]
        q = min(max(pi, eps), 1 - eps)
        loss -= wi * (math.log(q) if yi == 1 else math.log(1 - q))
        total += wi
    return loss / total


def brier(y, p):
    return sum((pi - yi) ** 2 for yi, pi in zip(y, p)) / len(y)


class GpuSampler:
    """Samples GPU utilisation (%) in a thread: torch.cuda.utilization (pynvml), else nvidia-smi."""

    def __init__(self, torch, device_index, interval=0.2):
        self.torch, self.index, self.interval = torch, device_index, interval
        self.samples, self.source = [], None
        self._stop = threading.Event()
        self._thread = None

    def _read(self):
        if self.source in (None, "torch.cuda.utilization"):
            try:
                v = float(self.torch.cuda.utilization(self.index))
                self.source = "torch.cuda.utilization"
                return v
            except Exception:
                if self.source == "torch.cuda.utilization":
                    return None
        if self.source in (None, "nvidia-smi") and shutil.which("nvidia-smi"):
            try:
                # nvidia-smi numbers GPUs physically; torch counts the visible ones (-i takes indices and UUIDs).
                visible = [d.strip() for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
                gpu_id = visible[self.index] if self.index < len(visible) else str(self.index)
                out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits", "-i", gpu_id],
                                     capture_output=True, text=True, timeout=10)
                v = float(out.stdout.strip().splitlines()[0])
                self.source = "nvidia-smi"
                return v
            except Exception:
                pass
        self.source = self.source or "unavailable"
        return None

    def _run(self):
        while not self._stop.is_set():
            v = self._read()
            if v is not None:
                self.samples.append(v)
            elif self.source == "unavailable":
                return
            self._stop.wait(self.interval if self.source == "torch.cuda.utilization" else max(self.interval, 0.5))

    def __enter__(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=15)

    def summary(self):
        s = self.samples
        return {
            "source": self.source or "unavailable",
            "samples": len(s),
            "mean": round(sum(s) / len(s), 2) if s else None,
            "max": max(s) if s else None,
        }


# --------------------------------------------------------------------------------------------
# Training


def main():
    try:
        import torch
        from torch import nn
    except Exception as e:  # ImportError, or a broken install (missing shared libraries)
        return fail(ERR_NOTORCH,
                    "PyTorch is not importable by %s (%s: %s). Install it for that python: on Debian/Ubuntu "
                    "`apt install python3-torch`, elsewhere `pip install torch` (CUDA builds: https://pytorch.org/get-started/locally/); "
                    "or point ORRERY_PYTHON at a python that has it, or run the orrery/trainer-torch image.%s"
                    % (sys.executable, type(e).__name__, e, torch_hint()))

    try:
        return train(torch, nn)
    except StepError as e:
        return fail(e.error_id, e.message)
    except Exception as e:
        traceback.print_exc(file=sys.stderr)
        return fail(ERR_TRAIN, "The torch trainer crashed: %s: %s" % (type(e).__name__, e))


def make_net(nn, n_features, hidden, dropout):
    layers, width = [], n_features
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(dropout)]
        width = h
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)


def set_seed(torch, seed):
    random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    try:
        import numpy
        numpy.random.seed(seed % (2 ** 32))
    except Exception:
        pass


def export_onnx(torch, nn, net, n_features):
    class Exported(nn.Module):
        """NaN -> 0 (the robust median), the MLP, sigmoid; [P(0), P(1)] and their argmax."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, features):
            x = torch.where(torch.isnan(features), torch.zeros_like(features), features)
            p = torch.sigmoid(self.inner(x))
            probabilities = torch.cat([1.0 - p, p], dim=1)
            return probabilities, torch.argmax(probabilities, dim=1)

    wrapper = Exported(copy.deepcopy(net).float().cpu()).eval()
    buf = io.BytesIO()
    kwargs = dict(
        input_names=[ONNX_INPUT],
        output_names=list(ONNX_OUTPUTS),
        dynamic_axes={ONNX_INPUT: {0: "N"}, ONNX_OUTPUTS[0]: {0: "N"}, ONNX_OUTPUTS[1]: {0: "N"}},
        opset_version=ONNX_OPSET,
        do_constant_folding=True,
    )
    import inspect
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False  # the TorchScript exporter: no onnxscript dependency
    with torch.no_grad():
        torch.onnx.export(wrapper, (torch.zeros(2, n_features, dtype=torch.float32),), buf, **kwargs)
    return wrapper, buf.getvalue()


def train(torch, nn):
    started_all = time.time()
    cfg = parse_config()
    if cfg["threads"]:
        torch.set_num_threads(cfg["threads"])

    inputs_raw = os.environ.get("ORRERY_INPUTS") or "{}"
    try:
        inputs = json.loads(inputs_raw)
    except ValueError:
        raise StepError(ERR_INVALID, "ORRERY_INPUTS is not JSON.")
    refs = inputs.get("training_set") if isinstance(inputs, dict) else None
    if not isinstance(refs, list) or len(refs) != 1 or not isinstance(refs[0], dict) or not isinstance(refs[0].get("uri"), str):
        raise StepError(ERR_INVALID, "ORRERY_INPUTS must name exactly one `training_set` input partition with a uri (got %s)." % inputs_raw[:200])
    output_uri = os.environ.get("ORRERY_OUTPUT_URI")
    if not output_uri:
        raise StepError(ERR_INVALID, "ORRERY_OUTPUT_URI is not set.")

    log("reading training set", uri=refs[0]["uri"], partition=refs[0].get("partitionKey"))
    ts = read_json_uri(refs[0]["uri"])
    names, tasks = validate_training_set(ts)

    if cfg["seed"] is not None:
        seed, seed_source = cfg["seed"], "config"
    elif (os.environ.get("ORRERY_SEED") or "").strip().isdigit():
        seed, seed_source = int(os.environ["ORRERY_SEED"]), "ORRERY_SEED"
    elif isinstance(ts.get("seed"), int):
        seed, seed_source = ts["seed"], "training_set"
    else:
        seed, seed_source = 0, "default"

    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    try:
        torch.use_deterministic_algorithms(True, warn_only=True)
    except TypeError:  # torch < 1.11
        torch.use_deterministic_algorithms(True)
    amp_dtype = None
    if cuda and cfg["amp"]:
        amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    device_name = torch.cuda.get_device_name(0) if cuda else "cpu"
    log("training on %s%s" % (device_name, " with %s autocast" % str(amp_dtype).replace("torch.", "") if amp_dtype else ""),
        device=str(device), torch=torch.__version__, seed=seed, seedSource=seed_source, features=len(names))

    total_progress = cfg["maxEpochs"] * len(TASKS)
    metrics = {"format": FORMAT, "featureNames": names, "schemaHash": ts.get("schemaHash"), "seed": seed, "seedSource": seed_source,
               "torch": torch.__version__, "device": str(device), "deviceName": device_name,
               "amp": str(amp_dtype).replace("torch.", "") if amp_dtype else None, "config": cfg, "tasks": {}}
    models = {}

    for t_index, task in enumerate(TASKS):
        data = tasks[task]
        task_seed = (seed + 1000003 * t_index) % (2 ** 63)
        set_seed(torch, task_seed)
        t0 = time.time()
        X = torch.tensor([[0.0 if v is None else float(v) for v in row] for row in data["X"]], dtype=torch.float32)
        y = torch.tensor(data["y"], dtype=torch.float32)
        w = torch.tensor(data["w"], dtype=torch.float32)
        vf = data["validFrom"]
        Xtr, ytr, wtr = X[:vf].to(device), y[:vf].to(device), w[:vf].to(device)
        Xva, yva, wva = X[vf:].to(device), y[vf:].to(device), w[vf:].to(device)
        n_train = Xtr.shape[0]

        net = make_net(nn, len(names), cfg["hidden"], cfg["dropout"]).to(device)
        opt = torch.optim.AdamW(net.parameters(), lr=cfg["lr"], weight_decay=cfg["weightDecay"])
        use_scaler = amp_dtype == torch.float16
        if hasattr(torch, "amp") and hasattr(torch.amp, "GradScaler"):  # torch >= 2.3
            scaler = torch.amp.GradScaler("cuda", enabled=use_scaler)
        else:
            scaler = torch.cuda.amp.GradScaler(enabled=use_scaler)
        bce = nn.BCEWithLogitsLoss(reduction="none")
        gen = torch.Generator(device="cpu")
        gen.manual_seed(task_seed)

        def autocast():
            if amp_dtype is None:
                return torch.autocast("cpu", enabled=False)
            return torch.autocast("cuda", dtype=amp_dtype)

        def validation_loss():
            net.eval()
            with torch.no_grad(), autocast():
                logits = net(Xva).float().squeeze(1)
            net.train()
            return float((bce(logits, yva) * wva).sum() / wva.sum())

        best, best_epoch, best_state = math.inf, 0, copy.deepcopy(net.state_dict())
        history = {"train": [], "valid": []}
        stop_reason = "max_epochs"
        sampler = GpuSampler(torch, torch.cuda.current_device()) if cuda else None
        if sampler:
            sampler.__enter__()
        try:
            net.train()
            for epoch in range(1, cfg["maxEpochs"] + 1):
                perm = torch.randperm(n_train, generator=gen).to(device)
                loss_sum = torch.zeros((), device=device)
                weight_sum = torch.zeros((), device=device)
                for start in range(0, n_train, cfg["batchSize"]):
                    idx = perm[start:start + cfg["batchSize"]]
                    xb, yb, wb = Xtr[idx], ytr[idx], wtr[idx]
                    with autocast():
                        logits = net(xb).float().squeeze(1)
                    per_row = bce(logits, yb) * wb
                    wsum = wb.sum()
                    # No host sync per batch; a batch whose weights are all 0 gives a zero loss.
                    loss = per_row.sum() / wsum.clamp_min(1e-12)
                    opt.zero_grad(set_to_none=True)
                    scaler.scale(loss).backward()
                    scaler.step(opt)
                    scaler.update()
                    loss_sum += per_row.detach().sum()
                    weight_sum += wsum.detach()
                train_loss = float(loss_sum / weight_sum)
                valid_loss = validation_loss()
                if not (math.isfinite(train_loss) and math.isfinite(valid_loss)):
                    raise StepError(ERR_TRAIN, "%s: the loss is not finite at epoch %d (train %s, valid %s); lower lr or check the inputs." % (task, epoch, train_loss, valid_loss))
                history["train"].append(round(train_loss, 6))
                history["valid"].append(round(valid_loss, 6))
                if valid_loss < best - 1e-7:
                    best, best_epoch, best_state = valid_loss, epoch, copy.deepcopy(net.state_dict())
                progress(t_index * cfg["maxEpochs"] + epoch, total_progress, "%s epoch %d" % (task, epoch))
                if epoch - best_epoch >= cfg["patience"]:
                    stop_reason = "early_stopping"
                    break
        finally:
            if sampler:
                sampler.__exit__(None, None, None)
        epochs = len(history["valid"])
        if epochs < cfg["maxEpochs"]:
            progress((t_index + 1) * cfg["maxEpochs"], total_progress, "%s stopped at epoch %d" % (task, epochs))
        if cuda:
            torch.cuda.synchronize()
        train_seconds = time.time() - t0

        # The best epoch's weights, evaluated in float32 on CPU: exactly what the ONNX graph computes.
        net.load_state_dict(best_state)
        wrapper, onnx_bytes = export_onnx(torch, nn, net, len(names))
        with torch.no_grad():
            p_valid = wrapper(X[vf:])[0][:, 1].tolist()
            ref_x = X[vf:vf + REFERENCE_ROWS]
            ref_p = wrapper(ref_x)[0][:, 1].tolist()
        yv, wv = data["y"][vf:], data["w"][vf:]
        auc = roc_auc(yv, p_valid)
        task_metrics = {
            "auc": auc,
            "brier": brier(yv, p_valid),
            "logLoss": log_loss(yv, p_valid),
            "weightedLogLoss": log_loss(yv, p_valid, wv),
            "trainRows": vf,
            "validRows": len(yv),
            "validPositiveRate": sum(yv) / len(yv),
            "epochs": epochs,
            "bestEpoch": best_epoch,
            "stopReason": stop_reason,
            "device": str(device),
            "seconds": round(train_seconds, 3),
            "seed": task_seed,
            "gpuUtilization": sampler.summary() if sampler else None,
            "history": history,
            "onnxSha256": hashlib.sha256(onnx_bytes).hexdigest(),
            "onnxBytes": len(onnx_bytes),
            # A torch forward pass (float32, CPU, eval mode) on the first validation rows, for
            # checking an ONNX runtime against: rows are the float32 inputs (nulls as 0).
            "reference": {"rows": ref_x.tolist(), "probabilities": ref_p},
        }
        metrics["tasks"][task] = task_metrics
        models[task] = onnx_bytes
        gpu = task_metrics["gpuUtilization"]
        log("%s: AUC %.4f, log loss %.4f, best epoch %d of %d (%s), %.1fs on %s%s" % (
            task, auc, task_metrics["logLoss"], best_epoch, epochs, stop_reason, train_seconds, device,
            ", GPU utilisation mean %s%% max %s%% (%s)" % (gpu["mean"], gpu["max"], gpu["source"]) if gpu else ""),
            task=task, auc=auc, bestEpoch=best_epoch)

    metrics["seconds"] = round(time.time() - started_all, 3)
    # The models' content, not the run's timings: a rerun giving the same weights keeps its version.
    version = hashlib.sha256()
    version.update(FORMAT.encode())
    for task in TASKS:
        version.update(b"\0" + task.encode() + b"\0" + hashlib.sha256(models[task]).digest())
    version.update(b"\0" + json.dumps(names).encode() + b"\0" + str(ts.get("schemaHash")).encode())
    content_version = version.hexdigest()
    write_output(output_uri, metrics, models, ts, content_version)

    floor = cfg["aucFloor"]
    aucs = {task: metrics["tasks"][task]["auc"] for task in TASKS}
    metadata = {"format": FORMAT, "device": str(device), "device_name": device_name, "torch": torch.__version__,
                "seed": seed, "seed_source": seed_source, "features": len(names), "schema_hash": ts.get("schemaHash"),
                "seconds": metrics["seconds"]}
    for task in TASKS:
        m = metrics["tasks"][task]
        metadata.update({
            "%s_auc" % task: m["auc"], "%s_brier" % task: m["brier"], "%s_log_loss" % task: m["logLoss"],
            "%s_epochs" % task: m["epochs"], "%s_best_epoch" % task: m["bestEpoch"], "%s_seconds" % task: m["seconds"],
            "%s_onnx_sha256" % task: m["onnxSha256"],
        })
        if m["gpuUtilization"]:
            metadata["%s_gpu_util_mean" % task] = m["gpuUtilization"]["mean"]
            metadata["%s_gpu_util_max" % task] = m["gpuUtilization"]["max"]
    write_result({
        "status": "success",
        "metadata": json_safe(metadata),
        "dataVersion": content_version,
        "checks": [{
            "name": "auc_floor",
            "passed": all(math.isfinite(a) and a >= floor for a in aucs.values()),
            "severity": "ERROR",
            "metadata": json_safe({"floor": floor, "ai1_auc": aucs["ai1"], "ai2_auc": aucs["ai2"]}),
        }],
    })
    progress(total_progress, total_progress, "done")
    return 0


def json_safe(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [json_safe(v) for v in obj]
    return obj


def atomic_write(path, data):
    tmp = "%s.tmp-%d" % (path, os.getpid())
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_output(output_uri, metrics, models, ts, content_version):
    path = local_path(output_uri)
    if "://" in path:
        raise StepError(ERR_INVALID, "ORRERY_OUTPUT_URI %s: only local paths and file:// URIs can be written." % output_uri)
    metrics_json = json.dumps(json_safe(metrics), indent=1, allow_nan=False).encode()
    if path.endswith("/") or os.path.isdir(path):
        os.makedirs(path, exist_ok=True)
        for task in TASKS:
            atomic_write(os.path.join(path, "model_%s.onnx" % task), models[task])
        atomic_write(os.path.join(path, "metrics.json"), metrics_json)
        log("wrote %s" % ", ".join(["model_%s.onnx" % t for t in TASKS] + ["metrics.json"]), output=path)
        return
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    bundle = {
        "format": FORMAT,
        "contentVersion": content_version,
        "featureNames": metrics["featureNames"],
        "schemaHash": ts.get("schemaHash"),
        "seed": metrics["seed"],
        "onnx": {"input": ONNX_INPUT, "outputs": list(ONNX_OUTPUTS), "opset": ONNX_OPSET,
                 "probabilities": "float32 [N, 2] = [P(y=0), P(y=1)]", "label": "int64 [N] argmax", "missing": "NaN -> 0"},
        "models": {task: {"onnx_base64": base64.b64encode(models[task]).decode("ascii"),
                          "sha256": hashlib.sha256(models[task]).hexdigest(), "bytes": len(models[task])} for task in TASKS},
        "metrics": json_safe(metrics),
    }
    atomic_write(path, json.dumps(bundle, allow_nan=False).encode())
    log("wrote the model bundle (%d bytes of ONNX)" % sum(len(m) for m in models.values()), output=path)


if __name__ == "__main__":
    sys.exit(main())
