"""The baselines a researcher picks instead of a learnt encoder, on the raw series.

- 1-NN of the UEA archive (Bagnall et al. 2018): Euclidean distance, and full-window DTW
  dependent (one warping for all channels) and independent (the sum of per-channel DTW
  distances, each the square root of aeon's squared-cost DTW, as the archive computes it),
  with aeon's distances.
- ``MiniRocket``: aeon's ``MiniRocketClassifier``, its documented recipe (the MiniRocket
  transform, 10 000 kernels; ``StandardScaler(with_mean=False)``; ``RidgeClassifierCV(alphas=
  np.logspace(-3, 3, 10))``), seeded.
- ``Catch22``: aeon's ``Catch22Classifier`` (catch22 plus mean and std per channel, NaN
  features to 0; a random forest of 200 trees), seeded.

Series are aeon's layout: an N×C×T array (N×T: one channel), or a list of C×T_i arrays
(unequal lengths). What cannot run as given is said in the result's ``notes``, never hidden:
1NN-ED skips unequal lengths; MiniRocket, which needs one length of at least 9, gets every
series zero-padded at its end (aeon's ``Padder``) to the longest of train and test (9 at
least). Missing values (NaN) are filled first (:func:`fill_missing`): by default linearly in
time (``missing="interpolate"``), or each series' channel mean (``"mean"``, aeon's
``SimpleImputer``), or refused (``"refuse"``); ``filled_cells`` counts them.
"""
from __future__ import annotations

import time
import warnings

import numpy as np
from aeon.distances import dtw_pairwise_distance, euclidean_pairwise_distance

from iars.data.arrays import channel_means, interpolate_missing
from iars.errors import DataError

NN_METHODS = ("1NN-ED", "1NN-DTW-I", "1NN-DTW-D")
CLASSIFIERS = ("MiniRocket", "Catch22")
METHODS = NN_METHODS + CLASSIFIERS
NORMALISATIONS = ("none", "znorm")
MISSING = ("interpolate", "mean", "refuse")
MINIROCKET_MIN_LENGTH = 9  # aeon's MiniRocket refuses shorter series


def znormalise(X):
    """Each series, each channel to zero mean and unit variance (constant channels to 0)."""

    def one(x):
        std = x.std(axis=-1, keepdims=True)
        return (x - x.mean(axis=-1, keepdims=True)) / np.where(std > 0, std, 1.0)

    return one(np.asarray(X, dtype=float)) if isinstance(X, np.ndarray) else [one(np.asarray(x, float)) for x in X]


def _channels(X, c):
    return X[:, c : c + 1] if isinstance(X, np.ndarray) else [x[c : c + 1] for x in X]


def pairwise(method: str, X_test, X_train) -> np.ndarray:
    """Distances n_test×n_train under ``method``."""
    if method == "1NN-ED":
        if not (isinstance(X_train, np.ndarray) and isinstance(X_test, np.ndarray)) or X_train.shape[-1] != X_test.shape[-1]:
            raise ValueError("1NN-ED needs equal-length series")
        return euclidean_pairwise_distance(X_test, X_train)
    if method == "1NN-DTW-D":
        return dtw_pairwise_distance(X_test, X_train)
    if method == "1NN-DTW-I":
        n_channels = (X_train if isinstance(X_train, np.ndarray) else X_train[0]).shape[-2]
        return sum(
            np.sqrt(dtw_pairwise_distance(_channels(X_test, c), _channels(X_train, c))) for c in range(n_channels)
        )
    raise ValueError(f"unknown 1-NN method {method!r}: choose from {', '.join(NN_METHODS)}")


def one_nn(X_train, y_train, X_test, y_test, methods=NN_METHODS, normalise: str = "none",
           missing: str = "interpolate") -> dict:
    """Test accuracy of each 1-NN method, and its seconds (numba compiles on one pair first):
    ``{"acc": {...}, "time_s": {...}}``.

    ``normalise="znorm"`` z-normalises every series (per channel) first, as the archive does.
    Unequal-length series skip 1NN-ED (reported as None). Missing values, which the distances
    cannot skip, are filled first as ``missing`` says (:func:`fill_missing`: by default linear
    in time); ``filled_cells`` counts them.
    """
    if normalise not in NORMALISATIONS:
        raise ValueError(f"normalise={normalise!r}: choose none or znorm")
    X_train, X_test, filled = fill_missing(collection(X_train), collection(X_test), missing)
    if normalise == "znorm":
        X_train, X_test = znormalise(X_train), znormalise(X_test)
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    acc, seconds = {}, {}
    for method in methods:
        try:
            pairwise(method, X_test[:1], X_train[:2])  # numba's compilation, outside the clock
            start = time.perf_counter()
            nearest = pairwise(method, X_test, X_train).argmin(axis=1)
        except ValueError as e:
            if method == "1NN-ED" and "equal-length" in str(e):
                acc[method] = seconds[method] = None
                continue
            raise
        acc[method] = float((y_train[nearest] == y_test).mean())
        seconds[method] = time.perf_counter() - start
    return {"acc": acc, "time_s": seconds, "filled_cells": filled}


