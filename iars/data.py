"""Datasets: UEA/UCR classification data via aeon, synthetic data, and the DataModule.

Arrays are N×T×C float32 (NaN = missing or padding) with labels in 0..n_classes−1.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from sklearn.preprocessing import StandardScaler
from torch.utils.data import DataLoader, Sampler, TensorDataset

from iars.errors import DataError
from iars.synthetic import make_classification


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

    @property
    def labelled(self) -> bool:
        """Whether the classifier stage can run: labels for both splits."""
        return self.y_train is not None and self.X_test is not None and self.y_test is not None


def pad_to_array(series) -> np.ndarray:
    """aeon's collection layout -> N×T_max×C float32, NaN-padded at the end.

    Accepts an N×C×T array, an N×T array (univariate), or a list of C×T_i (or T_i)
    arrays of unequal lengths.
    """
    if isinstance(series, np.ndarray) and series.dtype != object:
        if series.ndim == 2:
            series = series[:, None, :]
        if series.ndim != 3:
            raise DataError(f"series must be an N×C×T array (or N×T, or a list of C×T_i arrays); "
                            f"got an array of shape {series.shape}")
        return np.ascontiguousarray(series.transpose(0, 2, 1), dtype=np.float32)
    try:
        series = [np.asarray(s, dtype=np.float32) for s in series]
    except (TypeError, ValueError) as exc:
        raise DataError(f"series must hold numbers: {exc}") from exc
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
    return out


def encode_labels(y_train: np.ndarray, y_test: np.ndarray | None = None):
    """Map labels (any sortable type) to 0..n−1, in sorted order of the labels seen;
    ``y_test`` may be None."""
    classes = np.unique(np.concatenate([y_train] + ([] if y_test is None else [y_test])))
    return np.searchsorted(classes, y_train), None if y_test is None else np.searchsorted(classes, y_test)


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


def load_uea(name: str, data_dir: str | os.PathLike | None = None) -> Split:
    """Load a UEA/UCR classification dataset as TS2Vec does: N×T×C float32, NaN-padded,
    labels 0..n−1, normalised per channel with train statistics (see :func:`read_uea`)."""
    return UEADataModule(name, data_dir).prepare()


def split_from_raw(name: str, X_tr, y_tr=None, X_te=None, y_te=None) -> Split:
    """Series in aeon's layout (:func:`pad_to_array`) and labels (any sortable type, or
    None) -> the padded, labelled :class:`Split` (not yet normalised)."""
    try:
        X_train = pad_to_array(X_tr)
        X_test = None if X_te is None else pad_to_array(X_te)
    except DataError as e:
        raise DataError(f"dataset {name!r}: {e}") from e
    if X_test is not None and X_train.shape[2] != X_test.shape[2]:
        raise DataError(
            f"dataset {name!r}: train has {X_train.shape[2]} channels but test has {X_test.shape[2]}"
        )
    for split, X, y in (("train", X_train, y_tr), ("test", X_test, y_te)):
        if y is not None and len(y) != len(X):
            raise DataError(f"dataset {name!r}: {len(y)} {split} labels for {len(X)} {split} series")
    y_train = y_test = None
    if y_tr is not None:
        y_train, y_test = encode_labels(np.asarray(y_tr), None if y_te is None else np.asarray(y_te))
    return Split(X_train, y_train, X_test, y_test)


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


def ts2vec_budget(X_train: np.ndarray) -> int:
    """TS2Vec's default number of iterations: 200 if N·T·C ≤ 100000, else 600."""
    return 200 if X_train.size <= 100_000 else 600


