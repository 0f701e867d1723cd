import numpy as np
import pytest
import torch

from iars.encoders import DilatedConvEncoder
from iars.encoding import encode, series_lengths
from iars.errors import ConfigError
from iars.evaluate import classify, fit_svm


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


@pytest.mark.parametrize("n", [12, 90])  # refitted on folds / the grid search's best score
@pytest.mark.parametrize("protocol", ["svm", "logreg"])
def test_the_validation_accuracy_never_sees_the_test_split(n, protocol):
    """val_acc (what iars-train returns to a sweeper) is the same whatever the test split holds."""
    Xtr, ytr = _blobs(n, 0)
    Xte, yte = _blobs(60, 1)
    a = classify(Xtr, ytr, Xte, yte, protocol)
    b = classify(Xtr, ytr, Xte[::-1] * 0, np.zeros_like(yte), protocol)
    assert a["val_acc"] == b["val_acc"] and 0.9 < a["val_acc"] <= 1 and a["acc"] != b["acc"]
    assert classify(Xtr[:4], np.array([0, 0, 1, 2]), Xte, yte, protocol)["val_acc"] is None  # a class of one


def test_svm_protocol_switches_to_grid_search():
    from sklearn.model_selection import GridSearchCV

    assert not isinstance(fit_svm(*_blobs(12, 0)), GridSearchCV)
    assert isinstance(fit_svm(*_blobs(90, 0)), GridSearchCV)


def test_unknown_protocol():
    with pytest.raises(ConfigError, match="classifier.protocol"):
        classify(*_blobs(12, 0), *_blobs(6, 1), "knn")


def _unequal_series(seed=0, n=10):
    """n series (T_i×2) of lengths 5..60, two pairs of equal length, missing values inside some."""
    rng = np.random.default_rng(seed)
    lengths = [int(v) for v in rng.integers(5, 60, size=n - 2)] + [17, 17]
    series = [rng.normal(size=(T, 2)).astype(np.float32) for T in lengths]
    series[1][2, :] = np.nan  # a missing timestamp inside
    series[3][4, 0] = np.nan  # a missing value of one channel
    return series


def _padded(series):
    out = np.full((len(series), max(len(s) for s in series), 2), np.nan, dtype=np.float32)
    for i, s in enumerate(series):
        out[i, : len(s)] = s
    return out


@pytest.mark.parametrize("pooling", ["max", "avg", None])
def test_each_series_gets_one_embedding_whatever_else_is_in_the_call(pooling):
    """Property: over random partitions of unequal-length series (padded to each part's longest),
    every series' embedding equals the one of all series encoded together: bit for bit with
    exact=True, within the CPU kernels' batch blocking (1e-6) by default; and equals the series
    encoded alone at its own length. Per timestamp, NaN beyond a series' end."""
    torch.manual_seed(0)
    encoder = DilatedConvEncoder(2, K=8, hidden=8, depth=3)
    series = _unequal_series()
    X = _padded(series)
    together = {exact: encode(encoder, X, pooling, exact=exact) for exact in (False, True)}
    rng = np.random.default_rng(1)
    for _ in range(4):
        labels = rng.integers(0, 3, size=len(series))
        for part in range(3):
            idx = np.flatnonzero(labels == part)
            if len(idx) == 0:
                continue
            for exact in (False, True):
                got = encode(encoder, _padded([series[i] for i in idx]), pooling, exact=exact)
                want = together[exact][idx]
                if pooling is None:  # a part is padded to its own longest series: beyond it, nothing
                    assert np.isnan(want[:, got.shape[1]:]).all()
                    want = want[:, : got.shape[1]]
                if exact:
                    np.testing.assert_array_equal(got, want)
                else:
                    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    for i, s in enumerate(series):
        alone = encode(encoder, s[None], pooling, exact=True)[0]
        row = together[True][i]
        np.testing.assert_array_equal(alone, row if pooling else row[: len(s)])
        if pooling is None:
            assert np.isnan(row[len(s):]).all() and np.isfinite(row[: len(s)]).all()


def test_ts2vec_padding_is_the_call_dependent_encoding_it_reproduces():
    torch.manual_seed(0)
    encoder = DilatedConvEncoder(2, K=8, hidden=8, depth=3)
    series = _unequal_series()
    short = int(np.argmin([len(s) for s in series]))
    X = _padded(series)
    alone = encode(encoder, X[short : short + 1, : len(series[short])], ts2vec_padding=True)[0]
    together = encode(encoder, X, ts2vec_padding=True)[short]
    assert np.abs(alone - together).max() > 1e-3  # TS2Vec's: the padding's activations reach the series
    np.testing.assert_array_equal(encode(encoder, X, exact=True)[short], alone)


