"""Anomaly-detection data: each series whole, with its labels and its normal training part
(:class:`AnomalySeries`), read from the series aeon ships (:func:`read_aeon`) or from NAB
(:func:`read_nab`); TS2Vec's per-series normalisation (:func:`standardise`); and
:class:`AnomalyDataModule`, which pretrains on the training parts and keeps the whole series
for :mod:`iars.tasks.anomaly`.
"""
from __future__ import annotations

import difflib
import json
import math
import os
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from iars.data.arrays import Split
from iars.data.modules import BATCH_SIZE, MAX_TRAIN_LENGTH, TimeSeriesDataModule
from iars.errors import DataError

NAB_PROBATION = 0.15
"""NAB's probationary fraction: the first 15% of a series is assumed normal (its training part)."""
NAB_PROBATION_CAP = 750
"""NAB caps the probationary period at 0.15 · 5000 = 750 steps (``nab/util.py: getProbationPeriod``)."""
NAB_LABELS = {"windows": "combined_windows.json", "points": "combined_labels.json"}
"""NAB's label files under ``labels/``: anomaly windows (ranges) or anomaly timestamps (points)."""


@dataclass(frozen=True, eq=False)
class AnomalySeries:
    """One series whole: ``values`` T×C float32, ``labels`` T int64 (1 = anomaly), the first
    ``train_length`` steps its normal training part (the rest is the test part)."""

    name: str
    values: np.ndarray
    labels: np.ndarray
    train_length: int

    def __post_init__(self):
        values = np.asarray(self.values, dtype=np.float32)
        values = values[:, None] if values.ndim == 1 else values
        labels = np.asarray(self.labels)
        if values.ndim != 2 or labels.shape != values.shape[:1]:
            raise DataError(f"anomaly series {self.name!r}: values must be T×C and labels T, got values "
                            f"{np.shape(self.values)} and labels {labels.shape}")
        if not np.isin(labels, (0, 1)).all():
            raise DataError(f"anomaly series {self.name!r}: labels must be 0 (normal) or 1 (anomaly), "
                            f"found {sorted(set(np.unique(labels).tolist()) - {0, 1})[:5]}")
        if not 0 < self.train_length < len(values):
            raise DataError(f"anomaly series {self.name!r}: train_length {self.train_length} must leave a train "
                            f"and a test part of its {len(values)} steps")
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "labels", labels.astype(np.int64))

    @property
    def test_labels(self) -> np.ndarray:
        return self.labels[self.train_length:]


def standardise(series: AnomalySeries) -> AnomalySeries:
    """TS2Vec's normalisation of its anomaly data (``datasets/preprocess_kpi.py``,
    ``preprocess_yahoo.py``): each channel of the whole series z-normalised with the mean and
    standard deviation (numpy's, ddof 0) of its training part; a constant channel keeps scale 1."""
    train = series.values[: series.train_length].astype(np.float64)
    mean, std = train.mean(axis=0), train.std(axis=0)
    std[std == 0] = 1.0
    return replace(series, values=((series.values - mean) / std).astype(np.float32))


# -- aeon's shipped series -------------------------------------------------------------------


def _kdd_tsad_135() -> AnomalySeries:
    from aeon.datasets import load_kdd_tsad_135

    values, labels = load_kdd_tsad_135(split="test")  # the whole series; "train" is its first 1200 steps
    train, _ = load_kdd_tsad_135(split="train")
    return AnomalySeries("KDD-TSAD_135", values, labels, len(train))


def _daphnet_s06r02e0() -> AnomalySeries:
    from aeon import datasets

    if not hasattr(datasets, "load_daphnet_s06r02e0"):
        raise DataError("Daphnet_S06R02E0 is not in this aeon (removed in aeon 1.7); use KDD-TSAD_135 or NAB")
    with warnings.catch_warnings():  # deprecated in aeon 1.6: its excerpt has no labelled anomaly
        warnings.simplefilter("ignore", FutureWarning)
        values, labels = datasets.load_daphnet_s06r02e0()
    return AnomalySeries("Daphnet_S06R02E0", values, labels, nab_probation(len(values)))


AEON_SERIES = {"KDD-TSAD_135": _kdd_tsad_135, "Daphnet_S06R02E0": _daphnet_s06r02e0}
"""The anomaly series aeon ships. KDD-TSAD_135: univariate, 7501 steps, one anomaly (12 steps),
its normal training part the first 1200 steps. Daphnet_S06R02E0: 9 channels, 7040 steps, no
labelled anomaly in aeon's excerpt (aeon 1.6 deprecates it) and no training part of its own
(NAB's probationary rule is used)."""
AEON_DEFAULT = ("KDD-TSAD_135",)
"""What ``source="aeon"`` reads by default: the one shipped series with labelled anomalies
(Daphnet has none, and 9 channels where KDD-TSAD_135 has 1: they cannot share an encoder)."""


