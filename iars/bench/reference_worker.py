"""Internal: the subprocess that fits the reference TS2Vec for ``iars-bench --runs --vs-reference``.

    python -m iars.bench.reference_worker DATA.npz K,HIDDEN,DEPTH N_ITERS SEED BATCH_SIZE MAX_TRAIN_LENGTH PROTOCOL

Not a user command: :func:`iars.bench.runs.reference_run` starts it in a fresh process with the
reference checkout first on PYTHONPATH (so that ``import ts2vec`` finds it, away from this
process's modules), on the arrays it saved to DATA.npz. It prints one line of JSON: the fit
seconds, steps and the accuracy of the runs' classifier protocol.
"""
from __future__ import annotations

import json
import random
import sys
import time

import numpy as np
import torch

from iars.devices import synchronize

USAGE = ("usage: python -m iars.bench.reference_worker DATA.npz K,HIDDEN,DEPTH N_ITERS SEED BATCH_SIZE "
         "MAX_TRAIN_LENGTH PROTOCOL")


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


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 7:
        print(USAGE, file=sys.stderr)
        return 2
    print(json.dumps(fit_reference(*argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
