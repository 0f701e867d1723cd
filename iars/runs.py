"""Run records: each run's ``metrics.json``, written atomically and never overwritten, and
optionally its test and train embeddings (``embeddings.npz``)."""
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


def read_metrics(run_dir: str | os.PathLike) -> dict[str, Any]:
    return json.loads((Path(run_dir) / METRICS_FILE).read_text())


def write_embeddings(run_dir: str | os.PathLike, train: np.ndarray, y_train: np.ndarray,
                     test: np.ndarray, y_test: np.ndarray) -> Path:
    """Save pooled train/test embeddings (N×K) and their labels as ``embeddings.npz``."""
    path = Path(run_dir) / EMBEDDINGS_FILE
    np.savez_compressed(path, train=train, y_train=y_train, test=test, y_test=y_test)
    return path