# -- the classifiers of aeon ------------------------------------------------------------------


def collection(X):
    """``X`` in aeon's layout as floats: N×T becomes N×1×T; a list of C×T_i stays a list unless
    its series have one length (an array then: 1NN-ED runs on it)."""
    if isinstance(X, np.ndarray):
        X = np.asarray(X, dtype=float)
        return X[:, None, :] if X.ndim == 2 else X
    X = [np.asarray(x, dtype=float).reshape(-1, np.shape(x)[-1]) for x in X]
    return np.stack(X) if len({x.shape for x in X}) == 1 else X  # one length: an array


def _lengths(X) -> list[int]:
    return [X.shape[-1]] * len(X) if isinstance(X, np.ndarray) else [x.shape[-1] for x in X]


def fill_missing(X_train, X_test, missing: str = "interpolate"):
    """Both splits without NaN, and how many cells were filled (``{"train": n, "test": m}``):
    ``"interpolate"`` linear in time per channel, a channel missing in a whole series its train
    mean, trailing all-missing steps the series' end
    (:func:`iars.data.arrays.interpolate_missing`); ``"mean"`` each series' channel mean in its
    place (aeon's ``SimpleImputer``; a channel with no value in a series is refused); ``"refuse"``
    a :class:`~iars.errors.DataError`."""
    if missing not in MISSING:
        raise ValueError(f"missing={missing!r}: choose one of {', '.join(MISSING)}")
    counts = {"train": _nan_count(X_train), "test": _nan_count(X_test)}
    if not any(counts.values()):
        return X_train, X_test, counts
    if missing == "refuse":
        raise DataError("the series have missing values (NaN), which the baselines do not take: set "
                        "missing=interpolate (linear in time) or missing=mean, or fill them yourself")
    if missing == "interpolate":
        fill = channel_means(X_train)
        (X_train, counts["train"]), (X_test, counts["test"]) = (
            interpolate_missing(X, fill, split) for X, split in ((X_train, "train"), (X_test, "test")))
        return X_train, X_test, counts
    from aeon.transformations.collection import SimpleImputer

    with warnings.catch_warnings():  # an all-NaN channel's "mean of empty slice": refused below
        warnings.simplefilter("ignore", RuntimeWarning)
        filled = [SimpleImputer(strategy="mean").fit_transform(X) for X in (X_train, X_test)]
    if any(_nan_count(X) for X in filled):
        raise DataError("a series has a channel with no value at all, which missing=mean cannot fill: "
                        "use missing=interpolate (its train mean), drop that series or fill it yourself")
    return filled[0], filled[1], counts


def _nan_count(X) -> int:
    return int(np.isnan(X).sum()) if isinstance(X, np.ndarray) else sum(int(np.isnan(x).sum()) for x in X)


def equal_length(X_train, X_test, minimum: int = 1):
    """Both splits as N×C×L arrays, and a note when that took padding: series of unequal
    lengths, or shorter than ``minimum``, zero-padded at their end (aeon's ``Padder``) to L,
    the longest of train and test (``minimum`` at least). No note: nothing changed."""
    lengths = _lengths(X_train) + _lengths(X_test)
    if len(set(lengths)) == 1 and lengths[0] >= minimum:
        return X_train, X_test, None
    from aeon.transformations.collection.unequal_length import Padder

    target = max(max(lengths), minimum)
    padder = Padder(padded_length=target, fill_value=0)
    span = f"length {lengths[0]}" if len(set(lengths)) == 1 else f"lengths {min(lengths)}-{max(lengths)}"
    note = (f"series of {span} zero-padded at their end to {target}"
            + (f" (it needs at least {minimum})" if max(lengths) < minimum else " (the longest of train and test)"))
    return padder.fit_transform(X_train), padder.fit_transform(X_test), note


