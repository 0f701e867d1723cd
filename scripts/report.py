"""The paper's tables and figures from finished sweeps, offline (reads each run's metrics.json).

    python scripts/report.py outputs/multirun/embedding_size/<date_time>
    python scripts/report.py outputs/multirun/embedding_size/<...> outputs/multirun/baselines_1nn/<...>
    python scripts/report.py SWEEP_DIR --wandb offline     # also log the figures to a W&B run
    python scripts/report.py outputs/multirun/forecasting/<...> outputs/multirun/anomaly/<...>

Writes report.md and PNG figures into the first sweep dir (or --out) and prints the report; the
jobs that left no metrics.json (failed, or never started in a sweep that lists its jobs) are
named at its top, and a warning line says how many.
Classification runs get the paper's tables; forecasting and anomaly-detection runs (task=...)
their own sections (iars.reporting.tasks).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from iars.exits import run_command
from iars.reporting import load_runs, write_report
from iars.reporting.records import unfinished


def log_to_wandb(figures: list[Path], report: Path, group: str, mode: str, project: str) -> None:
    """The report's figures as images (and the report as text) in a W&B run of ``group``."""
    import wandb

    run = wandb.init(project=project, group=group, name=f"{group}-report", job_type="report",
                     mode=mode, dir=str(report.parent), tags=["report"])
    try:
        run.log({path.stem: wandb.Image(str(path)) for path in figures})
        run.summary["report"] = report.read_text()
    finally:
        wandb.finish()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dirs", nargs="+", type=Path, help="sweep dirs (SSL sweeps of any task, 1-NN baseline sweeps)")
    parser.add_argument("--out", type=Path, help="where to write report.md and the figures (default: the first dir)")
    parser.add_argument("--K", type=int, help="embedding size of the 1-NN comparison table (default: the largest)")
    parser.add_argument("--wandb", choices=("disabled", "offline", "online"), default="disabled",
                        help="log the figures to a W&B run grouped with the sweep (default: disabled)")
    parser.add_argument("--project", default="iars", help="W&B project (default: iars)")
    args = parser.parse_args(argv)
    return run_command(lambda: _report(args))


def _report(args: argparse.Namespace) -> int:
    report, figures = write_report(args.dirs, args.out, args.K)
    print(report.read_text())
    print(f"report: {report}\nfigures: " + ", ".join(str(p) for p in figures))
    missing = [job for d in args.dirs for job in unfinished(d)]
    if missing:
        print(f"warning: {len(missing)} job(s) left no metrics.json (failed, unfinished or never started): "
              f"the report leaves them out and names them at its top", file=sys.stderr)
    if args.wandb != "disabled":
        config = load_runs(args.dirs[:1])[0][0].get("config", {})
        log_to_wandb(figures, report, config.get("experiment_name") or args.dirs[0].name, args.wandb, args.project)
    return 0


if __name__ == "__main__":
    sys.exit(main())
