"""Classifier stage: the classifier fitted on pooled embeddings (:mod:`iars.encoding` encodes;
its names are importable from here too, their older home)."""
from __future__ import annotations

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from iars.encoding import POOLINGS, Windows, check_pooling, encode, series_lengths  # noqa: F401 (re-exported)
from iars.errors import ConfigError

PROTOCOLS = ("svm", "logreg")


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
    """Fit ``protocol`` on the train embeddings; test accuracy and macro-F1, and ``val_acc``:
    an accuracy that never sees the test split (:func:`validation_accuracy`), for tuning."""
    fit = {"svm": fit_svm, "logreg": fit_logreg}.get(protocol)
    if fit is None:
        raise ConfigError(f"classifier.protocol={protocol!r}: choose one of {', '.join(PROTOCOLS)}")
    model = fit(train_features, y_train)
    pred = model.predict(test_features)
    return {"acc": float(accuracy_score(y_test, pred)), "f1": float(f1_score(y_test, pred, average="macro")),
            "val_acc": validation_accuracy(model, train_features, y_train)}


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
    return float(cross_val_score(clone(model), features, y, cv=cv).mean())