def read_aeon(series=None) -> list[AnomalySeries]:
    """aeon's shipped anomaly series by name (:data:`AEON_SERIES`; None: :data:`AEON_DEFAULT`),
    not normalised."""
    names = list(AEON_DEFAULT if series is None else series)
    return [AEON_SERIES[name]() for name in _known(names, list(AEON_SERIES), "aeon's anomaly series")]


# -- NAB -------------------------------------------------------------------------------------


def nab_probation(length: int) -> int:
    """NAB's probationary period of a series of ``length`` steps: min(⌊0.15·T⌋, 750)."""
    return int(min(math.floor(NAB_PROBATION * length), NAB_PROBATION * 5000))


def _nab_root(data_dir) -> Path:
    if data_dir is None:
        raise DataError("dataset.data_dir is null: NAB needs its folder, e.g. dataset.data_dir=../shared/data/NAB")
    root = Path(data_dir).expanduser()
    if not (root / "data").is_dir():
        raise DataError(f"dataset.data_dir={str(data_dir)!r} (resolved to {root.resolve()}) has no data/ folder: "
                        "point it at NAB's root, the folder holding data/ and labels/ (numenta/NAB)")
    return root


def _nab_labels(root: Path, labels: str) -> dict[str, list]:
    if labels not in NAB_LABELS:
        raise DataError(f"dataset.labels={labels!r}: choose one of {', '.join(NAB_LABELS)}")
    path = root / "labels" / NAB_LABELS[labels]
    if not path.is_file():
        raise DataError(f"NAB labels file {path} not found: dataset.data_dir must be NAB's root with "
                        f"labels/{NAB_LABELS[labels]} (copy it from numenta/NAB)")
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise DataError(f"NAB labels file {path} cannot be read: {e}") from e


def _known(names: list[str], known, what: str, shown: list[str] | None = None) -> list[str]:
    """``names``, all in ``known``; else a DataError naming the unknown ones, a close match and
    the choices (``shown``, default ``known``)."""
    shown = list(known) if shown is None else shown
    unknown = [n for n in names if n not in known]
    if unknown:
        hints = {n: difflib.get_close_matches(n, shown, n=1) for n in unknown}
        detail = "; ".join(f"{n!r}" + (f" (did you mean {h[0]!r}?)" if h else "") for n, h in hints.items())
        listed = ", ".join(shown[:8]) + (f", ... ({len(shown)} in all)" if len(shown) > 8 else "")
        raise DataError(f"unknown series {detail} in {what}; choose from {listed}")
    if not names:
        raise DataError(f"no series chosen from {what}: give at least one name, or null for the default")
    return names


def nab_names(data_dir) -> list[str]:
    """The names of NAB's series (file stems, e.g. ``nyc_taxi``) in its labels' order, sorted."""
    return sorted(Path(key).stem for key in _nab_labels(_nab_root(data_dir), "windows"))


def read_nab(data_dir, series=None, labels: str = "windows") -> list[AnomalySeries]:
    """NAB's series (all 58, or those named: ``nyc_taxi``, ``realKnownCause/nyc_taxi`` or
    ``realKnownCause/nyc_taxi.csv``), not normalised, one step per CSV row in file order.

    ``labels``: ``"windows"`` (1 inside NAB's anomaly windows, ``combined_windows.json``,
    ends included) or ``"points"`` (1 at NAB's anomaly timestamps, ``combined_labels.json``).
    The training part is NAB's probationary period (:func:`nab_probation`).
    """
    root = _nab_root(data_dir)
    marks = _nab_labels(root, labels)
    keys = {Path(key).stem: key for key in marks}
    aliases = {alias: Path(key).stem for key in marks for alias in (Path(key).stem, key, key.removesuffix(".csv"))}
    if series is None:
        names = sorted(keys)
    else:
        names = [aliases[n] for n in _known([str(n) for n in series], aliases, f"NAB ({root})", sorted(keys))]
    return [_read_nab_file(root, keys[name], marks[keys[name]], labels) for name in names]