class TimeSeriesDataModule(pl.LightningDataModule):
    """Serves shuffled batches of unlabeled train series (B×T×C) for pretraining, and
    keeps the labeled arrays for the classifier stage.

    Subclasses implement :meth:`load` (the padded, labelled, unnormalised arrays);
    :meth:`prepare` validates them and normalises both splits with the train statistics
    (:attr:`normaliser`). Pretraining uses :attr:`pretrain_X`: the train series, cut into
    sections when longer than ``max_train_length`` (TS2Vec), without all-NaN series. The
    loader drops the last incomplete batch and uses ``min(batch_size, N)`` like TS2Vec;
    its shuffle order is fixed by ``seed``.

    ``expected`` (keys ``n_train``, ``n_test``, ``channels``, ``length``, ``classes``)
    states the dataset's known shape; a mismatch with the loaded files is an error.
    """

    def __init__(
        self,
        name: str,
        batch_size: int = 8,
        seed: int = 0,
        max_train_length: int | None = 3000,
        expected: dict | None = None,
    ):
        super().__init__()
        if not isinstance(batch_size, int) or batch_size < 1:
            raise DataError(f"dataset.batch_size must be a positive integer, got {batch_size!r}")
        if max_train_length is not None and (not isinstance(max_train_length, int) or max_train_length < 2):
            raise DataError(f"dataset.max_train_length must be at least 2 (or null), got {max_train_length!r}")
        self.name = name
        self.batch_size = batch_size
        self.seed = seed
        self.max_train_length = max_train_length
        self.expected = dict(expected or {})
        self.data: Split | None = None
        self.normaliser: Normaliser | None = None
        self._loaded: Split | None = None
        self._pretrain_X: np.ndarray | None = None
        self._sampler: EpochShuffle | None = None
        self._resume: dict | None = None

    def load(self) -> Split:
        """The dataset's arrays, padded and labelled, before normalisation."""
        raise NotImplementedError

    def raw(self):
        """``(X_train, y_train, X_test, y_test)`` before any normalisation, in aeon's layout
        (N×C×T), for the 1-NN baselines."""
        self.prepare()
        data = self._loaded
        return (data.X_train.transpose(0, 2, 1), data.y_train,
                None if data.X_test is None else data.X_test.transpose(0, 2, 1), data.y_test)

    def _check(self, data: Split) -> None:
        found = {
            "n_train": data.X_train.shape[0], "n_test": None if data.X_test is None else data.X_test.shape[0],
            "channels": data.n_channels, "length": data.X_train.shape[1], "classes": data.n_classes,
        }
        wrong = {k: (v, found[k]) for k, v in self.expected.items() if k in found and v != found[k]}
        unknown = set(self.expected) - set(found)
        if unknown:
            raise DataError(f"dataset.expected has unknown keys {sorted(unknown)}; use {sorted(found)}")
        if wrong:
            detail = ", ".join(f"{k} {want} expected but {got} found" for k, (want, got) in wrong.items())
            raise DataError(
                f"dataset {self.name!r} does not have its known shape: {detail}. The files may be "
                "another version of the dataset; fix them, or the config's dataset.expected."
            )
        for split, X in (("train", data.X_train), ("test", data.X_test)):
            if X is not None and X.shape[0] < 2:
                raise DataError(
                    f"dataset {self.name!r}: the {split} split has {X.shape[0]} series; "
                    "contrastive pretraining and evaluation need at least 2"
                )
        if data.X_train.shape[1] < 2:
            raise DataError(
                f"dataset {self.name!r}: series of length {data.X_train.shape[1]}; contrastive "
                "pretraining crops two overlapping views and needs at least 2 timestamps"
            )

    def prepare(self) -> Split:
        """Load once, validate and normalise; returns the arrays."""
        if self.data is None:
            loaded = self.load()
            self._check(loaded)
            self.normaliser = Normaliser().fit(loaded.X_train)
            X_test = None if loaded.X_test is None else self.normaliser.transform(loaded.X_test)
            self._loaded = loaded
            self.data = Split(self.normaliser.transform(loaded.X_train), loaded.y_train, X_test, loaded.y_test)
        return self.data

    @property
    def pretrain_X(self) -> np.ndarray:
        """The series pretraining sees (N'×T'×C float32)."""
        if self._pretrain_X is None:
            self._pretrain_X = pretrain_series(self.prepare().X_train, self.max_train_length)
        return self._pretrain_X

    def setup(self, stage: str | None = None) -> None:
        self.prepare()

    def train_dataloader(self) -> DataLoader:
        X = torch.from_numpy(self.pretrain_X)
        batch_size = min(self.batch_size, len(X))
        self._sampler = EpochShuffle(len(X), self.seed)
        if self._resume is not None:  # continue where the checkpointed run stopped
            epoch, done = self._resume["epoch"], self._resume["batches_done"]
            finished = done >= len(X) // batch_size
            self._sampler.resume(epoch + 1 if finished else epoch, 0 if finished else done * batch_size)
            self._resume = None
        return DataLoader(TensorDataset(X), batch_size=batch_size, sampler=self._sampler, drop_last=True,
                          generator=torch.Generator().manual_seed(self.seed))

    def state_dict(self) -> dict:
        """Where pretraining is in the data (saved in checkpoints): the epoch of the shuffle and
        the batches of it done. Single-process only (under DDP, Lightning's distributed sampler
        orders the data and resumes at epoch boundaries)."""
        trainer = self.trainer
        if self._sampler is None or trainer is None or trainer.world_size > 1:
            return {}
        done = trainer.fit_loop.epoch_loop.batch_progress.current.processed
        return {"epoch": self._sampler.epoch, "batches_done": done}

    def load_state_dict(self, state: dict) -> None:
        self._resume = state or None


