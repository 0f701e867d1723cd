"""Classifier stage: the classifier fitted on pooled embeddings (:mod:`iars.encoding` encodes;
its names are importable from here too, their older home)."""
from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from iars.encoding import POOLINGS, Windows, check_pooling, encode, series_lengths  # noqa: F401 (re-exported)
from iars.errors import ConfigError, DataError, some

PROTOCOLS = ("svm", "logreg")


SVM_MAX_ITER = 1_000_000
"""The bound on libsvm's iterations (scikit-learn's ``max_iter``): far above what a fit that
converges takes (tests/test_evaluate.py), so TS2Vec's protocol is unchanged wherever it ends on
its own; an ill-posed C = ∞ fit (nearly identical embeddings of different classes) stops there
instead of running forever, with a recorded warning."""

C_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1, 10, 100, 1000, 10000, np.inf)


def conflicting_duplicates(features: np.ndarray, y: np.ndarray) -> int:
    """How many train embeddings (rows of N×K ``features``) equal one of another class."""
    _, group = np.unique(features, axis=0, return_inverse=True)
    _, label = np.unique(y, return_inverse=True)
    group = group.reshape(-1)
    classes_per_group = np.bincount(np.unique(np.stack([group, label.reshape(-1)]), axis=1)[0])
    return int((classes_per_group[group] > 1).sum())


def check_features(features: np.ndarray, split: str) -> None:
    """Refuse embeddings (N×K) that hold NaN or infinity, naming the series."""
    bad = np.flatnonzero(~np.isfinite(features).all(axis=1))
    if bad.size:
        raise DataError(f"the {split} embeddings of {bad.size} series are not finite (series {some(bad)}): "
                        "the encoder diverged or its input held NaN/inf; check the data and the learning rate")


def fit_svm(features: np.ndarray, y: np.ndarray, notes: list[str] | None = None):
    """TS2Vec's SVM protocol: RBF SVC; C = ∞ when there are fewer than 5 series per class
    or fewer than 50 in all, else 5-fold grid search over C ∈ {1e-4, …, 1e4, ∞}.

    It always ends: C = ∞ (a hard margin) has no solution when two train embeddings of
    different classes are equal, so then C = 1e4, the grid's largest finite value, replaces it
    (the grid searches the finite values); and libsvm stops at :data:`SVM_MAX_ITER`. Each is a
    warning appended to ``notes``."""
    notes = [] if notes is None else notes
    check_features(features, "train")
    grid = list(C_GRID)
    duplicates = conflicting_duplicates(features, y)
    if duplicates:
        grid.remove(np.inf)
        same = np.ptp(features, axis=0).max() == 0 if len(features) else True
        notes.append(("every train series has the same embedding (the encoder maps all inputs alike): "
                      "the classifier can only predict one class" if same else
                      f"{duplicates} train series share their embedding with a series of another class: the "
                      "SVM's C = inf (no solution then) is replaced by C = 1e4"))
    svm = SVC(C=grid[-1], gamma="scale", max_iter=SVM_MAX_ITER)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        if len(y) // len(np.unique(y)) < 5 or len(y) < 50:
            model = svm.fit(features, y)
        else:
            model = GridSearchCV(svm, {"C": grid}, cv=5, n_jobs=1).fit(features, y)
    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
        notes.append(f"the SVM's solver stopped at its bound of {SVM_MAX_ITER:,} iterations (embeddings of "
                     "different classes nearly equal): its fit is approximate")
    for w in caught:
        if not issubclass(w.category, ConvergenceWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return model


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
    """Fit ``protocol`` on the train embeddings; test accuracy and macro-F1, ``val_acc``:
    an accuracy that never sees the test split (:func:`validation_accuracy`), for tuning, and
    ``warnings`` (only when there are any: what weakened the fit, :func:`fit_svm`). Embeddings
    that are not finite are refused (:class:`~iars.errors.DataError`)."""
    fit = {"svm": fit_svm, "logreg": lambda X, y, notes: fit_logreg(X, y)}.get(protocol)
    if fit is None:
        raise ConfigError(f"classifier.protocol={protocol!r}: choose one of {', '.join(PROTOCOLS)}")
    check_features(train_features, "train")
    check_features(test_features, "test")
    notes: list[str] = []
    model = fit(train_features, y_train, notes)
    pred = model.predict(test_features)
    return {"acc": float(accuracy_score(y_test, pred)), "f1": float(f1_score(y_test, pred, average="macro")),
            "val_acc": validation_accuracy(model, train_features, y_train), **({"warnings": notes} if notes else {})}


def validation_accuracy(model, features: np.ndarray, y: np.ndarray) -> float | None:
    """The protocol's cross-validated accuracy on the train embeddings alone: the grid search's
    best score where the SVM protocol ran one (5 folds), else the fitted estimator's settings
    refitted on k stratified folds, k = min(5, the smallest class's size); None when a class has
    one series."""
    if isinstance(model, GridSearchCV):
        return float(model.best_score_)
    folds = min(5, int(np.unique(y, return_counts=True)[1].min()))
    if folds < 2:
        return None
    cv = StratifiedKFold(folds, shuffle=True, random_state=0)
    with warnings.catch_warnings():  # a solver stopped at its bound: fit_svm's note says so already
        warnings.simplefilter("ignore", ConvergenceWarning)
        return float(cross_val_score(clone(model), features, y, cv=cv).mean())