def test_series_lengths_end_at_the_last_observed_value():
    X = np.zeros((4, 6, 2), dtype=np.float32)
    X[0, 4:] = np.nan           # length 4
    X[1, 2, :] = np.nan         # missing inside: length 6
    X[2, 5, 0] = np.nan         # one channel observed at the end: length 6
    X[3] = np.nan               # nothing observed: encoded as one missing timestamp
    assert series_lengths(X, batch_size=3).tolist() == [4, 6, 6, 1]


def _tied(n=20, seed=0):
    """Blobs in which series 0 and 1, of different classes, have the same embedding."""
    X, y = _blobs(n, seed)
    X[1], y[0], y[1] = X[0], 0, 1
    return X, y


@pytest.mark.parametrize("n", [20, 90])  # C = inf directly / in the grid
def test_equal_embeddings_of_different_classes_do_not_hang_the_svm(n):
    """SVC(C=inf) never returns once two train embeddings of different classes are equal (no
    hard margin exists): C = 1e4 replaces it, with a warning, and the fit ends."""
    from iars.evaluate import conflicting_duplicates

    X, y = _tied(n)
    assert conflicting_duplicates(X, y) == 2 and conflicting_duplicates(*_blobs(n, 0)) == 0
    scores = classify(X, y, *_blobs(60, 1))
    assert scores["acc"] > 0.9 and "replaced by C = 1e4" in scores["warnings"][0]
    model = fit_svm(X, y, notes := [])
    chosen = model.best_estimator_.C if n == 90 else model.C
    assert np.isfinite(chosen) and notes


def test_an_encoder_that_maps_all_series_alike_is_named():
    X, y = _blobs(20, 0)
    scores = classify(np.zeros_like(X), y, *_blobs(30, 1))
    assert "every train series has the same embedding" in scores["warnings"][0]


def test_nearly_equal_embeddings_stop_at_the_solver_bound(monkeypatch):
    """A C = inf fit that cannot converge (two different-class embeddings 1e-9 apart) stops at
    the iteration bound with a warning, instead of running forever (bound lowered to keep the test fast)."""
    import iars.evaluate as evaluate

    monkeypatch.setattr(evaluate, "SVM_MAX_ITER", 10_000)
    X, y = _tied()
    X[1] = X[0] + 1e-9
    scores = classify(X, y, *_blobs(30, 1))
    assert "stopped at its bound of 10,000 iterations" in scores["warnings"][0]


@pytest.mark.parametrize("n", [12, 90])
def test_the_bounds_leave_a_converging_fit_unchanged(n):
    """Where TS2Vec's protocol converges on its own, the guarded fit is the unguarded one: same C,
    same support vectors, far below the iteration bound."""
    from sklearn.svm import SVC

    from iars.evaluate import SVM_MAX_ITER

    X, y = _blobs(n, 0)
    model = fit_svm(X, y, notes := [])
    svm = model.best_estimator_ if n == 90 else model
    plain = SVC(C=svm.C, gamma="scale").fit(X, y)
    assert not notes and svm.n_iter_.max() < SVM_MAX_ITER / 100
    np.testing.assert_array_equal(svm.support_, plain.support_)
    np.testing.assert_array_equal(svm.predict(_blobs(60, 1)[0]), plain.predict(_blobs(60, 1)[0]))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_embeddings_that_are_not_finite_are_refused_by_name(bad):
    from iars.errors import DataError

    X, y = _blobs(20, 0)
    X[3, 1] = bad
    with pytest.raises(DataError, match=r"train embeddings of 1 series are not finite \(series 3\)"):
        classify(X, y, *_blobs(30, 1))


def test_a_series_the_encoder_sees_nothing_of_has_a_nan_embedding():
    """No timestamp with every channel observed: the encoder skips them all, so the pooled
    embedding is NaN (it was the embedding of zeros, equal for every such series)."""
    from iars.encoding import seen_series

    X = np.random.default_rng(0).normal(size=(4, 6, 2)).astype(np.float32)
    X[1, :, 0] = np.nan          # channel 0 missing all along
    X[2, ::2, 0], X[2, 1::2, 1] = np.nan, np.nan  # some channel missing at every timestamp
    X[3, 1:] = np.nan            # one observed timestamp: seen
    assert seen_series(X, batch_size=3).tolist() == [True, False, False, True]
    encoder = DilatedConvEncoder(in_channels=2, K=4, hidden=4, depth=1)
    for pooling in ("max", "avg"):
        Z = encode(encoder, X, pooling)
        assert np.isnan(Z[[1, 2]]).all() and np.isfinite(Z[[0, 3]]).all()
    assert np.isfinite(encode(encoder, X, None)[1]).all()  # per timestamp: the context's values, as TS2Vec
