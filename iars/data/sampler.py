"""The pretraining loader's shuffle: an order per epoch that a resumed run reproduces."""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Sampler


class EpochShuffle(Sampler[int]):
    """A new random order of ``n`` items every epoch, a function of ``(seed, epoch)`` alone
    (Lightning calls :meth:`set_epoch` at each epoch start), so that a run resumed from a
    checkpoint sees exactly the order the uninterrupted run saw; :meth:`resume` starts the
    next pass at a position inside an epoch."""

    def __init__(self, n: int, seed: int):
        self.n, self.seed, self.epoch = n, seed, 0
        self._skip = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def resume(self, epoch: int, position: int) -> None:
        """The next pass covers ``epoch``'s order from item ``position`` on."""
        self.epoch, self._skip = epoch, position

    def order(self, epoch: int) -> list[int]:
        """Epoch ``epoch``'s permutation of 0..n−1."""
        seed = int(np.random.SeedSequence([self.seed, epoch]).generate_state(1)[0])
        return torch.randperm(self.n, generator=torch.Generator().manual_seed(seed)).tolist()

    def __iter__(self):
        skip, self._skip = self._skip, 0
        return iter(self.order(self.epoch)[skip:])

    def __len__(self) -> int:
        return self.n
