"""Speed of the loss modes' pretraining, and of the losses themselves, measured in one process.

    iars-bench dataset=stand_walk_jump dataset.data_dir=../shared/data/UEA --K 320 64
    iars-bench dataset=synthetic dataset.length=3000 dataset.n_train=16 --steps 8
    iars-bench --losses                      # T 500..3000, B 8, K 64 and 320
    iars-bench --probe --K 320 dataset=atrial_fibrillation dataset.data_dir=../shared/data/UEA
    iars-bench --losses --device cuda

(``python scripts/bench.py ...`` is the same.)

Each variant (loss mode) pretrains for the same number of steps on the same data and
seed through the real training loop (selection callback and probe included); variants
alternate within each round, and rounds repeat. Reported per variant: wall-clock per
step (fit-loop seconds / steps, what a run pays, probe included) and the median step,
then the ratios hier/iars (the speed-up) and iars/floor, where ``floor`` is the same
encoder forward/backward on the same views with a trivial loss. Hydra overrides after
the options select the dataset, encoder and anything else.

``--runs`` times what a user waits for: whole ``iars-train`` runs in this process (its start
excluded), with a default run's progress bar and logger, each variant's run beside its
training-bench run, so that the two cannot diverge unnoticed; ``--vs-reference DIR`` adds the
reference TS2Vec implementation from a checkout at DIR (github.com/yuezhihan/ts2vec), fitted in
a fresh process on the same normalised arrays with the same budget, batch size and K, and
scored by the runs' classifier protocol. Without ``--steps`` a run takes TS2Vec's budget.

``--overhead`` looks for what a real run adds per step: one loss variant pretrained with the
bench's settings and with each addition of a default run (progress bar, loggers, deterministic
algorithms), alternating; ``--profile`` adds torch.profiler's top operators of a default run.

``--probe`` times one measurement of every resolution for selection: ``loss.scoring=probe``'s
probe (its fixed batch and crop, two eval-mode encoder passes, every level's loss) against
``loss.scoring=reuse``'s (every level's loss under ``no_grad`` on ``probe_size`` series of a
training step's views, which the step has computed anyway), alternating over ``--steps`` batches.

``--losses`` times one level's loss (instance + temporal, the full-resolution level,
where the cost is) forward and backward on random B×T×K views: the straightforward
formulation (:mod:`iars.reference`: a full similarity matrix, a masked copy,
log-softmax, gather) against iars's, alternating in one process, and each variant's
peak memory in a fresh subprocess (max RSS on CPU, ``torch.cuda.max_memory_allocated``
on GPU), counted from just before the loss.
"""
from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from iars import losses, reference
from iars.callbacks import series_of
from iars.module import ContrastivePretrainer

VARIANTS = {
    "hier": ["loss=hier"],
    "iars": ["loss=iars"],
    "iars-running": ["loss=iars", "loss.scoring=running"],
    "iars-every_step": ["loss=iars", "loss.scoring=every_step"],
    "iars-reuse": ["loss=iars", "loss.scoring=reuse"],
    "random": ["loss=random"],
    "random-step": ["loss=random", "loss.granularity=step"],
    "floor": ["loss=hier"],
}


class EncoderFloor(ContrastivePretrainer):
    """The same views and encoder forward/backward with a trivial loss: the cost any
    loss mode pays before its loss."""

    def training_step(self, batch, batch_idx):
        z1, z2 = self.views(series_of(batch))
        return z1.mean() + z2.mean()


def _rotated(variants: list[str], r: int) -> list[str]:
    """Round ``r``'s order: the variants rotated by r, so that none always runs first."""
    return variants[r % len(variants):] + variants[: r % len(variants)]


