"""Run records of sweeps: finding and reading each run's ``metrics.json`` (and the jobs that
wrote none: failed, or, in a sweep that lists its jobs, never started), the task each record is
of (:func:`kind`), the SSL classification runs as one pandas frame (a row per run), the baseline
records as another
(a row per dataset × method), and the one order of datasets and variants that every table and
figure follows. The forecasting and anomaly runs' frames are :mod:`iars.reporting.tasks`'.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from iars import sweeps
from iars.errors import ReportError
from iars.runs import METRICS_FILE, read_metrics
from iars.variants import VARIANTS, label

BASELINES = "baselines"  # the ``loss`` of a scripts/baselines.py record
CLASSIFICATION, FORECASTING, ANOMALY = "classification", "forecasting", "anomaly"
"""The tasks (``config.task.name``, :mod:`iars.tasks`) of SSL records."""
_SSL_KEYS = {"dataset", "loss", "K", "seed", "pretrain_time_s"}
REQUIRED_KEYS = {CLASSIFICATION: _SSL_KEYS | {"acc"}, FORECASTING: _SSL_KEYS | {"forecast"},
                 ANOMALY: _SSL_KEYS | {"anomaly"}, BASELINES: {"dataset", "loss", "acc"}}
"""The keys the report reads, of each :func:`kind` of record."""


# -- variant vocabulary: the labels of iars.variants ------------------------------------------

_LABEL = {name: v.label for name, v in VARIANTS.items()}
VARIANT_ORDER = tuple(_LABEL[name] for name in ("hier", "iars", "iars_relative", "random"))
"""The variants shown first, in this order (the others, the fixed resolutions among them, follow by name)."""
RULES = tuple(v.label for v in VARIANTS.values() if v.mode == "iars")
"""The selecting variants whose probabilities the selection study examines."""
PAIRS = tuple((_LABEL[a], _LABEL[b]) for a, b in (
    ("iars", "random"), ("iars", "hier"), ("iars_relative", "random"), ("iars_relative", "hier"),
    ("iars_relative", "iars"), ("random", "hier"), ("fixed_finest", "hier"), ("fixed_coarsest", "hier")))
"""The selection study's pairwise tests (first against second): the rules against random and
hier, then what training one resolution (random, or always the finest or the coarsest) costs
against hier."""

variant_label = label
"""A run record's label in tables (:func:`iars.variants.label`)."""


# -- the order of rows and columns -----------------------------------------------------------


def ordered_variants(labels: Iterable[str], order: tuple[str, ...] = VARIANT_ORDER) -> list[str]:
    """The distinct ``labels``: those of ``order`` in its order, then the others by name."""
    rank = {name: i for i, name in enumerate(order)}
    return sorted(set(labels), key=lambda s: (rank.get(s, len(rank)), s))


def ordered_datasets(df: pd.DataFrame) -> list[str]:
    """The datasets of the runs ``df`` in the paper's order: by series length (a dataset's
    longest, where a scaling sweep varies it), then name."""
    length = df.groupby("dataset").length.max()
    return sorted(length.index.tolist(), key=lambda d: (length[d], d))


# -- reading the records ---------------------------------------------------------------------


def kind(run: dict) -> str:
    """What a record is of: ``baselines`` (a scripts/baselines.py record), else its task,
    ``config.task.name`` (a mapping or, in older records, the name; missing: classification)."""
    if run.get("loss") == BASELINES:
        return BASELINES
    config = run.get("config")
    spec = config.get("task") if isinstance(config, dict) else None
    return (spec.get("name") if isinstance(spec, dict) else spec) or CLASSIFICATION


