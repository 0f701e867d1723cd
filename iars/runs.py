"""Run records: each run's ``metrics.json``, written atomically and never overwritten, its
checkpoint (``last.ckpt``) and optionally its train and test embeddings (``embeddings.npz``);
the downstream tasks' figure data, ``forecast.npz`` (:mod:`iars.tasks.forecasting`) and
``anomaly_scores.npz`` (:mod:`iars.tasks.anomaly`), which the report plots."""
from __future__ import annotations

import fcntl
import json
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from iars.errors import ConfigError
from iars.legacy import upgrade_record

METRICS_FILE = "metrics.json"
EMBEDDINGS_FILE = "embeddings.npz"
CHECKPOINT_FILE = "last.ckpt"
FORECAST_FILE = "forecast.npz"
"""A forecasting run's first test window per horizon (:func:`iars.tasks.forecasting.write_forecast`)."""
ANOMALY_SCORES_FILE = "anomaly_scores.npz"
"""An anomaly run's test scores per series (:func:`iars.tasks.anomaly.write_scores`)."""


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def check_fresh(run_dir: str | os.PathLike) -> Path:
    """The metrics path of ``run_dir``; refuses a dir that already holds a finished run."""
    path = Path(run_dir) / METRICS_FILE
    if path.exists():
        raise ConfigError(
            f"{path} already exists: that run dir holds a finished run, which this run would "
            "overwrite. Choose a new hydra.run.dir (or leave it at its default)."
        )
    return path


LOCK_FILE = ".iars.lock"
FAILURE_FILE = "failure.json"
_claimed: dict[Path, int] = {}  # run folders this process holds: path -> the locked file's descriptor


def claim(run_dir: str | os.PathLike, *, finished_ok: bool = False) -> Path:
    """Take ``run_dir`` for this process, for the rest of its life: refuses a folder holding a
    finished run (unless ``finished_ok``) or one that another live process holds. A refused
    claim changes nothing in the folder. Claiming a folder this process holds is a no-op.

    The hold is an exclusive ``flock`` on ``<run_dir>/.iars.lock``, which the system drops
    when the process ends, however it ends; :func:`release` drops it earlier.
    """
    run_dir = Path(run_dir).resolve()
    if run_dir in _claimed or process_rank() != 0:  # the other ranks of a DDP run work in rank 0's folder
        return run_dir
    if not finished_ok:
        check_fresh(run_dir)
    lock = run_dir / LOCK_FILE
    if lock.exists() or run_dir.exists():
        holder = _holder(lock)
        if holder is not None:
            raise ConfigError(f"{run_dir} is in use by another iars process ({holder}): two runs in one folder "
                              "would mix their records. Choose another hydra.run.dir (or hydra.sweep.dir).")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise ConfigError(f"the run folder {run_dir} cannot be made or written to ({_why(exc, run_dir)}): choose a "
                          "hydra.run.dir (or hydra.sweep.dir) in a folder you can write to") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ConfigError(f"{run_dir} is in use by another iars process (it took the folder a moment ago): "
                          "choose another hydra.run.dir (or hydra.sweep.dir).") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"pid {os.getpid()}\n".encode())
    _claimed[run_dir] = fd
    return run_dir


def _why(exc: OSError, folder: Path) -> str:
    """Why ``folder`` could not be made or written to, in words (the file in its way, if one is)."""
    in_the_way = next((p for p in [*reversed(folder.parents), folder] if p.exists() and not p.is_dir()), None)
    if in_the_way is not None:
        return f"{in_the_way} is a file, not a folder"
    return f"{exc.strerror or type(exc).__name__}{f': {exc.filename}' if exc.filename else ''}"


def process_rank() -> int:
    """This process's global rank in a multi-process run, from the launchers' environment
    (torchrun, Slurm, Lightning's own launcher); 0 for a single process."""
    for key in ("RANK", "SLURM_PROCID"):
        if key in os.environ:
            return int(os.environ[key])
    return int(os.environ.get("NODE_RANK", 0)) + int(os.environ.get("LOCAL_RANK", 0))


def release(run_dir: str | os.PathLike) -> None:
    """Give up a folder this process holds (a no-op otherwise)."""
    fd = _claimed.pop(Path(run_dir).resolve(), None)
    if fd is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


@contextmanager
def held(run_dir: str | os.PathLike, **claim_args: Any) -> Iterator[Path]:
    """:func:`claim` ``run_dir`` for the ``with`` block, then :func:`release` it."""
    path = claim(run_dir, **claim_args)
    try:
        yield path
    finally:
        release(path)


def _holder(lock: Path) -> str | None:
    """Who holds ``lock`` ("pid N"), or None when nobody does; takes nothing."""
    if not lock.exists():
        return None
    fd = os.open(lock, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # shared: granted only when nobody holds it
    except BlockingIOError:
        return os.read(fd, 64).decode().strip() or "a process"
    finally:
        os.close(fd)  # also drops the probe's shared lock
    return None


def write_json(path: str | os.PathLike, record: Any) -> Path:
    """Write ``record`` as JSON to ``path`` via a temporary file and an atomic rename: readers
    see the old file or the new one, never half of one."""
    path = Path(path)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(_jsonable(record), indent=2) + "\n")
    os.replace(tmp, path)
    return path


def write_metrics(run_dir: str | os.PathLike, metrics: dict[str, Any]) -> Path:
    """Write ``metrics.json`` into ``run_dir``, which must not hold one yet (:func:`write_json`)."""
    return write_json(check_fresh(run_dir), metrics)


def read_metrics(run_dir: str | os.PathLike) -> dict[str, Any]:
    """A run's record, older ones upgraded to the current names (:func:`iars.legacy.upgrade_record`)."""
    record = json.loads((Path(run_dir) / METRICS_FILE).read_text())
    if not isinstance(record, dict):
        raise ValueError(f"a run record is a JSON object, not a {type(record).__name__}")
    return upgrade_record(record)


def write_embeddings(run_dir: str | os.PathLike, train: np.ndarray, y_train: np.ndarray | None = None,
                     test: np.ndarray | None = None, y_test: np.ndarray | None = None) -> Path:
    """Save pooled train/test embeddings (N×K) and their labels as ``embeddings.npz``;
    what is None (no labels, no test split) is left out."""
    path = Path(run_dir) / EMBEDDINGS_FILE
    arrays = {"train": train, "y_train": y_train, "test": test, "y_test": y_test}
    np.savez_compressed(path, **{k: v for k, v in arrays.items() if v is not None})
    return path
