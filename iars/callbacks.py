"""Lightning callbacks of the pretraining loop."""
from __future__ import annotations

import time
from contextlib import contextmanager

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Checkpoint
from pytorch_lightning.utilities.exceptions import SIGTERMException

from iars.augment import sample_crop
from iars.data import series_of
from iars.devices import synchronize
from iars.errors import ConfigError
from iars.legacy import upgrade_selection_state
from iars.selection import ResolutionSelector


class PretrainClock(pl.Callback):
    """Wall-clock of the fit loop only: from the start of the train loop to its end
    (no dataset loading before it, no evaluation after), CUDA synchronised before
    each reading. A resumed run continues the clock: checkpoints carry the earlier
    segments (up to the moment each was saved), so steps redone after a checkpoint
    count once.

    After fit: ``seconds`` (all segments), ``segments`` (seconds of each), ``steps``
    and ``step_times`` (seconds per step, all segments).
    """

    def __init__(self):
        self.segments: list[float] = []
        self.seconds = 0.0
        self.steps = 0
        self.step_times: list[float] = []
        self._start: float | None = None
        self._step_start = 0.0

    def _running(self) -> list[float]:
        return [] if self._start is None else [time.perf_counter() - self._start]

    def on_train_start(self, trainer, pl_module):
        synchronize(pl_module.device)
        self._start = time.perf_counter()

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        synchronize(pl_module.device)
        self._step_start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        synchronize(pl_module.device)
        self.step_times.append(time.perf_counter() - self._step_start)

    def on_train_end(self, trainer, pl_module):
        synchronize(pl_module.device)
        self.segments += self._running()
        self._start = None
        self.seconds = sum(self.segments)
        self.steps = trainer.global_step

    def on_fit_end(self, trainer, pl_module):
        # also when a resumed run had no step left to train (no on_train_end): the checkpoint's segments
        self.seconds = sum(self.segments)
        self.steps = trainer.global_step

    def state_dict(self):
        return {"segments": self.segments + self._running(), "step_times": list(self.step_times)}

    def load_state_dict(self, state_dict):
        self.segments = list(state_dict["segments"])
        self.step_times = list(state_dict["step_times"])


class LossHistory(pl.Callback):
    """The training loss of every optimisation step, in order: :attr:`losses` (floats, one per
    step). It keeps each step's loss as a tensor and reads them all at the end of training (or
    when a checkpoint is saved), so it adds no device synchronisation per step. Checkpoints
    carry it, so a resumed fit continues it."""

    def __init__(self):
        self.losses: list[float] = []
        self._pending: list[torch.Tensor] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        self._pending.append(loss.detach().reshape(()))

    def _read(self) -> list[float]:
        if self._pending:
            self.losses += torch.stack(self._pending).float().cpu().tolist()
            self._pending = []
        return self.losses

    def on_train_end(self, trainer, pl_module):
        self._read()

    def state_dict(self):
        return {"losses": list(self._read())}

    def load_state_dict(self, state_dict):
        self.losses, self._pending = list(state_dict["losses"]), []


class SaveOnInterrupt(Checkpoint):
    """Saves a checkpoint to ``path`` when a run is stopped by SIGTERM: Lightning finishes the
    step in progress and raises ``SIGTERMException``, so the checkpoint is at a step boundary
    (any other exception may come mid-step, and saves nothing).

    It saves at the end of the step in which the signal arrived (``on_train_batch_end``), where a
    periodic checkpoint is written too: as a :class:`~pytorch_lightning.callbacks.Checkpoint`,
    Lightning runs it after every other callback, so the step is complete (an epoch's last step
    has closed the epoch's selection), and a run resumed from it continues exactly. A signal
    that arrives after that hook and before Lightning's check is saved from ``on_exception``.
    """

    def __init__(self, path):
        self.path = path
        self.saved = False

    def _save(self, trainer):
        if not self.saved:
            trainer.save_checkpoint(self.path, weights_only=False)
            self.saved = True

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.received_sigterm:
            self._save(trainer)

    def on_exception(self, trainer, pl_module, exception):
        if isinstance(exception, SIGTERMException):
            with _as_at_step_end(trainer):
                self._save(trainer)


