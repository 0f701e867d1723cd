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

from iars.errors import ConfigError

POOLINGS = ("max", "avg")
PROTOCOLS = ("svm", "logreg")


BATCH_TIMESTAMPS = 2**16
"""Timestamps per encoding batch (series × length): 64 series up to length 1024, fewer beyond,
so that the activations of long series stay bounded (~1 GB at K = 320)."""


@torch.no_grad()
def encode(
    encoder: nn.Module, X, pooling: str | None = "max", batch_size: int = 64
) -> np.ndarray:
    """Encode X (N×T×C, anything that slices into float32 arrays) in eval mode, in batches of
    ``batch_size`` series, fewer for long series (at most :data:`BATCH_TIMESTAMPS` timestamps).

    Returns instance embeddings N×K, pooled over all timestamps: ``max`` is TS2Vec's
    full-series max pooling, ``avg`` the paper's global average; ``pooling=None`` returns
    one vector per timestamp, N×T×K.
    """
    if pooling is not None:
        check_pooling(pooling)
    length = X[:1].shape[1] if len(X) else 1
    batch_size = max(1, min(batch_size, BATCH_TIMESTAMPS // length))
    was_training = encoder.training
    encoder.eval()
    device = next(encoder.parameters()).device
    out = []
    try:
        for start in range(0, len(X), batch_size):
            z = encoder(torch.from_numpy(np.ascontiguousarray(X[start : start + batch_size])).to(device))  # B×T×K
            out.append((z if pooling is None else z.amax(dim=1) if pooling == "max" else z.mean(dim=1)).cpu())
    finally:
        encoder.train(was_training)
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
