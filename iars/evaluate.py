"""Classifier stage: the classifier fitted on pooled embeddings (:mod:`iars.encoding` encodes;
its names are importable from here too, their older home)."""
from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import GridSearchCV
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
    """Fit ``protocol`` on the train embeddings; test accuracy and macro-F1."""
    fit = {"svm": fit_svm, "logreg": fit_logreg}.get(protocol)
    if fit is None:
        raise ConfigError(f"classifier.protocol={protocol!r}: choose one of {', '.join(PROTOCOLS)}")
    pred = fit(train_features, y_train).predict(test_features)
    return {"acc": float(accuracy_score(y_test, pred)), "f1": float(f1_score(y_test, pred, average="macro"))}
