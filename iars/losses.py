"""Contrastive losses of hierarchical time-series representation learning (TS2Vec).

All functions take the overlapping parts of the two views' representations,
``z1`` and ``z2`` of shape B×T×K (same timestamps at the same positions), and
return a scalar tensor. Similarities are raw dot products.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def _contrast(z: torch.Tensor) -> torch.Tensor:
    """Mean InfoNCE over groups of 2n vectors whose positives are i <-> i+n.

    z: G×2n×K (G independent groups). Each vector is contrasted against the
    other 2n−1 of its group (self-similarity excluded); its positive is the
    vector n places away, i.e. the same item in the other view.
    """
    n = z.size(1) // 2
    sim = z @ z.transpose(1, 2)  # G×2n×2n
    eye = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    logits = sim.masked_fill(eye, float("-inf"))
    log_prob = F.log_softmax(logits, dim=-1)
    idx = torch.arange(2 * n, device=z.device)
    positive = (idx + n) % (2 * n)
    return -log_prob[:, idx, positive].mean()


def instance_contrastive_loss(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """At each timestamp, each series' vector against the other 2B−1 of both views.

    z1, z2: B×T×K. The positive is the same series in the other view. 0 when B = 1.
    """
    if z1.size(0) == 1:
        return z1.new_zeros(())
    z = torch.cat([z1, z2], dim=0).transpose(0, 1)  # T×2B×K
    return _contrast(z)


def temporal_contrastive_loss(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """Within each series, each timestamp's vector against the other 2T−1 of both views.

    z1, z2: B×T×K. The positive is the same timestamp in the other view. 0 when T = 1.
    """
    if z1.size(1) == 1:
        return z1.new_zeros(())
    z = torch.cat([z1, z2], dim=1)  # B×2T×K
    return _contrast(z)


def downsample(z: torch.Tensor, pool: str = "max") -> torch.Tensor:
    """Halve the time axis: B×T×K -> B×⌊T/2⌋×K with kernel 2, stride 2."""
    pool_fn = {"max": F.max_pool1d, "avg": F.avg_pool1d}[pool]
    return pool_fn(z.transpose(1, 2), kernel_size=2).transpose(1, 2)


def num_levels(length: int) -> int:
    """Number of resolutions for an overlap of ``length`` timestamps: ⌊log2 length⌋ + 1."""
    return length.bit_length()


def level_loss(
    z1: torch.Tensor, z2: torch.Tensor, alpha: float = 0.5, temporal: bool = True
) -> torch.Tensor:
    """L_d = α·instance + (1−α)·temporal at one resolution (z1, z2: B×T×K).

    At the final length-1 level (or when ``temporal`` is off, below
    ``temporal_unit``) only the instance term counts.
    """
    loss = alpha * instance_contrastive_loss(z1, z2) if alpha != 0 else z1.new_zeros(())
    if temporal and z1.size(1) > 1 and alpha != 1:
        loss = loss + (1 - alpha) * temporal_contrastive_loss(z1, z2)
    return loss


def level_losses(
    z1: torch.Tensor,
    z2: torch.Tensor,
    alpha: float = 0.5,
    temporal_unit: int = 0,
    pool: str = "max",
) -> list[torch.Tensor]:
    """Per-level losses [L_0, L_1, …], finest (full length) to coarsest (length 1).

    Level d+1 is level d pooled by 2; levels exist while the length exceeds 1,
    plus the final length-1 level: ⌊log2 T⌋ + 1 levels for T timestamps.
    The temporal term is used from level ``temporal_unit`` on.
    """
    losses = []
    d = 0
    while True:
        losses.append(level_loss(z1, z2, alpha, temporal=d >= temporal_unit))
        if z1.size(1) <= 1:
            return losses
        z1, z2 = downsample(z1, pool), downsample(z2, pool)
        d += 1


def hierarchical_loss(
    z1: torch.Tensor,
    z2: torch.Tensor,
    alpha: float = 0.5,
    temporal_unit: int = 0,
    pool: str = "max",
) -> torch.Tensor:
    """TS2Vec's hierarchical contrastive loss: the mean of the per-level losses."""
    return torch.stack(level_losses(z1, z2, alpha, temporal_unit, pool)).mean()