def make_classifier(method: str, seed: int | None = None, threads: int = 1):
    """aeon's classifier of ``method`` (``MiniRocket`` or ``Catch22``), with its defaults."""
    if method == "MiniRocket":
        from aeon.classification.convolution_based import MiniRocketClassifier

        return MiniRocketClassifier(random_state=seed, n_jobs=threads)
    if method == "Catch22":
        from aeon.classification.feature_based import Catch22Classifier

        return Catch22Classifier(random_state=seed, n_jobs=threads)
    raise ValueError(f"unknown classifier {method!r}: choose from {', '.join(CLASSIFIERS)}")


def warm_up(method: str, X) -> None:
    """Run ``method``'s transform on two series of ``X``, so that numba compiles (or loads from
    its cache) before the clock starts: the seconds are the method's, not the compiler's."""
    if method == "MiniRocket":
        from aeon.transformations.collection.convolution_based import MiniRocket

        MiniRocket(n_kernels=84, random_state=0).fit_transform(X[:2])
    elif method == "Catch22":
        from aeon.transformations.collection.feature_based import Catch22

        Catch22(replace_nans=True).fit_transform(X[:2])


def classify(method: str, X_train, y_train, X_test, y_test, seed: int | None = None, threads: int = 1) -> dict:
    """Fit ``method``'s classifier on train, predict test: ``{"acc", "fit_s", "predict_s",
    "note", "predictions"}`` (note: how the series were padded, or None). The seconds
    follow a :func:`warm_up`."""
    note = None
    if method == "MiniRocket":
        X_train, X_test, note = equal_length(X_train, X_test, MINIROCKET_MIN_LENGTH)
    warm_up(method, X_train)
    model = make_classifier(method, seed, threads)
    start = time.perf_counter()
    model.fit(X_train, np.asarray(y_train))
    fitted = time.perf_counter()
    predictions = model.predict(X_test)
    done = time.perf_counter()
    return {"acc": float((predictions == np.asarray(y_test)).mean()), "fit_s": fitted - start,
            "predict_s": done - fitted, "note": note, "predictions": predictions}


def evaluate(X_train, y_train, X_test, y_test, methods=METHODS, normalise: str = "none",
             missing: str = "interpolate", seed: int | None = None, threads: int = 1) -> dict:
    """Test accuracy and seconds of each method: ``{"acc", "time_s", "fit_s", "predict_s",
    "notes"}``, the first four keyed by method (None where a method did not run; a 1-NN
    method has nothing to fit: fit_s 0), ``time_s`` = fit + predict; ``notes``: what each
    method needed done to the series, or why it did not run.

    Missing values first (:func:`fill_missing`), then ``normalise="znorm"`` (each series, per
    channel, as the archive does), then each method (:func:`one_nn`, :func:`classify`), its
    seconds after numba's compilation.
    """
    unknown = [m for m in methods if m not in METHODS]
    if unknown or normalise not in NORMALISATIONS:
        raise ValueError(f"methods {unknown} / normalise={normalise!r}: choose methods from "
                         f"{', '.join(METHODS)} and normalise none or znorm")
    X_train, X_test, filled = fill_missing(collection(X_train), collection(X_test), missing)
    if normalise == "znorm":
        X_train, X_test = znormalise(X_train), znormalise(X_test)
    nn = [m for m in methods if m in NN_METHODS]
    near = one_nn(X_train, y_train, X_test, y_test, methods=nn) if nn else {"acc": {}, "time_s": {}}
    result = {"acc": {}, "time_s": {}, "fit_s": {}, "predict_s": {}, "notes": {}, "filled_cells": filled}
    for method in methods:
        if method in NN_METHODS:
            acc, seconds = near["acc"][method], near["time_s"][method]
            one = {"acc": acc, "fit_s": None if acc is None else 0.0, "predict_s": seconds,
                   "note": "skipped: the series have unequal lengths" if acc is None else None}
        else:
            one = classify(method, X_train, y_train, X_test, y_test, seed, threads)
        result["acc"][method] = one["acc"]
        result["fit_s"][method], result["predict_s"][method] = one["fit_s"], one["predict_s"]
        result["time_s"][method] = None if one["acc"] is None else one["fit_s"] + one["predict_s"]
        if one["note"]:
            result["notes"][method] = one["note"]
    return result
