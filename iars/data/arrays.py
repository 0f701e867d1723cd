"""The arrays every dataset becomes, and the pure functions on them: aeon's layout to
N×T×C float32 (NaN = missing or padding), labels to 0..n_classes−1, TS2Vec's
normalisation, and TS2Vec's rules on the train series (long series cut into sections,
the step budget). No I/O, no Lightning.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.preprocessing import StandardScaler

from iars.errors import DataError, DataTypeError


@dataclass
class Split:
    """Train and test arrays of one dataset (X: N×T×C float32, y: N int64). Labels and the
    test split are optional (None): pretraining needs only ``X_train``."""

    X_train: np.ndarray
    y_train: np.ndarray | None = None
    X_test: np.ndarray | None = None
    y_test: np.ndarray | None = None

    @property
    def n_channels(self) -> int:
        return self.X_train.shape[2]

    @property
    def n_classes(self) -> int:
        labels = [y for y in (self.y_train, self.y_test) if y is not None]
        return int(max(y.max() for y in labels)) + 1 if labels else 0


def pad_to_array(series) -> np.ndarray:
    """aeon's collection layout -> N×T_max×C float32, NaN-padded at the end.

    Accepts an N×C×T array, an N×T array (univariate), or a list of C×T_i (or T_i)
    arrays of unequal lengths; anything NumPy converts (``__array__``) is taken as an array.
    Complex numbers, sparse matrices and infinite values are refused (:class:`DataError`, a
    ValueError), and so are values that are not numbers (:class:`DataTypeError`, also a TypeError).
    """
    if hasattr(series, "tocsr") or hasattr(series, "todense"):  # scipy's sparse matrices and arrays
        raise DataError(f"sparse input is not supported ({type(series).__name__}): give dense series, "
                        "e.g. X.toarray(), NaN for missing values")
    if not isinstance(series, (np.ndarray, list, tuple)) and hasattr(series, "__array__"):
        series = np.asarray(series)  # a DataFrame, a tensor, any array-like
    parts = [series] if isinstance(series, np.ndarray) else series if isinstance(series, (list, tuple)) else []
    if any(np.iscomplexobj(s) for s in parts):
        raise DataError("Complex data not supported: series must hold real numbers")
    if isinstance(series, np.ndarray) and series.dtype != object:
        if series.ndim == 2:
            series = series[:, None, :]
        if series.ndim != 3:
            hint = ". Reshape your data: one series is X.reshape(1, -1)" if series.ndim == 1 else ""
            raise DataError(f"series must be an N×C×T array (or N×T, or a list of C×T_i arrays); "
                            f"got an array of shape {series.shape}{hint}")
        return _no_infinity(_as_float32(lambda: np.ascontiguousarray(series.transpose(0, 2, 1), dtype=np.float32)))
    series = _as_float32(lambda: [np.asarray(s, dtype=np.float32) for s in series])
    series = [s[None, :] if s.ndim == 1 else s for s in series]
    if not series or any(s.ndim != 2 for s in series):
        raise DataError("series must be an N×C×T array (or N×T), or a non-empty list of C×T_i arrays")
    channels = {s.shape[0] for s in series}
    if len(channels) != 1:
        raise DataError(f"series have different channel counts {sorted(channels)}")
    length = max(s.shape[1] for s in series)
    out = np.full((len(series), length, channels.pop()), np.nan, dtype=np.float32)
    for i, s in enumerate(series):
        out[i, : s.shape[1]] = s.T
    return _no_infinity(out)


def _no_infinity(X: np.ndarray) -> np.ndarray:
    """X (N×T×C) itself, or a :class:`DataError` naming its first infinite value."""
    if np.isinf(X).any():
        n, t, c = (int(i[0]) for i in np.nonzero(np.isinf(X)))
        raise DataError(f"series {n}, channel {c}, timestamp {t} is {X[n, t, c]} ({int(np.isinf(X).sum())} infinite "
                        "values in all; float32 overflows beyond ±3.4e38): mark a missing value as NaN, or fix the data")
    return X


def _as_float32(convert):
    """``convert()``, its conversion errors as ours: a TypeError (an object that is no number)
    as :class:`DataTypeError`, a ValueError (a string that is none) as :class:`DataError`."""
    try:
        return convert()
    except TypeError as exc:
        raise DataTypeError(f"series must hold numbers: {exc}") from exc
    except ValueError as exc:
        raise DataError(f"series must hold numbers: {exc}") from exc


def _label_kind(y: np.ndarray) -> str:
    """``"number"``, ``"text"`` or ``"other"`` (mixed, or neither): what a split's labels are."""
    if y.dtype.kind in "biuf":
        return "number"
    if y.dtype.kind in "US":
        return "text"
    kinds = {"number" if isinstance(v, (int, float, np.number)) and not isinstance(v, bool) else
             "text" if isinstance(v, (str, bytes)) else "other" for v in y.ravel().tolist()}
    return kinds.pop() if len(kinds) == 1 else "other"


