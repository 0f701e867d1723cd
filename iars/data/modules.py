"""The LightningDataModules: :class:`TimeSeriesDataModule` turns a source's series into the
normalised arrays and serves pretraining batches (B×T×C); its subclasses are the sources:
a UEA/UCR dataset by name, generated series, your arrays, your files.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from iars.data.arrays import Normaliser, Split, pretrain_series, split_from_raw
from iars.data.readers import read_series, read_uea
from iars.data.sampler import EpochShuffle
from iars.data.synthetic import make_classification
from iars.errors import DataError

BATCH_SIZE = 8
"""Series per pretraining step: TS2Vec's default, of every DataModule, ``conf/dataset/`` and the estimator."""
MAX_TRAIN_LENGTH = 3000
"""TS2Vec's section length: longer training series are cut into sections of this many timestamps."""


class TimeSeriesDataModule(pl.LightningDataModule):
    """Serves shuffled batches of unlabeled train series (B×T×C) for pretraining, and
    keeps the labeled arrays for the classifier stage.

    A subclass is a source: it implements :meth:`raw` (the series and labels as the source
    gives them, in aeon's layout); :meth:`load` pads them and encodes the labels
    (:func:`split_from_raw`), and :meth:`prepare` validates the result and normalises both
    splits with the train statistics (:attr:`normaliser`). Pretraining uses
    :attr:`pretrain_X`: the train series, cut into sections when longer than
    ``max_train_length`` (TS2Vec), without all-NaN series. The loader drops the last
    incomplete batch and uses ``min(batch_size, N)`` like TS2Vec; its shuffle order is
    fixed by ``seed``.

    ``expected`` (keys ``n_train``, ``n_test``, ``channels``, ``length``, ``classes``)
    states the dataset's known shape; a mismatch with the loaded files is an error.
    """

    def __init__(
        self,
        name: str,
        batch_size: int = BATCH_SIZE,
        seed: int = 0,
        max_train_length: int | None = MAX_TRAIN_LENGTH,
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
        self.fixed_normaliser: Normaliser | None = None  # statistics to use instead of the train split's
        self._pretrain_X: np.ndarray | None = None
        self._sampler: EpochShuffle | None = None
        self._resume: dict | None = None

    def raw(self):
        """The dataset as its source gives it, before padding, label encoding and
        normalisation: ``(X_train, y_train, X_test, y_test)`` in aeon's layout (an N×C×T
        array, N×T for one channel, or a list of C×T_i arrays of unequal lengths; NaN =
        missing), labels of any sortable type; labels and the test split may be None.
        :meth:`load` builds on it, and the 1-NN baselines compare these series."""
        raise NotImplementedError

    def load(self) -> Split:
        """The dataset's arrays, padded and labelled, before normalisation: :meth:`raw`
        through :func:`split_from_raw`."""
        return split_from_raw(self.name, *self.raw())

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
        missing = np.flatnonzero(np.isnan(data.X_train).all(axis=(0, 1)))
        if missing.size:
            raise DataError(
                f"dataset {self.name!r}: {'channels' if missing.size > 1 else 'channel'} {', '.join(map(str, missing))} "
                f"of the train split {'hold' if missing.size > 1 else 'holds'} no observed value: the encoder skips a "
                "timestamp with a missing channel, so it would see nothing at all; drop the channel"
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
            fixed = self.fixed_normaliser
            self.normaliser = fixed if fixed is not None else Normaliser().fit(loaded.X_train)
            X_test = None if loaded.X_test is None else self.normaliser.transform(loaded.X_test)
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


class UEADataModule(TimeSeriesDataModule):
    """A UEA/UCR dataset by name (:func:`read_uea`), read once."""

    def __init__(
        self,
        name: str,
        data_dir: str | None = None,
        batch_size: int = BATCH_SIZE,
        seed: int = 0,
        max_train_length: int | None = MAX_TRAIN_LENGTH,
        expected: dict | None = None,
    ):
        super().__init__(name, batch_size, seed, max_train_length, expected)
        self.data_dir = data_dir
        self._raw = None

    def raw(self):
        if self._raw is None:  # read the files once, for both the SSL arrays and the baselines
            self._raw = read_uea(self.name, self.data_dir)
        return self._raw


class SyntheticDataModule(TimeSeriesDataModule):
    """Generated multivariate series (see :func:`iars.data.synthetic.make_classification`),
    generated once."""

    def __init__(
        self,
        n_train: int = 40,
        n_test: int = 40,
        length: int = 100,
        channels: int = 3,
        classes: int = 3,
        data_seed: int = 0,
        name: str = "Synthetic",
        batch_size: int = BATCH_SIZE,
        seed: int = 0,
        max_train_length: int | None = MAX_TRAIN_LENGTH,
    ):
        super().__init__(name, batch_size, seed, max_train_length)
        self.params = dict(
            n_train=n_train, n_test=n_test, length=length, channels=channels, classes=classes, seed=data_seed
        )
        self._generated = None

    def raw(self):
        """The generated series (N×T×C, equal lengths, labels in 0..classes−1, which the
        label encoding keeps) in aeon's layout, N×C×T."""
        if self._generated is None:
            self._generated = make_classification(**self.params)
        X_train, y_train, X_test, y_test = self._generated
        return X_train.transpose(0, 2, 1), y_train, X_test.transpose(0, 2, 1), y_test


class ArrayDataModule(TimeSeriesDataModule):
    """Your own series, in memory: aeon's layout (an N×C×T array, N×T for one channel, or
    a list of C×T_i arrays of unequal lengths; NaN = missing), labels optional.

    Without labels or a test split, the data serves pretraining only. With ``normaliser``,
    both splits are normalised with those statistics instead of the train split's (a warm
    start continues with the statistics its encoder was trained on).
    """

    def __init__(
        self,
        X_train,
        y_train=None,
        X_test=None,
        y_test=None,
        name: str = "arrays",
        batch_size: int = BATCH_SIZE,
        seed: int = 0,
        max_train_length: int | None = MAX_TRAIN_LENGTH,
        normaliser: Normaliser | None = None,
    ):
        super().__init__(name, batch_size, seed, max_train_length)
        self._arrays = (X_train, y_train, X_test, y_test)
        self.fixed_normaliser = normaliser

    def raw(self):
        return self._arrays


class FileDataModule(ArrayDataModule):
    """Your own series from files (:func:`read_series`): ``train`` and optionally ``test``,
    each ``.npy``, ``.npz`` or ``.csv``; labels optional. The name defaults to the train
    file's stem; ``time`` names a CSV's time column (``False``: none; see :func:`read_series`)."""

    def __init__(
        self,
        train: str,
        test: str | None = None,
        name: str | None = None,
        batch_size: int = BATCH_SIZE,
        seed: int = 0,
        max_train_length: int | None = MAX_TRAIN_LENGTH,
        time: str | bool | None = None,
    ):
        super().__init__(None, name=name or Path(train).stem, batch_size=batch_size, seed=seed,
                         max_train_length=max_train_length)
        self.train, self.test, self.time = train, test, time

    def raw(self):
        if self._arrays[0] is None:
            X_train, y_train = read_series(self.train, self.time)
            X_test, y_test = read_series(self.test, self.time) if self.test is not None else (None, None)
            self._arrays = (X_train, y_train, X_test, y_test)
        return self._arrays


def load_uea(name: str, data_dir: str | os.PathLike | None = None) -> Split:
    """Load a UEA/UCR classification dataset as TS2Vec does: N×T×C float32, NaN-padded,
    labels 0..n−1, normalised per channel with train statistics (see :func:`read_uea`)."""
    return UEADataModule(name, data_dir).prepare()
