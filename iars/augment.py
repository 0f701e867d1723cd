"""TS2Vec's random overlapping crops (the timestamp mask lives in the encoders)."""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Crop:
    """Geometry of one batch's two views (all indices into the length-T input).

    View 1 covers ``[offset_i + a1, offset_i + right)`` and view 2 covers
    ``[offset_i + left, offset_i + b2)`` of series i; both contain the overlap
    ``[offset_i + left, offset_i + right)`` of ``length = right − left`` timestamps,
    at the end of view 1 and at the start of view 2.
    """

    left: int
    right: int
    a1: int
    b2: int
    offsets: torch.Tensor  # (B,) int64

    @property
    def length(self) -> int:
        return self.right - self.left


def _randint(low: int, high: int, generator: torch.Generator | None, size=()) -> torch.Tensor:
    """Uniform integers in [low, high] (inclusive)."""
    return torch.randint(low, high + 1, size, generator=generator)


def sample_crop(
    batch_size: int, length: int, temporal_unit: int = 0, generator: torch.Generator | None = None
) -> Crop:
    """Draw TS2Vec's crop for a batch of B series of length T.

    overlap ~ U[2^(u+1), T], left ~ U[0, T−overlap], a1 ~ U[0, left],
    b2 ~ U[right, T], offset_i ~ U[−a1, T−b2].
    """
    min_overlap = 2 ** (temporal_unit + 1)
    if length < min_overlap:
        raise ValueError(
            f"series of length {length} are too short to crop: TS2Vec's views need at least "
            f"{min_overlap} timestamps (2^(temporal_unit+1) with temporal_unit={temporal_unit})"
        )
    crop_l = int(_randint(min_overlap, length, generator))
    left = int(_randint(0, length - crop_l, generator))
    right = left + crop_l
    a1 = int(_randint(0, left, generator))
    b2 = int(_randint(right, length, generator))
    offsets = _randint(-a1, length - b2, generator, size=(batch_size,))
    return Crop(left, right, a1, b2, offsets)


def take_per_row(x: torch.Tensor, starts: torch.Tensor, width: int) -> torch.Tensor:
    """x[i, starts[i] : starts[i] + width] for every row i (x: B×T×C -> B×width×C)."""
    idx = starts.to(x.device)[:, None] + torch.arange(width, device=x.device)
    return x[torch.arange(x.size(0), device=x.device)[:, None], idx]


def crop_views(x: torch.Tensor, crop: Crop) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut the two overlapping views of ``x`` (B×T×C) described by ``crop``."""
    view1 = take_per_row(x, crop.offsets + crop.a1, crop.right - crop.a1)
    view2 = take_per_row(x, crop.offsets + crop.left, crop.b2 - crop.left)
    return view1, view2
