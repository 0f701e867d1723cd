"""Reading series from disk, in aeon's layout (an N×C×T array, N×T for one channel, or a
list of C×T_i arrays of unequal lengths) with labels as stored: UEA/UCR datasets through
aeon (:func:`read_uea`) and your own ``.npy``/``.npz``/``.csv`` files (:func:`read_series`).
Neither pads, encodes labels nor normalises (:func:`iars.data.split_from_raw` does the first two).
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np

from iars.errors import DataError


def _bundled_root() -> Path:
    import aeon.datasets

    return Path(aeon.datasets.__file__).parent / "data"


def _has_files(root: Path, name: str) -> bool:
    return all((root / name / f"{name}_{s}.ts").is_file() for s in ("TRAIN", "TEST"))


def _read_split(name: str, split: str, extract_path: str | None):
    from aeon.datasets import load_classification

    return load_classification(name, split=split, extract_path=extract_path)


def read_uea(name: str, data_dir: str | os.PathLike | None = None):
    """Raw ``(X_train, y_train, X_test, y_test)`` of a UEA/UCR classification dataset as aeon
    returns them (X: N×C×T array, or a list of C×T_i arrays for unequal lengths).

    Looks in ``data_dir`` (``<data_dir>/<name>/<name>_{TRAIN,TEST}.ts``) when given,
    else in aeon's bundled datasets and ``$AEON_DATA``; aeon downloads what is in
    none of them (when there is a network).
    """
    if data_dir is not None:
        root = Path(data_dir).expanduser()
        if not root.is_dir():
            raise DataError(
                f"dataset.data_dir={str(data_dir)!r} is not a directory (resolved to "
                f"{root.resolve()}). Point it at a folder holding {name}/{name}_TRAIN.ts and "
                f"{name}/{name}_TEST.ts, or leave it null to use aeon's bundled datasets."
            )
        where = [root]
    else:
        where = [_bundled_root()] + ([Path(os.environ["AEON_DATA"])] if "AEON_DATA" in os.environ else [])
    extract_path = None if data_dir is None else str(where[0])
    local = next((r for r in where if _has_files(r, name)), None)
    created = not (where[0] / name).exists()
    out = []
    for split in ("train", "test"):
        try:
            out.extend(_read_split(name, split, extract_path))
        except Exception as e:  # aeon raises ValueError, OSError, IndexError... on bad or missing data
            if created and data_dir is not None and (where[0] / name).is_dir():
                with contextlib.suppress(OSError):  # remove the empty folder aeon made for a download
                    (where[0] / name).rmdir()
            if local is not None:
                path = local / name / f"{name}_{split.upper()}.ts"
                raise DataError(
                    f"dataset {name!r}: {path} could not be read ({type(e).__name__}: {e}). "
                    "Check that it is a complete aeon .ts file (header lines, @data, one series per line)."
                ) from e
            looked = ", ".join(str(r / name) for r in where)
            raise DataError(
                f"dataset {name!r} not found: looked in {looked}, and aeon could not download it "
                f"({type(e).__name__}: {e}). Place {name}/{name}_TRAIN.ts and {name}/{name}_TEST.ts "
                f"(aeon .ts format) under a folder and pass dataset.data_dir=<folder> "
                f"(or set AEON_DATA); check the spelling of dataset.name."
            ) from e
        if len(out[-2]) == 0:  # aeon reads a file without @data as no series
            path = (local or where[0]) / name / f"{name}_{split.upper()}.ts"
            raise DataError(f"dataset {name!r}: {path} holds no series. An aeon .ts file has its header lines "
                            "(@problemName, @classLabel, ...), then @data, then one series per line.")
    return tuple(out)


CSV_SERIES, CSV_LABEL = "series", "label"


def read_series(path: str | os.PathLike):
    """Series and labels (or None) from a file, by its suffix:

    - ``.npy``: one array, N×C×T (or N×T for one channel); no labels.
    - ``.npz``: ``X`` (N×C×T or N×T) and optionally ``y`` (N labels).
    - ``.csv``: long format, one row per timestamp: a ``series`` column names the series
      a row belongs to (rows in time order), every other column is a channel, except an
      optional ``label`` column (constant within a series). Series may differ in length;
      empty cells are missing values. Returns a list of C×T_i arrays.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"{path} not found (resolved to {path.resolve()}): give the path of a .npy, .npz or .csv file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            return np.load(path, allow_pickle=False), None
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as saved:
                if "X" not in saved:
                    raise DataError(f"{path} holds {sorted(saved.files)}: an .npz needs the series as X "
                                    "(N×C×T) and optionally the labels as y")
                return saved["X"], saved["y"] if "y" in saved else None
        if suffix == ".csv":
            return _read_csv(path)
    except (OSError, ValueError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"{path} could not be read ({type(exc).__name__}: {exc})") from exc
    raise DataError(f"{path}: unknown file type {suffix!r}; use .npy, .npz or .csv (see iars.data.read_series)")


def _read_csv(path: Path):
    import pandas as pd

    frame = pd.read_csv(path)
    if CSV_SERIES not in frame.columns:
        raise DataError(f"{path} has no {CSV_SERIES!r} column (found {list(frame.columns)}): the CSV layout is one "
                        f"row per timestamp, a {CSV_SERIES!r} column naming the series, one column per channel "
                        f"and an optional {CSV_LABEL!r} column")
    channels = [c for c in frame.columns if c not in (CSV_SERIES, CSV_LABEL)]
    if not channels:
        raise DataError(f"{path} has no channel columns besides {CSV_SERIES!r} and {CSV_LABEL!r}")
    bad = [c for c in channels if not pd.api.types.is_numeric_dtype(frame[c])]
    if bad:
        column = bad[0]
        values = pd.to_numeric(frame[column], errors="coerce")
        row = int(np.flatnonzero(values.isna() & frame[column].notna())[0])
        raise DataError(f"{path}: column {column!r} holds a non-number, {frame[column].iloc[row]!r} in data row "
                        f"{row + 1}: channel columns must be numeric (leave a cell empty for a missing value)")
    groups = frame.groupby(CSV_SERIES, sort=False)
    series = [group[channels].to_numpy(dtype=np.float32).T for _, group in groups]
    labels = None
    if CSV_LABEL in frame.columns:
        per_series = groups[CSV_LABEL].nunique(dropna=False)
        if (per_series > 1).any():
            raise DataError(f"{path}: series {per_series[per_series > 1].index[0]!r} has several labels; "
                            "a series has one label")
        labels = groups[CSV_LABEL].first().to_numpy()
    return series, labels
