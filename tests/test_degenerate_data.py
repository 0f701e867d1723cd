"""Degenerate data — missing channels, missing series, infinity, constant series, windows in
padding — is refused with one clear message before pretraining, or named in the record; never a
hang, never a silent wrong answer."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import compose_cfg, run_script, train
from iars.errors import DataError

TINY = ["dataset=arrays", "model.K=8", "model.depth=1", "model.hidden=8", "trainer.enable_progress_bar=false",
        "logger=csv", "trainer.max_steps=2"]


def _files(tmp_path, X_train, X_test, y_train=(0, 1, 0, 1), y_test=(0, 1, 0, 1)):
    np.savez(tmp_path / "train.npz", X=X_train, y=np.array(y_train))
    np.savez(tmp_path / "test.npz", X=X_test, y=np.array(y_test))
    return [f"dataset.train={tmp_path / 'train.npz'}", f"dataset.test={tmp_path / 'test.npz'}"]


def _series(n=4, channels=2, length=20, seed=0):
    return np.random.default_rng(seed).normal(size=(n, channels, length))


def _refused(tmp_path, data, message):
    with pytest.raises(DataError, match=message):
        train(compose_cfg(tmp_path / "run", *TINY, *data))
    assert not (tmp_path / "run" / "last.ckpt").exists()  # refused before any pretraining


def test_a_channel_missing_everywhere_is_refused(tmp_path):
    X = _series()
    X[:, 1] = np.nan
    _refused(tmp_path, _files(tmp_path, X, _series(seed=1)), r"channel 1 of the train split holds no observed value")


def test_infinity_is_refused_where_it_is(tmp_path):
    """In the test split too, before pretraining (it used to fail after, with a traceback)."""
    X = _series(seed=1)
    X[2, 0, 5] = -np.inf
    _refused(tmp_path, _files(tmp_path, _series(), X), r"series 2, channel 0, timestamp 5 is -inf")


@pytest.mark.parametrize("split", ["train", "test"])
def test_series_the_encoder_sees_nothing_of_are_refused(tmp_path, split):
    """Two wholly missing train series of different classes once hung the SVM (equal embeddings,
    C = inf); a series with some channel missing at every timestamp is as unseen."""
    X = _series()
    X[0] = X[1] = np.nan
    X[3, 0, ::2], X[3, 1, 1::2] = np.nan, np.nan
    data = _files(tmp_path, X, _series(seed=1)) if split == "train" else _files(tmp_path, _series(seed=1), X)
    _refused(tmp_path, data, rf"series 0, 1, 3 of the {split} split have no timestamp at which every channel")


def test_the_refusals_are_one_line_and_exit_2(tmp_path):
    X = _series()
    X[:, 0] = np.nan
    out = run_script("train.py", *TINY, *_files(tmp_path, X, _series(seed=1)), f"hydra.run.dir={tmp_path / 'run'}")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith("error: dataset 'arrays': channel 0 of the train split")


def test_identical_series_of_different_classes_finish_with_a_warning(tmp_path):
    """Constant, identical series: every embedding equal; the classifier stage ends (it hung)
    and the record says why its accuracy is that of one class."""
    X = np.ones((4, 2, 20))
    metrics = train(compose_cfg(tmp_path / "run", *TINY, *_files(tmp_path, X, X)))
    assert metrics["acc"] == 0.5
    assert any("every train series has the same embedding" in w for w in metrics["warnings"])


@pytest.fixture(scope="module")
def fitted():
    import iars

    return iars.TimeSeriesEncoder(K=8, steps=2, seed=0).set_params(encoder__hidden=8, encoder__depth=1).fit(_series(length=32))


def test_transform_refuses_a_series_it_sees_nothing_of(fitted):
    X = _series(length=32)
    X[2, 1] = np.nan
    with pytest.raises(DataError, match=r"series 2 of X have no timestamp at which every channel is observed"):
        fitted.transform(X)
    assert np.isfinite(fitted.transform(_series(length=32))).all()
    assert np.isnan(fitted.encode(X, per_timestamp=True)[2]).sum() < X.shape[2] * 8 * 32  # per timestamp: allowed


def test_transform_refuses_infinity(fitted):
    X = _series(length=32)
    X[1, 0, 3] = np.inf
    with pytest.raises(DataError, match=r"series 1, channel 0, timestamp 3 is inf"):
        fitted.transform(X)


def test_windows_wholly_in_a_shorter_series_padding_are_nan_rows(fitted):
    """A list of unequal lengths: the short series' windows past its end are NaN rows (they
    were the embedding of nothing, returned as ordinary rows); every other window is finite and
    equals that window encoded alone."""
    long, short = _series(1, length=32)[0], _series(1, length=12, seed=1)[0]
    out = fitted.encode([long, short], window=8)  # 2 series × 4 windows × K
    assert out.shape == (2, 4, 8)
    assert np.isfinite(out[0]).all() and np.isfinite(out[1, :1]).all()
    assert np.isnan(out[1, 2:]).all()  # [16, 24) and [24, 32): past the end at 12
    np.testing.assert_allclose(out[1, 1], fitted.transform(short[None, :, 8:12])[0], atol=1e-5)


def test_missing_cells_are_interpolated_for_the_1nn_distances():
    """Linear in time per channel, the nearest value at the ends, the train mean for a channel
    missing in a whole series; trailing all-missing timestamps are the series' end."""
    from iars.data.arrays import channel_means, interpolate_missing

    X = np.array([[[1.0, np.nan, 3.0, np.nan], [np.nan, 2.0, np.nan, 4.0]],
                  [[np.nan] * 4, [1.0, 1.0, np.nan, np.nan]]])
    fill = channel_means(X)
    np.testing.assert_allclose(fill, [2.0, 2.0])
    out, filled = interpolate_missing(X, fill)
    np.testing.assert_allclose(out[0], [[1, 2, 3, 3], [2, 2, 3, 4]])
    np.testing.assert_allclose(out[1], [[2, 2], [1, 1]])  # cut at its end, channel 0 from the mean
    assert filled == 2 + 2 + 2
    complete = _series()
    fast, none = interpolate_missing(complete, fill)
    slow, _ = interpolate_missing(list(complete), fill)  # the loop over series
    assert none == 0 and isinstance(fast, np.ndarray)
    np.testing.assert_array_equal(fast, np.stack(slow))
    with pytest.raises(DataError, match="series 1 of the test split has no observed value"):
        interpolate_missing(np.stack([complete[0], np.full_like(complete[0], np.nan)]), fill, "test")


