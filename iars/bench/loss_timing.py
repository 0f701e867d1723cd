"""The unit ``--losses`` measures: one level's loss variant forward and backward on random views."""
from __future__ import annotations

import time

import torch

from iars import losses, reference
from iars.devices import synchronize


def _reference_level_loss(z1, z2):
    return 0.5 * reference.dense_instance_loss(z1, z2) + 0.5 * reference.dense_temporal_loss(z1, z2)


LOSS_VARIANTS = {
    "reference": _reference_level_loss,
    "iars": losses.level_loss,
    "iars-one-block": lambda z1, z2: losses.level_loss(z1, z2, block=None),
}
"""The loss variants by name (and ``iars-block<N>``: see :func:`loss_fn`)."""


def views(T: int, K: int, B: int, device: str, seed: int = 0):
    """Two random B×T×K views on ``device`` that want gradients."""
    g = torch.Generator().manual_seed(seed)
    z1, z2 = (torch.randn(B, T, K, generator=g).to(device).requires_grad_() for _ in range(2))
    return z1, z2


def loss_fn(variant: str):
    """A variant by name; ``iars-block<N>`` is iars's loss with blocks of N rows."""
    if variant.startswith("iars-block"):
        block = int(variant.removeprefix("iars-block"))
        return lambda z1, z2: losses.level_loss(z1, z2, block=block)
    return LOSS_VARIANTS[variant]


def loss_seconds(variant: str, z1, z2, autocast: bool = False) -> float:
    """Wall-clock seconds of one forward + backward of ``variant`` on z1, z2 (B×T×K)."""
    device = z1.device.type
    synchronize(device)
    start = time.perf_counter()
    with torch.autocast(device, dtype=torch.bfloat16, enabled=autocast):
        loss = loss_fn(variant)(z1, z2)
    loss.backward()
    synchronize(device)
    z1.grad = z2.grad = None
    return time.perf_counter() - start
