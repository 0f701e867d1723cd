"""The baselines: 1-NN against a slow loop and the UEA archive's published accuracies;
MiniRocket and Catch22 against aeon's own pipelines; what unequal lengths and missing values
get; and the script."""
import json

import numpy as np
import pytest
from aeon.distances import dtw_distance

from helpers import compose_cfg, plain
from iars import pipeline
from iars.baselines import METHODS, classify, equal_length, evaluate, fill_missing, one_nn, pairwise, znormalise
from iars.data import read_uea
from iars.errors import ConfigError, DataError


def test_pairwise_equals_a_loop_over_pairs():
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(4, 3, 20)), rng.normal(size=(5, 3, 20))
    dtw_i = pairwise("1NN-DTW-I", A, B)
    dtw_d = pairwise("1NN-DTW-D", A, B)
    ed = pairwise("1NN-ED", A, B)
    for i in range(4):
        for j in range(5):
            assert dtw_i[i, j] == pytest.approx(sum(np.sqrt(dtw_distance(A[i, c], B[j, c])) for c in range(3)))
            assert dtw_d[i, j] == pytest.approx(dtw_distance(A[i], B[j]))
            assert ed[i, j] == pytest.approx(np.sqrt(((A[i] - B[j]) ** 2).sum()))


def test_znormalise_and_unequal_lengths():
    X = [np.arange(6.0).reshape(2, 3), np.arange(8.0).reshape(2, 4)]
    Z = znormalise(X)
    assert all(np.allclose(z.mean(-1), 0) and np.allclose(z.std(-1), 1) for z in Z)
    result = one_nn(X, ["a", "b"], X, ["a", "b"])
    assert result["acc"]["1NN-ED"] is None and result["acc"]["1NN-DTW-D"] == 1.0


def test_basic_motions_dtw_matches_the_archive():
    acc = one_nn(*read_uea("BasicMotions"), methods=("1NN-DTW-I", "1NN-DTW-D"))["acc"]
    assert acc["1NN-DTW-I"] == pytest.approx(1.000) and acc["1NN-DTW-D"] == pytest.approx(0.975)


def test_basic_motions_1nn_ed_regression_pin():
    """Not the archive's figure: it publishes 0.675 for 1NN-ED, while the files aeon ships give
    0.600 raw and 0.725 z-normalised. A pin against unnoticed changes only."""
    data = read_uea("BasicMotions")
    assert one_nn(*data, methods=("1NN-ED",))["acc"]["1NN-ED"] == pytest.approx(0.600)
    assert one_nn(*data, methods=("1NN-ED",), normalise="znorm")["acc"]["1NN-ED"] == pytest.approx(0.725)


@pytest.mark.slow
@pytest.mark.parametrize("name,expected", [
    ("AtrialFibrillation", {"1NN-ED": 0.267, "1NN-DTW-I": 0.267, "1NN-DTW-D": 0.200}),
    ("StandWalkJump", {"1NN-ED": 0.200, "1NN-DTW-I": 0.333, "1NN-DTW-D": 0.200}),
])
def test_paper_datasets_match_the_published_archive_accuracies(uea_dir, name, expected):
    acc = one_nn(*read_uea(name, uea_dir))["acc"]
    assert acc == pytest.approx(expected, abs=1e-3)


def test_one_channel_as_n_by_t_is_one_channel():
    rng = np.random.default_rng(1)
    X, y, T, labels = rng.normal(size=(20, 15)), rng.integers(0, 3, 20), rng.normal(size=(30, 15)), rng.integers(0, 3, 30)
    flat, channel = one_nn(X, y, T, labels)["acc"], one_nn(X[:, None], y, T[:, None], labels)["acc"]
    assert flat == channel and channel["1NN-DTW-I"] == channel["1NN-DTW-D"]  # one channel: DTW-I is DTW-D


def test_missing_values_are_interpolated_filled_with_the_series_channel_mean_or_refused():
    X = np.array([[[1.0, np.nan, 3.0], [10.0, 20.0, np.nan]], [[5.0, 5.0, 5.0], [0.0, 1.0, 2.0]]])
    with pytest.raises(DataError, match="missing values.*missing=interpolate"):
        fill_missing(X, X[:1], "refuse")
    with pytest.raises(DataError, match="missing values"):
        one_nn(X, [0, 1], X, [0, 1], missing="refuse")
    filled, _, counts = fill_missing(X, X[:1], "mean")
    assert filled[0].tolist() == [[1.0, 2.0, 3.0], [10.0, 20.0, 15.0]] and np.array_equal(filled[1], X[1])
    assert counts == {"train": 2, "test": 2}
    interpolated, _, _ = fill_missing(X, X[:1])  # the default: linear in time, the last value at the end
    assert interpolated[0].tolist() == [[1.0, 2.0, 3.0], [10.0, 20.0, 20.0]]
    with pytest.raises(DataError, match="no value at all"):
        fill_missing(X, np.full((1, 2, 3), np.nan), "mean")
    result = evaluate(X, [0, 1], X, [0, 1], methods=("1NN-DTW-D",), missing="mean")
    assert result["acc"] == {"1NN-DTW-D": 1.0} and result["fit_s"] == {"1NN-DTW-D": 0.0}
    assert result["filled_cells"] == {"train": 2, "test": 2}


