"""iars.TimeSeriesEncoder: fit/transform on your own arrays, per-timestamp and windowed
encoding, save/load, reloading a CLI run, and the scikit-learn conventions."""
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC

import iars
from helpers import NO_LOGGER, compose_cfg, train
from iars.data import read_uea
from iars.encoding import encode
from iars.errors import ConfigError, DataError
from iars.estimator import TimeSeriesEncoder
from iars.variants import VARIANTS

# A small encoder and a few steps: enough to train every part, seconds on a CPU.
SMALL = dict(K=8, steps=3, encoder_params={"depth": 2, "hidden": 16})


def _series(n=12, c=3, t=64, seed=0):
    return np.random.default_rng(seed).normal(size=(n, c, t))


@pytest.fixture(scope="module")
def fitted():
    """An IARS encoder fitted on random N×C×T series (shared by the read-only tests)."""
    X = _series()
    return TimeSeriesEncoder(loss="iars", **SMALL).fit(X), X


def test_the_readme_one_liner_runs_without_hydra():
    code = ("import numpy as np, iars, sys; X=np.random.randn(20,3,128); "
            "e=iars.TimeSeriesEncoder(loss='iars', K=16, steps=5).fit(X); print(e.transform(X).shape); "
            "print('hydra' in sys.modules, 'omegaconf' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.splitlines() == ["(20, 16)", "False False"]


def test_transform_pools_what_per_timestamp_encoding_returns(fitted):
    enc, X = fitted
    pooled, steps = enc.transform(X), enc.encode(X, per_timestamp=True)
    assert pooled.shape == (12, 8) and steps.shape == (12, 64, 8)
    np.testing.assert_array_equal(pooled, steps.max(axis=1))  # pooling="max", the same batches
    try:
        np.testing.assert_allclose(enc.set_params(pooling="avg").transform(X), steps.mean(axis=1), rtol=1e-5, atol=1e-6)
    finally:
        enc.set_params(pooling="max")


def test_sliding_windows_equal_encoding_each_window_alone(fitted):
    enc, X = fitted
    out = enc.encode(X, window=20, stride=15)  # windows at 0, 15, 30 (45 + 20 > 64)
    assert out.shape == (12, 3, 8)
    for j, start in enumerate((0, 15, 30)):
        alone = enc.encode(X[:, :, start:start + 20])  # the slow twin: one window at a time
        np.testing.assert_allclose(out[:, j], alone, rtol=1e-6, atol=1e-6)
    assert enc.encode(X, window=32, per_timestamp=True).shape == (12, 2, 32, 8)


def test_ts2vec_encodings_reach_through_the_estimator(fitted):
    """encode(**TS2Vec's options) is iars.encoding.encode on the normalised series: causal
    sliding per timestamp, multiscale per timestamp, mask_last pooled."""
    enc, X = fitted
    Z = enc.normaliser_.transform(X.transpose(0, 2, 1))
    for options, pooling in [({"causal": True, "sliding_length": 1, "sliding_padding": 16}, None),
                             ({"encoding_window": "multiscale"}, None), ({"mask": "mask_last"}, "max")]:
        got = enc.encode(X, per_timestamp=pooling is None, **options)
        np.testing.assert_array_equal(got, encode(enc.module_.eval_encoder, Z, pooling, **options))
    assert enc.encode(X, encoding_window=3).shape == (12, 64, 8)  # an int kernel is per timestamp
    with pytest.raises(ConfigError, match="give one of them"):
        enc.encode(X, window=20, sliding_length=1)


def test_unequal_lengths_univariate_and_missing_values():
    rng = np.random.default_rng(1)
    X = [rng.normal(size=n) for n in (30, 41, 25, 50, 33, 47)]  # univariate, unequal lengths
    X[2][5:9] = np.nan
    enc = TimeSeriesEncoder(**SMALL).fit(X)
    z = enc.transform(X)
    assert z.shape == (6, 8) and np.isfinite(z).all() and enc.n_channels_ == 1
    assert enc.encode(X, per_timestamp=True).shape == (6, 50, 8)  # padded to the longest


def test_iars_selects_through_the_modules_own_callback(fitted):
    enc, _ = fitted
    assert enc.n_steps_ == 3 and enc.pretrain_time_s_ > 0
    assert len(enc.history_) == 3  # 12 series, batches of 8: one step per epoch, 3 epochs
    assert all(abs(sum(h["next_probs"]) - 1) < 1e-9 for h in enc.history_)


def test_save_load_round_trip_is_bit_for_bit(fitted, tmp_path):
    enc, X = fitted
    loaded = TimeSeriesEncoder.load(enc.save(tmp_path / "enc.pt"))
    assert loaded.get_params() == enc.get_params()
    np.testing.assert_array_equal(loaded.transform(X), enc.transform(X))
    np.testing.assert_array_equal(loaded.normaliser_.mean, enc.normaliser_.mean)
    assert loaded.history_ == enc.history_ and loaded.loss_history_ == enc.loss_history_
    for a, b in zip(loaded.module_.state_dict().values(), enc.module_.state_dict().values()):
        assert torch.equal(a, b)


def test_scikit_learn_conventions(fitted):
    enc, X = fitted
    fresh = TimeSeriesEncoder(K=4, loss="random")
    with pytest.raises(NotFittedError):
        fresh.transform(X)
    assert fresh.get_params()["K"] == 4 and fresh.set_params(K=5).K == 5
    copy = clone(enc)
    assert copy.get_params() == enc.get_params() and not hasattr(copy, "module_")
    assert "TimeSeriesEncoder(" in repr(enc)


def test_bad_input_is_reported(fitted, tmp_path):
    enc, X = fitted
    with pytest.raises(DataError, match="X has 2 channels, but the encoder was fitted on 3"):
        enc.transform(X[:, :2])
    with pytest.raises(ConfigError, match="window=100: .* between 2 and the series' length 64"):
        enc.encode(X, window=100)
    with pytest.raises(ConfigError, match="loss='hierarchical' is not a loss variant; choose one of hier, iars, iars_relative"):
        TimeSeriesEncoder(loss="hierarchical").fit(X)
    with pytest.raises(ConfigError, match="loss=fixed needs a resolution"):
        TimeSeriesEncoder(loss="fixed", **SMALL).fit(X)
    with pytest.raises(DataError, match="train split has 1 series"):
        TimeSeriesEncoder(**SMALL).fit(X[:1])
    with pytest.raises(DataError, match="not found"):
        TimeSeriesEncoder.load(tmp_path / "nothing.pt")


def test_a_pipeline_with_a_classifier_on_basic_motions():
    X_train, y_train, X_test, y_test = read_uea("BasicMotions")
    model = Pipeline([("enc", TimeSeriesEncoder(loss="fixed_finest", **SMALL)), ("clf", SVC())])
    model.fit(X_train, y_train)
    assert model.named_steps["enc"].module_.train_resolution == 6  # the finest of T = 100
    assert model.score(X_test, y_test) > 0.5  # four classes: chance is 0.25


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """A CLI run on BasicMotions that saved its embeddings, and the estimator that mirrors
    its config, fitted on the same train split."""
    out = tmp_path_factory.mktemp("run")
    overrides = ["trainer.max_steps=10", "trainer.enable_progress_bar=false", "model.depth=2", "model.K=16",
                 "model.hidden=16", "loss=iars", "loss.selection.probe_every_steps=1", "seed=3",
                 "save_embeddings=true", NO_LOGGER]
    metrics = train(compose_cfg(out, *overrides))
    estimator = TimeSeriesEncoder(loss="iars", K=16, steps=10, seed=3, encoder_params={"depth": 2, "hidden": 16},
                                  loss_params={"selection": {"probe_every_steps": 1}})
    return out, metrics, estimator.fit(read_uea("BasicMotions")[0])


def test_load_run_encodes_the_test_split_as_the_classifier_stage_did(cli_run):
    out, metrics, _ = cli_run
    X_train, _, X_test, _ = read_uea("BasicMotions")
    reloaded = iars.load_run(out)
    with np.load(out / "embeddings.npz") as saved:
        np.testing.assert_array_equal(reloaded.transform(X_test), saved["test"])
        np.testing.assert_array_equal(reloaded.transform(X_train), saved["train"])
    assert (reloaded.loss, reloaded.K, reloaded.seed, reloaded.steps) == ("iars", 16, 3, 10)
    assert [h["resolution"] for h in reloaded.history_] == metrics["selected_resolutions"]  # 2 epochs of 5 steps
    assert TimeSeriesEncoder.from_run(out).get_params() == reloaded.get_params()


def test_the_estimator_and_the_cli_are_one_code_path(cli_run):
    """The same config trains the same weights: the estimator's embeddings are the run's, its
    selection history the run's, and the classifier on them gives the run's accuracy."""
    out, metrics, estimator = cli_run
    X_train, y_train, X_test, y_test = read_uea("BasicMotions")
    with np.load(out / "embeddings.npz") as saved:
        np.testing.assert_array_equal(estimator.transform(X_test), saved["test"])
    assert [h["resolution"] for h in estimator.history_] == metrics["selected_resolutions"]
    from iars.evaluate import classify

    _, y_tr = np.unique(y_train, return_inverse=True)
    _, y_te = np.unique(y_test, return_inverse=True)
    scores = classify(estimator.transform(X_train), y_tr, estimator.transform(X_test), y_te)
    assert scores["acc"] == metrics["acc"]


def test_a_warm_start_continues_a_cli_run(cli_run):
    """A run's last.ckpt holds its training state: a warm start continues its optimiser and
    selection history (the losses of the run's own steps were not recorded: NaN)."""
    out, metrics, _ = cli_run
    enc = iars.load_run(out).set_params(warm_start=True, steps=2)
    assert enc.n_steps_ == 10 and enc.loss_history_ is None
    enc.fit(read_uea("BasicMotions")[0])
    assert enc.n_steps_ == 12 and [h["resolution"] for h in enc.history_[:2]] == metrics["selected_resolutions"]
    assert np.isnan(enc.loss_history_[:10]).all() and np.isfinite(enc.loss_history_[10:]).all()


def test_load_run_names_what_is_missing(tmp_path):
    with pytest.raises(DataError, match="nowhere not found: give the folder of a run"):
        iars.load_run(tmp_path / "nowhere")
    with pytest.raises(DataError, match="holds no last.ckpt"):
        iars.load_run(tmp_path)


def test_the_docstring_example_runs():
    import doctest

    import iars.estimator

    result = doctest.testmod(iars.estimator)
    assert result.attempted >= 3 and result.failed == 0


def test_nested_parameters_reach_the_loss_and_the_encoder():
    enc = TimeSeriesEncoder(loss="iars", loss_params={"alpha": 0.5, "selection": {"rule": "importance"}})
    enc.set_params(loss__alpha=0.3, loss__selection__temperature=0.5, encoder__depth=2, K=16)
    assert enc.loss_params == {"alpha": 0.3, "selection": {"rule": "importance", "temperature": 0.5}}
    assert (enc.encoder_params, enc.K) == ({"depth": 2}, 16)
    config = enc.run_config()
    assert (config["loss"]["alpha"], config["loss"]["selection"]["temperature"], config["model"]["depth"]) == (0.3, 0.5, 2)
    tags = enc.__sklearn_tags__().input_tags
    assert tags.three_d_array and tags.allow_nan


def test_a_grid_search_over_nested_and_plain_parameters_runs_on_basic_motions():
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline
    from sklearn.svm import SVC

    from iars.data import read_uea

    X, y, _, _ = read_uea("BasicMotions")
    model = Pipeline([("enc", TimeSeriesEncoder(steps=2, encoder_params={"depth": 1, "hidden": 8})), ("svc", SVC())])
    search = GridSearchCV(model, {"enc__loss__alpha": [0.2, 0.8], "enc__K": [4, 8]}, cv=2).fit(X, y)
    assert len(search.cv_results_["params"]) == 4 and np.isfinite(search.cv_results_["mean_test_score"]).all()
    best = search.best_estimator_.named_steps["enc"]
    assert best.loss_params["alpha"] in (0.2, 0.8) and best.module_.alpha == best.loss_params["alpha"]


# -- the loss history and warm starts -----------------------------------------------------


@pytest.mark.parametrize("loss", list(VARIANTS))
def test_the_loss_history_has_one_finite_loss_per_step_in_every_mode(loss):
    extra = {"loss_params": {"resolution": 2}} if loss == "fixed" else {}
    enc = TimeSeriesEncoder(loss=loss, **SMALL, **extra).fit(_series())
    assert isinstance(enc.loss_history_, list) and len(enc.loss_history_) == enc.n_steps_ == 3
    assert all(isinstance(v, float) for v in enc.loss_history_) and np.isfinite(enc.loss_history_).all()


def _same_weights(a, b):
    one, two = a.module_.state_dict(), b.module_.state_dict()
    return one.keys() == two.keys() and all(torch.equal(one[k], two[k]) for k in one)


@pytest.mark.parametrize("loss", ["iars", "hier"])
def test_a_warm_start_continues_the_fit_as_one_longer_fit_would(loss):
    """3 steps, then 3 more with warm_start=True: the weights, their average, the optimiser's
    state, the selection history, the random streams and the data order continue, so the result
    is a 6-step fit's, bit for bit (12 series in batches of 8: one step per epoch)."""
    X = _series()
    enc = TimeSeriesEncoder(loss=loss, warm_start=True, **SMALL).fit(X)
    first, first_history, first_losses = enc.module_.state_dict(), enc.history_, enc.loss_history_
    first = {k: v.clone() for k, v in first.items()}
    enc.fit(X)
    assert enc.n_steps_ == 6 and len(enc.loss_history_) == 6 and enc.loss_history_[:3] == first_losses
    assert any(not torch.equal(first[k], v) for k, v in enc.module_.state_dict().items())
    if loss == "iars":
        assert len(enc.history_) == 6 and enc.history_[:3] == first_history
    straight = TimeSeriesEncoder(loss=loss, **{**SMALL, "steps": 6}).fit(X)
    assert _same_weights(enc, straight) and enc.history_ == straight.history_
    assert enc.loss_history_ == straight.loss_history_
    np.testing.assert_array_equal(enc.transform(X), straight.transform(X))


def test_a_warm_start_continues_mid_epoch_and_by_epochs():
    """Stopped inside an epoch (24 series: 3 steps per epoch), a warm start continues that epoch's
    data order; an epoch budget adds epochs."""
    X = _series(n=24)
    enc = TimeSeriesEncoder(warm_start=True, **{**SMALL, "steps": 2}).fit(X).set_params(steps=5).fit(X)
    straight = TimeSeriesEncoder(**{**SMALL, "steps": 7}).fit(X)
    assert enc.n_steps_ == 7 and _same_weights(enc, straight) and enc.loss_history_ == straight.loss_history_
    by_epochs = dict(SMALL, steps=None, loss="random")
    enc = TimeSeriesEncoder(warm_start=True, **by_epochs, epochs=2).fit(X).set_params(epochs=1).fit(X)
    straight = TimeSeriesEncoder(**by_epochs, epochs=3).fit(X)
    assert enc.n_steps_ == 9 and len(enc.history_) == 3 and _same_weights(enc, straight)
    assert enc.history_ == straight.history_


def test_without_warm_start_a_second_fit_starts_over_bit_for_bit(fitted):
    reference, X = fitted  # a fresh 3-step IARS fit of the same series and seed
    enc = TimeSeriesEncoder(loss="iars", **SMALL).fit(X[::-1]).fit(X)
    assert enc.n_steps_ == 3 and len(enc.loss_history_) == 3 and len(enc.history_) == 3
    assert _same_weights(enc, reference) and enc.history_ == reference.history_
    assert enc.loss_history_ == reference.loss_history_
    unfitted = TimeSeriesEncoder(loss="iars", warm_start=True, **SMALL).fit(X)  # nothing to continue: a fresh fit
    assert unfitted.n_steps_ == 3 and _same_weights(unfitted, reference)


def test_a_warm_start_continues_a_saved_encoder_and_new_series(fitted, tmp_path):
    reference, X = fitted
    enc = TimeSeriesEncoder.load(reference.save(tmp_path / "enc.pt")).set_params(warm_start=True).fit(X)
    straight = TimeSeriesEncoder(loss="iars", **{**SMALL, "steps": 6}).fit(X)
    assert enc.n_steps_ == 6 and _same_weights(enc, straight) and enc.history_ == straight.history_
    lean = TimeSeriesEncoder.load(reference.save(tmp_path / "lean.pt", training_state=False))
    with pytest.raises(ConfigError, match="holds no training state to continue"):
        lean.set_params(warm_start=True).fit(X)
    other = _series(n=10, t=100, seed=5)  # other series of the same channels, as many resolutions (64..127)
    enc.fit(other)
    assert enc.n_steps_ == 9 and len(enc.history_) == 9 and np.isfinite(enc.loss_history_).all()
    np.testing.assert_array_equal(enc.normaliser_.mean, reference.normaliser_.mean)  # kept: the encoder's inputs


def test_a_warm_start_refuses_what_it_cannot_continue(fitted):
    reference, X = fitted
    enc = clone(reference).set_params(warm_start=True).fit(X)
    with pytest.raises(DataError, match="which takes 3 channels, but X has 2"):
        enc.fit(X[:, :2])
    with pytest.raises(ConfigError, match="settings changed: model.K is 8 in the fitted encoder, 16 now; lr is"):
        enc.set_params(K=16, lr=0.01).fit(X)
    with pytest.raises(DataError, match=r"7 resolutions .* \(length 64\), but these series \(length 16\) have 5"):
        enc.set_params(K=8, lr=1e-3).fit(X[:, :, :16])
    assert enc.n_steps_ == 3  # nothing was trained
    hier = TimeSeriesEncoder(warm_start=True, **SMALL).fit(X).fit(X[:, :, :16])  # hier trains every resolution there is
    assert hier.n_steps_ == 6


# -- bad input, refused before anything runs ------------------------------------------------


@pytest.mark.parametrize("params,message", [
    ({"steps": 0}, "steps=0: give a positive number of steps to pretrain for, or None for TS2Vec's budget"),
    ({"steps": -1}, "steps=-1: give a positive number of steps"),
    ({"steps": None, "epochs": 0}, "epochs=0: give a positive number of epochs"),
    ({"steps": 2.5}, "steps=2.5: give a positive number of steps"),
])
def test_a_budget_that_is_not_positive_is_refused_before_fitting(params, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        TimeSeriesEncoder(**{**SMALL, **params}).fit(_series(n=4, t=16))


def test_stride_zero_is_refused_not_taken_for_the_window(fitted):
    enc, X = fitted
    for stride in (0, -3):
        with pytest.raises(ConfigError, match=f"stride={stride}: give a positive number of timestamps"):
            enc.encode(X, window=16, stride=stride)
    np.testing.assert_array_equal(enc.encode(X, window=16, stride=np.int64(8)), enc.encode(X, window=16, stride=8))


@pytest.mark.parametrize("X,message", [(np.zeros((0, 3, 64)), "no series to encode"),
                                       (np.zeros((4, 3, 0)), "series of length 0"), ([], "non-empty list")])
def test_empty_series_are_refused_in_words(fitted, X, message):
    enc, _ = fitted
    with pytest.raises(DataError, match=message):
        enc.transform(X)
    with pytest.raises(DataError):
        TimeSeriesEncoder(**SMALL).fit(X)


def test_a_damaged_or_misplaced_encoder_file_is_named(fitted, tmp_path):
    enc, X = fitted
    good = enc.save(tmp_path / "enc.pt")
    data = good.read_bytes()
    for name, content in (("empty.pt", b""), ("half.pt", data[: len(data) // 2]), ("text.pt", b"not a checkpoint")):
        (tmp_path / name).write_bytes(content)
        with pytest.raises(DataError, match=f"{re.escape(str(tmp_path / name))} (cannot be read as a file written by "
                                            "TimeSeriesEncoder.save or a run's last.ckpt: it is empty, truncated or "
                                            "corrupt|cannot be read safely as a file)") as e:
            TimeSeriesEncoder.load(tmp_path / name)
        assert "weights_only" not in str(e.value)  # never the advice to load it unsafely
    torch.save({"x": np.float64}, tmp_path / "pickled.pt", _use_new_zipfile_serialization=True)
    with pytest.raises(DataError, match="is corrupt, or holds objects other than tensors and plain values"):
        TimeSeriesEncoder.load(tmp_path / "pickled.pt")
    with pytest.raises(DataError, match=f"{tmp_path} is a directory: give the path of a file"):
        TimeSeriesEncoder.load(tmp_path)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "last.ckpt").write_bytes(data[:100])
    with pytest.raises(DataError, match=r"is a directory \(a run's folder\): give its last.ckpt, or use iars.load_run"):
        TimeSeriesEncoder.load(tmp_path / "run")
    with pytest.raises(DataError, match="run/last.ckpt cannot be read"):
        iars.load_run(tmp_path / "run")
    with pytest.raises(DataError, match=r"enc.pt is a file, not a run's folder: .* iars.TimeSeriesEncoder.load"):
        iars.load_run(good)
    np.testing.assert_array_equal(TimeSeriesEncoder.load(good).transform(X), enc.transform(X))  # the good one loads
