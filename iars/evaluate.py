"""Classifier stage: encode series with a frozen encoder, pool, fit a classifier."""
from __future__ import annotations

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from torch import nn

from iars.errors import ConfigError, DataError

POOLINGS = ("max", "avg")
PROTOCOLS = ("svm", "logreg")


BATCH_TIMESTAMPS = 2**16
"""Timestamps per encoding batch (series × length): 64 series up to length 1024, fewer beyond,
so that the activations of long series stay bounded (~1 GB at K = 320)."""


@torch.no_grad()
def encode(
    encoder: nn.Module, X, pooling: str | None = "max", batch_size: int = 64, *, exact: bool = False,
    ts2vec_padding: bool = False,
) -> np.ndarray:
    """Encode X (N×T×C, NaN-padded at the end; anything that slices into float32 arrays) in eval
    mode; returns instance embeddings N×K pooled over each series' own timestamps (``max``:
    TS2Vec's full-series max pooling, ``avg``: the paper's global average), or with
    ``pooling=None`` one vector per timestamp, N×T×K (NaN beyond a series' end).

    Each series is encoded at its own length (its last timestamp with an observed value, plus
    one: trailing NaN is padding, NaN inside a series stays missing), in batches of series of
    that length (``batch_size`` at most, fewer for long series: :data:`BATCH_TIMESTAMPS`), so its
    embedding does not depend on what else is encoded with it: padding to a longer series of the
    call would feed the padding's activations back into its span through the convolutions. On
    the CPU the convolution kernels' blocking still depends on the batch, by at most ~1e-6;
    ``exact=True`` encodes one series at a time, bit for bit the same in any call (slower).
    ``ts2vec_padding=True`` is TS2Vec's own encoding instead: every series padded to the
    longest of its batch and pooled over the padding too (to reproduce its numbers).
    """
    if pooling is not None:
        check_pooling(pooling)
    was_training = encoder.training
    encoder.eval()
    device = next(encoder.parameters()).device
    try:
        if len(X) == 0:
            raise DataError("no series to encode: give at least one series")
        if ts2vec_padding:
            return _encode_padded(encoder, X, pooling, batch_size, device)
        lengths = series_lengths(X, batch_size)
        out = None
        for length in np.unique(lengths):
            rows = np.flatnonzero(lengths == length)
            step = 1 if exact else max(1, min(batch_size, BATCH_TIMESTAMPS // int(length)))
            for start in range(0, len(rows), step):
                idx = rows[start : start + step]
                x = np.ascontiguousarray(np.asarray(X[idx], dtype=np.float32)[:, :length])
                z = encoder(torch.from_numpy(x).to(device)).cpu()  # b×length×K
                if out is None:
                    width = np.asarray(X[:1]).shape[1]  # T of the call (X may be a lazy sequence of rows)
                    shape = (len(lengths), z.size(-1)) if pooling else (len(lengths), width, z.size(-1))
                    out = np.full(shape, np.nan, dtype=np.float32)
                if pooling is None:
                    out[idx, :length] = z.numpy()
                else:
                    out[idx] = _pool(z, pooling).numpy()
        return out
    finally:
        encoder.train(was_training)


def series_lengths(X, batch_size: int = 64) -> np.ndarray:
    """Each series' length in X (N×T×C): its last timestamp with an observed value, plus one
    (at least 1: a series with no observed value is encoded as one missing timestamp)."""
    lengths = []
    for start in range(0, len(X), batch_size):
        observed = ~np.isnan(np.asarray(X[start : start + batch_size])).all(axis=2)  # b×T
        last = observed.shape[1] - np.argmax(observed[:, ::-1], axis=1)
        lengths.append(np.where(observed.any(axis=1), last, 1))
    return np.concatenate(lengths) if lengths else np.zeros(0, dtype=int)


def _pool(z: torch.Tensor, pooling: str | None) -> torch.Tensor:
    """z (B×T×K) pooled over time by ``pooling`` (B×K), or as it is (None)."""
    return z if pooling is None else z.amax(dim=1) if pooling == "max" else z.mean(dim=1)


def _encode_padded(encoder, X, pooling, batch_size, device) -> np.ndarray:
    length = X[:1].shape[1] if len(X) else 1
    batch_size = max(1, min(batch_size, BATCH_TIMESTAMPS // length))
    out = []
    for start in range(0, len(X), batch_size):
        z = encoder(torch.from_numpy(np.ascontiguousarray(X[start : start + batch_size])).to(device))  # B×T×K
        out.append(_pool(z, pooling).cpu())
    return torch.cat(out).numpy()


def check_pooling(pooling: str, key: str = "classifier.pooling") -> None:
    """Refuse a pooling other than :data:`POOLINGS`, naming the setting ``key``."""
    if pooling not in POOLINGS:
        raise ConfigError(f"{key}={pooling!r}: choose one of {', '.join(POOLINGS)}")


def fit_svm(features: np.ndarray, y: np.ndarray):
    """TS2Vec's SVM protocol: RBF SVC; C = ∞ when there are fewer than 5 series per class
    or fewer than 50 in all, else 5-fold grid search over C ∈ {1e-4, …, 1e4, ∞}."""
    n_classes = len(np.unique(y))
    svm = SVC(C=np.inf, gamma="scale")
    if len(y) // n_classes < 5 or len(y) < 50:
        return svm.fit(features, y)
    grid = {"C": [1e-4, 1e-3, 1e-2, 1e-1, 1, 10, 100, 1000, 10000, np.inf]}
    return GridSearchCV(svm, grid, cv=5, n_jobs=1).fit(features, y)


def fit_logreg(features: np.ndarray, y: np.ndarray):
    """StandardScaler + logistic regression."""
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=10_000, random_state=0)).fit(features, y)


def classify(
    train_features: np.ndarray,
    y_train: np.ndarray,
    test_features: np.ndarray,
    y_test: np.ndarray,
    protocol: str = "svm",
) -> dict[str, float]:
    """Fit ``protocol`` on the train embeddings; test accuracy and macro-F1."""
    fit = {"svm": fit_svm, "logreg": fit_logreg}.get(protocol)
    if fit is None:
        raise ConfigError(f"classifier.protocol={protocol!r}: choose one of {', '.join(PROTOCOLS)}")
    pred = fit(train_features, y_train).predict(test_features)
    return {"acc": float(accuracy_score(y_test, pred)), "f1": float(f1_score(y_test, pred, average="macro"))}


class Windows:
    """The windows ``X[:, j·stride : j·stride + window]`` of X (N×T×C) as one (N·W)×w×C
    sequence whose slices are copied on demand, for :func:`encode`."""

    def __init__(self, X: np.ndarray, window: int, stride: int):
        if not (isinstance(window, int) and 2 <= window <= X.shape[1]):
            raise ConfigError(f"window={window!r}: give a number of timestamps between 2 and the series' "
                              f"length {X.shape[1]}")
        if not (isinstance(stride, int) and stride >= 1):
            raise ConfigError(f"stride={stride!r}: give a positive number of timestamps")
        self.view = sliding_window_view(X, window, axis=1)[:, ::stride]  # N×W×C×w, no copy
        self.per_series = self.view.shape[1]

    def __len__(self) -> int:
        return self.view.shape[0] * self.per_series

    def __getitem__(self, rows: slice) -> np.ndarray:
        idx = np.arange(len(self))[rows]
        return np.ascontiguousarray(self.view[idx // self.per_series, idx % self.per_series].transpose(0, 2, 1))
