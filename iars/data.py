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


def load_uea(name: str, data_dir: str | os.PathLike | None = None) -> Split:
    """Load a UEA/UCR classification dataset as TS2Vec does.

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
    local = any(_has_files(r, name) for r in where)
    created = not (where[0] / name).exists()
    try:
        X_tr, y_tr = _read_split(name, "train", extract_path)
        X_te, y_te = _read_split(name, "test", extract_path)
    except Exception as e:  # aeon raises ValueError, OSError, IndexError... on bad or missing data
        if created and data_dir is not None and (where[0] / name).is_dir():
            with contextlib.suppress(OSError):  # remove the empty folder aeon made for a download
                (where[0] / name).rmdir()
        looked = ", ".join(str(r / name) for r in where)
        if local:
            raise DataError(f"dataset {name!r}: the files in {looked} could not be read: {e}") from e
        raise DataError(
            f"dataset {name!r} not found: looked in {looked}, and aeon could not download it "
            f"({type(e).__name__}: {e}). Place {name}/{name}_TRAIN.ts and {name}/{name}_TEST.ts "
            f"(aeon .ts format) under a folder and pass dataset.data_dir=<folder> "
            f"(or set AEON_DATA); check the spelling of dataset.name."
        ) from e
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


def ts2vec_budget(X_train: np.ndarray) -> int:
    """TS2Vec's default number of iterations: 200 if N·T·C ≤ 100000, else 600."""
    return 200 if X_train.size <= 100_000 else 600


class TimeSeriesDataModule(pl.LightningDataModule):
    """Serves shuffled batches of unlabeled train series (B×T×C) for pretraining, and
    keeps the labeled arrays for the classifier stage.

    Subclasses implement :meth:`load`. The loader drops the last incomplete batch and
    uses ``min(batch_size, N)`` like TS2Vec; its shuffle order is fixed by ``seed``.
    """

    def __init__(self, name: str, batch_size: int = 8, seed: int = 0):
        super().__init__()
        if batch_size < 1:
            raise DataError(f"dataset.batch_size must be at least 1, got {batch_size}")
        self.name = name
        self.batch_size = batch_size
        self.seed = seed
        self.data: Split | None = None

    def load(self) -> Split:
        raise NotImplementedError

    def prepare(self) -> Split:
        """Load once and validate; returns the arrays."""
        if self.data is None:
            data = self.load()
            keep = ~np.isnan(data.X_train).all(axis=(1, 2))  # TS2Vec drops all-NaN series
            data.X_train, data.y_train = data.X_train[keep], data.y_train[keep]
            for split, X in (("train", data.X_train), ("test", data.X_test)):
                if X.shape[0] < 2:
                    raise DataError(
                        f"dataset {self.name!r}: the {split} split has {X.shape[0]} series; "
                        "contrastive pretraining and evaluation need at least 2"
                    )
            self.data = data
        return self.data

    def setup(self, stage: str | None = None) -> None:
        self.prepare()

    def train_dataloader(self) -> DataLoader:
        X = torch.from_numpy(self.prepare().X_train)
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

    def __init__(self, name: str, data_dir: str | None = None, batch_size: int = 8, seed: int = 0):
        super().__init__(name, batch_size, seed)
        self.data_dir = data_dir

    def load(self) -> Split:
        return load_uea(self.name, self.data_dir)


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
    ):
        super().__init__(name, batch_size, seed)
        self.params = dict(
            n_train=n_train, n_test=n_test, length=length, channels=channels, classes=classes, seed=data_seed
        )

    def load(self) -> Split:
        return Split(*make_classification(**self.params))