def test_equal_length_pads_at_the_end_to_the_longest_and_says_so():
    X_train, X_test = [np.ones((2, 3)), np.ones((2, 5))], [np.full((2, 7), 2.0)]
    A, B, note = equal_length(X_train, X_test, minimum=4)
    assert A.shape == (2, 2, 7) and B.shape == (1, 2, 7) and (B == 2).all()
    assert A[0, :, :3].tolist() == [[1.0] * 3] * 2 and (A[0, :, 3:] == 0).all()
    assert note == "series of lengths 3-7 zero-padded at their end to 7 (the longest of train and test)"
    short = np.ones((2, 1, 8))
    assert equal_length(short, short, minimum=9)[0].shape == (2, 1, 9)
    assert equal_length(short, short, minimum=9)[2] == "series of length 8 zero-padded at their end to 9 (it needs at least 9)"
    assert equal_length(short, short, minimum=8) == (short, short, None)


def test_bad_methods_and_missing_are_config_errors(tmp_path):
    for override in ("methods=[1NN-ED,Rocket]", "missing=zero", "methods=[]"):
        with pytest.raises(ConfigError, match="methods must be some of"):
            pipeline.baselines(plain(compose_cfg(tmp_path / override[:5], "~logger", override, config="baselines")))


def test_script_writes_metrics(tmp_path):
    m = pipeline.baselines(plain(compose_cfg(tmp_path, "~logger", "normalise=znorm",
                                             "methods=[1NN-ED,1NN-DTW-I,1NN-DTW-D]", config="baselines")))
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk["dataset"] == "BasicMotions" and set(on_disk["acc"]) == {"1NN-ED", "1NN-DTW-I", "1NN-DTW-D"}
    assert on_disk["acc"] == m["acc"] and on_disk["normalise"] == "znorm" and on_disk["missing"] == "interpolate"
    for method in on_disk["acc"]:  # 1-NN fits nothing: its seconds are the prediction's
        assert on_disk["fit_s"][method] == 0.0 and on_disk["time_s"][method] == on_disk["predict_s"][method] > 0


def _aeon_minirocket(seed):
    """aeon's documented MiniRocket recipe written out: the transform, scaling, the ridge."""
    from aeon.transformations.collection.convolution_based import MiniRocket
    from sklearn.linear_model import RidgeClassifierCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(MiniRocket(random_state=seed), StandardScaler(with_mean=False),
                         RidgeClassifierCV(alphas=np.logspace(-3, 3, 10)))


def _aeon_catch22(seed):
    """Catch22Classifier written out: catch24 features (NaN to 0), a forest of 200 trees
    seeded as aeon seeds it (sklearn's first draw from ``seed``)."""
    from aeon.transformations.collection.feature_based import Catch22
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline

    forest_seed = np.random.RandomState(seed).randint(np.iinfo(np.int32).max)
    return make_pipeline(Catch22(catch24=True, replace_nans=True),
                         RandomForestClassifier(n_estimators=200, random_state=forest_seed))


@pytest.mark.slow
def test_minirocket_and_catch22_equal_aeons_own_pipelines_and_the_script_records_them(tmp_path):
    """One test for both (numba compiles each once, about a minute on a fresh machine)."""
    X_train, y_train, X_test, y_test = read_uea("BasicMotions")
    for method, twin in (("MiniRocket", _aeon_minirocket), ("Catch22", _aeon_catch22)):
        ours = classify(method, X_train, y_train, X_test, y_test, seed=7)
        expected = twin(7).fit(X_train, y_train).predict(X_test)
        assert np.array_equal(ours["predictions"], expected), method
        assert ours["acc"] == pytest.approx((expected == y_test).mean()) and ours["note"] is None
    # the default run: all five, each with its seconds, the seed from the config
    m = pipeline.baselines(plain(compose_cfg(tmp_path, "~logger", "seed=7", config="baselines")))
    assert list(m["acc"]) == list(METHODS) and m["seed"] == 7 and m["notes"] == {}
    assert m["acc"]["MiniRocket"] == pytest.approx((_aeon_minirocket(7).fit(X_train, y_train).predict(X_test)
                                                    == y_test).mean())
    assert all(m["fit_s"][k] > 0 and m["time_s"][k] == pytest.approx(m["fit_s"][k] + m["predict_s"][k])
               for k in ("MiniRocket", "Catch22"))


@pytest.mark.slow
def test_unequal_lengths_pad_for_minirocket_only_and_the_record_says_so():
    X_train, y_train, X_test, y_test = read_uea("JapaneseVowels")  # lists: lengths 7-29
    result = evaluate(X_train, y_train, X_test, y_test, methods=("1NN-ED", "MiniRocket", "Catch22"), seed=0)
    assert result["acc"]["1NN-ED"] is None and result["time_s"]["1NN-ED"] is None
    assert result["notes"] == {"1NN-ED": "skipped: the series have unequal lengths", "MiniRocket":
                               "series of lengths 7-29 zero-padded at their end to 29 (the longest of train and test)"}
    from aeon.transformations.collection.unequal_length import Padder

    padded = [Padder(padded_length=29).fit_transform(X) for X in (X_train, X_test)]
    expected = _aeon_minirocket(0).fit(padded[0], y_train).predict(padded[1])
    assert result["acc"]["MiniRocket"] == pytest.approx((expected == y_test).mean())
    catch22 = _aeon_catch22(0).fit(X_train, y_train).predict(X_test)  # catch22 takes unequal lengths as they are
    assert result["acc"]["Catch22"] == pytest.approx((catch22 == y_test).mean())
