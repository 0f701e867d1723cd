"""``--overhead``: what a default run adds per step to the bench's settings, one addition at a
time, and with ``--profile`` torch.profiler's top operators of a default run."""
from __future__ import annotations

import statistics
import tempfile

import torch

from iars.bench.common import VARIANTS, compose, markdown, medians, quiet_lightning, rotated, without_logger

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
        overrides = without_logger(overrides)
    with tempfile.TemporaryDirectory() as tmp:
        config = compose([*overrides, *settings, f"trainer.max_steps={steps}", "trainer.max_epochs=null"], tmp)
        logger = make_logger(config, job_type="bench")
        try:
            if not profile:
                fitted = pretrain(config, build(config["dataset"]), logger=logger)
            else:
                from torch.profiler import ProfilerActivity
                from torch.profiler import profile as torch_profile

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
    quiet_lightning()
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
            for key in rotated(list(settings), r):
                samples[key].append(overhead_run(settings[key], run_overrides, args.steps))
        results = medians(samples)
        base = results["bench"]["median_step"]
        rows = [[k, f"{r['per_step']:.4f}", f"{r['median_step']:.4f}", f"{r['median_step'] / base:.2f}"]
                for k, r in results.items()]
        title = f"Per-step overhead: {name}, {' '.join(overrides)}, K={args.K[0]}, {args.steps} steps x {args.rounds} rounds"
        print(markdown(["settings", "s/step", "median step s", "median / bench's"], rows, title), flush=True)
        if args.profile:
            overhead_run(settings["default run"], run_overrides, args.steps, profile=True)
        report[name] = results
    return report
