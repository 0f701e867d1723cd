"""Forecasting data, TS2Vec's protocol (``datautils.load_forecast_csv``): one long dated series,
its 7 time features as covariates (channels the encoder sees but the ridge does not predict),
TS2Vec's train/valid/test split, every channel scaled with the statistics of the train part.

:func:`read_forecast_csv` reads a CSV with a date column; :class:`ForecastDataModule` serves its
train part for pretraining and the whole series, scaled the same way, as :class:`ForecastData`
for :mod:`iars.tasks.forecasting`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from iars.data.arrays import Split, pretrain_series
from iars.data.modules import BATCH_SIZE, MAX_TRAIN_LENGTH, TimeSeriesDataModule
from iars.errors import DataError

TIME_FEATURES = ("minute", "hour", "day_of_week", "day_of_month", "day_of_year", "month", "week_of_year")
"""TS2Vec's covariates of each timestamp (``datautils._get_time_features``), in its order."""
ETTH_STEPS = 30 * 24
"""One month of hourly steps: ETTh* splits into 12 / 4 / 4 such months (ETTm*: ×4)."""
HORIZONS = {"ETTh": (24, 48, 168, 336, 720), "electricity": (24, 48, 168, 336, 720), None: (24, 48, 96, 288, 672)}
"""TS2Vec's horizons by file name prefix (``None``: every other CSV)."""
SOLAR = "solar"
SOLAR_HORIZONS = (6, 12, 24)
"""aeon's shipped solar series (289 half-hourly steps): 3, 6 and 12 hours ahead."""


@dataclass
class DatedSeries:
    """One series as read: ``dates`` (T), ``values`` T×C float64 (the target last), ``columns`` (C names)."""

    dates: pd.DatetimeIndex
    values: np.ndarray
    columns: list[str]


@dataclass
class ForecastData:
    """A whole series ready for the forecasting protocol.

    ``data``: 1×T×C float32, the ``n_covariates`` time features first, then the series' channels
    (the ones predicted; the target last), all scaled with the train part's statistics.
    ``train``/``valid``/``test``: the parts, as slices of T. ``mean``/``scale``: the statistics of
    the series' channels (length C − n_covariates), to return to the original scale. ``columns``:
    the C channel names.
    """

    data: np.ndarray
    n_covariates: int
    train: slice
    valid: slice
    test: slice
    mean: np.ndarray
    scale: np.ndarray
    columns: list[str]
    horizons: tuple[int, ...]
    name: str = "series"

    @property
    def targets(self) -> list[str]:
        """The names of the predicted channels."""
        return self.columns[self.n_covariates:]

    @property
    def univariate(self) -> bool:
        return len(self.targets) == 1

    def part(self, which: str, features: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(features, values)`` of part ``which`` (train, valid, test): ``features`` (1×T×K,
        default ``data``) and the series' channels (1×n×C') over that part's steps."""
        cut = getattr(self, which)
        features = self.data if features is None else features
        return features[:, cut], self.data[:, cut, self.n_covariates:]

    def to_original(self, values: np.ndarray) -> np.ndarray:
        """Scaled values of the series' channels (…×C', the channels last) on the original scale."""
        return values * self.scale + self.mean


def time_features(dates) -> np.ndarray:
    """TS2Vec's 7 covariates of T dates (anything :class:`pandas.DatetimeIndex` takes): T×7 float64,
    :data:`TIME_FEATURES` (minute, hour, day of week 0 = Monday, day of month, day of year, month,
    ISO week of year: pandas ≥ 2's ``isocalendar().week`` for TS2Vec's ``weekofyear``)."""
    dt = pd.DatetimeIndex(dates)
    return np.stack([
        dt.minute.to_numpy(), dt.hour.to_numpy(), dt.dayofweek.to_numpy(), dt.day.to_numpy(),
        dt.dayofyear.to_numpy(), dt.month.to_numpy(), dt.isocalendar().week.to_numpy(),
    ], axis=1).astype(np.float64)


def split_slices(file_name: str, length: int) -> tuple[slice, slice, slice]:
    """TS2Vec's train/valid/test rule for a series of ``length`` steps, by file name: ``ETTh*``:
    the first 12·30·24 steps, the next 4·30·24, the next 4·30·24 (what follows is unused);
    ``ETTm*``: the same ×4; any other: the first 60 %, the next 20 %, the rest (⌊0.6·T⌋, ⌊0.8·T⌋)."""
    month = {"ETTh": ETTH_STEPS, "ETTm": 4 * ETTH_STEPS}.get(file_name[:4])
    cuts = [12 * month, 16 * month, 20 * month] if month else [int(0.6 * length), int(0.8 * length), length]
    cuts = [min(c, length) for c in cuts]
    return slice(0, cuts[0]), slice(cuts[0], cuts[1]), slice(cuts[1], cuts[2])