def encode_labels(y_train: np.ndarray, y_test: np.ndarray | None = None):
    """Map labels (any sortable type) to 0..n−1, in sorted order of the labels seen;
    ``y_test`` may be None. Train and test labels of different kinds (numbers in one split,
    text in the other: ``1`` is not ``"1"``) are refused."""
    if y_test is not None and len(y_train) and len(y_test):
        kinds = _label_kind(np.asarray(y_train)), _label_kind(np.asarray(y_test))
        if kinds[0] != kinds[1] and "other" not in kinds:
            shown = [", ".join(map(repr, np.unique(y)[:3].tolist())) + (", ..." if len(np.unique(y)) > 3 else "")
                     for y in (y_train, y_test)]
            plural = {"number": "numbers", "text": "text"}
            raise DataError(f"the train labels are {plural[kinds[0]]} ({shown[0]}) but the test labels are "
                            f"{plural[kinds[1]]} ({shown[1]}): a number never matches a text label (1 is not '1'); "
                            "give both splits labels of one type (e.g. y.astype(str) on both)")
    classes = np.unique(np.concatenate([y_train] + ([] if y_test is None else [y_test])))
    return np.searchsorted(classes, y_train), None if y_test is None else np.searchsorted(classes, y_test)


def split_from_raw(name: str, X_tr, y_tr=None, X_te=None, y_te=None) -> Split:
    """Series in aeon's layout (:func:`pad_to_array`) and labels (any sortable type, or
    None) -> the padded, labelled :class:`Split` (not yet normalised)."""
    try:
        X_train = pad_to_array(X_tr)
        X_test = None if X_te is None else pad_to_array(X_te)
    except DataError as e:
        raise type(e)(f"dataset {name!r}: {e}") from e
    if X_test is not None and X_train.shape[2] != X_test.shape[2]:
        raise DataError(
            f"dataset {name!r}: train has {X_train.shape[2]} channels but test has {X_test.shape[2]}"
        )
    for split, X, y in (("train", X_train, y_tr), ("test", X_test, y_te)):
        if y is not None and len(y) != len(X):
            raise DataError(f"dataset {name!r}: {len(y)} {split} labels for {len(X)} {split} series")
    y_train = y_test = None
    if y_tr is not None:
        try:
            y_train, y_test = encode_labels(np.asarray(y_tr), None if y_te is None else np.asarray(y_te))
        except DataError as e:
            raise DataError(f"dataset {name!r}: {e}") from e
    return Split(X_train, y_train, X_test, y_test)


class Normaliser:
    """TS2Vec's UEA normalisation: each channel standardised with the mean and standard
    deviation of all train timestamps (NaN ignored; a constant channel keeps scale 1).
    NaN stays NaN. :meth:`state` and ``Normaliser(**state)`` carry it in checkpoints.

    Args:
        mean, scale: per-channel statistics (length C); None until :meth:`fit`.
    """

    def __init__(self, mean=None, scale=None):
        self.mean = None if mean is None else np.asarray(mean, dtype=np.float64)
        self.scale = None if scale is None else np.asarray(scale, dtype=np.float64)

    def fit(self, X: np.ndarray) -> Normaliser:
        """Statistics of X (N×T×C) over all its timestamps."""
        scaler = StandardScaler().fit(X.reshape(-1, X.shape[2]))
        self.mean, self.scale = scaler.mean_, scaler.scale_
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """(X − mean) / scale per channel, X: N×T×C -> a new float32 array."""
        if self.mean is None:
            raise RuntimeError("Normaliser.transform before fit")
        if X.shape[-1] != len(self.mean):
            raise DataError(f"series have {X.shape[-1]} channels, but the normaliser was fitted on {len(self.mean)}")
        out = np.array(X, dtype=np.float32)
        out -= self.mean.astype(np.float32)  # in float32, as StandardScaler.transform computes it
        out /= self.scale.astype(np.float32)
        return out

    def state(self) -> dict[str, list[float]]:
        return {"mean": self.mean.tolist(), "scale": self.scale.tolist()}


