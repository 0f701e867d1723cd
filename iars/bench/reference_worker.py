"""Internal: the subprocess that runs the reference TS2Vec for ``iars-bench --vs-reference``.

    python -m iars.bench.reference_worker DATA.npz K,HIDDEN,DEPTH N_ITERS SEED BATCH_SIZE MAX_TRAIN_LENGTH PROTOCOL
    python -m iars.bench.reference_worker encode WEIGHTS.pt X.npy K,HIDDEN,DEPTH PADDING OUT.npy
    python -m iars.bench.reference_worker forecast DATA.csv UNIVARIATE K,HIDDEN,DEPTH N_ITERS SEED

Not a user command: :func:`iars.bench.runs.reference_run` starts it in a fresh process with the
reference checkout first on PYTHONPATH (so that ``import ts2vec`` finds it, away from this
process's modules), on the arrays it saved to DATA.npz. It prints one line of JSON: the fit
seconds, steps and the accuracy of the runs' classifier protocol. ``encode`` (for
``--encode``) loads an iars :class:`~iars.encoders.DilatedConvEncoder`'s weights into TS2Vec's
encoder, times its causal sliding ``encode`` of X (1×T×C; batch 256 windows, its forecasting
setting), saves the output to OUT.npy and prints its seconds. ``forecast`` (for
``--forecast``) runs TS2Vec's forecasting as its ``train.py`` does (its loader, fit and
``tasks.eval_forecasting``; CPU) on DATA.csv, with the two shims today's libraries need
(pandas ≥ 2 has no ``DatetimeIndex.weekofyear``; scikit-learn refuses its 4-D
``inverse_transform``; NumPy removed ``np.float``/``np.int``) and an empty ``bottleneck``
(imported by its anomaly detection, unused here), and prints its seconds and errors per horizon.
"""
from __future__ import annotations

import importlib
import json
import random
import sys
import time
import types

import numpy as np
import torch

from iars.devices import synchronize

USAGE = ("usage: python -m iars.bench.reference_worker DATA.npz K,HIDDEN,DEPTH N_ITERS SEED BATCH_SIZE "
         "MAX_TRAIN_LENGTH PROTOCOL\n   or: python -m iars.bench.reference_worker encode WEIGHTS.pt X.npy "
         "K,HIDDEN,DEPTH PADDING OUT.npy\n   or: python -m iars.bench.reference_worker forecast DATA.csv UNIVARIATE "
         "K,HIDDEN,DEPTH N_ITERS SEED")


def fit_reference(data: str, sizes: str, n_iters: str, seed: str, batch_size: str, max_train_length: str,
                  protocol: str) -> dict:
    """Fit the reference TS2Vec (``import ts2vec`` from PYTHONPATH): its fit seconds, steps and accuracy."""
    import ts2vec

    from iars.evaluate import classify

    with np.load(data) as arrays:
        X_train, y_train, X_test, y_test = (arrays[k] for k in ("X_train", "y_train", "X_test", "y_test"))
    random.seed(int(seed))
    np.random.seed(int(seed))
    torch.manual_seed(int(seed))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    K, hidden, depth = map(int, sizes.split(","))
    model = ts2vec.TS2Vec(input_dims=X_train.shape[2], output_dims=K, hidden_dims=hidden, depth=depth, device=device,
                          batch_size=int(batch_size), lr=1e-3, max_train_length=int(max_train_length))
    synchronize(device)
    start = time.perf_counter()
    model.fit(X_train, n_iters=int(n_iters))
    synchronize(device)
    seconds = time.perf_counter() - start
    encode = lambda X: model.encode(X, encoding_window="full_series")  # noqa: E731 (its max pooling, as iars's)
    acc = classify(encode(X_train), y_train, encode(X_test), y_test, protocol)["acc"]
    return {"pretrain_s": seconds, "median_step": None, "run_s": None, "steps": model.n_iters, "acc": acc}


def ts2vec_state(state: dict) -> dict:
    """An iars DilatedConvEncoder's state dict under TS2Vec's TSEncoder's names."""
    renamed = {}
    for key, value in state.items():
        if key.startswith("backbone."):
            _, i, part, rest = key.split(".", 3)
            key = f"feature_extractor.net.{i}.{part}." + (f"conv.{rest}" if part in ("conv1", "conv2") else rest)
        renamed[key] = value
    return renamed