def _read_nab_file(root: Path, key: str, marks: list, labels: str) -> AnomalySeries:
    path = root / "data" / key
    try:
        frame = pd.read_csv(path)
        stamps = pd.to_datetime(frame["timestamp"]).to_numpy()
        values = frame["value"].to_numpy(dtype=np.float64)
    except (OSError, KeyError, ValueError) as e:
        raise DataError(f"NAB series {path} cannot be read as timestamp,value CSV: {e}") from e
    y = np.zeros(len(frame), dtype=np.int64)
    for mark in marks:
        if labels == "windows":
            start, end = pd.to_datetime(mark[0]), pd.to_datetime(mark[1])
            y[(stamps >= start.to_datetime64()) & (stamps <= end.to_datetime64())] = 1
        else:
            y[stamps == pd.to_datetime(mark).to_datetime64()] = 1
    return AnomalySeries(Path(key).stem, values, y, nab_probation(len(values)))


# -- the DataModule ----------------------------------------------------------------------------


@dataclass
class AnomalySplit(Split):
    """A :class:`Split` whose ``X_train`` holds the training parts (N×T_max×C, NaN-padded), with
    every whole series (``series``), scaled as ``X_train`` is."""

    series: list[AnomalySeries] = field(default_factory=list)


class AnomalyDataModule(TimeSeriesDataModule):
    """Anomaly-detection series: pretraining sees their normal training parts (TS2Vec's
    ``gen_ano_train_data``: NaN-padded to one length, cut into sections beyond
    ``max_train_length``); :meth:`anomaly_series` gives every whole series for the task.

    Each series is z-normalised with its training part's statistics (:func:`standardise`, as
    TS2Vec), then by the base class's :attr:`normaliser` (fitted on all training parts: close
    to the identity), so whole series and pretraining batches are scaled alike.

    Args:
        source: ``"aeon"`` (the series aeon ships, :func:`read_aeon`) or ``"nab"`` (:func:`read_nab`).
        data_dir: NAB's root (``source="nab"`` only).
        series: names of the series to use; None: aeon's default series, or all of NAB.
        labels: NAB's ``"windows"`` or ``"points"`` (:func:`read_nab`).
        name: the dataset's name in the record; None: the series' name when one, else the source.
    """

    def __init__(
        self,
        source: str = "aeon",
        data_dir: str | os.PathLike | None = None,
        series: list[str] | None = None,
        labels: str = "windows",
        name: str | None = None,
        batch_size: int = BATCH_SIZE,
        seed: int = 0,
        max_train_length: int | None = MAX_TRAIN_LENGTH,
    ):
        if source not in ("aeon", "nab"):
            raise DataError(f"dataset.source={source!r}: choose aeon (the series aeon ships) or nab (with dataset.data_dir)")
        if isinstance(series, str):
            series = [series]
        if name is None:
            chosen = list(AEON_DEFAULT) if source == "aeon" and series is None else series
            name = chosen[0] if chosen and len(chosen) == 1 else {"aeon": "aeon-anomaly", "nab": "NAB"}[source]
        super().__init__(name, batch_size, seed, max_train_length)
        self.source, self.data_dir, self.series_names, self.labels = source, data_dir, series, labels
        self._standardised: list[AnomalySeries] | None = None

    def read(self) -> list[AnomalySeries]:
        """The chosen series, read once and standardised (:func:`standardise`)."""
        if self._standardised is None:
            found = (read_aeon(self.series_names) if self.source == "aeon"
                     else read_nab(self.data_dir, self.series_names, self.labels))
            channels = {s.name: s.values.shape[1] for s in found}
            if len(set(channels.values())) > 1:
                raise DataError(f"dataset {self.name!r}: the series have different channel counts {channels}; one "
                                "encoder needs one count: choose series of one (dataset.series=[...])")
            self._standardised = [standardise(s) for s in found]
        return self._standardised

    def raw(self):
        """The training parts in aeon's layout (a list of C×T_i arrays); no labels, no test split."""
        return [s.values[: s.train_length].T for s in self.read()], None, None, None

    def _check(self, data: Split) -> None:
        """One series is enough here: TS2Vec pretrains on one instance too (its instance contrast
        is 0 at batch size 1, the temporal contrast remains)."""
        if data.X_train.shape[1] < 2:
            raise DataError(f"dataset {self.name!r}: training parts of {data.X_train.shape[1]} step; contrastive "
                            "pretraining crops two overlapping views and needs at least 2 timestamps")

    def prepare(self) -> AnomalySplit:
        """The base class's arrays, with the whole series scaled alike (:class:`AnomalySplit`)."""
        data = super().prepare()
        if not isinstance(data, AnomalySplit):
            scaled = [replace(s, values=self.normaliser.transform(s.values[None])[0]) for s in self.read()]
            self.data = data = AnomalySplit(data.X_train, series=scaled)
        return data

    def anomaly_series(self) -> list[AnomalySeries]:
        """Every whole series (train + test parts), scaled as pretraining saw its training part."""
        return self.prepare().series
