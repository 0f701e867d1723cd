"""iars.aeon: IARSTransformer and IARSClassifier pass aeon's own estimator checks, work in aeon's
pipelines, warm-start across aeon's reset, and run beside aeon's classifiers on BasicMotions."""
import inspect
import subprocess
import sys

import numpy as np
import pytest
from aeon.testing.estimator_checking import parametrize_with_checks
from sklearn.linear_model import RidgeClassifierCV
from sklearn.metrics import accuracy_score
from sklearn.svm import SVC

from iars.aeon import ENCODER_PARAMS, IARSClassifier, IARSTransformer
from iars.errors import DataError
from iars.estimator import TimeSeriesEncoder

TINY = dict(K=8, steps=2, encoder_params={"depth": 2, "hidden": 16}, device="cpu")

# aeon's checks, all of them, on both test parameter sets (TS2Vec's loss and IARS's): none is
# skipped. (check_classifier_against_expected_results has no stored results for IARSClassifier and
# passes without comparing; the multithreading checks only check that there is no n_jobs.)


@parametrize_with_checks([IARSTransformer, IARSClassifier])
def test_aeon_estimator_checks(check):
    check()


def _series(n=12, c=2, t=40, seed=0):
    return np.random.default_rng(seed).normal(size=(n, c, t))


@pytest.mark.parametrize("cls", [IARSTransformer, IARSClassifier])
def test_the_parameters_are_the_encoders(cls):
    mine, theirs = inspect.signature(cls.__init__).parameters, inspect.signature(TimeSeriesEncoder.__init__).parameters
    assert list(mine) == list(theirs) and all(mine[p].default == theirs[p].default for p in ENCODER_PARAMS)
    est = cls().set_params(loss__alpha=0.3, encoder__depth=2, K=16)  # nested parameters too
    assert (est.loss_params, est.encoder_params, est.K) == ({"alpha": 0.3}, {"depth": 2}, 16)


@pytest.mark.filterwarnings("ignore:All-NaN slice:RuntimeWarning", "ignore:Degrees of freedom:RuntimeWarning")
def test_the_transformer_embeds_what_the_encoder_embeds_and_the_tags_say_so():
    X = [s[:, : 25 + 3 * i] for i, s in enumerate(_series())]  # unequal lengths
    X[3][1, 4:9] = np.nan  # missing values
    X[5][0, :10] = np.nan  # a channel missing for a while
    transformer = IARSTransformer(loss="iars", **TINY)
    Z = transformer.fit_transform(X)
    assert Z.shape == (12, 8) and np.isfinite(Z).all()  # removes_missing_values: one finite vector per series
    np.testing.assert_array_equal(Z, TimeSeriesEncoder(loss="iars", **TINY).fit(X).transform(X))
    tags = transformer.get_tags()
    assert tags["output_data_type"] == "Tabular" and tags["X_inner_type"] == ["np-list", "numpy3D"]
    assert all(tags[f"capability:{c}"] for c in ("multivariate", "unequal_length", "missing_values"))
    assert len(transformer.encoder_.loss_history_) == transformer.encoder_.n_steps_ == 2
    X[5][0] = np.nan  # a channel missing all along: the encoder skips every timestamp of series 5
    with pytest.raises(DataError, match="series 5 of X have no timestamp at which every channel is observed"):
        transformer.transform(X)  # refused, never a made-up vector


def test_warm_start_survives_aeons_reset():
    """aeon's fit starts with reset(), which drops fitted attributes; with warm_start the
    encoder stays and continues: 2 + 2 warm steps are a 4-step fit."""
    X = _series()
    warm = IARSTransformer(warm_start=True, **TINY).fit(X)
    first = warm.transform(X)
    Z = warm.fit(X).transform(X)
    assert warm.encoder_.n_steps_ == 4 and len(warm.encoder_.loss_history_) == 4 and not np.array_equal(Z, first)
    np.testing.assert_array_equal(Z, IARSTransformer(**{**TINY, "steps": 4}).fit(X).transform(X))
    cold = IARSTransformer(**TINY).fit(X)
    np.testing.assert_array_equal(cold.fit(X).transform(X), first)  # without warm_start: a fresh fit
    classifier = IARSClassifier(warm_start=True, **TINY).fit(X, np.arange(12) % 2).fit(X, np.arange(12) % 2)
    assert classifier.encoder_.n_steps_ == 4


def test_importing_iars_does_not_import_aeon():
    code = ("import sys, iars; print('aeon' in sys.modules, 'torch' in sys.modules); iars.IARSClassifier; "
            "print('aeon' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["False", "False", "True"]


@pytest.mark.slow  # numba compiles MiniRocket's and catch22's kernels on a first run (a minute on two cores)
def test_beside_aeons_classifiers_on_basic_motions():
    """IARS (its classifier, and its transformer in aeon's pipeline) beside MiniRocket and catch22,
    each fitted on BasicMotions' train split and scored on its test split, tiny budgets."""
    from aeon.classification.convolution_based import MiniRocketClassifier
    from aeon.classification.feature_based import Catch22Classifier
    from aeon.datasets import load_basic_motions
    from aeon.pipeline import make_pipeline
    from aeon.transformations.collection.convolution_based import MiniRocket
    from sklearn.ensemble import RandomForestClassifier

    X_train, y_train = load_basic_motions(split="train")
    X_test, y_test = load_basic_motions(split="test")
    contenders = {
        "IARSClassifier": IARSClassifier(loss="iars", **TINY),
        "IARSTransformer+SVC": make_pipeline(IARSTransformer(**TINY), SVC()),
        "MiniRocketClassifier": MiniRocketClassifier(n_kernels=84, random_state=0),
        "MiniRocket+ridge": make_pipeline(MiniRocket(n_kernels=84, random_state=0), RidgeClassifierCV()),
        "Catch22Classifier": Catch22Classifier(estimator=RandomForestClassifier(n_estimators=10, random_state=0),
                                               random_state=0),
    }
    assert type(contenders["IARSTransformer+SVC"]).__name__ == "ClassifierPipeline"
    assert contenders["IARSTransformer+SVC"].get_tag("capability:unequal_length")  # the embeddings are a table
    accuracy = {}
    for name, model in contenders.items():
        predicted = model.fit(X_train, y_train).predict(X_test)
        assert set(predicted) <= set(y_train), name
        accuracy[name] = accuracy_score(y_test, predicted)
    assert all(0.0 <= a <= 1.0 for a in accuracy.values()), accuracy
    assert accuracy["MiniRocketClassifier"] > 0.5 and accuracy["Catch22Classifier"] > 0.5  # four classes