def run_variant(name: str, overrides: list[str], steps: int) -> dict:
    """Pretrain one variant for ``steps`` steps; its seconds per step."""
    from hydra import compose, initialize_config_module
    from omegaconf import OmegaConf

    from iars.config import build
    from iars.pipeline import pretrain

    overrides = [o for o in overrides if not o.lstrip("+~").startswith("logger")]  # the bench logs nothing
    with tempfile.TemporaryDirectory() as tmp, initialize_config_module("iars.conf", version_base="1.3"):
        cfg = compose("train", overrides=[
            f"output_dir={tmp}", *overrides, *VARIANTS[name], f"trainer.max_steps={steps}",
            "trainer.max_epochs=null", "trainer.enable_progress_bar=false", "~logger",
        ])
        config = OmegaConf.to_container(cfg, resolve=True)
        datamodule = build(config["dataset"])
        fitted = pretrain(config, datamodule, module_class=EncoderFloor if name == "floor" else ContrastivePretrainer)
        selection = fitted.module.selection
        return {
            "per_step": fitted.clock.seconds / fitted.clock.steps,
            "median_step": statistics.median(fitted.clock.step_times),
            "probe_s": selection.probe_seconds if selection else 0.0,
            "length": datamodule.prepare().X_train.shape[1],
        }


def bench(overrides: list[str], variants: list[str], steps: int, rounds: int) -> dict:
    """Alternate the variants ``rounds`` times; per variant the median over rounds."""
    samples: dict[str, list[dict]] = {v: [] for v in variants}
    for r in range(rounds):
        for name in _rotated(variants, r):
            samples[name].append(run_variant(name, overrides, steps))
            print(f"  round {r + 1} {name:16s} {samples[name][-1]['per_step']:.3f} s/step", flush=True)
    return {
        name: {key: statistics.median(s[key] for s in runs) for key in runs[0]}
        for name, runs in samples.items()
    }


def _run_config(overrides: list[str], tmp: str) -> dict:
    from hydra import compose, initialize_config_module
    from omegaconf import OmegaConf

    with initialize_config_module("iars.conf", version_base="1.3"):
        return OmegaConf.to_container(compose("train", overrides=[f"output_dir={tmp}", *overrides]), resolve=True)


