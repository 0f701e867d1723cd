"""``--forecast``: TS2Vec's forecasting protocol, iars against the reference, on one forecasting
series (``dataset=etth1 dataset.data_dir=…``; univariate unless ``dataset.univariate=false``):
each round r (seed r) runs every loss variant through ``iars-train task=forecasting`` (its
controls off: the comparison is the encoder) and, with ``--vs-reference DIR``, the reference's own
training and ``tasks.eval_forecasting`` in a fresh process (:mod:`iars.bench.reference_worker`),
alternating, with the same budget (``--steps``, default TS2Vec's), batch size, K and seed.
Reported per variant: test MSE/MAE per horizon (scaled, mean ± std over rounds) and the
pretraining, encoding and ridge seconds (medians)."""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from iars.bench.common import VARIANTS, compose, described, markdown, rotated, without_logger
from iars.data import ts2vec_budget


def iars_run(name: str, overrides: list[str], steps: int | None, seed: int) -> dict:
    """One ``iars-train task=forecasting`` run of variant ``name``: seconds and errors per horizon."""
    from iars.pipeline import train

    budget = [] if steps is None else [f"trainer.max_steps={steps}", "trainer.max_epochs=null"]
    with tempfile.TemporaryDirectory() as tmp:
        config = compose(["task=forecasting", *without_logger(overrides), *VARIANTS[name], *budget, f"seed={seed}",
                          "task.controls=false", "save_checkpoint=false", "~logger", "trainer.enable_progress_bar=false"],
                         tmp)
        record = train(config)
    return {"pretrain_s": record["pretrain_time_s"], "steps": record["steps"], "encode_s": record["encode_time_s"],
            "ridge_s": record["ridge_time_s"], "forecast": record["forecast"]}


def reference_run(checkout: Path, overrides: list[str], steps: int | None, seed: int) -> dict:
    """The reference TS2Vec's forecasting on the same CSV, in a fresh process (its checkout on PYTHONPATH)."""
    from iars.config import build

    with tempfile.TemporaryDirectory() as tmp:
        config = compose(["task=forecasting", *without_logger(overrides)], tmp)
    datamodule = build(config["dataset"])
    if datamodule.path is None or config["model"]["_target_"].rsplit(".", 1)[-1] != "DilatedConvEncoder":
        raise SystemExit("--forecast --vs-reference compares TS2Vec's encoder on a CSV: give dataset=etth1 (or etth2, "
                         "forecast_csv) with dataset.data_dir, and model=dilated_conv")
    model = config["model"]
    n_iters = steps or ts2vec_budget(datamodule.prepare().X_train)
    settings = [str(datamodule.path), "1" if datamodule.univariate else "0", f"{model['K']},{model['hidden']},{model['depth']}",
                str(n_iters), str(seed)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(checkout), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-m", "iars.bench.reference_worker", "forecast", *settings],
                         capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise SystemExit(f"the reference forecasting run failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _cell(values: list[float]) -> str:
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}" if len(values) > 1 else f"{values[0]:.4f}"


def bench_forecast(overrides: list[str], args) -> dict:
    """Every variant (and the reference) per round; the errors table and the seconds table."""
    names = list(args.variants) + (["reference"] if args.vs_reference else [])
    runs: dict[str, list[dict]] = {n: [] for n in names}
    for r in range(args.rounds):
        for name in rotated(names, r):
            run = (reference_run(args.vs_reference, overrides, args.steps, r) if name == "reference"
                   else iars_run(name, overrides, args.steps, r))
            runs[name].append(run)
            mses = "/".join(f"{e['mse']:.3f}" for e in run["forecast"].values())
            print(f"round {r + 1} (seed {r}): {name} pretraining {run['pretrain_s']:.1f} s, encoding {run['encode_s']:.1f} s, "
                  f"MSE {mses}", flush=True)
    horizons = list(runs[names[0]][0]["forecast"])
    rows = [[name, h, _cell([run["forecast"][h]["mse"] for run in runs[name]]),
             _cell([run["forecast"][h]["mae"] for run in runs[name]])] for h in horizons for name in names]
    print(markdown(["variant", "horizon", "MSE", "MAE"], rows, title=f"forecasting: {described(overrides)}"))
    seconds = [[name, *(f"{statistics.median(run[k] for run in runs[name]):.1f}" for k in ("pretrain_s", "encode_s", "ridge_s"))]
               for name in names]
    print(markdown(["variant", "pretraining s", "encoding s", "ridge s"], seconds, title="seconds (median over rounds)"))
    return runs
