"""``--runs``: whole ``iars-train`` runs beside their training-bench runs, and with
``--vs-reference`` the reference TS2Vec fitted in a fresh process
(:mod:`iars.bench.reference_worker`)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from iars.bench.common import VARIANTS, compose, described, markdown, medians, quiet_lightning, rotated
from iars.bench.steps import run_variant


def whole_run(name: str, overrides: list[str], steps: int | None) -> dict:
    """One ``iars-train`` run of variant ``name`` (a default run's progress bar and logger):
    pretraining seconds, median step, the whole run's seconds (data, classifier stage) and accuracy."""
    from iars.pipeline import train

    budget = [] if steps is None else [f"trainer.max_steps={steps}", "trainer.max_epochs=null"]
    with tempfile.TemporaryDirectory() as tmp:
        config = compose([*overrides, *VARIANTS[name], *budget], tmp)
        start = time.perf_counter()
        metrics = train(config)
        total = time.perf_counter() - start
    return {"pretrain_s": metrics["pretrain_time_s"], "median_step": metrics["step_time_s"], "run_s": total,
            "steps": metrics["steps"], "acc": metrics["acc"]}


def reference_run(checkout: Path, overrides: list[str], steps: int | None) -> dict:
    """The reference TS2Vec, fitted in a fresh process (its checkout on PYTHONPATH) on the
    arrays the iars run uses: its fit seconds and the same SVM protocol's accuracy."""
    from iars.config import build
    from iars.data import ts2vec_budget

    with tempfile.TemporaryDirectory() as tmp:
        config = compose(overrides, tmp)
        if not config["model"]["_target_"].endswith("DilatedConvEncoder"):
            raise SystemExit("--vs-reference compares TS2Vec's encoder: use model=dilated_conv")
        data = build(config["dataset"]).prepare()
        np.savez(Path(tmp) / "data.npz", X_train=data.X_train, y_train=data.y_train, X_test=data.X_test,
                 y_test=data.y_test)
        n_iters = steps or ts2vec_budget(data.X_train)
        model = config["model"]
        settings = [str(Path(tmp) / "data.npz"), f"{model['K']},{model['hidden']},{model['depth']}", str(n_iters),
                    str(config["seed"]), str(config["dataset"]["batch_size"]), str(config["dataset"]["max_train_length"]),
                    config["classifier"]["protocol"]]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(checkout), os.environ.get("PYTHONPATH", "")])}
        out = subprocess.run([sys.executable, "-m", "iars.bench.reference_worker", *settings],
                             capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise SystemExit(f"the reference run failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_runs(overrides: list[str], args) -> dict:
    """Per K: whole runs of each variant, beside its training-bench run, and the reference,
    alternating over rounds; per variant the median over rounds."""
    quiet_lightning()
    variants = [v for v in args.variants if v != "floor"]
    report = {}
    for K in args.K:
        run_overrides = [*overrides, f"model.K={K}", f"dataset.batch_size={args.batch_size}"]
        samples: dict[str, list[dict]] = {}
        for r in range(args.rounds):
            for name in rotated(variants + (["reference"] if args.vs_reference else []), r):
                if name == "reference":
                    sample = reference_run(args.vs_reference, run_overrides, args.steps)
                else:
                    sample = whole_run(name, run_overrides, args.steps)
                    sample["bench_median_step"] = run_variant(name, run_overrides, sample["steps"])["median_step"]
                samples.setdefault(name, []).append(sample)
                print(f"  round {r + 1} {name:16s} {sample['pretrain_s']:.1f} s pretraining, acc {sample['acc']:.3f}",
                      flush=True)
        results = medians(samples)
        title = f"{described(overrides)}, K={K}, B={args.batch_size}, {args.rounds} rounds"
        print(runs_table(results, title), flush=True)
        report[f"K={K}"] = results
    return report


def runs_table(results: dict, title: str) -> str:
    fmt = lambda v, spec: "–" if v is None else format(v, spec)  # noqa: E731
    rows = []
    for name, r in results.items():
        ratio = r["median_step"] / r["bench_median_step"] if r.get("bench_median_step") else None
        rows.append([name, f"{r['steps']:.0f}", f"{r['pretrain_s']:.1f}", fmt(r["median_step"], ".3f"),
                     fmt(r.get("bench_median_step"), ".3f"), fmt(ratio, ".2f"), fmt(r["run_s"], ".1f"), f"{r['acc']:.3f}"])
    ratios = [f"{a}/{b} = {results[a]['pretrain_s'] / results[b]['pretrain_s']:.2f}"
              for a, b in (("hier", "reference"), ("iars", "reference"), ("hier", "iars")) if a in results and b in results]
    return markdown(["variant", "steps", "pretraining s", "median step s", "bench median step s", "run / bench",
                     "whole run s", "acc"], rows, f"Whole runs: {title}",
                    "Ratios of pretraining seconds: " + ", ".join(ratios))