@contextmanager
def _as_at_step_end(trainer):
    """Lightning's loop state as a periodic checkpoint at the end of the step records it (in
    ``on_train_batch_end``), while a checkpoint is saved later: from Lightning's SIGTERM check
    after the step, or after the epoch's end. Lightning counts the step (and the epoch) as
    completed only after those hooks, and resumes such a state wrongly (after an epoch's end it
    runs one batch as the whole next epoch); the state at the step's end resumes exactly."""
    loop = trainer.fit_loop
    batches, epochs = loop.epoch_loop.batch_progress, loop.epoch_progress
    undo = []
    if epochs.current.completed == epochs.current.started > 0:  # after the epoch's end
        undo += [(t, n) for t in (epochs.current, epochs.total) for n in ("processed", "completed")]
    if batches.current.completed == batches.current.processed > 0:  # after the step's end hook
        undo += [(batches.current, "completed"), (batches.total, "completed"), (loop.epoch_loop, "_batches_that_stepped")]
    for tracker, name in undo:
        setattr(tracker, name, getattr(tracker, name) - 1)
    try:
        yield
    finally:
        for tracker, name in undo:
            setattr(tracker, name, getattr(tracker, name) + 1)


class ResolutionSelection(pl.Callback):
    """The selection callback: picks the resolution the module trains each epoch.

    A :class:`~iars.module.ContrastivePretrainer` in a selecting mode brings its own
    (``configure_callbacks``), so any ``Trainer.fit(module, loader)`` selects.

    At the start of training it draws the first resolution (uniform). At each epoch's end —
    its last step, before any checkpoint of that step is written, so that a run resumed from
    that checkpoint continues with the next epoch's draw; or ``on_train_epoch_end`` for an
    epoch cut short by ``max_steps`` — it measures per-resolution losses (``scoring``: the
    module's per-step records for ``running``/``every_step``/``reuse``, read with its
    ``epoch_resolution_sums()``; for ``probe``, its ``probe_losses(x, crop)`` on a fixed batch
    drawn from the training loader's dataset, once before training and then at the first
    epoch end at least ``probe_every_steps`` steps after the last probe, which bounds the
    probe's share of the cost), averages them across ranks, feeds them to a :class:`ResolutionSelector`, draws
    the next resolution (the same on every rank: rank 0's draw is broadcast) and sets
    ``pl_module.train_resolution``. It logs the trained resolution, the next probabilities
    and the losses, and keeps the whole history in :attr:`history` (saved in checkpoints,
    so a resumed run continues it).

    Args:
        n_resolutions: R, the resolutions of the longest training series.
        scoring: ``probe``, ``running``, ``every_step`` or ``reuse`` (validated by the module).
        rule, softmaxes, temperature: of the :class:`ResolutionSelector` (paper:
            ``importance``, 2 and 1), which validates them.
        probe_size: series in the probe batch (one fixed crop holding every resolution).
        probe_every_steps: training steps between probes (1: every epoch, as the paper
            scores; larger amortises the probe over more steps on long series); the module
            measures every resolution at this interval with ``scoring="reuse"``.
        seed: seeds the draws and the probe batch.
    """

    def __init__(
        self,
        n_resolutions: int,
        scoring: str = "probe",
        rule: str = "importance",
        softmaxes: int = 2,
        temperature: float = 1.0,
        probe_size: int = 4,
        probe_every_steps: int = 10,
        seed: int = 0,
    ):
        if not (isinstance(probe_size, int) and probe_size >= 2):
            raise ConfigError(f"loss.selection.probe_size={probe_size}: the instance loss needs at least 2 series")
        if not (isinstance(probe_every_steps, int) and probe_every_steps >= 1):
            raise ConfigError(f"loss.selection.probe_every_steps={probe_every_steps}: must be at least 1")
        self.selector = ResolutionSelector(n_resolutions, softmaxes, temperature, rule, seed)
        self.scoring = scoring
        self.probe_size, self.probe_every_steps, self.seed = probe_size, probe_every_steps, seed
        self._last_probe_step = 0
        self.history: list[dict] = []
        self.probe_seconds = 0.0
        self._probe = None
        self._restored: dict | None = None

    # -- measuring --------------------------------------------------------------------

    def probe_batch(self, trainer, pl_module):
        """A fixed batch (x: P×T×C), drawn from the training loader's dataset, and a fixed
        crop whose overlap has every resolution."""
        dataset = trainer.train_dataloader.dataset
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise ConfigError("loss.scoring=probe draws its probe batch by index and needs a map-style dataset; "
                              "use loss.scoring=running with an iterable dataset")
        g = torch.Generator().manual_seed(self.seed)
        idx = torch.randperm(len(dataset), generator=g)[: self.probe_size]
        x = torch.stack([series_of(dataset[int(i)]) for i in idx])
        R = self.selector.n_resolutions
        if x.size(1) < 2 ** (R - 1):
            raise ConfigError(
                f"the training series have length {x.size(1)}, too short for the module's {R} resolutions "
                f"(max_length >= {2 ** (R - 1)}): pass the series' length as max_length"
            )
        crop = sample_crop(len(idx), x.size(1), pl_module.temporal_unit, generator=g)
        while crop.length < 2 ** (R - 1):
            crop = sample_crop(len(idx), x.size(1), pl_module.temporal_unit, generator=g)
        return x, crop

    def _probe_losses(self, trainer, pl_module):
        if self._probe is None:
            self._probe = self.probe_batch(trainer, pl_module)
        synchronize(pl_module.device)
        start = time.perf_counter()
        losses = pl_module.probe_losses(*self._probe)
        synchronize(pl_module.device)
        self.probe_seconds += time.perf_counter() - start
        return torch.nan_to_num(losses), (~torch.isnan(losses)).float()

    @staticmethod
    def _reduce(trainer, sums, counts) -> np.ndarray:
        """Per-resolution mean over all ranks' observations (NaN = none)."""
        sums = trainer.strategy.reduce(sums, reduce_op="sum")
        counts = trainer.strategy.reduce(counts, reduce_op="sum")
        return torch.where(counts > 0, sums / counts.clamp(min=1), torch.nan).cpu().numpy()

    def _measure(self, trainer, pl_module) -> np.ndarray:
        sums, counts = pl_module.epoch_resolution_sums()  # read and reset every epoch
        if self.scoring == "probe":
            if trainer.global_step - self._last_probe_step < self.probe_every_steps:
                return np.full(self.selector.n_resolutions, np.nan)
            self._last_probe_step = trainer.global_step
            sums, counts = self._probe_losses(trainer, pl_module)
        return self._reduce(trainer, sums, counts)

    def _choose(self, trainer, pl_module) -> int:
        resolution = trainer.strategy.broadcast(self.selector.sample(), src=0)
        self.selector.chosen[-1] = resolution
        pl_module.train_resolution = resolution
        return resolution

    # -- hooks ------------------------------------------------------------------------

    def on_train_start(self, trainer, pl_module):
        if self._restored is not None:
            self.selector.load_state_dict(self._restored["selector"])
            self.history = list(self._restored["history"])
            pl_module.train_resolution = self._restored.get("resolution")
            self._last_probe_step = self._restored.get("last_probe_step", 0)
            self.probe_seconds = self._restored.get("probe_seconds", 0.0)
            self._restored = None
            return
        if self.scoring == "probe":
            self.selector.observe(self._reduce(trainer, *self._probe_losses(trainer, pl_module)))
        self._choose(trainer, pl_module)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            self._close_epoch(trainer, pl_module)

    def on_train_epoch_end(self, trainer, pl_module):
        if not self.history or self.history[-1]["epoch"] != trainer.current_epoch:  # cut short by max_steps
            self._close_epoch(trainer, pl_module)

    def _close_epoch(self, trainer, pl_module):
        trained = pl_module.train_resolution
        losses = self._measure(trainer, pl_module)
        if not np.isnan(losses).all():
            self.selector.observe(losses)
        probs = self.selector.probabilities
        self._choose(trainer, pl_module)
        self.history.append({
            "epoch": trainer.current_epoch,
            "resolution": trained,
            "losses": [None if np.isnan(v) else float(v) for v in losses],
            "next_probs": probs.tolist(),
        })
        if trainer.logger and trainer.is_global_zero:
            metrics = {"selection/resolution": trained}
            metrics.update({f"selection/prob_r{r}": p for r, p in enumerate(probs)})
            metrics.update({f"selection/loss_r{r}": v for r, v in enumerate(losses) if not np.isnan(v)})
            trainer.logger.log_metrics(metrics, step=trainer.global_step)

    def state_dict(self):
        return {
            "selector": self.selector.state_dict(),
            "history": self.history,
            "resolution": self.selector.chosen[-1] if self.selector.chosen else None,
            "last_probe_step": self._last_probe_step,
            "probe_seconds": self.probe_seconds,
        }

    def load_state_dict(self, state_dict):
        self._restored = upgrade_selection_state(state_dict)
