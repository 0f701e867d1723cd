"""Checkpoints of a run: reading one (:func:`read_checkpoint`), which checkpoint a run continues
(``resume=auto``, ``ckpt_path``), refusing one trained with other settings, the run config a checkpoint carries, and the global
random streams a checkpoint keeps so that a resumed run draws what the uninterrupted one would.
(Older checkpoints' names are upgraded by :mod:`iars.legacy`.)"""
from __future__ import annotations

import pickle
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch

from iars.errors import ConfigError, DataError
from iars.runs import CHECKPOINT_FILE

COMPARED_HPARAMS = {"seed": "seed", "lr": "lr", "averaged": "averaged", "max_length": "the training series' length",
                    "normaliser": "the training data's statistics", "encoder": "model"}
"""Module settings a checkpoint must share with the run that resumes it, and what they are
called in a config (the loss settings are ``loss.<name>``)."""


def read_checkpoint(path: str | Path, what: str = f"a checkpoint (a run's {CHECKPOINT_FILE})") -> dict:
    """The checkpoint at ``path``, read safely (tensors and plain values only: ``weights_only``);
    a :class:`~iars.errors.DataError` naming the file when it is missing, a directory, empty,
    truncated or not a checkpoint (never torch's advice to read it unsafely)."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path} is a directory: give the path of {what}")
    if not path.is_file():
        raise DataError(f"{path} not found: give the path of {what}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise DataError(f"{path} cannot be read safely as {what}: it is corrupt, or holds objects other than tensors "
                        "and plain values, which iars does not load (for safety)") from exc
    except Exception as exc:  # EOFError, KeyError, RuntimeError (zip): torch's many ways to fail on a bad file
        raise DataError(f"{path} cannot be read as {what}: it is empty, truncated or corrupt ({type(exc).__name__}). "
                        "Save it again, or copy it again if it was transferred") from exc
    if not isinstance(checkpoint, dict):
        raise DataError(f"{path} holds a {type(checkpoint).__name__}, not {what}")
    return checkpoint


def check_checkpoint(path: str | Path, module: pl.LightningModule) -> None:
    """Refuse a checkpoint that is missing, not an iars module's, or trained with other
    settings than ``module``'s (encoder, loss, data), naming the differences."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"ckpt_path={str(path)!r} is a directory: give the path of a checkpoint file (a run's "
                          f"{CHECKPOINT_FILE}), or resume=auto hydra.run.dir={path} to continue that run folder")
    if not path.is_file():
        raise ConfigError(f"ckpt_path={str(path)!r}: no such file; give the path of a checkpoint (a run's last.ckpt)")
    try:
        saved = read_checkpoint(path).get("hyper_parameters", {})
    except DataError as exc:
        raise ConfigError(f"{exc}; or start afresh without ckpt_path/resume") from exc
    differ = hparam_differences(saved, module.hparams)
    if differ:
        raise ConfigError(f"{path} does not match this run: {'; '.join(differ)}. Resume with the settings and "
                          "data it was trained with, or start a new run without ckpt_path/resume.")


def hparam_differences(saved: Mapping, current: Mapping, there: str = "there", here: str = "here") -> list[str]:
    """What differs between a checkpoint's module settings (``saved``) and a module's
    (``current``), each named as a config names it (``model.K is 8 there, 16 here``); the
    settings that change how, not what, is computed (``compile_encoder``, ``block``) are not
    compared."""
    ignored = {"compile_encoder", "block"}  # how, not what, is computed
    differ = []
    for key in sorted(set(saved) | set(current)):
        if key in ignored or saved.get(key) == current.get(key):
            continue
        if key == "encoder" and isinstance(saved.get(key), Mapping) and isinstance(current.get(key), Mapping):
            a, b = saved[key], current[key]
            differ += [f"model.{k} is {a.get(k)!r} {there}, {b.get(k)!r} {here}" for k in sorted(set(a) | set(b))
                       if a.get(k) != b.get(k) and k != "in_channels"]
            if a.get("in_channels") != b.get("in_channels"):
                differ.append(f"the data has {a.get('in_channels')} channels {there}, {b.get('in_channels')} {here}")
            continue
        name = COMPARED_HPARAMS.get(key, f"loss.{key}")
        differ.append(f"{name} differs" if key == "normaliser" else f"{name} is {saved.get(key)!r} {there}, "
                      f"{current.get(key)!r} {here}")
    return differ


class ConfigInCheckpoint(pl.Callback):
    """Stores the run's config in its checkpoints (``checkpoint["iars"]["config"]``), so that
    a checkpoint alone rebuilds the encoder with its settings (:func:`iars.load_run`)."""

    def __init__(self, config: Mapping):
        self.config = dict(config)

    def on_save_checkpoint(self, trainer, pl_module, checkpoint):
        checkpoint["iars"] = {"config": self.config}


def resume_from(config: Mapping, out_dir: Path) -> Path | None:
    """The checkpoint a run continues: ``ckpt_path`` when given; with ``resume=auto`` the run
    folder's ``last.ckpt`` when there is one (else the run starts afresh)."""
    resume, ckpt = config.get("resume"), config.get("ckpt_path")
    if resume not in (None, False, "auto"):
        raise ConfigError(f"resume={resume!r}: give resume=auto (continue this run folder's last.ckpt) or leave it "
                          "null; ckpt_path=<file> resumes from another checkpoint")
    if ckpt is not None:
        if resume == "auto":
            raise ConfigError("give either resume=auto or ckpt_path, not both")
        return Path(ckpt)
    if resume == "auto" and (out_dir / CHECKPOINT_FILE).is_file():
        return out_dir / CHECKPOINT_FILE
    return None


def random_state() -> dict[str, Any]:
    """The global random streams (torch CPU and CUDA, numpy, Python), as plain values."""
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [np_state[0], np_state[1].tolist(), *np_state[2:]],
        "python": random.getstate(),
    }


def set_random_state(state: dict[str, Any]) -> None:
    """Restore what :func:`random_state` returned."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), *rest))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


def selection_history(checkpoint: Mapping) -> list | None:
    """The selection callback's history in a Lightning checkpoint, if any."""
    for key, state in checkpoint.get("callbacks", {}).items():
        if "ResolutionSelection" in key and isinstance(state, Mapping):
            return state.get("history")
    return None
