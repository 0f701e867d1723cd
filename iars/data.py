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
from torch.utils.data import DataLoader, TensorDataset

from iars.errors import DataError
from iars.synthetic import make_classification


@dataclass
class Split:
    """Train and test arrays of one dataset (X: N×T×C float32, y: N int64)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray

    @property
    def n_channels(self) -> int:
        return self.X_train.shape[2]

    @property
    def n_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max())) + 1


def pad_to_array(series: list[np.ndarray] | np.ndarray) -> np.ndarray:
    """aeon's N×C×T array or list of C×T_i arrays -> N×T_max×C float32, NaN-padded at the end."""
    if isinstance(series, np.ndarray):
        return np.ascontiguousarray(series.transpose(0, 2, 1), dtype=np.float32)
    channels = {s.shape[0] for s in series}
    if len(channels) != 1:
        raise DataError(f"series have different channel counts {sorted(channels)}")
    length = max(s.shape[1] for s in series)
    out = np.full((len(series), length, channels.pop()), np.nan, dtype=np.float32)
    for i, s in enumerate(series):
        out[i, : s.shape[1]] = s.T
    return out


def encode_labels(y_train: np.ndarray, y_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map labels (any sortable type) to 0..n−1, in sorted order of the labels seen."""
    classes = np.unique(np.concatenate([y_train, y_test]))
    return np.searchsorted(classes, y_train), np.searchsorted(classes, y_test)


def normalise(X_train: np.ndarray, X_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """TS2Vec's UEA normalisation: per-channel mean/std over all train timestamps
    (NaN ignored), applied to both splits; NaN stays NaN."""
    C = X_train.shape[2]
    scaler = StandardScaler().fit(X_train.reshape(-1, C))

    def apply(X):
        return scaler.transform(X.reshape(-1, C)).reshape(X.shape).astype(np.float32)

    return apply(X_train), apply(X_test)


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
    return tuple(out)


def load_uea(name: str, data_dir: str | os.PathLike | None = None) -> Split:
    """Load a UEA/UCR classification dataset as TS2Vec does: N×T×C float32, NaN-padded,
    labels 0..n−1, normalised per channel with train statistics (see :func:`read_uea`)."""
    return split_from_raw(name, *read_uea(name, data_dir))


def split_from_raw(name: str, X_tr, y_tr, X_te, y_te) -> Split:
    """aeon's raw arrays (see :func:`read_uea`) -> the padded, labelled, normalised :class:`Split`."""
    try:
        X_train, X_test = pad_to_array(X_tr), pad_to_array(X_te)
    except DataError as e:
        raise DataError(f"dataset {name!r}: {e}") from e
    if X_train.shape[2] != X_test.shape[2]:
        raise DataError(
            f"dataset {name!r}: train has {X_train.shape[2]} channels but test has {X_test.shape[2]}"
        )
    y_train, y_test = encode_labels(np.asarray(y_tr), np.asarray(y_te))
    X_train, X_test = normalise(X_train, X_test)
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

    Subclasses implement :meth:`load`. Pretraining uses :attr:`pretrain_X`: the train
    series, cut into sections when longer than ``max_train_length`` (TS2Vec), without
    all-NaN series. The loader drops the last incomplete batch and uses
    ``min(batch_size, N)`` like TS2Vec; its shuffle order is fixed by ``seed``.

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
        if batch_size < 1:
            raise DataError(f"dataset.batch_size must be at least 1, got {batch_size}")
        if max_train_length is not None and max_train_length < 2:
            raise DataError(f"dataset.max_train_length must be at least 2 (or null), got {max_train_length}")
        self.name = name
        self.batch_size = batch_size
        self.seed = seed
        self.max_train_length = max_train_length
        self.expected = dict(expected or {})
        self.data: Split | None = None
        self._pretrain_X: np.ndarray | None = None

    def load(self) -> Split:
        raise NotImplementedError

    def raw(self):
        """``(X_train, y_train, X_test, y_test)`` before any normalisation, in aeon's layout
        (N×C×T), for the 1-NN baselines."""
        data = self.prepare()
        return data.X_train.transpose(0, 2, 1), data.y_train, data.X_test.transpose(0, 2, 1), data.y_test

    def _check(self, data: Split) -> None:
        found = {
            "n_train": data.X_train.shape[0], "n_test": data.X_test.shape[0],
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
            if X.shape[0] < 2:
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
        """Load once and validate; returns the arrays."""
        if self.data is None:
            data = self.load()
            self._check(data)
            self.data = data
        return self.data

    @property
    def pretrain_X(self) -> np.ndarray:
        """The series pretraining sees (N'×T'×C float32)."""
        if self._pretrain_X is None:
            X = self.prepare().X_train
            if self.max_train_length is not None:
                X = split_long_series(X, self.max_train_length)
            self._pretrain_X = X[~np.isnan(X).all(axis=(1, 2))]  # TS2Vec drops all-NaN series
        return self._pretrain_X

    def setup(self, stage: str | None = None) -> None:
        self.prepare()

    def train_dataloader(self) -> DataLoader:
        X = torch.from_numpy(self.pretrain_X)
        generator = torch.Generator().manual_seed(self.seed)
        return DataLoader(
            TensorDataset(X),
            batch_size=min(self.batch_size, len(X)),
            shuffle=True,
            drop_last=True,
            generator=generator,
        )


class UEADataModule(TimeSeriesDataModule):
    """A UEA/UCR dataset loaded with :func:`load_uea`."""

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