def normalise(X_train: np.ndarray, X_test: np.ndarray | None = None):
    """Both splits normalised with the train statistics (:class:`Normaliser`)."""
    normaliser = Normaliser().fit(X_train)
    return normaliser.transform(X_train), None if X_test is None else normaliser.transform(X_test)


def split_long_series(X: np.ndarray, max_length: int) -> np.ndarray:
    """TS2Vec's rule for series longer than ``max_length``: cut each into
    ⌈T / max_length⌉ consecutive sections (TS2Vec rounds down, its issue #24),
    NaN-pad them to one length and stack them as series (N·sections × T' × C)."""
    sections = -(-X.shape[1] // max_length)
    if sections <= 1:
        return X
    parts = np.array_split(X, sections, axis=1)
    length = parts[0].shape[1]
    padded = [np.pad(p, ((0, 0), (0, length - p.shape[1]), (0, 0)), constant_values=np.nan) for p in parts]
    return np.concatenate(padded, axis=0)


def pretrain_series(X: np.ndarray, max_train_length: int | None) -> np.ndarray:
    """What pretraining sees of X (N×T×C): series cut into sections when longer than
    ``max_train_length`` (:func:`split_long_series`), all-NaN series dropped (TS2Vec)."""
    if max_train_length is not None:
        X = split_long_series(X, max_train_length)
    return X[~np.isnan(X).all(axis=(1, 2))]


def ts2vec_budget(X_train: np.ndarray) -> int:
    """TS2Vec's default number of iterations: 200 if N·T·C ≤ 100000, else 600."""
    return 200 if X_train.size <= 100_000 else 600


def series_of(item):
    """The series of a dataset item or a batch: the item itself, or the first element of a
    tuple/list such as TensorDataset's ``(x,)``."""
    return item[0] if isinstance(item, (tuple, list)) else item


def channel_means(X) -> np.ndarray:
    """Each channel's mean over the observed values of series in aeon's layout (0 where none)."""
    values = np.concatenate([np.atleast_2d(np.asarray(x, dtype=float)) for x in X], axis=1)  # C×ΣT
    seen = ~np.isnan(values)
    return np.where(seen, values, 0.0).sum(axis=1) / np.maximum(seen.sum(axis=1), 1)


def interpolate_missing(X, fill, split: str = "") -> tuple:
    """Missing values of series in aeon's layout (N×C×T, or a list of C×T_i) filled along time,
    for methods that cannot skip them (the 1-NN distances): trailing timestamps missing in every
    channel are the series' end (padding: dropped), NaN
    inside a series is interpolated linearly per channel (the nearest value at its ends), and a
    channel with no value in a series takes ``fill[c]`` (e.g. the train split's
    :func:`channel_means`).

    Returns ``(X filled, the number of cells filled)``, X an N×C×T array when every series then
    has one length, else a list of C×T_i arrays; a series with no value is refused
    (:class:`DataError`, naming it and ``split``)."""
    import pandas as pd

    if isinstance(X, np.ndarray) and X.dtype != object and not np.isnan(X).any():
        return np.asarray(X, dtype=float), 0  # nothing to fill (tests: the same as the loop's result)
    out, filled = [], 0
    for i, x in enumerate(X):
        x = np.atleast_2d(np.asarray(x, dtype=float))
        seen = ~np.isnan(x).all(axis=0)
        if not seen.any():
            raise DataError(f"series {i}{f' of the {split} split' if split else ''} has no observed value: a distance "
                            "to it is undefined; drop it")
        x = x[:, : np.flatnonzero(seen)[-1] + 1]
        holes = int(np.isnan(x).sum())
        if holes:
            x = pd.DataFrame(x.T).interpolate(method="linear", limit_direction="both").to_numpy().T
            x = np.where(np.isnan(x), np.asarray(fill, dtype=float)[:, None], x)
        out.append(x)
        filled += holes
    return (np.stack(out) if len({x.shape for x in out}) == 1 else out), filled
