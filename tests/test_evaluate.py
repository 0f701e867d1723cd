import numpy as np
import pytest
import torch

from iars.errors import ConfigError
from iars.evaluate import classify, encode, fit_svm


class _Echo(torch.nn.Module):
    """Returns its input as the representation (K = C); records train/eval mode."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(()))
        self.modes = []

    def forward(self, x):
        self.modes.append(self.training)
        return x * self.w


def test_encode_pools_over_time_in_eval_mode():
    enc = _Echo().train()
    X = np.arange(2 * 5 * 3, dtype=np.float32).reshape(2, 5, 3)
    np.testing.assert_allclose(encode(enc, X, "max", batch_size=1), X.max(axis=1))
    np.testing.assert_allclose(encode(enc, X, "avg"), X.mean(axis=1))
    assert enc.modes and not any(enc.modes) and enc.training  # eval inside, restored after
    with pytest.raises(ConfigError, match="classifier.pooling"):
        encode(enc, X, "median")


def _blobs(n, seed):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    return rng.normal(size=(n, 4)) + 4 * np.eye(3, 4)[y], y


@pytest.mark.parametrize("n", [12, 90])  # C = inf directly / grid search
@pytest.mark.parametrize("protocol", ["svm", "logreg"])
def test_classifiers_separate_separable_classes(n, protocol):
    Xtr, ytr = _blobs(n, 0)
    Xte, yte = _blobs(60, 1)
    scores = classify(Xtr, ytr, Xte, yte, protocol)
    assert scores["acc"] > 0.9 and 0 <= scores["f1"] <= 1


def test_svm_protocol_switches_to_grid_search():
    from sklearn.model_selection import GridSearchCV

    assert not isinstance(fit_svm(*_blobs(12, 0)), GridSearchCV)
    assert isinstance(fit_svm(*_blobs(90, 0)), GridSearchCV)


def test_unknown_protocol():
    with pytest.raises(ConfigError, match="classifier.protocol"):
        classify(*_blobs(12, 0), *_blobs(6, 1), "knn")