def load_runs(dirs: list[str | Path]) -> tuple[list[dict], list[dict]]:
    """Every ``metrics.json`` under ``dirs`` (each record gets ``run_dir``), and the jobs that
    left none (:func:`unfinished`): failed, unfinished or never started."""
    runs, missing = [], []
    for root in map(Path, dirs):
        if not root.is_dir():
            raise ReportError(f"{root} is not a directory: pass a sweep dir (outputs/multirun/...)")
        found = sorted(root.rglob(METRICS_FILE))
        if not found:
            raise ReportError(f"no {METRICS_FILE} under {root}: is this a sweep dir, and did any run finish?")
        for path in found:
            try:
                run = read_metrics(path.parent)
            except (OSError, ValueError) as exc:
                raise ReportError(f"{path} is not a readable run record ({exc})") from exc
            what = kind(run)
            if what not in REQUIRED_KEYS:
                raise ReportError(f"{path} is a run of task {what!r}, which the report does not know (it reports "
                                  f"{', '.join(k for k in REQUIRED_KEYS if k != BASELINES)}): move it out of the sweep dir")
            lacking = sorted(REQUIRED_KEYS[what] - set(run))
            if lacking:
                raise ReportError(f"{path} lacks {', '.join(lacking)}: not a record of iars-train or iars-baselines "
                                  "(move it out of the sweep dir, or rerun that job)")
            runs.append({**run, "run_dir": str(path.parent)})
        missing += unfinished(root)
    return runs, missing


def unfinished(root: Path) -> list[dict]:
    """The jobs under ``root`` without a ``metrics.json``, each ``{"job": its folder, "overrides",
    "state", "error"}`` (:func:`iars.sweeps.jobs`): of each sweep that lists its jobs
    (``jobs.json``), those failed and those never started; elsewhere, each folder a job started
    in (it holds ``.hydra``) and left no record."""
    listed = sorted({p.parent for p in root.rglob(sweeps.JOBS_FILE)})
    found = [{**job, "job": str(sweep / job["job"])} for sweep in listed for job in sweeps.jobs(sweep)
             if job["state"] != sweeps.FINISHED]
    found += [{"job": str(d.parent), "overrides": [], "state": sweeps.FAILED, "error": sweeps.failure(d.parent)}
              for d in sorted(root.rglob(".hydra"))
              if d.parent.parent not in listed and not (d.parent / METRICS_FILE).exists()]
    return found


COLUMNS = ("dataset", "length", "n_train", "loss", "variant", "K", "seed", "acc", "pretrain_time_s",
           "selected_resolutions", "selection_probs", "run_dir")


def frame(runs: list[dict]) -> pd.DataFrame:
    """The SSL runs, a row per run in their order: dataset, length (inf without), n_train,
    loss (the mode), variant (:func:`variant_label`), K, seed, acc, pretrain_time_s, the
    selection history (``selected_resolutions``, ``selection_probs``; None without) and
    run_dir (None without)."""
    rows = [{
        "dataset": r["dataset"], "length": r.get("length", np.inf), "n_train": r.get("n_train"), "loss": r["loss"],
        "variant": variant_label(r), "K": r["K"], "seed": r["seed"], "acc": r["acc"],
        "pretrain_time_s": r["pretrain_time_s"], "selected_resolutions": r.get("selected_resolutions"),
        "selection_probs": r.get("selection_probs"), "run_dir": r.get("run_dir"),
    } for r in runs]
    return pd.DataFrame(rows, columns=list(COLUMNS))


def baseline_frame(baselines: list[dict]) -> pd.DataFrame:
    """The baseline records (1-NN, MiniRocket, Catch22: :mod:`iars.baselines`), a row per
    dataset × method with an accuracy: dataset, variant (the method, suffixed by its
    normalisation when not the raw series), acc and time_s (its fit + predict seconds; NaN
    in records without)."""
    rows = [{"dataset": run["dataset"], "variant": method + suffix, "acc": acc,
             "time_s": (run.get("time_s") or {}).get(method, np.nan)}
            for run in baselines
            for suffix in ["" if run.get("normalise", "none") == "none" else f" ({run['normalise']})"]
            for method, acc in run["acc"].items() if acc is not None]
    return pd.DataFrame(rows, columns=["dataset", "variant", "acc", "time_s"]).astype({"time_s": float})
