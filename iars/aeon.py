"""aeon citizenship: the encoder as an aeon collection transformer, :class:`IARSTransformer`
(series -> one embedding per series, a table), and as an aeon classifier, :class:`IARSClassifier`
(the embeddings classified by TS2Vec's SVM protocol, :func:`iars.evaluate.fit_svm`).

Both take :class:`iars.TimeSeriesEncoder`'s parameters and train one
(:attr:`encoder_`); aeon's public ``fit``/``transform``/``predict`` validate and convert the
series, and these classes implement its ``_fit``/``_transform``/``_predict``. They go wherever
aeon's estimators go: ``aeon.pipeline.make_pipeline(IARSTransformer(), SVC())``, aeon's
benchmarking and estimator checks::

    from aeon.datasets import load_basic_motions
    from iars.aeon import IARSClassifier

    X, y = load_basic_motions("train")
    IARSClassifier(loss="iars", K=64, steps=200).fit(X, y).predict(load_basic_motions("test")[0])

Imported on its own (``import iars`` does not import aeon): ``from iars.aeon import ...``.
"""
from __future__ import annotations

import inspect
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
from aeon.classification import BaseClassifier
from aeon.transformations.collection import BaseCollectionTransformer

from iars.data import BATCH_SIZE, MAX_TRAIN_LENGTH
from iars.estimator import NestedParamsMixin, TimeSeriesEncoder
from iars.evaluate import fit_svm
from iars.params import DEFAULT_SEED

__all__ = ["IARSClassifier", "IARSTransformer"]

ENCODER_PARAMS = tuple(name for name in inspect.signature(TimeSeriesEncoder.__init__).parameters if name != "self")
"""The parameters both classes share with :class:`~iars.TimeSeriesEncoder` (the same names,
defaults and meanings)."""

_TAGS = {
    "capability:multivariate": True,
    "capability:unequal_length": True,  # each series encoded at its own length
    "capability:missing_values": True,  # NaN timestamps are masked, in training and encoding
    "X_inner_type": ["np-list", "numpy3D"],  # both are TimeSeriesEncoder's input: no conversion
    "algorithm_type": "deeplearning",
    "python_dependencies": ["torch", "pytorch_lightning"],
    # seeded (seed=42 by default): a fit repeats bit for bit on the CPU, which aeon's determinism
    # checks confirm; on a GPU, Lightning's deterministic="warn" only warns about kernels without a
    # deterministic implementation
    "non_deterministic": False,
}


class _Encoding:
    """What the transformer and the classifier share: :class:`~iars.TimeSeriesEncoder`'s
    parameters, the encoder they train with them, and warm starts across aeon's ``reset``."""

    def __init__(
        self,
        loss: str = "hier",
        encoder: str = "dilated_conv",
        K: int = 320,
        steps: int | None = None,
        epochs: int | None = None,
        batch_size: int = BATCH_SIZE,
        lr: float = 1e-3,
        seed: int = DEFAULT_SEED,
        device: str = "auto",
        precision: str = "32-true",
        pooling: str = "max",
        max_train_length: int | None = MAX_TRAIN_LENGTH,
        averaged: bool = True,
        loss_params: Mapping[str, Any] | None = None,
        encoder_params: Mapping[str, Any] | None = None,
        verbose: bool = False,
        warm_start: bool = False,
    ):
        self.loss = loss
        self.encoder = encoder
        self.K = K
        self.steps = steps
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.seed = seed
        self.device = device
        self.precision = precision
        self.pooling = pooling
        self.max_train_length = max_train_length
        self.averaged = averaged
        self.loss_params = loss_params
        self.encoder_params = encoder_params
        self.verbose = verbose
        self.warm_start = warm_start
        super().__init__()

    def reset(self, keep=None):
        """aeon's reset (``fit`` starts with it), which keeps the fitted encoder when
        ``warm_start`` is set, so that ``fit`` continues it."""
        if self.warm_start and "encoder_" in vars(self):
            keep = [keep] if isinstance(keep, str) else list(keep or [])
            keep.append("encoder_")
        return super().reset(keep=keep)

    def _fit_encoder(self, X) -> np.ndarray:
        """Fit :attr:`encoder_` on X (a new one, or with ``warm_start`` the fitted one
        continued) and return X's embeddings (N×K)."""
        params = {name: getattr(self, name) for name in ENCODER_PARAMS}
        previous = vars(self).get("encoder_") if self.warm_start else None
        encoder = previous.set_params(**params) if previous is not None else TimeSeriesEncoder(**params)
        self.encoder_ = encoder.fit(X)
        return self.encoder_.transform(X)

    @classmethod
    def _get_test_params(cls, parameter_set: str = "default"):
        """Tiny encoders and two steps, on the CPU (seconds): TS2Vec's loss and IARS's."""
        tiny = {"K": 8, "steps": 2, "encoder_params": {"depth": 2, "hidden": 16}, "device": "cpu"}
        return [tiny, {**tiny, "loss": "iars"}]


class IARSTransformer(NestedParamsMixin, _Encoding, BaseCollectionTransformer):
    """Self-supervised series embeddings as an aeon collection transformer: ``fit`` pretrains a
    :class:`~iars.TimeSeriesEncoder` on the series (labels unused), ``transform`` returns one
    embedding per series (N×K, pooled by ``pooling``).

    Parameters are :class:`~iars.TimeSeriesEncoder`'s (nested ones too: ``loss__alpha``,
    ``encoder__depth``). Series: an N×C×T array (N×T for one channel) or a list of C×T_i
    arrays, NaN for missing values.

    Attributes
    ----------
    encoder_ : TimeSeriesEncoder
        The fitted encoder (its ``loss_history_``, ``history_``, ``n_steps_``, ``save``).
    """

    _tags = {**_TAGS, "output_data_type": "Tabular", "removes_unequal_length": True,
             "removes_missing_values": True}  # one finite vector per series, all-NaN ones too

    def _fit(self, X, y=None):
        self._fit_encoder(X)
        return self

    def _transform(self, X, y=None) -> np.ndarray:
        return self.encoder_.transform(X)


class IARSClassifier(NestedParamsMixin, _Encoding, BaseClassifier):
    """The self-supervised encoder and TS2Vec's classification protocol as an aeon classifier:
    ``fit`` pretrains a :class:`~iars.TimeSeriesEncoder` on the series (without their labels),
    then fits TS2Vec's SVM (:func:`iars.evaluate.fit_svm`: an RBF SVC, C by 5-fold grid search
    when there are at least 50 series and 5 per class, else C = ∞) on their embeddings;
    ``predict`` classifies the embeddings of new series. ``predict_proba`` is aeon's default
    for a classifier without probabilities: 1 for the predicted class.

    Parameters are :class:`~iars.TimeSeriesEncoder`'s; with ``warm_start`` a second ``fit``
    continues the encoder's training and refits the SVM.

    Attributes
    ----------
    encoder_ : TimeSeriesEncoder
        The fitted encoder.
    classifier_ : sklearn estimator
        The SVM fitted on the training embeddings (a ``GridSearchCV`` when it searched C).
    """

    _tags = dict(_TAGS)

    def _fit(self, X, y):
        notes: list[str] = []
        self.classifier_ = fit_svm(self._fit_encoder(X), y, notes)
        for note in notes:  # what weakened the fit (equal embeddings of different classes, …)
            warnings.warn(note, UserWarning, stacklevel=2)
        return self

    def _predict(self, X) -> np.ndarray:
        return self.classifier_.predict(self.encoder_.transform(X))