def whole_run(name: str, overrides: list[str], steps: int | None) -> dict:
    """One ``iars-train`` run of variant ``name`` (a default run's progress bar and logger):
    pretraining seconds, median step, the whole run's seconds (data, classifier stage) and accuracy."""
    from iars.pipeline import train

    budget = [] if steps is None else [f"trainer.max_steps={steps}", "trainer.max_epochs=null"]
    with tempfile.TemporaryDirectory() as tmp:
        config = _run_config([*overrides, *VARIANTS[name], *budget], tmp)
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
        config = _run_config(overrides, tmp)
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
        out = subprocess.run([sys.executable, "-m", "iars.scripts.bench", "--reference-worker", *settings],
                             capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise SystemExit(f"the reference run failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _reference_worker(data: str, sizes: str, n_iters: str, seed: str, batch_size: str, max_train_length: str,
                      protocol: str) -> None:
    """(Subprocess) fit the reference TS2Vec (``import ts2vec`` from PYTHONPATH) and print its
    fit seconds, steps and accuracy as JSON."""
    import random

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
    _sync(device)
    start = time.perf_counter()
    model.fit(X_train, n_iters=int(n_iters))
    _sync(device)
    seconds = time.perf_counter() - start
    encode = lambda X: model.encode(X, encoding_window="full_series")  # noqa: E731 (its max pooling, as iars's)
    acc = classify(encode(X_train), y_train, encode(X_test), y_test, protocol)["acc"]
    print(json.dumps({"pretrain_s": seconds, "median_step": None, "run_s": None, "steps": model.n_iters, "acc": acc}))


def bench_runs(overrides: list[str], args) -> dict:
    """Per K: whole runs of each variant, beside its training-bench run, and the reference,
    alternating over rounds; per variant the median over rounds."""
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    variants = [v for v in args.variants if v != "floor"]
    report = {}
    for K in args.K:
        run_overrides = [*overrides, f"model.K={K}", f"dataset.batch_size={args.batch_size}"]
        samples: dict[str, list[dict]] = {}
        for r in range(args.rounds):
            for name in _rotated(variants + (["reference"] if args.vs_reference else []), r):
                if name == "reference":
                    sample = reference_run(args.vs_reference, run_overrides, args.steps)
                else:
                    sample = whole_run(name, run_overrides, args.steps)
                    sample["bench_median_step"] = run_variant(name, run_overrides, sample["steps"])["median_step"]
                samples.setdefault(name, []).append(sample)
                print(f"  round {r + 1} {name:16s} {sample['pretrain_s']:.1f} s pretraining, acc {sample['acc']:.3f}",
                      flush=True)
        results = {name: {key: None if runs[0][key] is None else statistics.median(s[key] for s in runs)
                          for key in runs[0]} for name, runs in samples.items()}
        title = f"{' '.join(overrides) or 'default dataset'}, K={K}, B={args.batch_size}, {args.rounds} rounds"
        print(runs_table(results, title), flush=True)
        report[f"K={K}"] = results
    return report


def runs_table(results: dict, title: str) -> str:
    lines = [f"### Whole runs: {title}", "",
             "| variant | steps | pretraining s | median step s | bench median step s | run / bench | whole run s | acc |",
             "|---|---|---|---|---|---|---|---|"]
    fmt = lambda v, spec: "–" if v is None else format(v, spec)  # noqa: E731
    for name, r in results.items():
        ratio = r["median_step"] / r["bench_median_step"] if r.get("bench_median_step") else None
        lines.append(f"| {name} | {r['steps']:.0f} | {r['pretrain_s']:.1f} | {fmt(r['median_step'], '.3f')} | "
                     f"{fmt(r.get('bench_median_step'), '.3f')} | {fmt(ratio, '.2f')} | {fmt(r['run_s'], '.1f')} | "
                     f"{r['acc']:.3f} |")
    ratios = [f"{a}/{b} = {results[a]['pretrain_s'] / results[b]['pretrain_s']:.2f}"
              for a, b in (("hier", "reference"), ("iars", "reference"), ("hier", "iars")) if a in results and b in results]
    return "\n".join(lines + ["", "Ratios of pretraining seconds: " + ", ".join(ratios), ""])


OVERHEAD = {
    "bench": ["trainer.enable_progress_bar=false", "~logger"],
    "progress bar": ["trainer.enable_progress_bar=true", "~logger"],
    "csv logger": ["trainer.enable_progress_bar=false", "logger=csv"],
    "wandb logger": ["trainer.enable_progress_bar=false", "logger=wandb", "logger.mode=offline"],
    "not deterministic": ["trainer.enable_progress_bar=false", "~logger", "trainer.deterministic=false"],
    "default run": ["trainer.enable_progress_bar=true"],
}
"""What a default run adds to the bench's settings, one at a time (then all, as configured)."""


def overhead_run(settings: list[str], overrides: list[str], steps: int, profile: bool = False) -> dict:
    """Pretrain with ``settings`` (and the run's logger, as :func:`iars.pipeline.train` makes it);
    seconds per step over the fit loop, and the median step."""
    from iars.config import build
    from iars.pipeline import finish, make_logger, pretrain

    if any(o.lstrip("+~").startswith("logger") for o in settings):  # the row's logger, not the user's
        overrides = [o for o in overrides if not o.lstrip("+~").startswith("logger")]
    with tempfile.TemporaryDirectory() as tmp:
        config = _run_config([*overrides, *settings, f"trainer.max_steps={steps}", "trainer.max_epochs=null"], tmp)
        logger = make_logger(config, job_type="bench")
        try:
            if not profile:
                fitted = pretrain(config, build(config["dataset"]), logger=logger)
            else:
                from torch.profiler import ProfilerActivity, profile as torch_profile

                activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
                with torch_profile(activities=activities) as prof:
                    fitted = pretrain(config, build(config["dataset"]), logger=logger)
                key = "self_cuda_time_total" if torch.cuda.is_available() else "self_cpu_time_total"
                print(prof.key_averages().table(sort_by=key, row_limit=25), flush=True)
        finally:
            finish(logger)
    return {"per_step": fitted.clock.seconds / fitted.clock.steps, "median_step": statistics.median(fitted.clock.step_times)}


def bench_overhead(overrides: list[str], args) -> dict:
    """Each of :data:`OVERHEAD` for each variant, alternating over rounds; medians."""
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    try:
        import wandb  # noqa: F401
        settings = OVERHEAD
    except ImportError:  # measure the rest
        settings = {k: v for k, v in OVERHEAD.items() if k != "wandb logger"}
        settings["default run"] = [*settings["default run"], "logger=csv"]
        print("wandb is not installed: its row is left out, the default run logs to csv", flush=True)
    report = {}
    for name in args.variants:
        run_overrides = [*overrides, *VARIANTS[name], f"dataset.batch_size={args.batch_size}", f"model.K={args.K[0]}"]
        samples: dict[str, list[dict]] = {k: [] for k in settings}
        for r in range(args.rounds):
            for key in _rotated(list(settings), r):
                samples[key].append(overhead_run(settings[key], run_overrides, args.steps))
        results = {k: {m: statistics.median(x[m] for x in v) for m in v[0]} for k, v in samples.items()}
        base = results["bench"]["median_step"]
        lines = [f"### Per-step overhead: {name}, {' '.join(overrides)}, K={args.K[0]}, {args.steps} steps x "
                 f"{args.rounds} rounds", "", "| settings | s/step | median step s | median / bench's |", "|---|---|---|---|"]
        lines += [f"| {k} | {r['per_step']:.4f} | {r['median_step']:.4f} | {r['median_step'] / base:.2f} |"
                  for k, r in results.items()]
        print("\n".join(lines) + "\n", flush=True)
        if args.profile:
            overhead_run(settings["default run"], run_overrides, args.steps, profile=True)
        report[name] = results
    return report


def bench_probe(overrides: list[str], args) -> dict:
    """Per K: median seconds of one measurement by ``probe`` and by ``reuse`` (see above)."""
    from types import SimpleNamespace

    from iars.config import build
    from iars.pipeline import build_module

    report = {}
    for K in args.K:
        with tempfile.TemporaryDirectory() as tmp:
            config = _run_config([*overrides, "loss=iars", f"model.K={K}", f"dataset.batch_size={args.batch_size}"], tmp)
        datamodule = build(config["dataset"])
        datamodule.setup("fit")
        torch.manual_seed(config["seed"])
        module = build_module(config, datamodule)
        loader = datamodule.train_dataloader()
        probe = module.selection.probe_batch(SimpleNamespace(train_dataloader=loader), module)
        P = module.selection.probe_size
        samples: dict[str, list[float]] = {"probe": [], "reuse": []}
        for i, x in zip(range(args.steps), itertools.cycle(loader)):
            with torch.no_grad():
                z1, z2 = module.views(series_of(x))  # the training step's views: computed anyway
            for name in _rotated(list(samples), i):
                start = time.perf_counter()
                if name == "probe":
                    module.probe_losses(*probe)
                else:
                    with torch.no_grad():
                        losses.level_losses(z1[:P], z2[:P], module.alpha, module.temporal_unit, module.pool, module.block)
                samples[name].append(time.perf_counter() - start)
        result = {name: statistics.median(v) for name, v in samples.items()}
        print(f"### One measurement of every resolution: {' '.join(overrides) or 'default dataset'} "
              f"(T={datamodule.pretrain_X.shape[1]}), K={K}, {P} series, median of {args.steps}\n\n"
              f"| probe s | reuse s | probe / reuse |\n|---|---|---|\n"
              f"| {result['probe']:.4f} | {result['reuse']:.4f} | {result['probe'] / result['reuse']:.1f} |\n", flush=True)
        report[f"K={K}"] = result
    return report


def table(results: dict, title: str) -> str:
    lines = [f"### {title}", "", "| variant | s/step (incl. probe) | median step s | probe s |", "|---|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['per_step']:.3f} | {r['median_step']:.3f} | {r['probe_s']:.2f} |")
    ratios = []
    for a, b in (("hier", "iars"), ("iars", "floor"), ("hier", "random"), ("hier", "floor")):
        if a in results and b in results:
            ratios.append(f"{a}/{b} = {results[a]['per_step'] / results[b]['per_step']:.2f}")
    return "\n".join(lines + ["", "Ratios of s/step: " + ", ".join(ratios), ""])


# -- losses -------------------------------------------------------------------------

def _reference_level_loss(z1, z2):
    return 0.5 * reference.dense_instance_loss(z1, z2) + 0.5 * reference.dense_temporal_loss(z1, z2)


LOSS_VARIANTS = {
    "reference": _reference_level_loss,
    "iars": losses.level_loss,
    "iars-one-block": lambda z1, z2: losses.level_loss(z1, z2, block=None),
}


def _views(T: int, K: int, B: int, device: str, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    z1, z2 = (torch.randn(B, T, K, generator=g).to(device).requires_grad_() for _ in range(2))
    return z1, z2


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _loss_fn(variant: str):
    """A variant by name; ``iars-block<N>`` is iars's loss with blocks of N rows."""
    if variant.startswith("iars-block"):
        block = int(variant.removeprefix("iars-block"))
        return lambda z1, z2: losses.level_loss(z1, z2, block=block)
    return LOSS_VARIANTS[variant]


def loss_seconds(variant: str, z1, z2, autocast: bool = False) -> float:
    """Wall-clock seconds of one forward + backward of ``variant`` on z1, z2 (B×T×K)."""
    device = z1.device.type
    _sync(device)
    start = time.perf_counter()
    with torch.autocast(device, dtype=torch.bfloat16, enabled=autocast):
        loss = _loss_fn(variant)(z1, z2)
    loss.backward()
    _sync(device)
    z1.grad = z2.grad = None
    return time.perf_counter() - start


def loss_peak_mb(variant: str, T: int, K: int, B: int, device: str) -> float:
    """Peak memory (MB) of one forward + backward of ``variant``, over what was held just
    before it, measured in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-m", "iars.scripts.bench", "--memory-of", variant, str(T), str(K), str(B), device],
        capture_output=True, text=True, check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def _memory_of(variant: str, T: int, K: int, B: int, device: str) -> None:
    """(Subprocess) print the MB the loss adds at its peak."""
    z1, z2 = _views(T, K, B, device)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        loss_seconds(variant, z1, z2)
        print((torch.cuda.max_memory_allocated() - before) / 2**20)
    else:  # this process's resident and peak resident memory (a fresh process: its own peak)
        before = _status_kb("VmRSS")
        loss_seconds(variant, z1, z2)
        print((_status_kb("VmHWM") - before) / 1024)


def _status_kb(field: str) -> int:
    """A memory figure of this process from /proc/self/status, in KiB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status: peak memory on CPU needs Linux")


def bench_losses(lengths, Ks, B: int, device: str, rounds: int, variants) -> dict:
    """Per (T, K): each variant's median seconds (alternating over rounds) and peak MB."""
    results = {}
    for K in Ks:
        for T in lengths:
            z1, z2 = _views(T, K, B, device)
            for name in variants:  # warm-up (allocator, kernels)
                loss_seconds(name, z1, z2)
            times = {name: [] for name in variants}
            for r in range(rounds):
                for name in _rotated(variants, r):
                    times[name].append(loss_seconds(name, z1, z2))
            row = {name: {"seconds": statistics.median(t), "peak_mb": loss_peak_mb(name, T, K, B, device)}
                   for name, t in times.items()}
            if device.startswith("cuda"):
                row["iars-bf16"] = {"seconds": statistics.median(
                    loss_seconds("iars", z1, z2, autocast=True) for _ in range(rounds)), "peak_mb": None}
            results[f"T={T},K={K}"] = row
            print(loss_table({f"T={T},K={K}": row}, header=not len(results) > 1), flush=True)
    return results


def loss_table(results: dict, header: bool = True) -> str:
    lines = ["| T | K | variant | fwd+bwd s | peak MB | reference / variant: time | memory |",
             "|---|---|---|---|---|---|---|"] if header else []
    for key, row in results.items():
        T, K = (part.split("=")[1] for part in key.split(","))
        ref = row.get("reference")
        for name, r in row.items():
            mem = "–" if r["peak_mb"] is None else f"{r['peak_mb']:.0f}"
            speed = f"{ref['seconds'] / r['seconds']:.2f}×" if ref else "–"
            lean = f"{ref['peak_mb'] / r['peak_mb']:.1f}×" if ref and r["peak_mb"] else "–"
            lines.append(f"| {T} | {K} | {name} | {r['seconds']:.3f} | {mem} | {speed} | {lean} |")
    return "\n".join(lines)


def bench_training(overrides: list[str], args) -> dict:
    """Per K: the training-loop bench of ``args.variants`` (:func:`bench`), printed as tables."""
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    report = {}
    for K in args.K:
        run_overrides = [*overrides, f"model.K={K}", f"dataset.batch_size={args.batch_size}"]
        print(f"K={K}: {' '.join(run_overrides)}", flush=True)
        results = bench(run_overrides, args.variants, args.steps, args.rounds)
        length = int(results[args.variants[0]]["length"])
        title = (f"{' '.join(overrides) or 'default dataset'} (T={length}), K={K}, B={args.batch_size}, "
                 f"{args.steps} steps x {args.rounds} rounds")
        print(table(results, title), flush=True)
        report[f"K={K}"] = results
    return report


def positive(text: str) -> int:
    """An argparse type: a positive integer."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return int(text)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--K", type=positive, nargs="+", default=[320, 64], help="embedding sizes")
    parser.add_argument("--batch-size", type=positive, default=8)
    parser.add_argument("--steps", type=positive, help="steps per variant and round (default 10; --runs: TS2Vec's budget)")
    parser.add_argument("--rounds", type=positive, default=2)
    parser.add_argument("--variants", nargs="+", default=["hier", "iars", "random", "floor"], choices=list(VARIANTS))
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--losses", action="store_true", help="time the losses themselves (see above)")
    parser.add_argument("--T", type=positive, nargs="+", default=[500, 1000, 2000, 3000], help="lengths (--losses)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (--losses)")
    parser.add_argument("--loss-variants", nargs="+", default=list(LOSS_VARIANTS),
                        help=f"{', '.join(LOSS_VARIANTS)} or iars-block<N> (--losses)")
    parser.add_argument("--runs", action="store_true", help="time whole iars-train runs (see above)")
    parser.add_argument("--overhead", action="store_true", help="what a default run adds per step (see above)")
    parser.add_argument("--probe", action="store_true", help="one measurement: scoring=probe against reuse (see above)")
    parser.add_argument("--profile", action="store_true", help="--overhead: also profile a default run")
    parser.add_argument("--vs-reference", type=Path, metavar="DIR", help="--runs: also the reference TS2Vec checkout at DIR")
    parser.add_argument("--memory-of", nargs=5, help=argparse.SUPPRESS)
    parser.add_argument("--reference-worker", nargs=7, help=argparse.SUPPRESS)
    argv = sys.argv[1:] if argv is None else argv
    overrides = [a for a in argv if "=" in a and not a.startswith("-")]  # Hydra overrides, anywhere
    args = parser.parse_args([a for a in argv if a not in overrides])
    if args.memory_of:
        variant, T, K, B, device = args.memory_of
        return _memory_of(variant, int(T), int(K), int(B), device)
    if args.reference_worker:
        return _reference_worker(*args.reference_worker)
    if args.vs_reference is not None and not (args.vs_reference / "ts2vec.py").is_file():
        parser.error(f"--vs-reference {args.vs_reference}: no ts2vec.py there; give a checkout of github.com/yuezhihan/ts2vec")
    if args.losses:
        report = bench_losses(args.T, args.K, args.batch_size, args.device, args.rounds, args.loss_variants)
    elif args.runs:
        report = bench_runs(overrides, args)
    elif args.probe:
        args.steps = args.steps or 20
        report = bench_probe(overrides, args)
    elif args.overhead:
        args.steps = args.steps or 40
        report = bench_overhead(overrides, args)
    else:
        args.steps = args.steps or 10
        report = bench_training(overrides, args)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))

if __name__ == "__main__":
    main()
