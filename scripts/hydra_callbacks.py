"""Hydra callbacks of the command-line entry points (``hydra.callbacks`` in conf/train.yaml and
conf/baselines.yaml): a run folder is claimed before Hydra writes anything into it, and a sweep
ends with the truth about its jobs.

- A single run claims its folder (:func:`iars.runs.claim`) before Hydra writes ``.hydra/``: a
  folder holding a finished run, or one another process is running in, is refused with one
  line and exit status 2, and nothing in it changes.
- A sweep claims its folder the same way and refuses one that already holds a sweep
  (``multirun.yaml``). At its end it lists every job that left no ``metrics.json`` (job number,
  overrides, the one-line error), writes them to ``failures.json`` in the sweep folder, and
  exits with status 1 if there is any.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from iars.errors import IarsError
from iars.exits import SWEEP_FAILED, refuse
from iars.runs import FAILURE_FILE, METRICS_FILE, claim, release

FAILURES_FILE = "failures.json"


def _pin(config: DictConfig, key: str) -> Path:
    """Resolve ``hydra.<key>`` once (``${now:...}`` resolves anew at each access) and keep that
    value, so that the folder claimed is the folder Hydra then writes into."""
    path = Path(str(OmegaConf.select(config, f"hydra.{key}"))).absolute()
    with read_write(config.hydra), open_dict(config.hydra):
        OmegaConf.update(config, f"hydra.{key}", str(path))
    return path


class RunFolders(Callback):
    """Claims run and sweep folders before Hydra writes into them; summarises failed sweep jobs."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            claim(_pin(config, "run.dir"))
        except IarsError as exc:
            refuse(exc)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep = _pin(config, "sweep.dir")
        try:
            if (sweep / "multirun.yaml").exists():
                raise IarsError(f"{sweep} already holds a sweep (multirun.yaml): choose a new hydra.sweep.dir")
            claim(sweep, finished_ok=True)
        except IarsError as exc:
            refuse(exc)
        self._sweep = sweep

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep = self._sweep
        failures = failed_jobs(sweep)
        release(sweep)
        if not failures:
            return
        (sweep / FAILURES_FILE).write_text(json.dumps(failures, indent=2) + "\n")
        print(f"\n{len(failures)} of {len(list(_jobs(sweep)))} jobs failed (listed in {sweep / FAILURES_FILE}):",
              file=sys.stderr)
        for failure in failures:
            print(f"  job {failure['job']} [{' '.join(failure['overrides'])}]: {failure['error']}", file=sys.stderr)
        sys.exit(SWEEP_FAILED)


def _jobs(sweep: Path):
    return sorted((d for d in sweep.iterdir() if (d / ".hydra").is_dir()), key=lambda d: (len(d.name), d.name))


def failed_jobs(sweep: Path) -> list[dict]:
    """The sweep's jobs without a ``metrics.json``: job name, overrides and the one-line error
    the job recorded (or that it recorded none: killed, or a crash outside the run)."""
    failures = []
    for job in _jobs(sweep):
        if (job / METRICS_FILE).exists():
            continue
        overrides_file = job / ".hydra" / "overrides.yaml"
        overrides = OmegaConf.to_container(OmegaConf.load(overrides_file)) if overrides_file.exists() else []
        record = job / FAILURE_FILE
        error = json.loads(record.read_text())["error"] if record.exists() else "no record: the job was killed or crashed"
        failures.append({"job": job.name, "overrides": overrides, "error": error})
    return failures
