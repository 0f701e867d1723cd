"""Datasets: UEA/UCR classification data via aeon, synthetic data, your own series, and the
DataModules that serve them. Arrays are N×T×C float32 (NaN = missing or padding) with
labels in 0..n_classes−1; sources give series in aeon's layout (N×C×T, or a list of C×T_i).

One concern per module; import the names from here (``from iars.data import X``, and the
configs' ``_target_: iars.data.UEADataModule``):

- :mod:`iars.data.arrays`: the arrays and pure functions on them (:class:`Split`,
  :func:`pad_to_array`, :func:`encode_labels`, :func:`split_from_raw`, :class:`Normaliser`,
  :func:`normalise`, :func:`split_long_series`, :func:`pretrain_series`) and TS2Vec's step
  budget (:func:`ts2vec_budget`).
- :mod:`iars.data.readers`: series from disk: UEA/UCR via aeon (:func:`read_uea`) and
  ``.npy``/``.npz``/``.csv`` files (:func:`read_series`).
- :mod:`iars.data.synthetic`: generated series (:func:`make_classification`).
- :mod:`iars.data.sampler`: the pretraining shuffle a resumed run reproduces (:class:`EpochShuffle`).
- :mod:`iars.data.anomaly`: series with labelled anomalies, aeon's and NAB's
  (:class:`AnomalyDataModule`, :class:`AnomalySeries`, :func:`read_aeon`, :func:`read_nab`).
- :mod:`iars.data.forecast`: one dated forecasting series (:class:`ForecastDataModule`,
  :class:`ForecastData`, :func:`read_forecast_csv`, :func:`time_features`, :func:`split_slices`).
- :mod:`iars.data.modules`: the LightningDataModules (:class:`TimeSeriesDataModule` and its
  sources :class:`UEADataModule`, :class:`SyntheticDataModule`, :class:`ArrayDataModule`,
  :class:`FileDataModule`) and :func:`load_uea`.

Imports run one way: arrays, readers, synthetic and sampler import none of the others;
modules imports them all; forecast and anomaly import arrays and modules.
"""
from iars.data.anomaly import (
    AEON_SERIES,
    AnomalyDataModule,
    AnomalySeries,
    AnomalySplit,
    nab_probation,
    read_aeon,
    read_nab,
    standardise,
)
from iars.data.arrays import (
    Normaliser,
    Split,
    encode_labels,
    normalise,
    pad_to_array,
    pretrain_series,
    series_of,
    split_from_raw,
    split_long_series,
    ts2vec_budget,
)
from iars.data.forecast import (
    TIME_FEATURES,
    DatedSeries,
    ForecastData,
    ForecastDataModule,
    default_horizons,
    read_forecast_csv,
    split_slices,
    time_features,
)
from iars.data.modules import (
    BATCH_SIZE,
    MAX_TRAIN_LENGTH,
    ArrayDataModule,
    FileDataModule,
    SyntheticDataModule,
    TimeSeriesDataModule,
    UEADataModule,
    load_uea,
)
from iars.data.readers import CSV_LABEL, CSV_SERIES, read_series, read_uea
from iars.data.sampler import EpochShuffle
from iars.data.synthetic import make_classification

__all__ = [
    "BATCH_SIZE", "MAX_TRAIN_LENGTH",
    "CSV_LABEL", "CSV_SERIES", "ArrayDataModule", "EpochShuffle", "FileDataModule", "Normaliser", "Split",
    "SyntheticDataModule", "TimeSeriesDataModule", "UEADataModule", "encode_labels", "load_uea",
    "make_classification", "normalise", "pad_to_array", "pretrain_series", "read_series", "read_uea",
    "series_of", "split_from_raw", "split_long_series", "ts2vec_budget",
    "TIME_FEATURES", "DatedSeries", "ForecastData", "ForecastDataModule", "default_horizons", "read_forecast_csv",
    "split_slices", "time_features",
    "AEON_SERIES", "AnomalyDataModule", "AnomalySeries", "AnomalySplit", "nab_probation", "read_aeon", "read_nab",
    "standardise",
]