def default_horizons(file_name: str | None) -> tuple[int, ...]:
    """TS2Vec's horizons by file name (:data:`HORIZONS`); aeon's solar series (None): :data:`SOLAR_HORIZONS`."""
    if file_name is None:
        return SOLAR_HORIZONS
    prefix = next((p for p in HORIZONS if p and file_name.startswith(p)), None)
    return HORIZONS[prefix]


def check_horizons(horizons) -> tuple[int, ...]:
    """``horizons`` as a tuple of positive ints, or a :class:`DataError` naming dataset.horizons."""
    try:
        values = tuple(horizons)
    except TypeError:
        values = ()
    if not values or any(isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in values):
        raise DataError(f"dataset.horizons={horizons!r}: give a list of positive numbers of steps, e.g. [24, 48, 168]")
    return values


def read_forecast_csv(path: str | os.PathLike, target: str | None = None, univariate: bool = True,
                      date_column: str = "date") -> DatedSeries:
    """A forecasting CSV: one row per timestamp, a ``date_column`` and numeric channels. The
    ``target`` defaults to ``OT`` if there is one, else the last column. ``univariate``: the
    target only; else every channel, the target moved last (the others in file order)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"forecasting CSV {str(path)!r} not found: give dataset.path (and dataset.data_dir, the "
                        "folder it is in), e.g. dataset.data_dir=../shared/data/ETT")
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"forecasting CSV {str(path)!r} cannot be read as a CSV: {exc}") from exc
    if date_column not in frame.columns:
        raise DataError(f"forecasting CSV {str(path)!r} has no date column {date_column!r} (its columns: "
                        f"{', '.join(map(str, frame.columns))}): give dataset.date_column=<the column of dates>")
    try:
        dates = pd.DatetimeIndex(pd.to_datetime(frame[date_column]))
    except (ValueError, TypeError) as exc:
        raise DataError(f"forecasting CSV {str(path)!r}: column {date_column!r} does not hold dates: {exc}") from exc
    return series_from_frame(frame.drop(columns=date_column), dates, target, univariate, where=str(path))


def series_from_frame(frame: pd.DataFrame, dates: pd.DatetimeIndex, target: str | None, univariate: bool,
                      where: str) -> DatedSeries:
    """The channels of ``frame`` (one row per date) as a :class:`DatedSeries`, checked: known
    target, numeric channels, no missing values or dates, dates in order."""
    columns = [str(c) for c in frame.columns]
    frame = frame.set_axis(columns, axis=1)
    if not columns:
        raise DataError(f"dataset {where!r} has no channels besides its dates")
    target = target if target is not None else "OT" if "OT" in columns else columns[-1]
    if target not in columns:
        raise DataError(f"dataset {where!r} has no target column {target!r} (its columns: {', '.join(columns)}): "
                        "give dataset.target=<one of them>")
    used = [target] if univariate else [c for c in columns if c != target] + [target]
    wrong = [c for c in used if not pd.api.types.is_numeric_dtype(frame[c])]
    if wrong:
        column = frame[wrong[0]]
        bad = np.flatnonzero(pd.to_numeric(column, errors="coerce").isna() & column.notna())
        example = f"{column.iloc[bad[0]]!r} at {dates[bad[0]]}" if len(bad) else f"of type {column.dtype}"
        raise DataError(f"dataset {where!r}: column(s) {', '.join(wrong)} are not numeric (e.g. {example}); every "
                        "channel must hold numbers: remove such columns from the file, or forecast a numeric "
                        "dataset.target alone (dataset.univariate=true)")
    values = frame[used].to_numpy(dtype=np.float64)
    _check_complete(values, used, dates, where)
    return DatedSeries(dates, values, used)


def _check_complete(values: np.ndarray, columns: list[str], dates: pd.DatetimeIndex, where: str) -> None:
    if dates.hasnans:
        raise DataError(f"dataset {where!r}: {int(dates.isna().sum())} rows have no date; give every row its date")
    if not dates.is_monotonic_increasing:
        at = int(np.flatnonzero(dates[1:] < dates[:-1])[0]) + 1
        raise DataError(f"dataset {where!r}: the dates go back in time at row {at} ({dates[at]}); sort the rows by date")
    missing = np.isnan(values).any(axis=0)
    if missing.any():
        c = int(np.flatnonzero(missing)[0])
        first = int(np.flatnonzero(np.isnan(values[:, c]))[0])
        raise DataError(f"dataset {where!r}: column {columns[c]!r} has {int(np.isnan(values[:, c]).sum())} missing "
                        f"values (the first at {dates[first]}); the ridge protocol needs complete series: fill them")


def load_solar_series(target: str | None = None, univariate: bool = True) -> DatedSeries:
    """aeon's shipped series ``load_solar`` (289 half-hourly steps, GB solar generation; no files,
    no network) as a :class:`DatedSeries`."""
    from aeon.datasets import load_solar  # imported when used: aeon is slow to import

    series = load_solar(return_array=False)
    return series_from_frame(series.to_frame(), pd.DatetimeIndex(series.index), target, univariate, where=SOLAR)


class ForecastDataModule(TimeSeriesDataModule):
    """A forecasting series (TS2Vec's protocol): pretraining sees its train part (:meth:`raw`: the
    covariates and the series' channels, 1×C×T, cut into sections of ``max_train_length``);
    :meth:`forecast_data` gives the whole series scaled with the same :attr:`normaliser`.

    Args:
        path: a CSV (:func:`read_forecast_csv`), relative to ``data_dir`` when that is given;
            None: aeon's shipped solar series.
        name: the dataset's name in records; default the file's stem (``solar`` for aeon's).
        target, univariate, date_column: what to read (:func:`read_forecast_csv`).
        horizons: steps ahead to forecast; None: TS2Vec's by file name (:func:`default_horizons`).
        data_dir: the folder of ``path``.
        padding: the context, in steps before t, that suits this series' encoding (TS2Vec: 200);
            the forecasting task uses it unless ``task.padding`` is given.
    """

    def __init__(
        self,
        path: str | None = None,
        name: str | None = None,
        target: str | None = None,
        univariate: bool = True,
        date_column: str = "date",
        horizons=None,
        data_dir: str | None = None,
        batch_size: int = BATCH_SIZE,
        seed: int = 0,
        max_train_length: int | None = MAX_TRAIN_LENGTH,
        padding: int = 200,
    ):
        self.path = None if path is None else Path(data_dir or "") / path
        self.padding = padding
        file_name = None if self.path is None else self.path.name
        super().__init__(name or (SOLAR if self.path is None else self.path.stem), batch_size, seed, max_train_length)
        self.target, self.univariate, self.date_column = target, bool(univariate), date_column
        self.horizons = check_horizons(default_horizons(file_name) if horizons is None else horizons)
        self.file_name = file_name
        self._series: DatedSeries | None = None

    def series(self) -> DatedSeries:
        """The series as read (once), unscaled."""
        if self._series is None:
            if self.path is None:
                self._series = load_solar_series(self.target, self.univariate)
            else:
                self._series = read_forecast_csv(self.path, self.target, self.univariate, self.date_column)
        return self._series

    @property
    def slices(self) -> tuple[slice, slice, slice]:
        """The train, valid and test parts (:func:`split_slices`)."""
        return split_slices(self.file_name or SOLAR, len(self.series().dates))

    def channels(self) -> np.ndarray:
        """The whole series unscaled as the encoder sees it: T×C float64, the time features first."""
        series = self.series()
        return np.concatenate([time_features(series.dates), series.values], axis=1)

    def raw(self):
        """The train part in aeon's layout (1×C×T_train), without labels or a test split."""
        return self.channels()[self.slices[0]].T[None], None, None, None

    def _check(self, data: Split) -> None:
        parts = dict(zip(("train", "valid", "test"), (cut.stop - cut.start for cut in self.slices)))
        part = min(parts, key=parts.get)
        if parts[part] <= max(self.horizons):
            raise DataError(
                f"dataset {self.name!r}: its {part} part has {parts[part]} steps ({len(self.series().dates)} in all), "
                f"too few for horizon {max(self.horizons)}: a forecast needs more steps than its horizon; give shorter "
                f"dataset.horizons (below {parts[part]}) or a longer series"
            )
        sections = pretrain_series(data.X_train, self.max_train_length)
        steps = data.X_train.shape[1]
        if len(sections) < 2:
            raise DataError(
                f"dataset {self.name!r}: its train part ({steps} steps) is one pretraining section with "
                f"dataset.max_train_length={self.max_train_length}; contrastive pretraining needs at least 2: set "
                f"dataset.max_train_length below {steps} (e.g. {max(2, steps // 2)})"
            )
        if sections.shape[1] < 2:
            raise DataError(f"dataset {self.name!r}: pretraining sections of {sections.shape[1]} step; give "
                            "dataset.max_train_length of at least 2")

    def forecast_data(self) -> ForecastData:
        """The whole series scaled with :attr:`normaliser` (fitted on the train part by :meth:`prepare`)."""
        self.prepare()
        n = len(TIME_FEATURES)
        return ForecastData(
            data=self.normaliser.transform(self.channels()[None]), n_covariates=n, train=self.slices[0],
            valid=self.slices[1], test=self.slices[2], mean=self.normaliser.mean[n:], scale=self.normaliser.scale[n:],
            columns=[*TIME_FEATURES, *self.series().columns], horizons=self.horizons, name=self.name,
        )
