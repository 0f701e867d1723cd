"""The Lightning module that pretrains an encoder with a contrastive loss."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel

from iars.augment import Crop, crop_views, sample_crop
from iars.callbacks import ResolutionSelection
from iars.checkpoints import random_state, set_random_state
from iars.config import build
from iars.data import series_of
from iars.errors import ConfigError
from iars.losses import downsample, hierarchical_loss, level_loss, level_losses, num_levels
from iars.selection import depth_of_resolution, resolution_of_depth

LOSS_MODES = ("hier", "iars", "random", "fixed")
ROUND_VIEWS = {"cuda": 64}
"""``round_views="auto"`` by device type: on a GPU every new view length costs cuDNN work that
made a fresh process's steps 2-4.5× slower (StandWalkJump, H200); CPUs pay no such cost, so views
keep their length there (``scripts/bench.py``, docs/benchmarks.md)."""
SCORINGS = ("probe", "running", "every_step", "reuse")


class ContrastivePretrainer(pl.LightningModule):
    """Pretrains ``encoder`` on pairs of overlapping crops (TS2Vec's views).

    Each step: batch x (B×T×C) -> two views -> encoder -> overlap z1, z2 (B×n×K)
    -> loss, by ``mode``:

    - ``hier``: TS2Vec's hierarchical loss, the mean of every level's loss;
    - ``iars``: only resolution :attr:`train_resolution`'s loss, which the selection
      callback sets each epoch; the other levels are not computed with grad;
    - ``random``: a uniformly drawn resolution, per epoch (set by the callback,
      ``granularity="epoch"``) or per step (``granularity="step"``);
    - ``fixed``: always resolution ``resolution``.

    Resolutions are coarse-aligned indices, depths count poolings from the finest level
    (:mod:`iars.selection`); a crop too short to have the chosen resolution trains its
    finest level.

    The module brings what it needs: in a selecting mode (``iars``, ``random`` per epoch)
    its :class:`~iars.callbacks.ResolutionSelection` comes with it through
    :meth:`configure_callbacks`, and it draws its probe batch from the training loader's
    dataset, so ``Trainer.fit(module, loader)`` selects with any map-style loader of
    B×T×C batches. It is rebuilt from a checkpoint by ``load_from_checkpoint`` when the
    encoder was given as a spec.

    Per-resolution losses for scoring (``scoring``): ``running`` records the trained
    resolution's loss each step; ``every_step`` also computes every other level under
    ``no_grad``; ``reuse`` measures every level of the step's own views on the probe's
    number of series, at the probe's interval (:meth:`measures_every_level`: the probe's
    information without its encoder passes); ``probe`` leaves measuring to the callback
    (:meth:`probe_losses`).

    What the selection callback uses of the module (its whole interface): it sets
    :attr:`train_resolution`, reads the epoch's sums with :meth:`epoch_resolution_sums`,
    measures a probe with :meth:`probe_losses`, and draws the probe's crop with
    :attr:`temporal_unit`'s minimum length.

    Args:
        encoder: maps B×T×C to B×T×K: a module, or a spec ``{"_target_": class path,
            **kwargs}`` (:func:`iars.config.build`), which the checkpoint records.
        mode: loss mode (above).
        max_length: T of the training series; sets the number of resolutions R
            (required by ``iars``, ``random``, and ``fixed`` with a negative resolution).
        alpha: weight of the instance term in each level's loss.
        temporal_unit: first depth that uses the temporal term; also sets the minimum
            crop length 2^(temporal_unit+1).
        pool: ``max`` (TS2Vec) or ``avg`` (the paper's text) between levels.
        block: rows per similarity tile of the temporal loss (extra memory B·block²
            instead of B·(2T)²); ``"auto"``: 512 on CPU, 2048 on GPU; ``None``: one
            tile (:mod:`iars.losses`).
        scoring: how per-resolution losses are measured for selection; ``None``:
            ``probe`` for ``iars``, ``running`` otherwise.
        resolution: the resolution of ``mode="fixed"``; negative counts from the finest
            (-1: the finest resolution of ``max_length``).
        granularity: ``epoch`` or ``step`` for ``mode="random"``.
        selection: settings of the selection callback (``rule``, ``softmaxes``,
            ``temperature``, ``probe_size``, ``probe_every_steps``); ``rule`` defaults to
            ``importance`` for ``iars`` and is ``uniform`` for ``random``.
        seed: seeds per-step random draws, the selection draws and the probe batch.
        lr: AdamW learning rate.
        averaged: keep a running average of the encoder's weights (TS2Vec
            evaluates it); :attr:`eval_encoder` returns it.
        compile_encoder: run the training encoder through ``torch.compile`` (the
            weight average stays eager); pays a warm-up, and recompiles while crop
            lengths vary, before it pays off.
        round_views: pad each view at its end with missing values to a multiple of this many
            timestamps before encoding; ``"auto"``: :data:`ROUND_VIEWS` by device; None: off.
            Fewer distinct tensor shapes, at the cost of a little padding and of representations
            near a view's end that see it.
        normaliser: the per-channel ``{"mean": [...], "scale": [...]}`` the training
            series were standardised with (:class:`iars.data.Normaliser`); kept in the
            checkpoint so that the encoder can be applied to new series.
    """

    def __init__(
        self,
        encoder: nn.Module | Mapping[str, Any],
        mode: str = "hier",
        max_length: int | None = None,
        alpha: float = 0.5,
        temporal_unit: int = 0,
        pool: str = "max",
        block: int | str | None = "auto",
        scoring: str | None = None,
        resolution: int | None = None,
        granularity: str = "epoch",
        selection: Mapping[str, Any] | None = None,
        seed: int = 0,
        lr: float = 1e-3,
        averaged: bool = True,
        compile_encoder: bool = False,
        normaliser: Mapping[str, list[float]] | None = None,
        round_views: int | str | None = "auto",
    ):
        super().__init__()
        scoring = scoring or ("probe" if mode == "iars" else "running")
        if mode not in LOSS_MODES:
            raise ConfigError(f"loss.mode={mode!r} is not a loss mode; choose one of {', '.join(LOSS_MODES)}")
        if pool not in ("max", "avg"):
            raise ConfigError(f"loss.pool={pool!r}: choose max or avg")
        if not 0.0 <= alpha <= 1.0:
            raise ConfigError(f"loss.alpha={alpha} must lie in [0, 1]")
        if block not in ("auto", None) and (not isinstance(block, int) or block < 1):
            raise ConfigError(f"loss.block={block!r}: give a positive number of rows, auto, or null for one tile")
        if scoring not in SCORINGS:
            raise ConfigError(f"loss.scoring={scoring!r}: choose one of {', '.join(SCORINGS)}")
        if granularity not in ("epoch", "step"):
            raise ConfigError(f"loss.granularity={granularity!r}: choose epoch or step")
        if round_views not in (None, "auto") and (not isinstance(round_views, int) or round_views < 1):
            raise ConfigError(f"loss.round_views={round_views!r}: give a positive number of timestamps, auto, or null")
        if not (isinstance(lr, (int, float)) and lr > 0):
            raise ConfigError(f"lr={lr!r}: the learning rate must be a positive number")
        self.n_resolutions = num_levels(max_length) if max_length else None
        if mode == "fixed":
            resolution = self._fixed_resolution(resolution)
        selects = mode == "iars" or (mode == "random" and granularity == "epoch")
        if selects and self.n_resolutions is None:
            raise ConfigError(f"loss={mode} selects among the resolutions of the training series: give max_length")
        self.save_hyperparameters(ignore=["encoder"], logger=False)
        if isinstance(encoder, Mapping):
            self.hparams["encoder"] = dict(encoder)  # recorded: load_from_checkpoint rebuilds it
            encoder = build(encoder)
        self.encoder = encoder
        self.mode = mode
        self.alpha = alpha
        self.temporal_unit = temporal_unit
        self.pool = pool
        self.block = block
        self.round_views = round_views
        self.scoring = scoring
        self.granularity = granularity
        self.lr = lr
        self.train_resolution: int | None = resolution
        self.selection = None
        if selects:
            settings = {"rule": "uniform" if mode == "random" else "importance", **(selection or {})}
            if mode == "random" and settings["rule"] != "uniform":
                raise ConfigError(f"loss=random draws uniformly; loss.selection.rule={settings['rule']!r} "
                                  "belongs to loss=iars")
            self.selection = ResolutionSelection(self.n_resolutions, scoring, seed=seed, **settings)
            # scoring="reuse" measures the probe's number of series at the probe's interval
            self._reuse_size, self._reuse_every = self.selection.probe_size, self.selection.probe_every_steps
        self._last_measured_step: int | None = None
        self.averaged = AveragedModel(encoder, use_buffers=True).requires_grad_(False) if averaged else None
        if compile_encoder:
            encoder.compile()  # in place: same parameters and state_dict keys
        self._generator = torch.Generator().manual_seed(seed)
        self._restored_random_state: dict | None = None
        self._sums = self._counts = None

    def _fixed_resolution(self, given: int | None) -> int:
        R = self.n_resolutions
        resolution = given
        if isinstance(given, int) and given < 0 and R:
            resolution = given + R  # counted from the finest end: -1 is the finest resolution
        if not isinstance(resolution, int) or resolution < 0 or (R is not None and resolution >= R):
            given = "no loss.resolution" if given is None else f"loss.resolution={given!r}"
            span = f"0..{R - 1}" if R else "0 or more"
            raise ConfigError(
                f"{given}: loss=fixed needs a resolution index in {span} (0 is the length-1 level; r covers "
                "lengths 2^r..2^(r+1)-1), or -1 for the finest, -2 the next (-R the coarsest)"
            )
        return resolution

    def configure_callbacks(self):
        """The selection callback, in a selecting mode."""
        return [self.selection] if self.selection is not None else []

    # -- views and losses ------------------------------------------------------------

    def views(self, x: torch.Tensor, crop: Crop | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode two overlapping crops of x (B×T×C), random unless ``crop`` is given;
        returns the overlaps z1, z2 (B×n×K)."""
        crop = crop or sample_crop(x.size(0), x.size(1), self.temporal_unit)
        v1, v2 = crop_views(x, crop)
        return self._encode(v1)[:, -crop.length :], self._encode(v2)[:, : crop.length]

    def _encode(self, v: torch.Tensor) -> torch.Tensor:
        """The encoder on a view (B×L×C); with ``round_views``, the view is first padded at its
        end with missing values to a multiple of that many timestamps (fewer distinct shapes)."""
        length, multiple = v.size(1), ROUND_VIEWS.get(v.device.type) if self.round_views == "auto" else self.round_views
        if not multiple or length % multiple == 0:
            return self.encoder(v)
        padded = F.pad(v, (0, 0, 0, multiple - length % multiple), value=float("nan"))
        return self.encoder(padded)[:, :length]

    def _level_losses(self, z1, z2) -> list[torch.Tensor]:
        return level_losses(z1, z2, self.alpha, self.temporal_unit, self.pool, self.block)

    @torch.no_grad()
    def _every_level(self, z1, z2, n_levels: int) -> dict[int, torch.Tensor]:
        """Every level's loss of the views (no grad), by resolution."""
        levels = self._level_losses(z1.detach(), z2.detach())
        return {resolution_of_depth(d, n_levels): loss for d, loss in enumerate(levels)}

    def _single_level_loss(self, z1, z2, depth: int) -> torch.Tensor:
        for _ in range(depth):
            z1, z2 = downsample(z1, self.pool), downsample(z2, self.pool)
        return level_loss(z1, z2, self.alpha, temporal=depth >= self.temporal_unit, block=self.block)

    def _resolution_to_train(self, n_levels: int) -> int:
        if self.mode == "random" and self.granularity == "step":
            return int(torch.randint(n_levels, (), generator=self._generator))
        if self.train_resolution is None:
            raise RuntimeError(f"loss={self.mode} trains one resolution, but none was selected")
        return self.train_resolution

    def training_step(self, batch, batch_idx):
        z1, z2 = self.views(series_of(batch))
        n_levels = num_levels(z1.size(1))
        if self.mode == "hier":
            loss = hierarchical_loss(z1, z2, self.alpha, self.temporal_unit, self.pool, self.block)
        else:
            depth = depth_of_resolution(self._resolution_to_train(n_levels), n_levels)
            loss = self._single_level_loss(z1, z2, depth)
            observed = {resolution_of_depth(depth, n_levels): loss.detach()}
            if self.scoring == "every_step":
                observed = {**self._every_level(z1, z2, n_levels), **observed}
            elif self.scoring == "reuse":  # every level on the probe's number of series, at its interval
                observed = {}
                if self.selection is not None and self.measures_every_level(self.global_step):
                    observed = self._every_level(z1[: self._reuse_size], z2[: self._reuse_size], n_levels)
            self._record(observed)
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=False)
        return loss

    @torch.no_grad()
    def probe_losses(self, x: torch.Tensor, crop: Crop) -> torch.Tensor:
        """Every resolution's loss on a fixed batch x (B×T×C) and crop, in eval mode
        (no mask, no dropout); returns a length-R vector, NaN where absent."""
        was_training = self.encoder.training
        self.encoder.eval()
        try:
            z1, z2 = self.views(x.to(self.device), crop)
        finally:
            self.encoder.train(was_training)
        n_levels = num_levels(crop.length)
        out = torch.full((self.n_resolutions,), float("nan"), device=self.device)
        for d, loss in enumerate(self._level_losses(z1, z2)):
            out[resolution_of_depth(d, n_levels)] = loss
        return out

    # -- per-resolution bookkeeping (what the selection callback reads) -----------------

    def measures_every_level(self, step: int) -> bool:
        """``scoring="reuse"``: whether training step ``step`` measures every resolution on its
        own views: the first step, then the first at least ``probe_every_steps`` after the last
        that did."""
        last = self._last_measured_step
        if last is not None and step - last < self._reuse_every:
            return False
        self._last_measured_step = step
        return True

    def _record(self, observed: dict[int, torch.Tensor]) -> None:
        if self.n_resolutions is None or not observed:
            return
        if self._sums is None:
            self._sums = torch.zeros(self.n_resolutions, device=self.device)
            self._counts = torch.zeros(self.n_resolutions, device=self.device)
        idx = torch.tensor(list(observed), device=self.device)
        self._sums.index_add_(0, idx, torch.stack(list(observed.values())).float())
        self._counts.index_add_(0, idx, torch.ones(len(observed), device=self.device))

    def epoch_resolution_sums(self) -> tuple[torch.Tensor, torch.Tensor]:
        """This epoch's per-resolution loss sums and counts (length R each), then reset."""
        R = self.n_resolutions
        sums = self._sums if self._sums is not None else torch.zeros(R, device=self.device)
        counts = self._counts if self._counts is not None else torch.zeros(R, device=self.device)
        self._sums = self._counts = None
        return sums, counts

    # -- Lightning hooks --------------------------------------------------------------

    def optimizer_step(self, *args, **kwargs) -> None:
        # The weight average follows each optimiser step inside the step itself, so that a
        # checkpoint written at the step's end (periodic, or on SIGTERM) already holds it.
        super().optimizer_step(*args, **kwargs)
        if self.averaged is not None:
            self.averaged.update_parameters(self.encoder)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # The random streams too, so that a resumed run draws the crops, masks and dropout
        # the uninterrupted run would have drawn; and the epoch's per-resolution sums so far.
        checkpoint["random_state"] = {"module": self._generator.get_state(), **random_state()}
        if self._sums is not None:
            checkpoint["resolution_sums"] = {"sums": self._sums.cpu(), "counts": self._counts.cpu()}
        checkpoint["last_measured_step"] = self._last_measured_step

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self._last_measured_step = checkpoint.get("last_measured_step")
        sums = checkpoint.get("resolution_sums")
        if sums is not None:
            self._sums, self._counts = sums["sums"].to(self.device), sums["counts"].to(self.device)
        state = checkpoint.get("random_state")
        if state is not None:
            self._generator.set_state(state["module"])
            self._restored_random_state = state  # applied when training resumes, not on a mere load

    def on_train_start(self) -> None:
        if self._sums is not None:  # restored from a checkpoint (on the CPU): rank 0's sums, kept by rank 0 only
            keep = self.trainer.global_rank == 0
            self._sums, self._counts = (self._sums.to(self.device), self._counts.to(self.device)) if keep else (None, None)
        state, self._restored_random_state = self._restored_random_state, None
        if state is not None:
            set_random_state(state)

    def __getstate__(self) -> dict[str, Any]:
        # The generator pickled as its state's bytes: a torch.Generator pickles a fresh state
        # tensor keyed by its memory address, so two pickles of one unchanged module differed
        # (and so did hashes of it, e.g. aeon's check that transform changes no state).
        state = super().__getstate__()
        state["_generator"] = self._generator.get_state().numpy().tobytes()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        generator = state.get("_generator")
        if isinstance(generator, bytes):
            state = {**state, "_generator": torch.Generator()}
            state["_generator"].set_state(torch.frombuffer(bytearray(generator), dtype=torch.uint8))
        super().__setstate__(state)

    @property
    def eval_encoder(self) -> nn.Module:
        """The encoder to evaluate: the weight average when kept, else the encoder."""
        return self.averaged.module if self.averaged is not None else self.encoder

    def configure_optimizers(self):
        return torch.optim.AdamW(self.encoder.parameters(), lr=self.lr)
