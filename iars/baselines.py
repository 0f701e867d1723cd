"""1-NN baselines of the UEA archive (Bagnall et al. 2018): Euclidean distance, and
full-window DTW dependent (one warping for all channels) and independent (the sum of
per-channel DTW distances, each the square root of aeon's squared-cost DTW, as the
archive computes it), with aeon's distances.

Series are aeon's layout: an N×C×T array, or a list of C×T_i arrays (unequal lengths).
"""
from __future__ import annotations

import time

import numpy as np
from aeon.distances import dtw_pairwise_distance, euclidean_pairwise_distance

from iars.data.arrays import channel_means, interpolate_missing

METHODS = ("1NN-ED", "1NN-DTW-I", "1NN-DTW-D")
NORMALISATIONS = ("none", "znorm")


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
    raise ValueError(f"unknown method {method!r}: choose from {', '.join(METHODS)}")


def one_nn(X_train, y_train, X_test, y_test, methods=METHODS, normalise: str = "none") -> dict:
    """Test accuracy of each 1-NN method, and its seconds: ``{"acc": {...}, "time_s": {...}}``.

    ``normalise="znorm"`` z-normalises every series (per channel) first, as the archive does.
    Unequal-length series skip 1NN-ED (reported as None). Missing values, which the distances
    cannot skip, are filled first (:func:`iars.data.arrays.interpolate_missing`: linear in time,
    a channel missing in a whole series takes its train mean); ``filled_cells`` counts them.
    """
    if normalise not in NORMALISATIONS:
        raise ValueError(f"normalise={normalise!r}: choose none or znorm")
    fill = channel_means(X_train)
    X_train, filled_train = interpolate_missing(X_train, fill, "train")
    X_test, filled_test = interpolate_missing(X_test, fill, "test")
    if normalise == "znorm":
        X_train, X_test = znormalise(X_train), znormalise(X_test)
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    acc, seconds = {}, {}
    for method in methods:
        start = time.perf_counter()
        try:
            nearest = pairwise(method, X_test, X_train).argmin(axis=1)
        except ValueError as e:
            if method == "1NN-ED" and "equal-length" in str(e):
                acc[method] = seconds[method] = None
                continue
            raise
        acc[method] = float((y_train[nearest] == y_test).mean())
        seconds[method] = time.perf_counter() - start
    return {"acc": acc, "time_s": seconds, "filled_cells": {"train": filled_train, "test": filled_test}}
