"""The Lightning module that pretrains an encoder with a contrastive loss."""
from __future__ import annotations

import pytorch_lightning as pl
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

from iars.augment import crop_views, sample_crop
from iars.errors import ConfigError
from iars.losses import hierarchical_loss

LOSS_MODES = ("hier",)


class ContrastivePretrainer(pl.LightningModule):
    """Pretrains ``encoder`` on pairs of overlapping crops (TS2Vec's views).

    Each step: batch x (B×T×C) -> two views -> encoder -> overlap z1, z2 (B×crop×K)
    -> loss. ``mode`` names the loss mode; ``hier`` is TS2Vec's hierarchical loss
    (the mean of every level's loss).

    Args:
        encoder: maps B×T×C to B×T×K.
        mode: loss mode.
        alpha: weight of the instance term in each level's loss.
        temporal_unit: first level that uses the temporal term; also sets the
            minimum crop length 2^(temporal_unit+1).
        pool: ``max`` (TS2Vec) or ``avg`` (the paper's text) between levels.
        lr: AdamW learning rate.
        averaged: keep a running average of the encoder's weights (TS2Vec
            evaluates it); :attr:`eval_encoder` returns it.
    """

    def __init__(
        self,
        encoder: nn.Module,
        mode: str = "hier",
        alpha: float = 0.5,
        temporal_unit: int = 0,
        pool: str = "max",
        lr: float = 1e-3,
        averaged: bool = True,
    ):
        super().__init__()
        if mode not in LOSS_MODES:
            raise ConfigError(f"loss.mode={mode!r} is not a loss mode; choose one of {', '.join(LOSS_MODES)}")
        if pool not in ("max", "avg"):
            raise ConfigError(f"loss.pool={pool!r}: choose max or avg")
        if not 0.0 <= alpha <= 1.0:
            raise ConfigError(f"loss.alpha={alpha} must lie in [0, 1]")
        self.encoder = encoder
        self.mode = mode
        self.alpha = alpha
        self.temporal_unit = temporal_unit
        self.pool = pool
        self.lr = lr
        self.averaged = AveragedModel(encoder, use_buffers=True) if averaged else None
        self.save_hyperparameters(ignore=["encoder"])

    def views(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode two random overlapping crops of x (B×T×C); returns the overlaps z1, z2 (B×l×K)."""
        crop = sample_crop(x.size(0), x.size(1), self.temporal_unit)
        v1, v2 = crop_views(x, crop)
        return self.encoder(v1)[:, -crop.length :], self.encoder(v2)[:, : crop.length]

    def training_step(self, batch, batch_idx):
        z1, z2 = self.views(batch[0])
        loss = hierarchical_loss(z1, z2, self.alpha, self.temporal_unit, self.pool)
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=False)
        return loss

    def on_train_batch_end(self, outputs, batch, batch_idx) -> None:
        if self.averaged is not None:
            self.averaged.update_parameters(self.encoder)

    @property
    def eval_encoder(self) -> nn.Module:
        """The encoder to evaluate: the weight average when kept, else the encoder."""
        return self.averaged.module if self.averaged is not None else self.encoder

    def configure_optimizers(self):
        return torch.optim.AdamW(self.encoder.parameters(), lr=self.lr)
