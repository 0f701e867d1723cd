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
TIME_NAMES = ("time", "timestamp", "datetime", "date", "t", "step", "index", "unnamed: 0")
"""Column names (any case) a CSV's time or row-index column goes by: never taken as a channel unless
``time=False`` says so."""


def read_series(path: str | os.PathLike, time: str | bool | None = None):
    """Series and labels (or None) from a file, by its suffix:

    - ``.npy``: one array, N×C×T (or N×T for one channel); no labels.
    - ``.npz``: ``X`` (N×C×T or N×T) and optionally ``y`` (N labels).
    - ``.csv``: long format, one row per timestamp: a ``series`` column names the series
      a row belongs to (rows in time order), every other column is a channel, except an
      optional ``label`` column (constant within a series) and the ``time`` column. Series
      may differ in length; empty cells are missing values. Returns a list of C×T_i arrays.

    ``time`` (CSV only): the column giving each row's time (numbers or dates), which orders
    the rows of each series and is no channel; ``False``: there is none, every other column is
    a channel. With None (the default) a column that looks like one (named ``time``,
    ``timestamp``, ``date``, …, or counting up in whole numbers in every series) is refused,
    naming it, rather than taken as a channel.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "not found"
        raise DataError(f"{path} {what} (resolved to {path.resolve()}): give the path of a .npy, .npz or .csv file")
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
            return _read_csv(path, time)
    except (OSError, ValueError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"{path} could not be read ({type(exc).__name__}: {exc})") from exc
    raise DataError(f"{path}: unknown file type {suffix!r}; use .npy, .npz or .csv (see iars.data.read_series)")


def _rows(mask) -> str:
    """Data row numbers (1 = the first row after the header) of the True entries, the first few."""
    rows = [int(i) + 1 for i in np.flatnonzero(np.asarray(mask))]
    return ", ".join(map(str, rows[:5])) + (f" and {len(rows) - 5} more" if len(rows) > 5 else "")


def _counts_up(frame, column: str) -> bool:
    """Whether ``column`` holds whole numbers that rise in every series (a time or row index)."""
    import pandas as pd

    values = frame[column]
    if not pd.api.types.is_numeric_dtype(values) or values.isna().any() or not (values == values.round()).all():
        return False
    rising = frame.groupby(CSV_SERIES, sort=False)[column].agg(lambda v: len(v) < 2 or bool((v.diff().iloc[1:] > 0).all()))
    return bool(rising.all()) and frame.groupby(CSV_SERIES, sort=False).size().max() > 1


def _read_csv(path: Path, time: str | bool | None = None):
    import pandas as pd

    frame = pd.read_csv(path)
    layout = (f"the CSV layout is one row per timestamp, a {CSV_SERIES!r} column naming the series, one column per "
              f"channel and an optional {CSV_LABEL!r} column")
    if CSV_SERIES not in frame.columns:
        raise DataError(f"{path} has no {CSV_SERIES!r} column (found {list(frame.columns)}): {layout}")
    if frame.empty:
        raise DataError(f"{path} has a header ({', '.join(map(str, frame.columns))}) but no rows: {layout}")
    unnamed = frame[CSV_SERIES].isna()
    if unnamed.any():
        raise DataError(f"{path}: data rows {_rows(unnamed)} have an empty {CSV_SERIES!r} cell ({int(unnamed.sum())} of "
                        f"{len(frame)} rows): name the series of every row")
    if time not in (None, False) and time not in frame.columns:
        raise DataError(f"{path}: time={time!r} is not a column (found {list(frame.columns)}): give the column "
                        "holding each row's time, or time=False for none")
    channels = [c for c in frame.columns if c not in (CSV_SERIES, CSV_LABEL, time)]
    if time is None:
        looks = [c for c in channels if str(c).strip().lower() in TIME_NAMES] or \
            [c for c in channels if _counts_up(frame, c)]
        if looks:
            raise DataError(f"{path}: column {looks[0]!r} looks like each row's time, not a channel: pass "
                            f"time={looks[0]!r} (dataset.time={looks[0]} on the command line) to order each series' "
                            "rows by it, or time=False (dataset.time=false) to take it as a channel")
    if not channels:
        raise DataError(f"{path} has no channel columns besides {CSV_SERIES!r} and {CSV_LABEL!r}")
    bad = [c for c in channels if not pd.api.types.is_numeric_dtype(frame[c])]
    if bad:
        column = bad[0]
        values = pd.to_numeric(frame[column], errors="coerce")
        row = int(np.flatnonzero(values.isna() & frame[column].notna())[0])
        raise DataError(f"{path}: column {column!r} holds a non-number, {frame[column].iloc[row]!r} in data row "
                        f"{row + 1}: channel columns must be numeric (leave a cell empty for a missing value)")
    if time not in (None, False):
        frame = _in_time_order(path, frame, time)
    groups = frame.groupby(CSV_SERIES, sort=False)
    series = [group[channels].to_numpy(dtype=np.float32).T for _, group in groups]
    labels = None
    if CSV_LABEL in frame.columns:
        missing = frame[CSV_LABEL].isna()
        if missing.any():
            raise DataError(f"{path}: data rows {_rows(missing)} have an empty {CSV_LABEL!r} cell: give every row "
                            f"its series' label, or drop the {CSV_LABEL!r} column to pretrain without labels")
        per_series = groups[CSV_LABEL].nunique(dropna=False)
        if (per_series > 1).any():
            raise DataError(f"{path}: series {per_series[per_series > 1].index[0]!r} has several labels; "
                            "a series has one label")
        labels = groups[CSV_LABEL].first().to_numpy()
    return series, labels


def _in_time_order(path: Path, frame, time: str):
    """``frame``'s rows ordered by the ``time`` column within each series (stable: ties keep
    the file's order); numbers, or dates pandas parses."""
    import pandas as pd

    values = frame[time]
    if not pd.api.types.is_numeric_dtype(values):
        parsed = pd.to_datetime(values, errors="coerce")
        if (parsed.isna() & values.notna()).any():
            row = int(np.flatnonzero(parsed.isna() & values.notna())[0])
            raise DataError(f"{path}: the time column {time!r} holds {values.iloc[row]!r} in data row {row + 1}, "
                            "neither a number nor a date")
        values = parsed
    if values.isna().any():
        raise DataError(f"{path}: data rows {_rows(values.isna())} have an empty time cell ({time!r}): give every "
                        "row its time")
    first = {name: i for i, name in enumerate(pd.unique(frame[CSV_SERIES]))}  # series keep the file's order
    keys = frame.assign(_series=frame[CSV_SERIES].map(first), _time=values)
    return frame.loc[keys.sort_values(["_series", "_time"], kind="stable").index]
