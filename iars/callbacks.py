"""Lightning callbacks of the pretraining loop."""
from __future__ import annotations

import time

import numpy as np
import pytorch_lightning as pl
import torch

from iars.augment import sample_crop
from iars.errors import ConfigError
from iars.selection import ResolutionSelector


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


class ResolutionSelection(pl.Callback):
    """The selection callback: picks the resolution the module trains each epoch.

    At the start of training it draws the first resolution (uniform). At each epoch end
    it measures per-resolution losses (``scoring``: the module's per-step records for
    ``running``/``every_step``; for ``probe``, a fixed probe batch once before training
    and then at the first epoch end at least ``probe_every_steps`` steps after the last
    probe, which bounds the probe's share of the cost), sums them across ranks, feeds
    them to a :class:`ResolutionSelector`, draws the next resolution (the same on every
    rank: shared seed, and rank 0's draw is broadcast) and sets
    ``pl_module.train_level``. It logs the trained level, the next probabilities and the
    losses, and keeps the whole history in :attr:`history` (saved in checkpoints, so a
    resumed run continues it).

    Args:
        rule: ``importance`` (IARS) or ``uniform`` (random selection per epoch).
        scoring: ``probe``, ``running`` or ``every_step``.
        softmaxes, temperature: of the importance score (paper: 2 and 1).
        probe_size: series in the probe batch (one fixed crop holding every resolution).
        probe_every_steps: training steps between probes (1: every epoch, as the paper
            scores; larger amortises the probe over more steps on long series).
        seed: seeds the draws and the probe batch.
    """

    def __init__(
        self,
        rule: str = "importance",
        scoring: str = "probe",
        softmaxes: int = 2,
        temperature: float = 1.0,
        probe_size: int = 4,
        probe_every_steps: int = 10,
        seed: int = 0,
    ):
        checks = [
            (rule in ResolutionSelector.RULES, f"rule={rule!r}: choose one of {', '.join(ResolutionSelector.RULES)}"),
            (scoring in ("probe", "running", "every_step"), f"scoring={scoring!r}: choose probe, running or every_step"),
            (softmaxes >= 1, f"softmaxes={softmaxes}: must be at least 1"),
            (temperature > 0, f"temperature={temperature}: must be positive"),
            (probe_size >= 2, f"probe_size={probe_size}: the instance loss needs at least 2 series"),
            (probe_every_steps >= 1, f"probe_every_steps={probe_every_steps}: must be at least 1"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ConfigError(f"loss.selection.{msg}")
        self.rule, self.scoring = rule, scoring
        self.softmaxes, self.temperature = softmaxes, temperature
        self.probe_size, self.probe_every_steps, self.seed = probe_size, probe_every_steps, seed
        self._last_probe_step = 0
        self.selector: ResolutionSelector | None = None
        self.history: list[dict] = []
        self.probe_seconds = 0.0
        self._probe = None
        self._restored: dict | None = None

    def setup(self, trainer, pl_module, stage):
        if pl_module.n_resolutions is None:
            raise ValueError("ResolutionSelection needs the module's max_length (number of resolutions)")
        self.selector = ResolutionSelector(
            pl_module.n_resolutions, self.softmaxes, self.temperature, self.rule, self.seed
        )

    # -- measuring --------------------------------------------------------------------

    def _probe_batch(self, trainer, pl_module):
        """A fixed batch (x: P×T×C) and a fixed crop whose overlap has every resolution."""
        X = trainer.datamodule.pretrain_X
        g = torch.Generator().manual_seed(self.seed)
        idx = torch.randperm(len(X), generator=g)[: self.probe_size].numpy()
        crop = sample_crop(len(idx), X.shape[1], pl_module.temporal_unit, generator=g)
        while crop.length < 2 ** (pl_module.n_resolutions - 1):
            crop = sample_crop(len(idx), X.shape[1], pl_module.temporal_unit, generator=g)
        return torch.from_numpy(X[idx]), crop

    def _probe_losses(self, trainer, pl_module):
        if self._probe is None:
            self._probe = self._probe_batch(trainer, pl_module)
        _sync(pl_module)
        start = time.perf_counter()
        losses = pl_module.probe_losses(*self._probe)
        _sync(pl_module)
        self.probe_seconds += time.perf_counter() - start
        return torch.nan_to_num(losses), (~torch.isnan(losses)).float()

    @staticmethod
    def _reduce(trainer, sums, counts) -> np.ndarray:
        """Per-resolution mean over all ranks' observations (NaN = none)."""
        sums = trainer.strategy.reduce(sums, reduce_op="sum")
        counts = trainer.strategy.reduce(counts, reduce_op="sum")
        return torch.where(counts > 0, sums / counts.clamp(min=1), torch.nan).cpu().numpy()

    def _measure(self, trainer, pl_module) -> np.ndarray:
        sums, counts = pl_module.epoch_level_sums()  # read and reset every epoch
        if self.scoring == "probe":
            if trainer.global_step - self._last_probe_step < self.probe_every_steps:
                return np.full(pl_module.n_resolutions, np.nan)
            self._last_probe_step = trainer.global_step
            sums, counts = self._probe_losses(trainer, pl_module)
        return self._reduce(trainer, sums, counts)

    def _choose(self, trainer, pl_module) -> int:
        level = trainer.strategy.broadcast(self.selector.sample(), src=0)
        self.selector.chosen[-1] = level
        pl_module.train_level = level
        return level

    # -- hooks ------------------------------------------------------------------------

    def on_train_start(self, trainer, pl_module):
        if self._restored is not None:
            self.selector.load_state_dict(self._restored["selector"])
            self.history = list(self._restored["history"])
            pl_module.train_level = self._restored["level"]
            self._last_probe_step = self._restored.get("last_probe_step", 0)
            self._restored = None
            return
        if self.scoring == "probe":
            self.selector.observe(self._reduce(trainer, *self._probe_losses(trainer, pl_module)))
        self._choose(trainer, pl_module)

    def on_train_epoch_end(self, trainer, pl_module):
        trained = pl_module.train_level
        losses = self._measure(trainer, pl_module)
        if not np.isnan(losses).all():
            self.selector.observe(losses)
        probs = self.selector.probabilities
        self._choose(trainer, pl_module)
        self.history.append({
            "epoch": trainer.current_epoch,
            "level": trained,
            "losses": [None if np.isnan(v) else float(v) for v in losses],
            "next_probs": probs.tolist(),
        })
        if trainer.logger and trainer.is_global_zero:
            metrics = {"selection/level": trained}
            metrics.update({f"selection/prob_r{r}": p for r, p in enumerate(probs)})
            metrics.update({f"selection/loss_r{r}": v for r, v in enumerate(losses) if not np.isnan(v)})
            trainer.logger.log_metrics(metrics, step=trainer.global_step)

    def state_dict(self):
        return {
            "selector": self.selector.state_dict(),
            "history": self.history,
            "level": self.selector.chosen[-1] if self.selector.chosen else None,
            "last_probe_step": self._last_probe_step,
        }

    def load_state_dict(self, state_dict):
        self._restored = state_dict
