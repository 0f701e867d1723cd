"""Run records: each run's ``metrics.json``, written atomically and never overwritten, its
checkpoint (``last.ckpt``) and optionally its train and test embeddings (``embeddings.npz``)."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from iars.errors import ConfigError

METRICS_FILE = "metrics.json"
EMBEDDINGS_FILE = "embeddings.npz"
CHECKPOINT_FILE = "last.ckpt"


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


def write_metrics(run_dir: str | os.PathLike, metrics: dict[str, Any]) -> Path:
    """Write ``metrics.json`` into ``run_dir`` (via a temporary file and an atomic rename)."""
    path = check_fresh(run_dir)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(_jsonable(metrics), indent=2))
    os.replace(tmp, path)
    return path


RENAMED = {"selected_levels": "selected_resolutions", "level_losses": "resolution_losses"}
"""Keys of older records and their current names."""


def read_metrics(run_dir: str | os.PathLike) -> dict[str, Any]:
    """A run's record; older records' keys (:data:`RENAMED`, ``loss.level``) under their current names."""
    record = json.loads((Path(run_dir) / METRICS_FILE).read_text())
    for old, new in RENAMED.items():
        if old in record:
            record.setdefault(new, record.pop(old))
    loss = record.get("config", {}).get("loss", {})
    if loss.get("level") is not None and loss.get("resolution") is None:
        loss["resolution"] = loss["level"]
    return record


def write_embeddings(run_dir: str | os.PathLike, train: np.ndarray, y_train: np.ndarray | None = None,
                     test: np.ndarray | None = None, y_test: np.ndarray | None = None) -> Path:
    """Save pooled train/test embeddings (N×K) and their labels as ``embeddings.npz``;
    what is None (no labels, no test split) is left out."""
    path = Path(run_dir) / EMBEDDINGS_FILE
    arrays = {"train": train, "y_train": y_train, "test": test, "y_test": y_test}
    np.savez_compressed(path, **{k: v for k, v in arrays.items() if v is not None})
    return path
