"""Lightning callbacks of the pretraining loop."""
from __future__ import annotations

import time

import pytorch_lightning as pl
import torch


def _sync(pl_module: pl.LightningModule) -> None:
    if pl_module.device.type == "cuda":
        torch.cuda.synchronize(pl_module.device)


class PretrainClock(pl.Callback):
    """Wall-clock of the fit loop only: from the start of the train loop to its end
    (no dataset loading before it, no evaluation after), CUDA synchronised before
    each reading.

    After fit: ``seconds``, ``steps`` and ``step_times`` (seconds per step).
    """

    def __init__(self):
        self.seconds = 0.0
        self.steps = 0
        self.step_times: list[float] = []
        self._start = self._step_start = 0.0

    def on_train_start(self, trainer, pl_module):
        _sync(pl_module)
        self._start = time.perf_counter()

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        _sync(pl_module)
        self._step_start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        _sync(pl_module)
        self.step_times.append(time.perf_counter() - self._step_start)

    def on_train_end(self, trainer, pl_module):
        _sync(pl_module)
        self.seconds = time.perf_counter() - self._start
        self.steps = trainer.global_step