def test_1nn_on_data_with_missing_cells_is_not_chance():
    """5% of BasicMotions' cells missing: the 1-NN accuracy stays near the complete data's (it
    was chance: a NaN distance made every test series the first train series' neighbour)."""
    from iars.baselines import one_nn
    from iars.data import read_uea

    X_train, y_train, X_test, y_test = read_uea("BasicMotions")
    rng = np.random.default_rng(0)
    holed = [np.where(rng.random(X.shape) < 0.05, np.nan, X) for X in (X_train, X_test)]
    complete = one_nn(X_train, y_train, X_test, y_test, methods=["1NN-ED"])
    missing = one_nn(holed[0], y_train, holed[1], y_test, methods=["1NN-ED"])
    assert missing["filled_cells"]["train"] == np.isnan(holed[0]).sum() > 0
    assert missing["acc"]["1NN-ED"] >= complete["acc"]["1NN-ED"] - 0.05 > 0.5


def test_1nn_ed_runs_on_equal_length_series_given_as_a_list():
    """A CSV's series arrive as a list; equal lengths are still equal (1NN-ED was n/a), and
    train and test of different lengths are not (n/a, not an error)."""
    from iars.baselines import one_nn

    X, y = _series(6, length=16), np.arange(6) % 2
    as_array = one_nn(X, y, X, y, methods=["1NN-ED"])["acc"]["1NN-ED"]
    assert one_nn(list(X), y, list(X), y, methods=["1NN-ED"])["acc"]["1NN-ED"] == as_array == 1.0
    assert one_nn(X, y, X[:, :, :12], y, methods=["1NN-ED"])["acc"]["1NN-ED"] is None
