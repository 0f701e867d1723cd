"""Hydra callbacks of the command-line entry points (``hydra.callbacks`` in conf/train.yaml and
conf/baselines.yaml): a run folder is claimed before Hydra writes anything into it, and a sweep
ends with the truth about its jobs.

- A single run claims its folder (:func:`iars.runs.claim`) before Hydra writes ``.hydra/``: a
  folder holding a finished run, or one another process is running in, is refused with one
  line and exit status 2, and nothing in it changes.
- A sweep claims its folder the same way and refuses one that already holds a sweep
  (``multirun.yaml``). At its end (:func:`end_sweep`) it lists every job that left no
  ``metrics.json`` (job number, overrides, the one-line error), writes them to ``failures.json``
  in the sweep folder, and exits with status 1 if there is any. iars's joblib launcher
  (scripts/hydra_launcher.py) ends a sweep stopped by SIGTERM or SIGINT the same way, the jobs
  it did not start listed too, with status 143 or 130.
"""
from __future__ import annotations

import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from iars import sweeps
from iars.errors import IarsError
from iars.exits import SWEEP_FAILED, refuse
from iars.runs import claim, release, write_json

HYDRA_JOBLIB = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"
"""Hydra's joblib launcher, whose pool one killed job breaks (iars's: hydra_plugins/iars_joblib_launcher)."""


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
            if OmegaConf.select(config, "hydra.launcher._target_") == HYDRA_JOBLIB:
                raise IarsError("hydra/launcher=joblib is Hydra's own joblib launcher here, not iars's (its plugin, "
                                "hydra_plugins.iars_joblib_launcher, was not found): reinstall iars (pip install -e .)")
            if (sweep / "multirun.yaml").exists():
                raise IarsError(f"{sweep} already holds a sweep (multirun.yaml): choose a new hydra.sweep.dir")
            claim(sweep, finished_ok=True)
        except IarsError as exc:
            refuse(exc)
        self._sweep = sweep

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        release(self._sweep)
        status = end_sweep(self._sweep)
        if status:
            sys.exit(status)


def end_sweep(sweep: Path, signum: int | None = None) -> int:
    """The end of a sweep: list every job that left no ``metrics.json`` (job, overrides, the
    one-line error; in a sweep stopped by signal ``signum``, the jobs not started too), write
    them to ``failures.json``, and return the exit status: 128 + ``signum`` when stopped,
    else :data:`~iars.exits.SWEEP_FAILED` if any job failed, else 0."""
    every = sweeps.jobs(sweep)
    failures = [{"job": j["job"], "overrides": j["overrides"], "error": j["error"]} for j in every
                if j["state"] != sweeps.FINISHED]
    if signum is not None:
        for failure in failures:
            if failure["error"] == "not started":
                failure["error"] = f"not started: the sweep was stopped by {signal.Signals(signum).name}"
    if not failures and signum is None:
        return 0
    write_json(sweep / sweeps.FAILURES_FILE, failures)
    counts = Counter(j["state"] for j in every)
    what = f"{counts[sweeps.FAILED]} of {len(every)} jobs failed" + (
        f", {counts[sweeps.NOT_STARTED]} not started" if counts[sweeps.NOT_STARTED] else "")
    stopped = "" if signum is None else f"sweep stopped by {signal.Signals(signum).name}: "
    print(f"\n{stopped}{what} (listed in {sweep / sweeps.FAILURES_FILE}):", file=sys.stderr)
    for failure in failures:
        print(f"  job {failure['job']} [{' '.join(failure['overrides'])}]: {failure['error']}", file=sys.stderr)
    return SWEEP_FAILED if signum is None else 128 + signum