def encode_reference(weights: str, data: str, sizes: str, padding: str, out: str) -> dict:
    """TS2Vec's causal sliding ``encode`` with the given weights: its seconds (the output saved to ``out``)."""
    import ts2vec

    X = np.load(data)
    K, hidden, depth = map(int, sizes.split(","))
    model = ts2vec.TS2Vec(input_dims=X.shape[2], output_dims=K, hidden_dims=hidden, depth=depth, device="cpu")
    model.net.module.load_state_dict(ts2vec_state(torch.load(weights)))
    start = time.perf_counter()
    z = model.encode(X, causal=True, sliding_length=1, sliding_padding=int(padding), batch_size=256)
    seconds = time.perf_counter() - start
    np.save(out, z)
    return {"encode_s": seconds}


class _LastAxis:
    """A fitted StandardScaler whose ``inverse_transform`` takes any array, over its last axis."""

    def __init__(self, scaler):
        self.scaler = scaler

    def inverse_transform(self, x):
        return self.scaler.inverse_transform(x.reshape(-1, x.shape[-1])).reshape(x.shape)


def forecast_reference(data: str, univariate: str, sizes: str, n_iters: str, seed: str) -> dict:
    """TS2Vec's forecasting on the CSV ``data`` (its name picks its split rule): fit seconds,
    encoding and ridge seconds, test MSE/MAE per horizon (scaled: ``mse``, ``mae``; original
    scale: ``mse_raw``, ``mae_raw``)."""
    import os
    import tempfile
    from pathlib import Path

    import pandas as pd

    if not hasattr(pd.DatetimeIndex, "weekofyear"):  # pandas >= 2
        pd.DatetimeIndex.weekofyear = property(lambda index: index.isocalendar().week)
    sys.modules.setdefault("bottleneck", types.ModuleType("bottleneck"))  # its tasks/ imports it for anomaly detection only
    for alias, builtin in (("float", float), ("int", int)):  # removed from NumPy (1.24); its code still uses them
        if alias not in np.__dict__:
            setattr(np, alias, builtin)
    import datautils
    import ts2vec

    tasks = importlib.import_module("tasks")  # the checkout's tasks/, not a package of this environment
    path, name = Path(data).resolve(), Path(data).stem
    with tempfile.TemporaryDirectory() as tmp:  # its loader reads datasets/<name>.csv from the working directory
        (Path(tmp) / "datasets").mkdir()
        (Path(tmp) / "datasets" / f"{name}.csv").symlink_to(path)
        cwd = os.getcwd()
        os.chdir(tmp)
        try:
            loaded = datautils.load_forecast_csv(name, univar=univariate == "1")
        finally:
            os.chdir(cwd)
    array, train_slice, valid_slice, test_slice, scaler, horizons, n_covariates = loaded
    random.seed(int(seed))  # its init_dl_program's seeding
    np.random.seed(int(seed) + 1)
    torch.manual_seed(int(seed) + 2)
    K, hidden, depth = map(int, sizes.split(","))
    model = ts2vec.TS2Vec(input_dims=array.shape[-1], output_dims=K, hidden_dims=hidden, depth=depth, device="cpu",
                          batch_size=8, lr=1e-3, max_train_length=3000)
    start = time.perf_counter()
    model.fit(array[:, train_slice], n_iters=int(n_iters))
    seconds = time.perf_counter() - start
    _, res = tasks.eval_forecasting(model, array, train_slice, valid_slice, test_slice, _LastAxis(scaler), horizons,
                                    n_covariates)
    errors = {str(h): {"mse": float(r["norm"]["MSE"]), "mae": float(r["norm"]["MAE"]), "mse_raw": float(r["raw"]["MSE"]),
                       "mae_raw": float(r["raw"]["MAE"])} for h, r in res["ours"].items()}
    return {"pretrain_s": seconds, "steps": model.n_iters, "encode_s": res["ts2vec_infer_time"],
            "ridge_s": float(sum(res["lr_train_time"].values())), "forecast": errors}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["encode"] and len(argv) == 6:
        print(json.dumps(encode_reference(*argv[1:])))
        return 0
    if argv[:1] == ["forecast"] and len(argv) == 6:
        print(json.dumps(forecast_reference(*argv[1:])))
        return 0
    if len(argv) != 7:
        print(USAGE, file=sys.stderr)
        return 2
    print(json.dumps(fit_reference(*argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
