"""A sweep's jobs and what became of each, from its folder alone: the job list its launcher
writes before any job starts (``jobs.json``: each job's folder and overrides), each job's
state (``finished``: its folder holds ``metrics.json``; ``failed``: it started (its folder holds
Hydra's ``.hydra``, or a ``failure.json``) and left none, its ``failure.json`` saying why;
``not started``), and the sweep's end record of every job
that did not finish (``failures.json``). The end of a sweep (scripts/hydra_callbacks.py,
scripts/hydra_launcher.py) and the report (:mod:`iars.reporting`) read the same states.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from iars.runs import FAILURE_FILE, METRICS_FILE, write_json

JOBS_FILE = "jobs.json"
FAILURES_FILE = "failures.json"
FINISHED, FAILED, NOT_STARTED = "finished", "failed", "not started"
NO_RECORD = "no error recorded: the job was killed, crashed, or is still running"


def add_jobs(sweep: str | os.PathLike, jobs: list[dict]) -> Path:
    """Add ``jobs`` (each ``{"job": its folder under the sweep, "overrides": [...]}``) to the
    sweep's job list, replacing those of the same folder (a sweeper may launch in batches)."""
    names = {job["job"] for job in jobs}
    return write_json(Path(sweep) / JOBS_FILE, [j for j in listed_jobs(sweep) or [] if j["job"] not in names] + jobs)


def listed_jobs(sweep: str | os.PathLike) -> list[dict] | None:
    """The sweep's job list (:func:`add_jobs`); None where its launcher wrote none."""
    path = Path(sweep) / JOBS_FILE
    return json.loads(path.read_text()) if path.exists() else None


def job_folders(sweep: Path) -> list[Path]:
    """The folders of ``sweep`` that a job started in (they hold Hydra's ``.hydra``), by job number."""
    return sorted((d for d in sweep.iterdir() if (d / ".hydra").is_dir()), key=lambda d: (len(d.name), d.name))


def failure(job: Path) -> str:
    """The one-line error a failed job recorded, or :data:`NO_RECORD`."""
    try:
        return json.loads((job / FAILURE_FILE).read_text())["error"]
    except (OSError, ValueError, KeyError, TypeError):
        return NO_RECORD


def jobs(sweep: str | os.PathLike) -> list[dict]:
    """Every job of ``sweep``: ``job`` (its folder under the sweep), ``overrides``, ``state``
    (:data:`FINISHED`, :data:`FAILED` or :data:`NOT_STARTED`) and ``error`` (None when
    finished). The jobs are those of the job list, then any other folder a job started in;
    without a job list (a launcher that writes none), those folders only: a job that never
    started is then unknown."""
    sweep = Path(sweep)
    listed = listed_jobs(sweep) or []
    names = {job["job"] for job in listed}
    found = [{"job": str(d.relative_to(sweep)), "overrides": _overrides(d)} for d in job_folders(sweep)]
    states = []
    for job in listed + [j for j in found if j["job"] not in names]:
        folder = sweep / job["job"]
        if (folder / METRICS_FILE).exists():
            state, error = FINISHED, None
        elif (folder / ".hydra").is_dir() or (folder / FAILURE_FILE).exists():
            state, error = FAILED, failure(folder)
        else:
            state, error = NOT_STARTED, "not started"
        states.append({"job": job["job"], "overrides": list(job["overrides"]), "state": state, "error": error})
    return states


def _overrides(job: Path) -> list[str]:
    """The overrides Hydra saved in the job's folder (a YAML list of strings)."""
    import yaml  # PyYAML, which Hydra's configs are read with

    path = job / ".hydra" / "overrides.yaml"
    return [str(o) for o in yaml.safe_load(path.read_text()) or []] if path.exists() else []
