"""Importance-aware resolution selection (IARS, paper §IV.D.2), free of any training framework.

Two indices name a level of the hierarchy (:mod:`iars.losses`):

- **depth** d counts poolings from the finest level: d = 0 is the overlap at full length;
- **resolution** r counts from the coarsest: r = 0 is the length-1 level and r covers the
  levels of length 2^r .. 2^(r+1)−1. The same r therefore means the same resolution in
  every epoch although crop lengths differ (the paper's index shifting).

An overlap of n timestamps has n_levels = ⌊log2 n⌋ + 1 levels: depths and resolutions
0 .. n_levels − 1, with r = n_levels − 1 − d.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from iars.errors import ConfigError


def resolution_of_depth(depth: int, n_levels: int) -> int:
    """Resolution r (coarse-aligned) of the level ``depth`` poolings below full length."""
    return n_levels - 1 - depth


def depth_of_resolution(r: int, n_levels: int) -> int:
    """Pooling depth that trains resolution ``r`` in an overlap with ``n_levels`` levels.

    A crop too short to have resolution r trains its nearest existing one, the finest
    (depth 0).
    """
    return max(n_levels - 1 - r, 0)


def importance_scores(
    current: np.ndarray,
    previous: np.ndarray,
    softmaxes: int = 2,
    temperature: float = 1.0,
    relative: bool = False,
) -> np.ndarray:
    """Eq. 9–10: softmax of the loss changes L_{r,e} − L_{r,e−1}, applied ``softmaxes``
    times (the paper: twice), each at ``temperature``.

    ``relative`` scores the scale-free change (L_{r,e} − L_{r,e−1}) / L_{r,e−1} instead,
    so that resolutions whose losses differ in size compete on equal terms. Entries that
    are NaN in either vector (resolutions without a value), or, when relative, whose
    previous loss is not positive, get probability 0.
    """
    current, previous = np.asarray(current, float), np.asarray(previous, float)
    delta = current - previous
    if relative:
        with np.errstate(divide="ignore", invalid="ignore"):
            delta = np.where(previous > 0, delta / previous, np.nan)
    valid = ~np.isnan(delta)
    p = np.zeros_like(delta)
    if not valid.any():
        return p
    x = delta[valid]
    for _ in range(softmaxes):
        z = x / temperature
        z = np.exp(z - z.max())
        x = z / z.sum()
    p[valid] = x
    return p


class ResolutionSelector:
    """Tracks per-resolution losses epoch by epoch and samples the resolution to train next.

    ``observe`` takes one epoch's loss per resolution (NaN = not observed); a resolution
    not observed takes its last observed value (the paper's absent-value filling). Once
    two epochs are recorded, resolutions are scored by :func:`importance_scores`: a
    resolution whose loss rose (or fell least) while another was trained gets the
    highest probability. Before that, and with ``rule="uniform"`` always, the draw is
    uniform over all resolutions.

    Rules: ``importance`` scores the loss changes (the paper); ``relative`` the relative
    changes ΔL/L (:func:`importance_scores` with ``relative``), which, with one softmax at
    a temperature of the size of those changes, departs from uniform where the paper's
    double softmax cannot (its first softmax maps into [0, 1], so the second's
    probabilities differ at most e-fold); ``uniform`` ignores the losses. All draw from
    one seeded stream by inverse CDF, so two rules under one seed draw the same
    resolution wherever their distributions agree: a paired comparison.

    Args:
        n_resolutions: R, the number of resolutions of the longest series.
        softmaxes: how many times eq. 9's softmax is applied (paper: 2).
        temperature: temperature of each softmax (paper: 1).
        rule: ``importance`` (IARS), ``relative`` (IARS on ΔL/L) or ``uniform`` (the
            random-selection ablation).
        seed: seeds the draws.
    """

    RULES = ("importance", "relative", "uniform")

    def __init__(
        self,
        n_resolutions: int,
        softmaxes: int = 2,
        temperature: float = 1.0,
        rule: str = "importance",
        seed: int = 0,
    ):
        if n_resolutions < 1:
            raise ConfigError(f"n_resolutions must be at least 1, got {n_resolutions}")
        if rule not in self.RULES:
            raise ConfigError(f"loss.selection.rule={rule!r}: choose one of {', '.join(self.RULES)}")
        if not (isinstance(softmaxes, int) and softmaxes >= 1):
            raise ConfigError(f"loss.selection.softmaxes={softmaxes}: must be at least 1 (the paper: 2)")
        if not temperature > 0:
            raise ConfigError(f"loss.selection.temperature={temperature}: must be positive (the paper: 1)")
        self.n_resolutions = n_resolutions
        self.softmaxes = softmaxes
        self.temperature = temperature
        self.rule = rule
        self.rng = np.random.default_rng(seed)
        self.history: list[np.ndarray] = []  # filled loss vectors, one per observation
        self.chosen: list[int] = []

    def observe(self, losses) -> np.ndarray:
        """Record one epoch's per-resolution losses (length R, NaN = absent); returns the
        filled vector."""
        losses = np.asarray(losses, dtype=float)
        if losses.shape != (self.n_resolutions,):
            raise ValueError(f"expected {self.n_resolutions} per-resolution losses, got shape {losses.shape}")
        if self.history:
            losses = np.where(np.isnan(losses), self.history[-1], losses)
        self.history.append(losses)
        return losses

    @property
    def probabilities(self) -> np.ndarray:
        """The distribution the next draw uses (length R)."""
        uniform = np.full(self.n_resolutions, 1.0 / self.n_resolutions)
        if self.rule == "uniform" or len(self.history) < 2:
            return uniform
        p = importance_scores(self.history[-1], self.history[-2], self.softmaxes, self.temperature,
                              relative=self.rule == "relative")
        return p if p.sum() > 0 else uniform

    def sample(self) -> int:
        """Draw the resolution to train next: r' ~ Multinomial(probabilities)."""
        p = self.probabilities
        r = int(self.rng.choice(self.n_resolutions, p=p / p.sum()))
        self.chosen.append(r)
        return r

    def state_dict(self) -> dict[str, Any]:
        return {
            "history": [h.tolist() for h in self.history],
            "chosen": list(self.chosen),
            "rng": self.rng.bit_generator.state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history = [np.asarray(h, dtype=float) for h in state["history"]]
        self.chosen = list(state["chosen"])
        self.rng.bit_generator.state = state["rng"]
