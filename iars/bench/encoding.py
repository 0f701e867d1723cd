"""``--encode``: causal sliding encoding (TS2Vec's forecasting and anomaly encoding: every
timestamp t from the window [t − padding, t]) of one long series: :func:`iars.encoding.encode`
against TS2Vec's loop (:func:`iars.reference.ts2vec_encode`, in this process) and, with
``--vs-reference DIR``, the reference TS2Vec's own ``encode`` in a fresh process
(:mod:`iars.bench.reference_worker`), all with the same weights on the same random series;
variants alternate within each round. Reported: seconds per variant, the ratios, and the largest
difference of each output from iars's."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from iars.bench.common import markdown, rotated
from iars.encoders import DilatedConvEncoder
from iars.encoding import encode
from iars.reference import ts2vec_encode


def _iars(encoder, X, padding):
    return encode(encoder, X, None, causal=True, sliding_length=1, sliding_padding=padding)


def _loop(encoder, X, padding):
    return ts2vec_encode(encoder, X, causal=True, sliding_length=1, sliding_padding=padding, batch_size=256)


def reference_encode(checkout: Path, encoder: DilatedConvEncoder, X: np.ndarray, padding: int, depth: int) -> tuple:
    """The reference TS2Vec's ``encode`` of X with ``encoder``'s weights, in a fresh process: (seconds, output)."""
    with tempfile.TemporaryDirectory() as tmp:
        torch.save(encoder.state_dict(), Path(tmp) / "weights.pt")
        np.save(Path(tmp) / "X.npy", X)
        sizes = f"{encoder.K},{encoder.input_fc.out_features},{depth}"
        settings = [str(Path(tmp) / "weights.pt"), str(Path(tmp) / "X.npy"), sizes, str(padding), str(Path(tmp) / "out.npy")]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(checkout), os.environ.get("PYTHONPATH", "")])}
        out = subprocess.run([sys.executable, "-m", "iars.bench.reference_worker", "encode", *settings],
                             capture_output=True, text=True, env=env, check=False)
        if out.returncode != 0:
            raise SystemExit(f"the reference encoding failed:\n{out.stderr[-3000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])["encode_s"], np.load(Path(tmp) / "out.npy")


def bench_encode(args) -> dict:
    """Per length T and K: seconds of each variant (median over rounds) and the output differences."""
    report, padding, depth = {}, args.padding, 10
    for T in args.T:
        for K in args.K:
            torch.manual_seed(0)
            encoder = DilatedConvEncoder(args.channels, K=K, depth=depth).eval()
            X = np.random.default_rng(0).standard_normal((1, T, args.channels), dtype=np.float32)
            names = ["iars", "loop"] + (["reference"] if args.vs_reference else [])
            seconds, outputs = {n: [] for n in names}, {}
            for r in range(args.rounds):
                for name in rotated(names, r):
                    if name == "reference":
                        s, outputs[name] = reference_encode(args.vs_reference, encoder, X, padding, depth)
                    else:
                        start = time.perf_counter()
                        outputs[name] = {"iars": _iars, "loop": _loop}[name](encoder, X, padding)
                        s = time.perf_counter() - start
                    seconds[name].append(s)
                    print(f"T={T} K={K} round {r + 1}: {name} {s:.1f} s", flush=True)
            median = {n: float(np.median(v)) for n, v in seconds.items()}
            diff = {n: float(np.abs(outputs[n][:, :T] - outputs["iars"]).max()) for n in names if n != "iars"}
            report[f"T={T},K={K}"] = {"seconds": median, "max_abs_diff_from_iars": diff}
            rows = [[n, f"{median[n]:.2f}", f"{median['iars'] / median[n]:.3f}", "—" if n == "iars" else f"{diff[n]:.1e}"]
                    for n in names]
            print(markdown(["variant", "seconds", "iars / variant", "max |Δ| from iars"], rows,
                           title=f"causal sliding encoding, T={T}, C={args.channels}, K={K}, padding {padding}"))
    return report
