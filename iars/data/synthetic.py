"""Synthetic multivariate classification data with class structure at several time scales."""
from __future__ import annotations

import numpy as np

from iars.errors import DataError


def make_classification(
    n_train: int = 40,
    n_test: int = 40,
    length: int = 100,
    channels: int = 3,
    classes: int = 3,
    seed: int = 0,
):
    """Generate ``(X_train, y_train, X_test, y_test)``: N×T×C float32 series, int64 labels.

    Each class owns, per channel, a slow and a fast sinusoid (periods ~T/2 and ~T/20
    drawn per class) and a local bump at a class-specific place; each series adds a
    random phase, amplitude jitter and Gaussian noise. Classes therefore differ at
    coarse and fine resolutions, so a representation can learn them.
    """
    for key, value, low in (("n_train", n_train, 2), ("n_test", n_test, 2), ("length", length, 2),
                            ("channels", channels, 1), ("classes", classes, 2)):
        if value < low:
            raise DataError(f"dataset.{key} must be at least {low} for synthetic data, got {value}")
    rng = np.random.default_rng(seed)
    slow = rng.uniform(1.0, 3.0, (classes, channels))  # cycles per series
    fast = rng.uniform(8.0, 25.0, (classes, channels))
    bump_at = rng.uniform(0.1, 0.9, classes)
    t = np.linspace(0.0, 1.0, length)

    def draw(n):
        y = np.arange(n) % classes
        rng.shuffle(y)
        phase = rng.uniform(0, 2 * np.pi, (n, 1, channels))
        amp = rng.uniform(0.8, 1.2, (n, 1, channels))
        f_slow, f_fast = slow[y][:, None, :], fast[y][:, None, :]
        tt = t[None, :, None]
        x = amp * np.sin(2 * np.pi * f_slow * tt + phase) + 0.5 * np.sin(2 * np.pi * f_fast * tt + phase)
        bump = np.exp(-0.5 * ((tt - bump_at[y][:, None, None]) / 0.03) ** 2)
        x = x + 2.0 * bump + 0.3 * rng.standard_normal((n, length, channels))
        return x.astype(np.float32), y.astype(np.int64)

    return (*draw(n_train), *draw(n_test))