class EpochShuffle(Sampler[int]):
    """A new random order of ``n`` items every epoch, a function of ``(seed, epoch)`` alone
    (Lightning calls :meth:`set_epoch` at each epoch start), so that a run resumed from a
    checkpoint sees exactly the order the uninterrupted run saw; :meth:`resume` starts the
    next pass at a position inside an epoch."""

    def __init__(self, n: int, seed: int):
        self.n, self.seed, self.epoch = n, seed, 0
        self._skip = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def resume(self, epoch: int, position: int) -> None:
        """The next pass covers ``epoch``'s order from item ``position`` on."""
        self.epoch, self._skip = epoch, position

    def order(self, epoch: int) -> list[int]:
        """Epoch ``epoch``'s permutation of 0..n−1."""
        seed = int(np.random.SeedSequence([self.seed, epoch]).generate_state(1)[0])
        return torch.randperm(self.n, generator=torch.Generator().manual_seed(seed)).tolist()

    def __iter__(self):
        skip, self._skip = self._skip, 0
        return iter(self.order(self.epoch)[skip:])

    def __len__(self) -> int:
        return self.n


def pretrain_series(X: np.ndarray, max_train_length: int | None) -> np.ndarray:
    """What pretraining sees of X (N×T×C): series cut into sections when longer than
    ``max_train_length`` (:func:`split_long_series`), all-NaN series dropped (TS2Vec)."""
    if max_train_length is not None:
        X = split_long_series(X, max_train_length)
    return X[~np.isnan(X).all(axis=(1, 2))]


class UEADataModule(TimeSeriesDataModule):
    """A UEA/UCR dataset by name (:func:`read_uea`)."""

    def __init__(
        self,
        name: str,
        data_dir: str | None = None,
        batch_size: int = 8,
        seed: int = 0,
        max_train_length: int | None = 3000,
        expected: dict | None = None,
    ):
        super().__init__(name, batch_size, seed, max_train_length, expected)
        self.data_dir = data_dir
        self._raw = None

    def load(self) -> Split:
        return split_from_raw(self.name, *self.raw())

    def raw(self):
        if self._raw is None:  # read the files once, for both the SSL arrays and the baselines
            self._raw = read_uea(self.name, self.data_dir)
        return self._raw


class SyntheticDataModule(TimeSeriesDataModule):
    """Generated multivariate series (see :func:`iars.synthetic.make_classification`)."""

    def __init__(
        self,
        n_train: int = 40,
        n_test: int = 40,
        length: int = 100,
        channels: int = 3,
        classes: int = 3,
        data_seed: int = 0,
        name: str = "Synthetic",
        batch_size: int = 8,
        seed: int = 0,
        max_train_length: int | None = 3000,
    ):
        super().__init__(name, batch_size, seed, max_train_length)
        self.params = dict(
            n_train=n_train, n_test=n_test, length=length, channels=channels, classes=classes, seed=data_seed
        )

    def load(self) -> Split:
        return Split(*make_classification(**self.params))


class ArrayDataModule(TimeSeriesDataModule):
    """Your own series, in memory: aeon's layout (an N×C×T array, N×T for one channel, or
    a list of C×T_i arrays of unequal lengths; NaN = missing), labels optional.

    Without labels or a test split, the data serves pretraining only.
    """

    def __init__(
        self,
        X_train,
        y_train=None,
        X_test=None,
        y_test=None,
        name: str = "arrays",
        batch_size: int = 8,
        seed: int = 0,
        max_train_length: int | None = 3000,
    ):
        super().__init__(name, batch_size, seed, max_train_length)
        self._arrays = (X_train, y_train, X_test, y_test)

    def load(self) -> Split:
        return split_from_raw(self.name, *self.raw())

    def raw(self):
        return self._arrays


class FileDataModule(ArrayDataModule):
    """Your own series from files (:func:`read_series`): ``train`` and optionally ``test``,
    each ``.npy``, ``.npz`` or ``.csv``; labels optional. The name defaults to the train
    file's stem."""

    def __init__(
        self,
        train: str,
        test: str | None = None,
        name: str | None = None,
        batch_size: int = 8,
        seed: int = 0,
        max_train_length: int | None = 3000,
    ):
        super().__init__(None, name=name or Path(train).stem, batch_size=batch_size, seed=seed,
                         max_train_length=max_train_length)
        self.train, self.test = train, test

    def raw(self):
        if self._arrays[0] is None:
            X_train, y_train = read_series(self.train)
            X_test, y_test = read_series(self.test) if self.test is not None else (None, None)
            self._arrays = (X_train, y_train, X_test, y_test)
        return self._arrays


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
